"""Instrumentation hooks: one event per operation, for metrics, tracing and logging."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

import attrs

if TYPE_CHECKING:
    from lexigram.storage.errors import StorageError

__all__ = ["Hook", "OperationEvent"]


@attrs.frozen(slots=True)
class OperationEvent:
    """What happened: which backend, which operation on which key, how long, which error."""

    backend: str
    driver: str
    operation: str
    key: str | None
    duration_s: float
    error: StorageError | None


Hook: TypeAlias = Callable[[OperationEvent], None]
