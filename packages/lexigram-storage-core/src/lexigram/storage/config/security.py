"""``validate_production_security``: placeholder, demo, weak and unresolved credentials,
and TLS verification turned off.

Every finding names the field's path and says what to do; none repeats a value.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import zlib
from collections import Counter
from typing import TYPE_CHECKING, Any

import attrs

from lexigram.storage import registry
from lexigram.storage.config.fields import connection_string_parts, is_secret, is_secret_part
from lexigram.storage.errors import InsecureConfigError

if TYPE_CHECKING:
    from lexigram.storage.config.model import StorageConfig

__all__ = ["PRODUCTION_NAMES", "check_security", "is_production", "weakness"]

#: an environment whose name holds one of these words (``prod``, ``prod-us-east-1``,
#: ``production-eu``, ``live``, ``PRD2``) is production; ``preprod`` / ``non-prod`` are not.
PRODUCTION_NAMES = frozenset({"production", "prod", "prd", "live"})
_NEGATIONS = frozenset({"non", "not", "pre"})

#: shortest secret that is not a finding.
MIN_SECRET_LENGTH = 8

# Well-known demo values: never acceptable in production, in any field. Each is
# described, so a finding can name what it is without repeating the value.
_KNOWN: dict[str, str] = {
    "AKIAIOSFODNN7EXAMPLE": "the AWS documentation's example access key",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY": "the AWS documentation's example secret key",
    "devstoreaccount1": "the Azurite emulator's account",
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==": (
        "the Azurite emulator's well-known account key"
    ),
    "UseDevelopmentStorage=true": "the Azure emulator shortcut",
    "minioadmin": "MinIO's default credentials",
}
_UNRESOLVED = re.compile(r"\$\{[^}]*\}")
# Placeholders in any field: template markers and fill-me-in phrases (not plain words
# such as "todo", which may be a real bucket's name; secrets are checked for those too).
_TEMPLATE = re.compile(
    r"<[A-Za-z][A-Za-z _-]{2,}>|\{\{.*?\}\}|^[^.]*\.\.\.\s*$|\u2026|(?:^|/)path/to/|"
    r"^\s*(?:change[-_ ]?(?:me|this|it)|replace[-_ ]?(?:me|this)|your[-_ ].*|"
    r"(?:insert|enter|put|add)[-_ ].*[-_ ]here|[x*#]{3,}(?:[-_ .][x*#]{3,})*)\s*$",
    re.IGNORECASE,
)
# Words a placeholder or demo secret is made of ("password123", "my-secret-key",
# "your_api_key_here", "test123", "s3cr3t"): a secret whose letters are nothing but these.
_WORDS = (  # noqa: SIM905 (a list of words reads best as words)
    "changeme change replace insert enter update fill put add set use your my our the "
    "this that here goes value values string password passwords passwd passwrd pass "
    "pwd passphrase pw secret secrets credential credentials key keys token tokens "
    "signing sign signature sig sas auth access api client private public shared "
    "account storage blob bucket container connection conn example examples sample "
    "samples test tests testing tester demo dummy fake mock placeholder todo tbd fixme "
    "redacted hidden masked removed none null nil undefined empty blank na default "
    "defaults admin administrator root user username guest login logon letmein welcome "
    "hello world foo bar baz qux foobar abc abcd abcdef xyz qwerty asdf zxcv hunter "
    "iloveyou monkey dragon master super top very really new old temp tmp local dev "
    "development staging stage prod production live aws akia amazon s3 minio azure gcp "
    "gcs google cloud r2 cloudflare app application service true false yes no xxx"
).split()
_WORD_SET = frozenset(_WORDS)
_LONGEST_WORD = max(map(len, _WORDS))
_LEET = str.maketrans("013457@$!", "oleastasi")
_VERIFY_FIELDS = frozenset({"verify_ssl", "verify_tls", "ssl_verify", "tls_verify", "verify"})
_GENERATE = "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"


def is_production(environment: str) -> bool:
    """Whether an environment name means production (see :data:`PRODUCTION_NAMES`)."""
    tokens = [t.rstrip("0123456789") for t in re.split(r"[^a-z0-9]+", environment.lower())]
    return any(
        token in PRODUCTION_NAMES and (i == 0 or tokens[i - 1] not in _NEGATIONS)
        for i, token in enumerate(tokens)
    )


def check_security(config: StorageConfig, environment: str | None = None) -> list[str]:
    env = environment if environment is not None else os.environ.get("LEXIGRAM_ENV", "")
    findings: list[str] = []
    for name, settings in config.drivers.items():
        findings += _check(settings, f"storage.drivers.{name}", name)
    for i, backend in enumerate(config.backends):
        findings += _check(
            backend.settings, f"storage.backends[{i}].{backend.driver}", backend.driver
        )
    if is_production(env) and findings:
        raise InsecureConfigError(
            f"insecure storage configuration for environment {env!r}: "
            + "; ".join(findings)
            + ". Set real credentials (e.g. from environment variables) before running in "
            "production.",
            findings=findings,
        )
    return findings


def weakness(value: str) -> str | None:
    """Why a secret's value is not a real secret (what to do included), or None.

    Never quotes the value.
    """
    if not value.strip():
        return "is blank (only whitespace): set the real secret, or remove the field"
    if _TEMPLATE.search(value) or _is_words(value):
        return (
            "looks like a placeholder, not a real secret: set the real value (e.g. from "
            "an environment variable)"
        )
    if len(value.strip()) < MIN_SECRET_LENGTH:
        return (
            f"is shorter than {MIN_SECRET_LENGTH} characters, too short to be a real secret: "
            "set the real value"
        )
    if _predictable(value.strip()):
        return (
            "is too predictable to be a real secret (a repeated or sequential pattern, or "
            f"too few distinct characters): generate one, e.g. {_GENERATE}"
        )
    return None


def _is_words(value: str) -> bool:
    """Whether the value is mostly letters, and its letters are placeholder words."""
    for variant in (value.lower(), value.lower().translate(_LEET)):
        letters = re.sub(r"[^a-z]", "", variant)
        rest = re.sub(r"[a-z\s._-]", "", variant)
        if letters and len(letters) >= len(rest) and _segments(letters):
            return True
    return False


def _segments(letters: str) -> bool:
    """Whether ``letters`` is a run of placeholder words (linear time, no backtracking)."""
    reachable = [True] + [False] * len(letters)
    for end in range(1, len(letters) + 1):
        reachable[end] = any(
            reachable[start] and letters[start:end] in _WORD_SET
            for start in range(max(0, end - _LONGEST_WORD), end)
        )
    return reachable[-1]


def _predictable(value: str) -> bool:
    n = len(value)
    counts = Counter(value)
    if len(counts) <= 3:
        return True
    # Shannon entropy per character (a short random value's sample entropy is too noisy)
    entropy = -sum(c / n * math.log2(c / n) for c in counts.values())
    if n >= 24 and entropy < 2.2:
        return True
    # repeated words or runs that per-character entropy misses ("password" x 100): a
    # compressor shrinks the value to well under what its characters' entropy predicts
    if n >= 64 and len(zlib.compress(value.encode(), 9)) * 8 < 0.5 * n * entropy:
        return True
    longest, run = 1, 1
    for prev, cur in itertools.pairwise(value):
        run = run + 1 if cur == prev else 1
        longest = max(longest, run)
    if longest >= max(6, n // 4):
        return True
    steps = sum(abs(ord(b) - ord(a)) == 1 for a, b in itertools.pairwise(value))
    if steps >= 0.6 * (n - 1):
        return True
    return _period(value) <= n // 2


def _period(value: str) -> int:
    """The shortest p with value[i] == value[i + p] throughout (KMP's failure function)."""
    border = [0] * len(value)
    for i in range(1, len(value)):
        k = border[i - 1]
        while k and value[i] != value[k]:
            k = border[k - 1]
        border[i] = k + 1 if value[i] == value[k] else 0
    return len(value) - (border[-1] if value else 0)


def _secret_problems(value: str, where: str) -> list[str]:
    parts = connection_string_parts(value) if ";" in value or "=" in value else {}
    secret_parts = {k: v for k, v in parts.items() if is_secret_part(k)}
    if not secret_parts:
        problem = weakness(value)
        return [f"{where} {problem}"] if problem else []
    out: list[str] = []
    names = {k.lower(): k for k in _part_names(value)}
    for key, part in secret_parts.items():
        if key == "sharedaccesssignature":
            query = dict(p.partition("=")[::2] for p in part.lstrip("?").split("&"))
            part = query.get("sig", part)
        problem = weakness(part)
        if problem:
            out.append(f"{where} (its {names.get(key, key)}= part) {problem}")
    return out


def _part_names(value: str) -> list[str]:
    return [piece.partition("=")[0].strip() for piece in value.split(";") if "=" in piece]


def _check(obj: Any, path: str, driver: str) -> list[str]:
    out: list[str] = []
    if not attrs.has(type(obj)):
        return out
    for field in attrs.fields(type(obj)):
        value = getattr(obj, field.name)
        where = f"{path}.{field.name}"
        if attrs.has(type(value)):
            out += _check(value, where, driver)
            continue
        if field.name in _VERIFY_FIELDS and value is False:
            out.append(
                f"{where} is false: TLS certificates are not verified, so anyone on the "
                "network path can read and alter the traffic; remove it (false is for a "
                "local test endpoint only)"
            )
            continue
        if not isinstance(value, str) or not value:
            continue
        if _UNRESOLVED.search(value):
            out.append(
                f"{where} holds an unresolved ${{...}} reference: the variable was never "
                "interpolated; load the config with StorageConfig.from_dict/from_yaml, or "
                "set the value"
            )
            continue
        known = next((what for demo, what in _KNOWN.items() if demo in value), None)
        if known is not None:
            out.append(f"{where} is {known}: set the real credentials")
            continue
        if is_secret(field):
            out += _secret_problems(value, where)
        elif _TEMPLATE.search(value):
            out.append(f"{where} looks like a placeholder: set the real value")
    try:
        spec = registry.get_driver(driver)
    except Exception:
        return out
    if spec.security_check is not None:
        out += [f"{path}.{field}: {message}" for field, message in spec.security_check(obj)]
    return out
