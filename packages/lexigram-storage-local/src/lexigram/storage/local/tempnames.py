"""Names of the driver's temporary files and directories, and who made them.

Every temporary name is ``.lexigram-tmp-<host>-<pid>-<seconds>-<random>``: the writer's
host (a short digest of the host name, boot and PID namespace, so that a process id
means the same process), its process id, and its creation time in Unix seconds. A crash
(``kill -9``, a power loss) leaves such names behind; :mod:`.orphans` removes them
once they are old enough and their writer is gone, and :func:`parse` tells it whose they
are. Names of the older format (``.lexigram-tmp-<random>``) carry no owner: only their
age decides.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
import secrets
import socket
import time

import attrs

__all__ = ["TEMP_PREFIX", "Owner", "host_tag", "parse", "temp_name"]

#: every temporary name of the driver starts so (a reserved name: never a key, never listed).
TEMP_PREFIX = ".lexigram-tmp-"


@attrs.frozen
class Owner:
    host: str
    pid: int
    created: int


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return ""


@functools.cache
def host_tag() -> str:
    """8 hex digits naming this host, boot and PID namespace."""
    try:
        pid_ns = os.readlink("/proc/self/ns/pid")
    except OSError:
        pid_ns = ""
    seed = "\0".join([socket.gethostname(), _read("/proc/sys/kernel/random/boot_id"), pid_ns])
    return hashlib.sha256(seed.encode("utf-8", "surrogateescape")).hexdigest()[:8]


class _Names:
    """This process's part of every temporary name: the prefix naming it, a random token
    and a counter (so a name costs no system call: no ``getpid``, no ``getrandom``).
    Renewed in a forked child, which is another process."""

    def __init__(self) -> None:
        self.prefix = ""
        self.token = ""
        self.counter = itertools.count()

    def renew(self) -> None:
        self.prefix = f"{TEMP_PREFIX}{host_tag()}-{os.getpid()}-"
        self.token = secrets.token_hex(3)
        self.counter = itertools.count()


_names = _Names()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_names.renew)


def temp_name() -> str:
    """A fresh temporary name owned by this process (unique in it: the counter; across
    processes: the process id; never reused on disk either way: it is created with
    ``O_EXCL``)."""
    if not _names.prefix:
        _names.renew()
    return f"{_names.prefix}{int(time.time())}-{_names.token}{next(_names.counter) & 0xFFFFFF:06x}"


def parse(name: str) -> Owner | None:
    """The owner recorded in a temporary name, or None (older format, or not one)."""
    if not name.startswith(TEMP_PREFIX):
        return None
    parts = name[len(TEMP_PREFIX) :].split("-")
    if len(parts) != 4:
        return None
    host, pid, created, _ = parts
    if len(host) != 8 or not pid.isdigit() or not created.isdigit():
        return None
    return Owner(host, int(pid), int(created))
