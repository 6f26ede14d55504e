"""Settings of the local filesystem driver and their checks."""

from __future__ import annotations

import os
from collections.abc import Sequence
from urllib.parse import urlsplit

import attrs

from lexigram.storage.config.fields import FileMode, secret_field

__all__ = [
    "DEFAULT_ORPHAN_MAX_AGE",
    "MIN_SIGNING_KEY_LENGTH",
    "StorageLocalConfig",
    "security_problems",
    "validate_config",
]

#: shortest ``signing_key`` accepted in production.
MIN_SIGNING_KEY_LENGTH = 32
#: default ``orphan_max_age``: one hour.
DEFAULT_ORPHAN_MAX_AGE = 3600.0


@attrs.frozen(kw_only=True)
class StorageLocalConfig:
    """``drivers: {local: {root_dir: ./storage/data, base_url: ..., signing_key: ...}}``.

    ``root_dir`` is created (with its parents) on first use when it does not exist.
    """

    #: directory holding the objects; created when missing; a file here is a ConfigError.
    root_dir: str = "./storage/data"
    #: public base URL of the files (``get_url`` = base_url + "/" + quoted key); also the
    #: base of presigned URLs (where :func:`lexigram.storage.local.asgi.create_app` is served).
    #: Absolute (``https://host/files``) or a path on the same site (``/files``: the URLs
    #: are then relative too).
    base_url: str | None = None
    #: HMAC-SHA256 key of presigned URLs; ``get_presigned_url`` needs it.
    signing_key: str | None = secret_field()
    #: fsync each file and its directory before an upload returns (durable across a crash).
    fsync: bool = True
    #: permission bits of new files and directories (the process umask still applies);
    #: in YAML quote them as octal text, ``"0644"`` (an unquoted ``644`` is refused).
    file_mode: FileMode = attrs.field(default=FileMode(0o644))
    directory_mode: FileMode = attrs.field(default=FileMode(0o755))
    #: seconds after its last write a crashed writer's temporary file (and a sidecar of a
    #: file that never made it into place) is removed, when the root is first opened and
    #: by ``LocalDriver.cleanup()``; a running writer's file is never removed. None: no
    #: automatic cleanup (``cleanup()`` still works).
    orphan_max_age: float | None = DEFAULT_ORPHAN_MAX_AGE


def _is_base_url(value: object) -> bool:
    """An absolute http(s) URL with a host, or a path on the same site (``/files``); keys
    are appended to it, so no query or fragment either."""
    if (
        not isinstance(value, str)
        or not value.isprintable()
        or any(c.isspace() or c in "?#\\" for c in value)
    ):
        return False
    if value.startswith("/"):
        return not value.startswith("//")  # //host/x is another site (protocol-relative)
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018  # raises ValueError when out of range or not a number
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and value[: len(parts.scheme) + 3].lower() == f"{parts.scheme}://"
    )


def validate_config(config: StorageLocalConfig) -> Sequence[tuple[str, str]]:
    """Problems found at config time (each becomes a ``ConfigError``)."""
    problems: list[tuple[str, str]] = []
    if not isinstance(config.root_dir, str) or not config.root_dir:
        problems.append(("root_dir", "root_dir must be a non-empty path"))
    elif "\x00" in config.root_dir:
        problems.append(("root_dir", "root_dir must not contain a NUL character"))
    elif os.path.exists(config.root_dir) and not os.path.isdir(config.root_dir):
        problems.append(("root_dir", f"root_dir {config.root_dir!r} is a file, not a directory"))
    if config.base_url is not None and not _is_base_url(config.base_url):
        problems.append(
            (
                "base_url",
                "base_url is not a URL the files can be served at: give "
                "an absolute http(s) URL (https://files.example.com/files) or a path on this "
                "site starting with a single '/' (/files), without spaces or control characters",
            )
        )
    for name in ("file_mode", "directory_mode"):
        mode = getattr(config, name)
        if not isinstance(mode, int) or not 0 <= mode <= 0o7777:
            problems.append((name, f"{name} must be permission bits such as 0o644"))
    age = config.orphan_max_age
    if age is not None and (
        isinstance(age, bool) or not isinstance(age, int | float) or not 0 <= age < float("inf")
    ):
        problems.append(
            (
                "orphan_max_age",
                "orphan_max_age must be a number of seconds >= 0 (e.g. 3600), or null to "
                "turn the automatic cleanup of crashed uploads off",
            )
        )
    return problems


def security_problems(config: StorageLocalConfig) -> Sequence[tuple[str, str]]:
    """Production checks: a signing key that is too short to resist guessing."""
    key = config.signing_key
    if key is not None and len(key) < MIN_SIGNING_KEY_LENGTH:
        return [
            (
                "signing_key",
                f"is shorter than {MIN_SIGNING_KEY_LENGTH} characters; use e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`",
            )
        ]
    return []
