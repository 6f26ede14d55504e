"""``${VAR}`` and ``${VAR:-default}`` interpolation from the environment."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from lexigram.storage.errors import ConfigError

__all__ = ["interpolate"]

# $$ is a literal '$'; ${NAME} and ${NAME:-default} are substituted.
_PATTERN = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_UNCLOSED = re.compile(r"\$\{(?![A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\})")


def interpolate(value: Any, path: str, environ: Mapping[str, str] | None = None) -> Any:
    """Return ``value`` with every string interpolated, recursively through dicts and lists.

    A missing variable without a default raises :class:`ConfigError` naming the
    variable and the config path.
    """
    env = os.environ if environ is None else environ
    if isinstance(value, str):
        return _one(value, path, env)
    if isinstance(value, Mapping):
        return {k: interpolate(v, f"{path}.{k}", env) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [interpolate(v, f"{path}[{i}]", env) for i, v in enumerate(value)]
    return value


def _one(text: str, path: str, env: Mapping[str, str]) -> str:
    if "$" not in text:
        return text
    if _UNCLOSED.search(text.replace("$$", "")):
        raise ConfigError(
            f"malformed ${{...}} reference in the value @ {path}: write ${{NAME}} or "
            "${NAME:-default} (letters, digits, '_'), or $$ for a literal '$'"
        )

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        found = env.get(name)
        if found is not None and found != "":
            return found
        if default is not None:
            return default
        if found == "":
            return ""
        raise ConfigError(
            f"environment variable {name} is not set @ {path}: set it, or give a default "
            f"with ${{{name}:-value}}"
        )

    return _PATTERN.sub(sub, text)
