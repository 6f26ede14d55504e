"""Field helpers for driver config classes."""

from __future__ import annotations

from typing import Any

import attrs

from lexigram.storage.secrets import redacted_repr

__all__ = ["is_secret", "secret_field", "secret_values"]


def secret_field(default: str | None = None) -> Any:
    """An attrs field for a secret (keys, tokens, connection strings).

    Its value is never shown in a repr (only whether it is set), is scrubbed from every
    error message of the backend, and is checked by ``validate_production_security``.
    """
    return attrs.field(default=default, repr=redacted_repr, metadata={"secret": True})


def is_secret(field: attrs.Attribute[Any]) -> bool:
    return bool(field.metadata.get("secret"))


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
