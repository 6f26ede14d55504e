"""Start and stop real protocol servers on 127.0.0.1 for integration tests.

Used by this repository's ``tests-integration/`` (moto, fake-gcs-server, Azurite) and
public for third-party driver authors who test against an emulator::

    server = ServerProcess("moto", ["moto_server", "-H", "127.0.0.1", "-p", "{port}"],
                           ready=http_ready("/moto-api/"))
    with server:
        endpoint = server.url   # http://127.0.0.1:<port>

A server that cannot start raises :class:`ServerStartError` with the tail of its log and
its path: tests fail loudly, they never skip.

Each server writes its output to a log file in the temp folder, removed when the server
stops, unless :attr:`ServerProcess.keep_log` was set (or the server failed to start, or the
``with`` block raised): then it stays, for a look after the run. Under pytest, the plugin
:mod:`lexigram.storage.testing.server_logs` sets ``keep_log`` on the running servers when a
test fails, and says where the logs are.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = [
    "ServerProcess",
    "ServerStartError",
    "free_port",
    "http_ready",
    "running_servers",
    "tcp_ready",
]

HOST = "127.0.0.1"

#: the servers started and not yet stopped.
_RUNNING: weakref.WeakSet[ServerProcess] = weakref.WeakSet()


def running_servers() -> list[ServerProcess]:
    """The servers started and not stopped yet (e.g. to keep their logs after a failure)."""
    return sorted(_RUNNING, key=lambda server: server.name)


class ServerStartError(RuntimeError):
    """The server did not start or did not become ready in time."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def http_ready(path: str = "/", *, any_status: bool = False) -> Callable[[int], bool]:
    """Ready when ``GET http://127.0.0.1:<port><path>`` answers 200 (or anything, with
    ``any_status``)."""

    def check(port: int) -> bool:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=2) as reply:
                return any_status or reply.status == 200
        except urllib.error.HTTPError:
            return any_status
        except (OSError, urllib.error.URLError):
            return False

    return check


def tcp_ready(port: int) -> bool:
    """Ready when the port accepts a TCP connection."""
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


class ServerProcess:
    """A server subprocess on a free 127.0.0.1 port. ``{port}`` in argv is replaced.

    Its output goes to :attr:`log_path`, a file in the temp folder that :meth:`stop` removes
    unless :attr:`keep_log` is true.
    """

    #: keep the log file when the server stops (set by whoever saw something fail).
    keep_log: bool

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        ready: Callable[[int], bool] = tcp_ready,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        self.name = name
        self.port = port if port is not None else free_port()
        self.argv = [a.replace("{port}", str(self.port)) for a in argv]
        self._ready = ready
        self._env = {**os.environ, **(env or {})}
        self._cwd = cwd
        self._timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_path: str | None = None
        self.keep_log = False

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log_path(self) -> str | None:
        """The server's log file: made by :meth:`start`; None before, and once :meth:`stop`
        removed it."""
        return self._log_path

    def start(self) -> ServerProcess:
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115  (closed by stop())
            prefix=f"{self.name}-", suffix=".log", delete=False
        )
        self._log_path = self._log.name
        self.keep_log = False
        try:
            self._start()
        except BaseException:
            self.keep_log = True  # the error quotes the log's tail and says where it is
            self.stop()
            raise
        _RUNNING.add(self)
        return self

    def _start(self) -> None:
        assert self._log is not None
        try:
            self._proc = subprocess.Popen(
                self.argv,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self._env,
                cwd=self._cwd,
                start_new_session=True,
            )
        except OSError as exc:
            raise ServerStartError(
                f"cannot start {self.name} ({self.argv[0]}): {exc}. Is it installed? The "
                "README's test command installs every test server."
            ) from exc
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServerStartError(
                    f"{self.name} exited with code {self._proc.returncode} before it was ready; "
                    f"log ({self._log_path}):\n{self.log_tail()}"
                )
            if self._ready(self.port):
                return
            time.sleep(0.1)
        raise ServerStartError(
            f"{self.name} was not ready on port {self.port} within {self._timeout:g} s; "
            f"log ({self._log_path}):\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Stop the server; remove its log file unless :attr:`keep_log`. Idempotent."""
        _RUNNING.discard(self)
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 15)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, 9)
                proc.wait(timeout=10)
        log, self._log = self._log, None
        if log is not None:
            log.close()
            if not self.keep_log:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(log.name)
                self._log_path = None

    def log_tail(self, lines: int = 40) -> str:
        if self._log is not None:
            self._log.flush()
        if self._log_path is None:
            return "(no log)"
        try:
            text = Path(self._log_path).read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None and not issubclass(exc_type, GeneratorExit):
            self.keep_log = True  # the block failed: its server's log may say why
        self.stop()
