"""pytest plugin: the test servers' logs are kept when a test fails, and their paths shown.

A :class:`~lexigram.storage.testing.servers.ServerProcess` removes its log file when it
stops. With this plugin, a test that fails (in its setup, call or teardown) marks every
server running at that moment to keep its log; the failure report gets a
``server logs`` section naming each file, and the end of the run lists the logs kept::

    pytest -p lexigram.storage.testing.server_logs

(or, from a ``conftest.py``: ``config.pluginmanager.import_plugin(
"lexigram.storage.testing.server_logs")`` in ``pytest_configure``).
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

from lexigram.storage.testing.servers import running_servers

__all__ = ["keep_running_logs"]

#: log path -> server name, of every log kept during the run.
_KEPT = pytest.StashKey[dict[str, str]]()


def keep_running_logs() -> list[tuple[str, str]]:
    """Mark every running server to keep its log; (name, path) of each."""
    kept: list[tuple[str, str]] = []
    for server in running_servers():
        server.keep_log = True
        if server.log_path is not None:
            kept.append((server.name, server.log_path))
    return kept


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        kept = keep_running_logs()
        if kept:
            item.config.stash.setdefault(_KEPT, {}).update((path, name) for name, path in kept)
            report.sections.append(
                (
                    f"server logs kept ({report.when})",
                    "\n".join(f"{name}: {path}" for name, path in kept),
                )
            )
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    kept = terminalreporter.config.stash.get(_KEPT, {})
    present = {path: name for path, name in kept.items() if os.path.exists(path)}
    if present:
        terminalreporter.section("server logs kept (a test failed)")
        for path, name in sorted(present.items(), key=lambda item: item[1]):
            terminalreporter.write_line(f"{name}: {path}")
