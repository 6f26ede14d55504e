"""One line on the terminal when a test starts a long, otherwise silent phase.

Output of a test is captured, so a ``print`` shows only after a failure; this writes
through pytest's terminal reporter with capturing suspended, so the line appears when
the phase starts::

    announce(request.config, "building 6 wheels (about 20 s)")
"""

from __future__ import annotations

import pytest

__all__ = ["announce"]


def announce(config: pytest.Config, text: str) -> None:
    """Write ``text`` on a line of its own on pytest's terminal, now (also under ``-q``;
    nothing under ``-qq`` or when no terminal reporter is loaded)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or config.get_verbosity() < -1:
        return
    capture = config.pluginmanager.get_plugin("capturemanager")
    if capture is None:
        reporter.write_line(text)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(text)
