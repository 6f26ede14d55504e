"""Start and stop real protocol servers on 127.0.0.1 for integration tests.

Used by this repository's ``tests-integration/`` (moto, fake-gcs-server, Azurite) and
public for third-party driver authors who test against an emulator::

    server = ServerProcess("moto", ["moto_server", "-H", "127.0.0.1", "-p", "{port}"],
                           ready=http_ready("/moto-api/"))
    with server:
        endpoint = server.url   # http://127.0.0.1:<port>

A server that cannot start raises :class:`ServerStartError` with the tail of its log:
tests fail loudly, they never skip.
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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

__all__ = ["ServerProcess", "ServerStartError", "free_port", "http_ready", "tcp_ready"]

HOST = "127.0.0.1"


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
    """A server subprocess on a free 127.0.0.1 port. ``{port}`` in argv is replaced."""

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
        self._log = tempfile.NamedTemporaryFile(prefix=f"{name}-", suffix=".log", delete=False)  # noqa: SIM115

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log_path(self) -> str:
        return self._log.name

    def start(self) -> ServerProcess:
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
                    f"log:\n{self.log_tail()}"
                )
            if self._ready(self.port):
                return self
            time.sleep(0.1)
        self.stop()
        raise ServerStartError(
            f"{self.name} was not ready on port {self.port} within {self._timeout:g} s; "
            f"log:\n{self.log_tail()}"
        )

    def stop(self) -> None:
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
        self._log.close()

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        try:
            text = Path(self._log.name).read_text(errors="replace")
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
        self.stop()
