"""``announce``: a long phase of a test says what it does when it starts, although the
test's own output is captured."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TEST = """
import pytest
from lexigram.storage.testing.progress import announce

def test_long(pytestconfig: pytest.Config) -> None:
    announce(pytestconfig, "building 6 wheels (about 20 s)")
    print("captured, not shown")
"""


def test_the_line_appears_while_output_is_captured(tmp_path: Path) -> None:
    (tmp_path / "test_long.py").write_text(TEST, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_long.py"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "building 6 wheels (about 20 s)" in lines, done.stdout
    assert "captured, not shown" not in done.stdout
    # on a line of its own, before the test's result
    assert lines.index("building 6 wheels (about 20 s)") < next(
        i for i, line in enumerate(lines) if line.startswith(".")
    )
