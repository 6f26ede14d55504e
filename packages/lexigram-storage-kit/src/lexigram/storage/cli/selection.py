"""Which objects a command takes: globs in a source path and ``--include``/``--exclude``.

A pattern is matched against the path relative to the command's prefix or folder:
``*`` and ``?`` stay within one path segment, ``**`` crosses ``/``, ``[abc]`` is a class.
A pattern without ``/`` also matches the last segment at any depth (``*.tmp``), as in
rclone. A path is taken when it matches no ``--exclude`` and, if any ``--include`` is
given, at least one ``--include``.
"""

from __future__ import annotations

import re

import attrs

__all__ = ["GLOB_CHARS", "Filters", "has_glob", "split_glob", "translate"]

GLOB_CHARS = "*?["


def has_glob(path: str) -> bool:
    return any(c in path for c in GLOB_CHARS)


def split_glob(path: str) -> tuple[str, str | None]:
    """``logs/2026-*.gz`` -> (``logs/``, ``2026-*.gz``): the literal folder before the
    first glob character, and the rest as a pattern (None without a glob)."""
    first = min((i for i, c in enumerate(path) if c in GLOB_CHARS), default=-1)
    if first < 0:
        return path, None
    cut = path.rfind("/", 0, first) + 1
    return path[:cut], path[cut:]


def translate(pattern: str) -> re.Pattern[str]:
    """The regular expression of a glob pattern (whole-path match)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body.replace(chr(92), chr(92) * 2)}]")
                i = end + 1
                continue
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


def _matches(pattern: str, rel: str) -> bool:
    regex = translate(pattern)
    if regex.fullmatch(rel):
        return True
    return "/" not in pattern and regex.fullmatch(rel.rsplit("/", 1)[-1]) is not None


@attrs.frozen
class Filters:
    """``--include``/``--exclude`` patterns, plus the glob of the source path (which a
    path must match)."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    glob: str | None = None

    def __bool__(self) -> bool:
        return bool(self.include or self.exclude or self.glob)

    def wanted(self, rel: str) -> bool:
        if self.glob is not None and not translate(self.glob).fullmatch(rel):
            return False
        if any(_matches(p, rel) for p in self.exclude):
            return False
        return not self.include or any(_matches(p, rel) for p in self.include)
