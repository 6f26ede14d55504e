"""Core refuses to run when another project's ``lexigram/__init__.py`` is on the path.

The unrelated ``lexigram-storage`` distribution on PyPI (and its ``lexigram`` dependency)
ship ``lexigram/__init__.py``. The layout is planted here: a folder with that file and
core's real ``lexigram/storage`` package linked beneath it, first on the path of a fresh
interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import lexigram.storage

CORE_STORAGE = next(
    Path(p) for p in lexigram.storage.__path__ if (Path(p) / "namespace_check.py").is_file()
)


def _import_storage(site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, "-c", "import lexigram.storage; print(lexigram.storage.__file__)"],
        capture_output=True,
        text=True,
        cwd=site,
        env=env,
        timeout=120,
    )


def _site(tmp_path: Path, *, foreign_init: bool) -> Path:
    site = tmp_path / "site"
    (site / "lexigram").mkdir(parents=True)
    (site / "lexigram" / "storage").symlink_to(CORE_STORAGE, target_is_directory=True)
    if foreign_init:
        (site / "lexigram" / "__init__.py").write_text('"""another project"""\n')
    return site


def test_a_foreign_lexigram_init_stops_the_import_with_the_repair(tmp_path: Path) -> None:
    site = _site(tmp_path, foreign_init=True)
    done = _import_storage(site)
    assert done.returncode != 0, done.stdout
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: lexigram-storage-core cannot run"), done.stderr
    assert str(site / "lexigram" / "__init__.py") in last
    assert "'lexigram-storage' distribution on PyPI" in last
    assert "pip uninstall lexigram-storage lexigram" in last
    assert "pip install --force-reinstall lexigram-storage-core" in last


def test_the_namespace_layout_imports(tmp_path: Path) -> None:
    site = _site(tmp_path, foreign_init=False)
    done = _import_storage(site)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(site / "lexigram" / "storage" / "__init__.py")
