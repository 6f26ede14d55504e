"""``NAME:path`` arguments: a key on a configured backend, or a path on this machine."""

from __future__ import annotations

import attrs

__all__ = ["Target", "parse_target"]


@attrs.frozen
class Target:
    """A parsed argument: ``backend`` is None for a local filesystem path."""

    backend: str | None
    path: str

    def __str__(self) -> str:
        return f"{self.backend}:{self.path}" if self.backend is not None else self.path


def parse_target(text: str, backends: list[str], *, default: str | None = None) -> Target:
    """``NAME:path`` where NAME is a configured backend; anything else is a filesystem
    path (or, with ``default``, a key on the default backend)."""
    name, sep, rest = text.partition(":")
    if sep and name in backends:
        return Target(name, rest)
    if default is not None:
        return Target(default, text)
    return Target(None, text)
