"""Instrumentation hooks: one event per operation, for metrics, tracing and logging."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

import attrs

if TYPE_CHECKING:
    from lexigram.storage.errors import StorageError

__all__ = ["Hook", "OperationEvent", "add_default_hook", "default_hooks", "remove_default_hook"]


@attrs.frozen(slots=True)
class OperationEvent:
    """What happened: which backend, which operation on which key, how long, which error.

    ``attempts`` counts the calls made to the backend (``attempts - 1`` retries);
    ``nbytes`` is the number of bytes read or written when the operation moves object
    data (``upload``, ``download``, ``stream``), else ``None``; ``location`` is the
    driver's location (bucket, container or directory).
    """

    backend: str
    driver: str
    operation: str
    key: str | None
    duration_s: float
    error: StorageError | None
    attempts: int = 1
    nbytes: int | None = None
    location: str | None = None


Hook: TypeAlias = Callable[[OperationEvent], None]


_DEFAULT_HOOKS: list[Hook] = []


def add_default_hook(hook: Hook) -> None:
    """Give every :class:`~lexigram.storage.store.BlobStore` created from now on ``hook``
    (before its own hooks): process-wide instrumentation such as OpenTelemetry's."""
    if hook not in _DEFAULT_HOOKS:
        _DEFAULT_HOOKS.append(hook)


def remove_default_hook(hook: Hook) -> None:
    """Stop giving ``hook`` to new stores (those created meanwhile keep it)."""
    if hook in _DEFAULT_HOOKS:
        _DEFAULT_HOOKS.remove(hook)


def default_hooks() -> list[Hook]:
    """The hooks every new store starts with."""
    return list(_DEFAULT_HOOKS)
