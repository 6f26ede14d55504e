"""Repairing a damaged or truncated KV log: :func:`repair_log`.

``LocalStorage`` refuses to open a log with a damaged record in the middle, a gap in its
sequence numbers, or fewer commits than its commit mark records
(:class:`~lexigram.storage.kv.local.errors.KVLogCorruptedError`), because skipping a
damaged ``del`` or ``clear`` would bring deleted keys back without anyone noticing.
Repair is the explicit way out, and it never keeps a record that follows a bad one:

1. with the exclusive lock held (stop every process using the store first: one that
   keeps running keeps its own view in memory and may write it back),
2. copy the log as it is to ``<log>.damaged-<UTC time>`` (synced), so nothing is lost,
3. cut the log at its first bad line (everything after it is dropped: the damaged
   line and every later commit), or keep it whole when it is only truncated,
4. reset the commit mark to the last line kept,
5. report what was dropped: how many lines and bytes, what the readable ones held
   (operations and keys, never values), and which keys may therefore show an older
   value or be back after having been deleted (:class:`RepairReport`).

A format-1 log (an earlier release) is cut the same way and then migrated by the next
open. A log whose header is damaged is cut to nothing (the backup keeps it all).
"""

from __future__ import annotations

import json
import os
import time
import zlib
from dataclasses import dataclass

from lexigram.storage.kv.local.errors import os_failure
from lexigram.storage.kv.local.fileio import fsync_dir, sync_data, write_all
from lexigram.storage.kv.local.lock import FileLock
from lexigram.storage.kv.local.log import (
    FORMAT_VERSION,
    header_format,
    parse_lines,
    unsupported_format,
)
from lexigram.storage.kv.local.mark import MARK_BYTES, NO_MARK, CommitMark, decode_mark, encode_mark
from lexigram.storage.kv.local.migration import scan_format1

__all__ = ["RepairReport", "repair_log"]


@dataclass(frozen=True)
class RepairReport:
    """What :func:`repair_log` found and did. ``str(report)`` says it in a sentence.

    ``found``: whether there was a log at ``path``. ``changed``: whether it was modified
    (``False``: it was sound). ``cut_at``: the byte offset it was cut at (``None``: not
    cut). ``dropped_bytes``/``dropped_lines``: what was cut off; ``unverified_lines`` of
    those failed their checksum or could not be read at all. ``dropped``: a description
    of each dropped line (operations and keys as far as readable). ``affected_keys``:
    keys a dropped line set or deleted, which may now show an older value or be back.
    ``dropped_clear``: a dropped line cleared the store, so any key may be back.
    ``missing_commits``: commits the commit mark recorded that were not in the file at
    all (a truncation). ``backup``: the copy of the log as it was before the repair.
    """

    path: str
    found: bool = True
    changed: bool = False
    cut_at: int | None = None
    dropped_bytes: int = 0
    dropped_lines: int = 0
    unverified_lines: int = 0
    dropped: tuple[str, ...] = ()
    affected_keys: tuple[str, ...] = ()
    dropped_clear: bool = False
    missing_commits: int = 0
    backup: str | None = None

    def __str__(self) -> str:
        if not self.found:
            return f"KV log {self.path!r} does not exist: nothing to repair"
        if not self.changed:
            return f"KV log {self.path!r} is sound: nothing was changed"
        parts = [f"KV log {self.path!r} repaired; the original is kept at {self.backup!r}."]
        if self.cut_at is not None:
            parts.append(
                f"Cut at byte {self.cut_at}: {self.dropped_lines} line(s) and "
                f"{self.dropped_bytes} byte(s) dropped ({self.unverified_lines} damaged "
                "or unreadable)."
            )
        if self.missing_commits:
            parts.append(
                f"{self.missing_commits} committed line(s) were already missing from the file."
            )
        if self.dropped_clear or self.unverified_lines or self.missing_commits:
            parts.append(
                "Dropped or missing records may have set, deleted or cleared any key: "
                "deleted keys may be back and values may be older."
            )
        if self.affected_keys:
            shown = ", ".join(repr(k) for k in self.affected_keys[:20])
            extra = len(self.affected_keys) - 20
            more = f" and {extra} more" if extra > 0 else ""
            parts.append(f"Keys a dropped record set or deleted: {shown}{more}.")
        return " ".join(parts)


def _describe(line: bytes) -> tuple[str, list[str], bool, bool]:
    """(description, keys, cleared, verified) of one dropped line, as far as readable."""
    verified = False
    try:
        comma = line.index(b",")
        verified = line.endswith(b"]\n") and int(line[1:comma]) == zlib.crc32(line[comma + 1 : -2])
    except ValueError:
        pass
    try:
        decoded = json.loads(line)
    except (ValueError, RecursionError):
        return "unreadable", [], False, False
    if not isinstance(decoded, list):
        return "unreadable", [], False, False
    body = decoded[1:] if len(decoded) == 2 and isinstance(decoded[1], dict) else decoded[2:]
    ops: list[str] = []
    keys: list[str] = []
    cleared = False
    for rec in body:
        if not isinstance(rec, dict):
            ops.append("?")
            continue
        op = rec.get("op")
        if op in ("set", "del") and isinstance(rec.get("k"), str):
            ops.append(f"{op} {rec['k']!r}")
            keys.append(rec["k"])
        elif op == "mset" and isinstance(rec.get("items"), list):
            names = [
                item[0]
                for item in rec["items"]
                if isinstance(item, list) and item and isinstance(item[0], str)
            ]
            ops.append("set_many " + ", ".join(repr(k) for k in names))
            keys.extend(names)
        elif op == "clear":
            ops.append("clear")
            cleared = True
        else:  # a damaged op: still name the key it concerns, if one is readable
            key = rec.get("k")
            ops.append(f"{op!r}" + (f" {key!r}" if isinstance(key, str) else ""))
            if isinstance(key, str):
                keys.append(key)
    text = "; ".join(ops) or "empty"
    return (text if verified else f"damaged ({text}?)"), keys, cleared, verified


def _backup(path: str, data: bytes) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    n = 0
    while True:
        candidate = f"{path}.damaged-{stamp}" + (f"-{n}" if n else "")
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            n += 1
            continue
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_dir(os.path.dirname(path) or ".")
        return candidate


def repair_log(path: str | os.PathLike[str]) -> RepairReport:
    """Repair the KV log at ``path`` (see the module docstring); blocking.

    Stop every process using the store first. Returns a :class:`RepairReport`; a sound
    log is left untouched. Raises ``LogFormatError`` for a log of a newer format.
    """
    path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    if not os.path.exists(path):
        return RepairReport(path, found=False)
    lock = FileLock(path + ".lock")
    try:
        with lock.exclusive():
            return _repair_locked(path, lock)
    except OSError as exc:
        raise os_failure(exc, path=path, what="could not repair the KV log") from exc
    finally:
        lock.close()


def _repair_locked(path: str, lock: FileLock) -> RepairReport:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return RepairReport(path, found=False)
    first = data.find(b"\n")
    version = header_format(data[: first + 1]) if first >= 0 else None
    mark = decode_mark(lock.read_head(MARK_BYTES))
    kept: CommitMark | None = None  # the mark to write after the cut (format 2)
    missing = 0
    if version == 1:
        scan = scan_format1(data)
        cut = scan.damage[0] if scan.damage else scan.consumed
    elif version is None or version == FORMAT_VERSION:
        parsed = parse_lines(data, None)
        cut = parsed.damage[0] if parsed.damage else parsed.consumed
        kept = CommitMark(parsed.header.log_id, parsed.seq) if parsed.header else NO_MARK
        if mark is not None and mark.seq > 0:
            if parsed.header is None:
                missing = mark.seq
            elif mark.log_id == kept.log_id and mark.seq > kept.seq:
                missing = mark.seq - kept.seq
    else:
        raise unsupported_format(version)
    if cut == len(data) and not missing:
        return RepairReport(path)

    dropped = data[cut:]
    descriptions: list[str] = []
    keys: dict[str, None] = {}
    cleared = False
    unverified = 0
    offset = cut
    for line in dropped.splitlines(keepends=True):
        text, line_keys, line_cleared, verified = _describe(line)
        if not line.endswith(b"\n"):
            text = f"torn ({len(line)} bytes, never committed)"
        elif not verified:
            unverified += 1
        descriptions.append(f"byte {offset}: {text}")
        keys.update(dict.fromkeys(line_keys))
        cleared = cleared or line_cleared
        offset += len(line)

    backup = _backup(path, data)
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    try:
        os.ftruncate(fd, cut)
        sync_data(fd)
    finally:
        os.close(fd)
    if kept is not None:
        lock.write_head(encode_mark(kept))
    return RepairReport(
        path,
        changed=True,
        cut_at=cut if dropped else None,
        dropped_bytes=len(dropped),
        dropped_lines=len(descriptions),
        unverified_lines=unverified,
        dropped=tuple(descriptions),
        affected_keys=tuple(keys),
        dropped_clear=cleared,
        missing_commits=missing,
        backup=backup,
    )
