"""The repair policy of uploads a server stored altered: now in
:mod:`lexigram.storage.integrity`, re-exported here for existing imports."""

from __future__ import annotations

from lexigram.storage.integrity import REPAIRS, keep_intact

__all__ = ["REPAIRS", "keep_intact"]
