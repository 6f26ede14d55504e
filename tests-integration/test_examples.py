"""The README's quick start and the example programs run as written."""

from __future__ import annotations

import os
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
    assert "health of memory: ok (" in done.stdout and "HealthStatus(" not in done.stdout
    assert "No object 'avatars/42.jpg'" in done.stdout


def test_upload_flow_example_tells_the_story(tmp_path: Path) -> None:
    """The demo's main story on the local default: a browser-style PUT through a presigned
    URL into the local ASGI app, the metadata read back, a presigned download, a KV
    session with a TTL; printed as a readable transcript."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "upload_flow.py")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r"signature=[0-9a-f]{8}…\n", out), out  # the signature shortened
    assert re.search(r"PUT 65,004 bytes -> 200, ETag \"[^\"]+\" \(\d+ ms\)", out), out
    assert "Content-Type text/html -> 403 forbidden: content-type differs" in out
    assert "avatars/42.jpg: 65,004 bytes, image/jpeg, modified 20" in out
    assert re.search(r"ETag \"[^\"]+\", the same as the one the browser got", out), out
    assert re.search(
        r"GET -> 200, 65,004 bytes, image/jpeg, same bytes as uploaded \(\d+ ms\)", out
    )
    assert "GET Range: bytes=0-3 -> 206, bytes 0-3/65004, ffd8ffe0" in out
    assert "avatars/43.jpg -> 403 forbidden: signature" in out
    assert re.search(
        r"session:7f3a = \{'user': '42', 'avatar': 'avatars/42.jpg'\} "
        r"\(expires in 1[78]\d\d s\)",
        out,
    ), out
    assert "flash:7f3a after 0.3 s = None" in out
    assert "BlobInfo(" not in out and "object at 0x" not in out  # no raw reprs
    assert list(tmp_path.iterdir()) == []  # its temporary folder is removed


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
        'cd "{root}" && python examples/upload_flow.py',
    ]
