"""No file of the project points at a design document outside the repository: the
design is docs/architecture.md. (.ci/ is the machinery's own and is left out.)"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
# assembled, so that this file does not name them itself
FORBIDDEN = ("DESIGN" + ".md", "../" + "shared")


def test_no_tracked_file_mentions_an_outside_design_document() -> None:
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True
    ).stdout.decode()
    offenders = []
    for name in filter(None, listed.split("\0")):
        if name.startswith(".ci/") or name == Path(__file__).relative_to(ROOT).as_posix():
            continue
        path = ROOT / name
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", "replace")
        offenders += [f"{name}: {word}" for word in FORBIDDEN if word in text]
    assert offenders == [], "refer to docs/architecture.md instead"
    assert (ROOT / "docs" / "architecture.md").is_file()
