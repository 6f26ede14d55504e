"""The worked example of docs/writing-a-driver.md, built and run as a third party would.

``examples/third-party-driver`` (``lexigram-storage-sqlite``) is built as a wheel, installed
with core's wheel into a fresh virtual environment, discovered through its entry point and
run against the public conformance kit, in pytest-asyncio's strict mode.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lexigram.storage.testing.progress import announce
from lexigram.storage.testing.wheels import build_wheel, venv_with_wheels

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "third-party-driver"
CORE = ROOT / "packages" / "lexigram-storage-core"


def test_example_driver_builds_installs_and_passes_the_kit(
    tmp_path: Path, pytestconfig: pytest.Config
) -> None:
    announce(pytestconfig, "third-party driver: building 2 wheels and a venv (about 10-20 s)")
    core_wheel = build_wheel(CORE, tmp_path / "core")
    example_wheel = build_wheel(EXAMPLE, tmp_path / "example")
    # attrs, cattrs, PyYAML, pytest and pytest-asyncio come from the running environment;
    # lexigram comes only from the two wheels.
    python, purelib = venv_with_wheels([core_wheel, example_wheel], tmp_path / "venv")

    project = tmp_path / "project"
    shutil.copytree(EXAMPLE / "tests", project / "tests")
    (project / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        capture_output=True,
        text=True,
        cwd=project,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
    passed = int(done.stdout.strip().splitlines()[-1].split(" passed")[0].split()[-1])
    assert passed >= 70, done.stdout[-500:]

    where = subprocess.run(
        [str(python), "-c", "import lexigram.storage.sqlite as m, lexigram.storage as s; "
         "from lexigram.storage import available_drivers; "
         "print(m.__file__); print(s.__file__); print(available_drivers())"],
        capture_output=True, text=True, cwd=project, env=env, timeout=60,
    )  # fmt: skip
    assert where.returncode == 0, where.stderr
    sqlite_file, storage_file, drivers = where.stdout.strip().splitlines()
    assert sqlite_file.startswith(str(purelib)) and storage_file.startswith(str(purelib))
    assert "'sqlite'" in drivers and "'memory'" in drivers
