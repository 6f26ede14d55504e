"""The cattrs converter that structures config, and ``problem @ $.path`` errors."""

from __future__ import annotations

from typing import Any, TypeVar

import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError

from lexigram.storage.errors import ConfigError

__all__ = ["converter", "structure_at"]

T = TypeVar("T")

converter = cattrs.Converter(forbid_extra_keys=True)


def structure_at(data: Any, cls: type[T], path: str) -> T:
    """Structure ``data`` into ``cls``; on failure raise :class:`ConfigError` listing every
    problem as ``problem @ <path>.<field>``."""
    if isinstance(data, cls):
        return data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"expected a mapping of settings for {cls.__name__}, got {type(data).__name__} @ {path}"
        )
    try:
        return converter.structure(data, cls)
    except (ClassValidationError, ForbiddenExtraKeysError) as exc:
        problems = cattrs.transform_error(exc, path=path)
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
    except (TypeError, ValueError) as exc:  # attrs validators
        raise ConfigError(f"invalid configuration @ {path}: {exc}") from None
