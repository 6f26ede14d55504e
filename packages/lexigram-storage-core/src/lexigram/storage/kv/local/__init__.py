"""The persistent, multi-process KV backend: :class:`LocalStorage`.

Modules: ``store`` (the async class), ``engine`` (index, catch-up, commit), ``log``
(the record format and recovery), ``lock`` (``flock`` on the sidecar lock file),
``group_commit`` (batched fsyncs), ``compaction`` (atomic rewrite), ``fileio``.
"""

from lexigram.storage.kv.local.log import KVLogRecoveryWarning
from lexigram.storage.kv.local.store import LocalStorage

__all__ = ["KVLogRecoveryWarning", "LocalStorage"]
