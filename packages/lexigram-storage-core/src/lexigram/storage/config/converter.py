"""The cattrs converter that structures config, and ``problem @ $.path`` errors.

Scalars are parsed here, once, for every driver's config class, strictly: a value that
is not clearly of the field's type is a :class:`ConfigError` naming its path, never a
silent guess (cattrs' defaults would make ``bool("false")`` true and ``str([1, 2])`` a
path).

- ``bool``: ``true/false``, ``yes/no``, ``on/off``, ``1/0`` (any case; strings, bools and
  the ints 0 and 1). Anything else, the empty string included, is refused.
- ``int``: a whole number, also as text (``"8"`` from ``${VAR}``); not a bool, not 2.5.
- ``float``: a finite number, also as text; not NaN or infinity.
- ``int`` and ``float`` are never negative: config numbers are sizes, counts, seconds.
- ``str``: a string (or an ``os.PathLike`` from Python); a number, bool, list or mapping
  is refused (YAML reads ``0123`` as 83 and ``1_000`` as 1000: quote such values).
- ``Path``: a non-empty string or ``os.PathLike``.
- :data:`~lexigram.storage.config.fields.FileMode`: octal text (``"0644"``,
  ``"0o644"``) or an int from Python (``0o644``); YAML's decimal ``644`` is refused.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError
from cattrs.v import format_exception

from lexigram.storage.config.fields import FileMode
from lexigram.storage.config.yaml_file import DecimalInt
from lexigram.storage.errors import ConfigError

__all__ = ["converter", "structure_at", "structure_value"]

T = TypeVar("T")

converter = cattrs.Converter(forbid_extra_keys=True)

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
_OCTAL = re.compile(r"(?:0o?)?([0-7]{1,5})", re.IGNORECASE)
# attrs validators name the field first: "'part_size' must be >= 5242880: 1024",
# "block_size must be positive, got 0"
_VALIDATOR_MESSAGE = re.compile(r"^'?([A-Za-z_][A-Za-z0-9_]*)'? (must .*) @ (\S+)$", re.S)


class _Refused(ValueError):
    """A value a strict hook refuses; its message is shown as it is."""


def _kind(value: Any) -> str:
    """What a value is, without showing it (it may be a misplaced secret)."""
    if isinstance(value, str):
        return "an empty string" if not value.strip() else "text"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


def _bool(value: Any, _: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise _Refused(
        f"must be true or false (or yes/no, on/off, 1/0), not {_kind(value)}"
        + (" (a ${VAR:-} whose variable is unset?)" if value == "" else "")
    )


def _number(value: Any, what: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Refused(f"must be {what}, not {_kind(value)}")
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            raise _Refused(f"must be {what}, not {_kind(value)}") from None
    return value


def _int(value: Any, _: Any) -> int:
    number = _number(value, "a whole number")
    if isinstance(number, float):
        if not math.isfinite(number) or not number.is_integer():
            raise _Refused(f"must be a whole number, not {number!r}")
        number = int(number)
    if number < 0:
        raise _Refused(f"must be 0 or more, not {number}")
    return int(number)


def _float(value: Any, _: Any) -> float:
    number = _number(value, "a number")
    try:
        result = float(number)
    except OverflowError:
        raise _Refused("must be a finite number, not one this large") from None
    if not math.isfinite(result):
        raise _Refused(f"must be a finite number, not {result!r}")
    if result < 0:
        raise _Refused(f"must be 0 or more, not {result!r}")
    return result


def _str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):
        path = os.fspath(value)
        if isinstance(path, str):
            return path
    hint = (
        ": quote it in YAML (YAML reads 0123 as 83, 1_000 as 1000 and yes as true)"
        if isinstance(value, int | float)
        else ""
    )
    raise _Refused(f"must be a string, not {_kind(value)}{hint}")


def _path(value: Any, _: Any) -> Path:
    text = _str(value, None)
    if not text.strip():
        raise _Refused("must be a path, not an empty string")
    return Path(text)


def _file_mode(value: Any, _: Any) -> FileMode:
    if isinstance(value, str):
        match = _OCTAL.fullmatch(value.strip())
        if match is None:
            raise _Refused(
                'must be permission bits in octal, e.g. "0644" or "0o644" (quoted in YAML)'
            )
        mode = int(match.group(1), 8)
    elif isinstance(value, bool) or not isinstance(value, int):
        raise _Refused(f'must be permission bits in octal, e.g. "0644", not {_kind(value)}')
    elif isinstance(value, DecimalInt) and value != 0:
        # YAML read 644 as the number 644 (0o1204), not the mode 0o644 it looks like
        example = f"0{int(value)}" if set(str(int(value))) <= set("01234567") else "0644"
        raise _Refused(
            f"is the decimal number {int(value)} in YAML, not octal permission bits: quote "
            f'the octal mode, e.g. "{example}"'
        )
    elif value > 0o777 and set(str(value)) <= set("01234567"):
        raise _Refused(
            f"{value} looks like an octal mode written in decimal: if 0o{value} is meant, "
            f'write "0{value}" (quoted in YAML); if {value:#o} is meant, write '
            f'"{value:#o}"'
        )
    else:
        mode = int(value)
    if not 0 <= mode <= 0o7777:
        raise _Refused(f"must be permission bits between 0 and 0o7777, not {mode:#o}")
    return FileMode(mode)


def _is_literal(type_: Any) -> bool:
    return get_origin(type_) is Literal


def _literal(type_: Any) -> Callable[[Any, Any], Any]:
    choices = get_args(type_)

    def structure(value: Any, _: Any) -> Any:
        for choice in choices:  # by type too: True is not 1, "1" is not 1
            same_kind = isinstance(value, type(choice)) and (
                isinstance(value, bool) == isinstance(choice, bool)
            )
            if same_kind and value == choice:
                return choice
        raise _Refused(f"must be one of {', '.join(repr(c) for c in choices)}")

    return structure


converter.register_structure_hook_factory(_is_literal, _literal)
converter.register_structure_hook(bool, _bool)
converter.register_structure_hook(int, _int)
converter.register_structure_hook(float, _float)
converter.register_structure_hook(str, _str)
converter.register_structure_hook(Path, _path)
converter.register_structure_hook(FileMode, _file_mode)


def _format(exc: BaseException, type_: type | None) -> str:
    if isinstance(exc, _Refused) or (type_ is None and isinstance(exc, ValueError | TypeError)):
        return str(exc)  # our hooks', and attrs validators' own words
    nested = type_ is not None and attrs.has(type_) and isinstance(exc, TypeError)
    if nested or isinstance(exc, AttributeError):  # settings given a scalar or a list
        return "expected a mapping of settings"
    return format_exception(exc, type_)


def _name_the_field(problem: str) -> str:
    """``'x' must be > 0: 0 @ $.a`` (an attrs validator's message at its class's path) to
    ``x must be > 0: 0 @ $.a.x``."""
    match = _VALIDATOR_MESSAGE.match(problem)
    if match is None:
        return problem
    name, rest, path = match.groups()
    return f"{name} {rest} @ {path}.{name}"


def structure_at(data: Any, cls: type[T], path: str) -> T:
    """Structure ``data`` into ``cls``; on failure raise :class:`ConfigError` listing every
    problem as ``problem @ <path>.<field>``."""
    if isinstance(data, cls):
        return data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"expected a mapping of settings for {cls.__name__}, got {_kind(data)} @ {path}"
        )
    try:
        return converter.structure(data, cls)
    except (ClassValidationError, IterableValidationError, ForbiddenExtraKeysError) as exc:
        problems = cattrs.transform_error(exc, path=path, format_exception=_format)
        raise ConfigError(
            "invalid configuration: " + "; ".join(_name_the_field(p) for p in problems)
        ) from None
    except (TypeError, ValueError) as exc:  # attrs validators
        raise ConfigError("invalid configuration: " + _name_the_field(f"{exc} @ {path}")) from None


def structure_value(value: Any, type_: Any, path: str) -> Any:
    """Structure one value (a ``bool``, ``float``...) with the same strict rules, or raise
    :class:`ConfigError` naming ``path``."""
    try:
        return converter.structure(value, type_)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"invalid configuration: {exc} @ {path}") from None
