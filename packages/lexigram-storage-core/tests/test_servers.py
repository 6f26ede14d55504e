"""lexigram.storage.testing.servers: a server's log file is removed when it stops, kept
(and its path said) when something failed; the pytest plugin server_logs keeps the logs
of the running servers when a test fails and lists them at the end of the run."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from lexigram.storage.testing.servers import (
    ServerProcess,
    ServerStartError,
    http_ready,
    running_servers,
)

#: a real HTTP server (it logs each request, the readiness probe's too, to stderr).
HTTP_SERVER = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "{port}"]


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temp folder the servers write their logs to, empty."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _server() -> ServerProcess:
    return ServerProcess("http", HTTP_SERVER, ready=http_ready("/"))


def test_a_normal_start_and_stop_leaves_no_log_behind(temp_dir: Path) -> None:
    server = _server()
    assert server.log_path is None  # nothing is made before start
    with server:
        assert server in running_servers()
        log = server.log_path
        assert log is not None and Path(log).parent == temp_dir
        assert "GET / " in server.log_tail()  # the readiness probe, logged by the server
    assert server not in running_servers()
    assert list(temp_dir.iterdir()) == []
    assert server.log_path is None
    server.stop()  # idempotent


def test_keep_log_keeps_that_log_only(temp_dir: Path) -> None:
    with _server() as kept, _server() as removed:
        kept.keep_log = True
        log = kept.log_path
        assert removed.log_path is not None
    assert log is not None and kept.log_path == log
    assert "GET / " in Path(log).read_text()
    assert list(temp_dir.iterdir()) == [Path(log)]  # the other one's is gone


def test_a_failing_with_block_keeps_its_log_only(temp_dir: Path) -> None:
    with _server():
        pass
    with pytest.raises(RuntimeError), _server() as server:
        raise RuntimeError("the test failed")
    assert server.log_path is not None
    assert list(temp_dir.iterdir()) == [Path(server.log_path)]


def test_a_server_that_cannot_start_keeps_its_log_and_says_where(temp_dir: Path) -> None:
    server = ServerProcess(
        "broken", [sys.executable, "-c", "import sys; print('cannot bind'); sys.exit(3)"]
    )
    with pytest.raises(ServerStartError) as caught:
        server.start()
    log = server.log_path
    assert log is not None and Path(log).exists()
    assert f"({log})" in str(caught.value) and "cannot bind" in str(caught.value)
    assert server not in running_servers()


# -- the pytest plugin ------------------------------------------------------------------

_SUITE = """
import sys

import pytest

from lexigram.storage.testing.servers import ServerProcess, http_ready


@pytest.fixture(scope="session")
def server():
    argv = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "{port}"]
    with ServerProcess("http-under-test", argv, ready=http_ready("/")) as running:
        yield running


def test_uses_the_server(server):
    assert server.log_path is not None
    assert OUTCOME
"""


def _run_suite(tmp_path: Path, outcome: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    folder = tmp_path / "tmp"
    folder.mkdir()
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
    )
    (tmp_path / "test_suite.py").write_text(textwrap.dedent(_SUITE).replace("OUTCOME", outcome))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "lexigram.storage.testing.server_logs",
            "-p",
            "no:cacheprovider",
            "-c",
            str(tmp_path / "pytest.ini"),
            "--rootdir",
            str(tmp_path),
            str(tmp_path / "test_suite.py"),
        ],
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(folder)},
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    return run, folder


def test_the_plugin_leaves_no_log_after_a_passing_run(tmp_path: Path) -> None:
    run, folder = _run_suite(tmp_path, "True")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "server logs kept" not in run.stdout
    assert list(folder.iterdir()) == []


def test_the_plugin_keeps_the_log_of_a_failed_run_and_says_where(tmp_path: Path) -> None:
    run, folder = _run_suite(tmp_path, "False")
    assert run.returncode == 1, run.stdout + run.stderr
    logs = list(folder.glob("http-under-test-*.log"))
    assert len(logs) == 1, run.stdout
    assert "GET / " in logs[0].read_text()
    # in the failure report, and in the summary at the end of the run
    assert "server logs kept (call)" in run.stdout
    summary = run.stdout.split("server logs kept (a test failed)", 1)
    assert len(summary) == 2, run.stdout
    assert f"http-under-test: {logs[0]}" in summary[1]
    assert run.stdout.count(f"http-under-test: {logs[0]}") == 2
