"""Keeping the credentials a driver hands to its SDK out of every log record.

The SDKs under the drivers log what they send once their loggers are enabled: with the
root logger at DEBUG, botocore logs each request with its ``Authorization`` header (the
access key id) and ``X-Amz-Security-Token`` (the session token), and its canonical request.
A filter on those loggers would not do: a logger's filters see only the records logged on
that very logger, not the ones its children propagate, and the SDKs log on one logger per
module (``botocore.endpoint``, ``botocore.auth``, ...), some created long after ours.

So the redaction sits where every record is made: a :func:`logging.setLogRecordFactory`
wrapper, installed (once, chaining the factory found) by the first :func:`hide_in_logs`.
A record that holds a registered value, in its formatted message, its exception text or
its stack, leaves the factory with that value replaced by ``***``: the message formatted
(``args`` emptied), the traceback formatted into ``exc_text`` (``exc_info`` dropped, so no
formatter formats the exception again). Records without one are not touched. The factory
only runs for records a logger is enabled for, and does nothing while no value is
registered, so logging that is off costs nothing. Values passed in ``extra=`` are set on a
record after the factory ran and are not scanned.

Drivers register the credentials they give their SDK when they create the client and
release them when they close it::

    self._hidden = hide_in_logs(secret_values(config))
    ...
    self._hidden.release()
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterable
from typing import Any

from lexigram.storage.secrets import Redactor

__all__ = ["HiddenSecrets", "hide_in_logs"]

_lock = threading.Lock()
#: how many live registrations hold each value.
_counts: Counter[str] = Counter()
#: the redactor of every registered value; None while there is none (the fast path).
_active: Redactor | None = None
#: the factories found each time ours was installed, oldest first (see _make_record).
_wrapped: list[Any] = []
_depth = threading.local()
_UNCHECKED = "(a log record that could not be checked for secrets, dropped)"


class HiddenSecrets:
    """One registration of values to keep out of log records; :meth:`release` ends it.

    Its repr says how many values it holds, never which.
    """

    __slots__ = ("_values",)

    def __init__(self, values: tuple[str, ...]) -> None:
        self._values = values

    def __repr__(self) -> str:
        return f"HiddenSecrets({len(self._values)} values)"

    def release(self) -> None:
        """Stop hiding these values (unless another registration holds them). Idempotent."""
        values, self._values = self._values, ()
        if values:
            with _lock:
                _counts.subtract(values)
                for value in values:
                    if _counts[value] <= 0:
                        del _counts[value]
                _refresh()


def hide_in_logs(values: Iterable[str | None]) -> HiddenSecrets:
    """Replace each of ``values`` with ``***`` in every log record of every logger from now
    on (values shorter than 4 characters are ignored, as by :class:`Redactor`)."""
    held = tuple({v for v in values if isinstance(v, str) and len(v) >= 4})
    with _lock:
        _counts.update(held)
        _refresh()
        _install()
    return HiddenSecrets(held)


def _refresh() -> None:
    global _active
    _active = Redactor(_counts) if _counts else None


def _install() -> None:
    current = logging.getLogRecordFactory()
    if current is not _make_record:  # not yet, or replaced since (by a wrapper of ours?)
        _wrapped.append(current)
        logging.setLogRecordFactory(_make_record)


def _make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
    # Installed again over a factory that wraps ours, ours is called again from inside it:
    # each level down calls the factory found one install earlier, so the chain ends.
    depth: int = getattr(_depth, "n", 0)
    _depth.n = depth + 1
    try:
        factory = _wrapped[max(len(_wrapped) - 1 - depth, 0)]
        record: logging.LogRecord = factory(*args, **kwargs)
    finally:
        _depth.n = depth
    redactor = _active
    if redactor is not None and depth == 0:
        try:
            _scrub(record, redactor)
        except Exception:  # logging never raises into its caller: drop what was unreadable
            record.msg, record.args = _UNCHECKED, ()
            record.exc_info = record.exc_text = record.stack_info = None
    return record


def _scrub(record: logging.LogRecord, redactor: Redactor) -> None:
    try:
        message = record.getMessage()
    except Exception:
        # A message its arguments do not fit: logging's error report shows the raw
        # arguments, so a secret among them turns the record into scrubbed text.
        raw = f"{record.msg} {record.args!r}"
        clean = redactor.redact(raw)
        if clean is not raw:
            record.msg, record.args = clean, ()
    else:
        clean = redactor.redact(message)
        if clean is not message:
            record.msg, record.args = clean, ()
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        text = logging.Formatter().formatException(record.exc_info)
        clean = redactor.redact(text)
        if clean is not text:
            record.exc_info, record.exc_text = None, clean
    if record.exc_text:
        record.exc_text = redactor.redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redactor.redact(record.stack_info)
