"""The code samples of the README and of docs/ run as written.

Every ```python block of the pages below is executed in a fresh process, in an empty
temporary folder, with top-level ``await`` allowed (as in an asyncio REPL). A python block
that reads ``app.yaml`` gets the page's nearest preceding ```yaml block holding a
``storage:`` section, written to that file. Every such YAML block is also loaded with
``StorageConfig.from_yaml``, so a config example that would not load fails here.

Pages whose samples talk to a cloud service (the S3, R2, GCS and Azure pages) are checked
for their YAML only here: executing them would send traffic off this machine.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXECUTED_PAGES = [
    "README.md",
    "docs/index.md",
    "docs/quickstart.md",
    "docs/configuration.md",
    "docs/errors.md",
    "docs/kv.md",
    "docs/cli.md",
    "docs/drivers/memory.md",
    "docs/drivers/local.md",
]
YAML_PAGES = sorted(
    {*EXECUTED_PAGES, *(str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md"))}
)
_BLOCK = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.S | re.M)
_RUNNER = """
import ast, asyncio, sys
source = open(sys.argv[1], encoding="utf-8").read()
code = compile(source, sys.argv[2], "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
result = eval(code, {"__name__": "__main__"})
if asyncio.iscoroutine(result):
    asyncio.run(result)
"""
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _env_for(*texts: str | None) -> dict[str, str]:
    """A made-up value (never a real credential) for every ${VAR} without a default."""
    names = {name for text in texts if text for name in _VAR.findall(text)}
    values = {name: f"docs-example-{name.lower()}" for name in names}
    for name in names:
        if "CONNECTION_STRING" in name:  # must parse as one
            values[name] = (
                "AccountName=docsexample;AccountKey=ZG9jcw==;EndpointSuffix=core.windows.net"
            )
    return {**os.environ, **values}


def _blocks(page: str) -> list[tuple[str, str, str | None]]:
    """(language, code, nearest preceding storage yaml) for each fenced block."""
    out: list[tuple[str, str, str | None]] = []
    last_yaml: str | None = None
    for match in _BLOCK.finditer((ROOT / page).read_text(encoding="utf-8")):
        lang, code = match.group(1), match.group(2)
        if "--8<--" in code:
            continue  # included from a file that its own test runs
        out.append((lang, code, last_yaml))
        if lang == "yaml" and "storage:" in code:
            last_yaml = code
    return out


def _cases(kind: str, pages: list[str]) -> list[tuple[str, int, str, str | None]]:
    cases = []
    for page in pages:
        for i, (lang, code, yaml_before) in enumerate(_blocks(page)):
            if lang == kind and (kind == "python" or "storage:" in code):
                cases.append((page, i, code, yaml_before))
    return cases


PYTHON = _cases("python", EXECUTED_PAGES)
YAML = _cases("yaml", YAML_PAGES)


def test_there_are_samples() -> None:
    assert len(PYTHON) >= 8 and len(YAML) >= 5


@pytest.mark.parametrize(
    ("page", "index", "code", "yaml_before"), PYTHON, ids=[f"{p}#{i}" for p, i, _, _ in PYTHON]
)
def test_python_sample_runs(
    page: str, index: int, code: str, yaml_before: str | None, tmp_path: Path
) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(code, encoding="utf-8")
    if yaml_before is not None:
        (tmp_path / "app.yaml").write_text(yaml_before, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(sample), f"{page}#{index}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=_env_for(code, yaml_before),
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"{page} block {index} failed:\n{code}\n{done.stderr[-3000:]}"


@pytest.mark.parametrize(
    ("page", "index", "code", "yaml_before"), YAML, ids=[f"{p}#{i}" for p, i, _, _ in YAML]
)
def test_yaml_sample_loads(
    page: str, index: int, code: str, yaml_before: str | None, tmp_path: Path
) -> None:
    (tmp_path / "app.yaml").write_text(code, encoding="utf-8")
    script = (
        "import sys; from lexigram.storage import StorageConfig; "
        "StorageConfig.from_yaml(sys.argv[1])"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "app.yaml")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=_env_for(code),
    )
    assert done.returncode == 0, (
        f"{page} block {index} does not load:\n{code}\n{done.stderr[-2000:]}"
    )
