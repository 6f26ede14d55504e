"""The persistent, multi-process KV backend: :class:`LocalStorage`.

Modules: ``store`` (the async class), ``engine`` (index, catch-up, commit), ``ops`` (the
operations and their planning), ``log`` (the record format), ``mark`` (the commit mark in
the lock file), ``errors``, ``repair`` (the way out of a damaged log), ``migration``
(format 1 logs), ``lock`` (``flock`` on the sidecar lock file), ``group_commit`` (batched
fsyncs), ``compaction`` (atomic rewrite), ``fileio``.
"""

from lexigram.storage.kv.local.errors import (
    KVLogCorruptedError,
    KVLogRecoveryWarning,
    KVLogTruncatedError,
    LogFormatError,
)
from lexigram.storage.kv.local.repair import RepairReport, repair_log
from lexigram.storage.kv.local.store import LocalStorage

__all__ = [
    "KVLogCorruptedError",
    "KVLogRecoveryWarning",
    "KVLogTruncatedError",
    "LocalStorage",
    "LogFormatError",
    "RepairReport",
    "repair_log",
]
