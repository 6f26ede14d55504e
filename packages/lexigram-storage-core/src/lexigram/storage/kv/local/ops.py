"""The operations a :class:`~lexigram.storage.kv.local.engine.LogEngine` commits, and
their planning: each operation becomes a log record against the index plus the effects
of the operations before it in the same batch (so ``increment`` after ``set`` in one
batch sees the new value).
"""

from __future__ import annotations

from typing import NamedTuple

from lexigram.storage.kv.local.log import (
    CLEAR,
    Record,
    delete_record,
    set_many_record,
    set_record,
)
from lexigram.storage.kv.validation import as_counter, decode_value

__all__ = [
    "AddOp",
    "ClearOp",
    "CompactOp",
    "DeleteManyOp",
    "DeleteOp",
    "Entry",
    "IncrementOp",
    "Op",
    "Planner",
    "SetOp",
    "TouchOp",
    "describe",
]


class Entry(NamedTuple):
    value: str  # JSON text
    expires_at: float | None
    nbytes: int  # bytes of log this entry accounts for


class SetOp(NamedTuple):
    items: list[tuple[str, str, float | None]]


class DeleteOp(NamedTuple):
    key: str


class ClearOp(NamedTuple):
    pass


class IncrementOp(NamedTuple):
    key: str
    by: int


class CompactOp(NamedTuple):
    pass


class AddOp(NamedTuple):
    key: str
    value: str  # JSON text
    expires_at: float | None


class TouchOp(NamedTuple):
    key: str
    expires_at: float


class DeleteManyOp(NamedTuple):
    keys: list[str]


Op = SetOp | DeleteOp | ClearOp | IncrementOp | CompactOp | AddOp | TouchOp | DeleteManyOp


def describe(op: Op) -> tuple[str, str | None]:
    """What ``op`` is, for an error message, and the key it concerns (if one)."""
    if isinstance(op, SetOp):
        first = op.items[0][0]
        if len(op.items) == 1:
            return f"set of key {first!r}", first
        return f"set_many of {len(op.items)} keys ({first!r}, ...)", first
    if isinstance(op, IncrementOp):
        return f"increment of key {op.key!r}", op.key
    if isinstance(op, DeleteOp):
        return f"delete of key {op.key!r}", op.key
    if isinstance(op, ClearOp):
        return "clear", None
    if isinstance(op, AddOp):
        return f"add of key {op.key!r}", op.key
    if isinstance(op, TouchOp):
        return f"touch of key {op.key!r}", op.key
    if isinstance(op, DeleteManyOp):
        head = op.keys[0] if op.keys else None
        return f"delete_many of {len(op.keys)} keys ({head!r}, ...)", head
    return "compact", None


class Planner:
    """Turns operations into log records against the index plus the batch's own effects."""

    __slots__ = ("_cleared", "_index", "_now", "_overlay")

    def __init__(self, index: dict[str, Entry], now: float) -> None:
        self._index = index
        self._now = now
        self._overlay: dict[str, Entry | None] = {}
        self._cleared = False

    def _lookup(self, key: str) -> Entry | None:
        if key in self._overlay:
            entry = self._overlay[key]
        elif self._cleared:
            return None
        else:
            entry = self._index.get(key)
        if entry is None or (entry.expires_at is not None and entry.expires_at <= self._now):
            return None
        return entry

    def plan(self, op: Op, texts: list[str], records: list[Record]) -> object:
        if isinstance(op, SetOp):
            items = op.items
            text = set_record(*items[0]) if len(items) == 1 else set_many_record(items)
            texts.append(text)
            records.append(Record("set", items, 0))
            for key, value, expires_at in items:
                self._overlay[key] = Entry(value, expires_at, 0)
            return None
        if isinstance(op, IncrementOp):
            entry = self._lookup(op.key)
            if entry is None:
                result, expires_at = op.by, None
            else:
                current = as_counter(op.key, decode_value(entry.value))
                result, expires_at = current + op.by, entry.expires_at
            value = str(result)
            texts.append(set_record(op.key, value, expires_at))
            records.append(Record("set", [(op.key, value, expires_at)], 0))
            self._overlay[op.key] = Entry(value, expires_at, 0)
            return result
        if isinstance(op, DeleteOp):
            if self._lookup(op.key) is None:
                return False
            texts.append(delete_record(op.key))
            records.append(Record("del", [(op.key, "", None)], 0))
            self._overlay[op.key] = None
            return True
        if isinstance(op, ClearOp):
            texts.append(CLEAR)
            records.append(Record("clear", [], 0))
            self._overlay.clear()
            self._cleared = True
            return None
        if isinstance(op, AddOp):
            if self._lookup(op.key) is not None:
                return False
            self._set_one(op.key, op.value, op.expires_at, texts, records)
            return True
        if isinstance(op, TouchOp):
            entry = self._lookup(op.key)
            if entry is None:
                return False
            self._set_one(op.key, entry.value, op.expires_at, texts, records)
            return True
        if isinstance(op, DeleteManyOp):
            removed = 0
            for key in dict.fromkeys(op.keys):
                if self._lookup(key) is not None:
                    texts.append(delete_record(key))
                    records.append(Record("del", [(key, "", None)], 0))
                    self._overlay[key] = None
                    removed += 1
            return removed
        raise AssertionError(f"unknown op {op!r}")

    def _set_one(
        self,
        key: str,
        value: str,
        expires_at: float | None,
        texts: list[str],
        records: list[Record],
    ) -> None:
        texts.append(set_record(key, value, expires_at))
        records.append(Record("set", [(key, value, expires_at)], 0))
        self._overlay[key] = Entry(value, expires_at, 0)
