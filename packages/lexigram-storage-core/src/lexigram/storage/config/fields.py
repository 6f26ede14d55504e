"""Field helpers for driver config classes."""

from __future__ import annotations

import re
from typing import Any, NewType

import attrs

from lexigram.storage.secrets import redacted_repr

__all__ = [
    "FileMode",
    "connection_string_parts",
    "is_secret",
    "is_secret_part",
    "secret_field",
    "secret_values",
]

#: Permission bits (``0o644``) of a config field. Structured strictly by the core: a
#: string is read as octal (``"0644"``, ``"0o644"``), an int from Python is taken as is,
#: and an int written in decimal in YAML (``644``) is refused, as it is not ``0o644``.
FileMode = NewType("FileMode", int)

# parts of a connection string that are secrets (AccountKey, SharedAccessSignature,
# SharedAccessKey, Password, ClientSecret, ...)
_SECRET_PART = re.compile(r"key|signature|secret|password|pwd|token|sas", re.IGNORECASE)


def secret_field(default: str | None = None) -> Any:
    """An attrs field for a secret (keys, tokens, connection strings).

    Its value is never shown in a repr (only whether it is set), is scrubbed from every
    error message of the backend, and is checked by ``validate_production_security``.
    """
    return attrs.field(default=default, repr=redacted_repr, metadata={"secret": True})


def is_secret(field: attrs.Attribute[Any]) -> bool:
    return bool(field.metadata.get("secret"))


def connection_string_parts(value: str) -> dict[str, str]:
    """``Key=Value;...`` into a dict with lower-case keys (values may hold ``=``)."""
    parts: dict[str, str] = {}
    for piece in value.split(";"):
        if "=" in piece:
            name, _, val = piece.partition("=")
            parts[name.strip().lower()] = val.strip()
    return parts


def is_secret_part(name: str) -> bool:
    """Whether a connection string's part (``AccountKey``, ``AccountName``...) is a secret."""
    return bool(_SECRET_PART.search(name))


def secret_values(obj: Any) -> list[str]:
    """Every secret string held by an attrs config object, recursively."""
    out: list[str] = []
    if not attrs.has(type(obj)):
        return out
    for field in attrs.fields(type(obj)):
        value = getattr(obj, field.name)
        if is_secret(field) and isinstance(value, str) and value:
            out.append(value)
            # a connection string's parts are secrets too (AccountKey=...;SharedAccessSignature=...)
            if ";" in value:
                out.extend(part.split("=", 1)[1] for part in value.split(";") if "=" in part)
        elif attrs.has(type(value)):
            out.extend(secret_values(value))
    return out
