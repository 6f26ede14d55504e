"""``${VAR}`` and ``${VAR:-default}`` interpolation from the environment.

A default may itself hold references (``${A:-${B:-x}}``); it is interpolated only when
it is used. ``$$`` is a literal ``$``. Values taken from the environment are used as
they are (never interpolated again).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from lexigram.storage.errors import ConfigError

__all__ = ["MAX_DEPTH", "MAX_NESTING", "MAX_VALUES", "interpolate"]

#: deepest ``${A:-${B:-...}}`` nesting of defaults.
MAX_NESTING = 8
#: most values (strings, numbers, lists, mappings) a config may hold, counted as walked.
MAX_VALUES = 100_000
#: deepest nesting of lists and mappings.
MAX_DEPTH = 100

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Ref(NamedTuple):
    name: str
    default: list[str | _Ref] | None


def interpolate(value: Any, path: str, environ: Mapping[str, str] | None = None) -> Any:
    """Return ``value`` with every string interpolated, recursively through dicts and lists.

    A missing variable without a default raises :class:`ConfigError` naming the
    variable and the config path.
    """
    env = os.environ if environ is None else environ
    return _walk(value, path, env, 0, [MAX_VALUES])


def _walk(value: Any, path: str, env: Mapping[str, str], depth: int, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise ConfigError(
            f"the configuration holds more than {MAX_VALUES} values @ {path}: is a YAML "
            "alias expanding without bound?"
        )
    if depth > MAX_DEPTH:
        raise ConfigError(
            f"the configuration nests deeper than {MAX_DEPTH} levels @ {path}: flatten it"
        )
    if isinstance(value, str):
        return _one(value, path, env)
    if isinstance(value, Mapping):
        return {k: _walk(v, f"{path}.{k}", env, depth + 1, budget) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(v, f"{path}[{i}]", env, depth + 1, budget) for i, v in enumerate(value)]
    return value


def _one(text: str, path: str, env: Mapping[str, str]) -> str:
    if "$" not in text:
        return text
    parts, _ = _parse(text, 0, 0, path)
    return _render(parts, path, env)


def _malformed(path: str) -> ConfigError:
    return ConfigError(
        f"malformed ${{...}} reference in the value @ {path}: write ${{NAME}} or "
        "${NAME:-default} (letters, digits, '_'), or $$ for a literal '$'"
    )


def _parse(text: str, pos: int, depth: int, path: str) -> tuple[list[str | _Ref], int]:
    """Parts of ``text`` from ``pos`` to its end or, inside a default (``depth`` > 0), to
    the ``}`` closing it; and the position reached."""
    parts: list[str | _Ref] = []
    literal: list[str] = []
    end = len(text)
    while pos < end:
        char = text[pos]
        if char == "}" and depth > 0:
            break
        if char == "$" and text.startswith("$$", pos):
            literal.append("$")
            pos += 2
            continue
        if char == "$" and text.startswith("${", pos):
            match = _NAME.match(text, pos + 2)
            if match is None:
                raise _malformed(path)
            pos = match.end()
            default: list[str | _Ref] | None = None
            if text.startswith(":-", pos):
                if depth >= MAX_NESTING:
                    raise ConfigError(
                        f"${{...}} defaults nest deeper than {MAX_NESTING} levels @ {path}"
                    )
                default, pos = _parse(text, pos + 2, depth + 1, path)
            if not text.startswith("}", pos):
                raise _malformed(path)
            pos += 1
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(_Ref(match.group(), default))
            continue
        literal.append(char)
        pos += 1
    if literal:
        parts.append("".join(literal))
    return parts, pos


def _render(parts: list[str | _Ref], path: str, env: Mapping[str, str]) -> str:
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        found = env.get(part.name)
        if found:
            out.append(found)
        elif part.default is not None:
            out.append(_render(part.default, path, env))
        elif found == "":
            pass
        else:
            raise ConfigError(
                f"environment variable {part.name} is not set @ {path}: set it, or give a "
                f"default with ${{{part.name}:-value}}"
            )
    return "".join(out)
