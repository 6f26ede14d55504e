"""The README's quick start and the example programs run as written."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
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


def test_the_readme_demo_command_uses_the_light_environment() -> None:
    """The README's first command runs the demo in an environment of its own: core, the
    local driver and the command line, nothing inherited from the development one."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Two commands", 1)[1]
    first = re.findall(r"```bash\n(.*?)```", section, re.S)[0].strip()
    assert first.endswith("python3 -m hatch run demo:run"), first
    with (ROOT / "hatch.toml").open("rb") as f:
        demo = tomllib.load(f)["envs"]["demo"]
    assert demo["template"] == "demo"  # no inheritance of the default env's tools
    assert "dependencies" not in demo and "extra-dependencies" not in demo
    assert sorted(demo["workspace"]["members"]) == [
        "packages/lexigram-storage-core",
        "packages/lexigram-storage-kit",
        "packages/lexigram-storage-local",
    ]
    assert demo["scripts"]["run"] == [
        'cd "{root}" && bash examples/cli_session.sh',
        'cd "{root}" && python examples/quickstart.py',
    ]
