"""Settings of the memory driver (none yet)."""

from __future__ import annotations

import attrs

__all__ = ["MemoryConfig"]


@attrs.define(frozen=True, kw_only=True)
class MemoryConfig:
    """The memory driver takes no settings: ``drivers: {memory: {}}``."""
