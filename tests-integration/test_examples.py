"""The README's quick start and the example programs run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _python_blocks(markdown: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown.read_text(encoding="utf-8"), re.S)


def test_readme_quick_start_runs() -> None:
    blocks = _python_blocks(ROOT / "README.md")
    assert blocks, "README.md has no python block"
    done = subprocess.run(
        [sys.executable, "-c", blocks[0]], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert "avatars/42.jpg 3" in done.stdout


def test_quickstart_example_runs() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "uploaded avatars/42.jpg: 14 bytes, image/jpeg" in done.stdout
    assert "dir  reports/" in done.stdout
    assert "No object 'avatars/42.jpg'" in done.stdout
