"""``validate_production_security``: placeholder, demo and unresolved credentials."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

import attrs

from lexigram.storage import registry
from lexigram.storage.config.fields import is_secret
from lexigram.storage.errors import InsecureConfigError

if TYPE_CHECKING:
    from lexigram.storage.config.model import StorageConfig

__all__ = ["PRODUCTION_NAMES", "check_security"]

PRODUCTION_NAMES = frozenset({"production", "prod"})

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
_PLACEHOLDER = re.compile(
    r"^(?:changeme|change[-_ ]?me|change[-_ ]?this|your[-_ ].*|<.*>|x{3,}|\*{3,}|todo|tbd|"
    r"placeholder|dummy|example|sample|secret|password|passw0rd|test|testing|foobar|fake|"
    r"none|null|default|admin|key|token|abc123|1234.*|replace[-_ ]?me)$",
    re.IGNORECASE,
)
_UNRESOLVED = re.compile(r"\$\{[^}]*\}")


def check_security(config: StorageConfig, environment: str | None = None) -> list[str]:
    env = environment if environment is not None else os.environ.get("LEXIGRAM_ENV", "")
    findings: list[str] = []
    for name, settings in config.drivers.items():
        findings += _check(settings, f"storage.drivers.{name}", name)
    for i, backend in enumerate(config.backends):
        findings += _check(
            backend.settings, f"storage.backends[{i}].{backend.driver}", backend.driver
        )
    if env.strip().lower() in PRODUCTION_NAMES and findings:
        raise InsecureConfigError(
            f"insecure storage configuration for environment {env!r}: "
            + "; ".join(findings)
            + ". Set real credentials (e.g. from environment variables) before running in "
            "production.",
            findings=findings,
        )
    return findings


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
        if not isinstance(value, str) or not value:
            continue
        if _UNRESOLVED.search(value):
            out.append(
                f"{where} holds an unresolved ${{...}} reference: the variable was never "
                "interpolated"
            )
            continue
        known = next((what for demo, what in _KNOWN.items() if demo in value), None)
        if known is not None:
            out.append(f"{where} is {known}")
            continue
        if is_secret(field) and _PLACEHOLDER.match(value.strip()):
            out.append(f"{where} looks like a placeholder, not a real secret")
    try:
        spec = registry.get_driver(driver)
    except Exception:
        return out
    if spec.security_check is not None:
        out += [f"{path}.{field}: {message}" for field, message in spec.security_check(obj)]
    return out
