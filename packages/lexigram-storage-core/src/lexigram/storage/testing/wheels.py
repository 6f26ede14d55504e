"""Build wheels and install them into a fresh virtual environment, for packaging tests.

A driver author checks that a driver works *as installed* — found through its entry point,
beside core's wheel, with no ``src/`` on the path::

    core = build_wheel(core_src, tmp / "core")
    mine = build_wheel(project_dir, tmp / "mine")
    python, site = venv_with_wheels([core, mine], tmp / "venv")
    subprocess.run([str(python), "-m", "pytest", "tests"], ...)

The new environment borrows the third-party dependencies (attrs, cattrs, the SDKs, pytest)
of the environment running the tests: its site-packages are appended to the venv's path
through a ``.pth`` file. (``venv --system-site-packages`` would expose the *base*
interpreter's site-packages instead.) The ``.pth`` files of those directories — editable
installs among them — are not processed, so the ``lexigram`` packages found there are the
installed wheels' only. Building needs ``build`` and the build backend in the running
environment (no build isolation, no network).
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from collections.abc import Iterable
from pathlib import Path

__all__ = ["build_sdist_and_wheel", "build_wheel", "venv_with_wheels"]

TIMEOUT = 300


def build_wheel(source: Path, out: Path) -> Path:
    """Build the wheel of the project in ``source`` into ``out``; return its path."""
    (wheel,) = _build(source, out, "--wheel")
    return wheel


def build_sdist_and_wheel(source: Path, out: Path) -> tuple[Path, Path]:
    """Build the sdist and the wheel of the project in ``source`` into ``out`` (both from
    the source tree); return their paths."""
    sdist, wheel = _build(source, out, "--sdist", "--wheel")
    return sdist, wheel


def _build(source: Path, out: Path, *formats: str) -> list[Path]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            *formats,
            "--no-isolation",
            "--outdir",
            str(out),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=source,
    )
    if done.returncode != 0:
        raise RuntimeError(f"building {source} failed:\n{done.stdout}{done.stderr}")
    built = [*out.glob("*.tar.gz"), *out.glob("*.whl")]  # sdist first, as in `formats`
    if len(built) != len(formats):
        raise RuntimeError(f"building {source} gave {built}, expected {formats}")
    return built


def venv_with_wheels(wheels: Iterable[Path], where: Path) -> tuple[Path, Path]:
    """A fresh venv at ``where`` with ``wheels`` installed (no dependencies resolved);
    returns its python and its site-packages directory."""
    venv.EnvBuilder(with_pip=False, symlinks=True).create(where)
    python = where / "bin" / "python"
    purelib = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True,
        ).strip()
    )
    outer = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (purelib / "_outer_site_packages.pth").write_text("\n".join(sorted(outer)) + "\n")
    install = [
        sys.executable, "-m", "pip", "--python", str(python), "install",
        "--no-deps", "--no-index", "--no-cache-dir", "--disable-pip-version-check", "-q",
        *(str(w) for w in wheels),
    ]  # fmt: skip
    done = subprocess.run(install, capture_output=True, text=True, timeout=TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError(f"installing the wheels failed:\n{done.stdout}{done.stderr}")
    return python, purelib
