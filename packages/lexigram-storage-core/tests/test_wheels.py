"""Build a wheel of every distribution in the monorepo and check the namespace rules.

The rules (docs/architecture.md, "Distributions and the namespace rule"):

- no wheel ships ``lexigram/__init__.py`` (``lexigram`` is a PEP 420 namespace);
- only ``lexigram-storage-core`` ships ``lexigram/storage/__init__.py``, and its first
  statement extends ``__path__`` so the other distributions' subpackages are found;
- every other wheel ships exactly one directory ``lexigram/storage/<its dir>/`` and nothing
  else apart from its ``.dist-info``;
- every wheel is typed (``py.typed``).

The distributions are found by globbing ``packages/*/pyproject.toml``, so a driver added
later is covered without touching this file. All wheels are built once per module.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lexigram.storage.testing.progress import announce
from lexigram.storage.testing.wheels import venv_with_wheels

REPO_ROOT = Path(__file__).resolve().parents[3]
PACKAGES_DIR = REPO_ROOT / "packages"
CORE = "lexigram-storage-core"
# The meta distribution `lexigram-storage-kit` carries the command line.
SUBPACKAGE_OF = {"lexigram-storage-kit": "cli"}
EXTEND_PATH = '__path__ = __import__("pkgutil").extend_path(__path__, __name__)'
BUILD_TIMEOUT = 300


@dataclass(frozen=True)
class Wheel:
    dist: str
    path: Path
    names: tuple[str, ...]

    @property
    def payload(self) -> list[str]:
        """Files outside the ``.dist-info`` directory."""
        return [n for n in self.names if not n.split("/", 1)[0].endswith(".dist-info")]

    def read(self, name: str) -> str:
        with zipfile.ZipFile(self.path) as zf:
            return zf.read(name).decode("utf-8")


def _distributions() -> dict[str, Path]:
    dists: dict[str, Path] = {}
    for pyproject in sorted(PACKAGES_DIR.glob("*/pyproject.toml")):
        with pyproject.open("rb") as f:
            name = tomllib.load(f)["project"]["name"]
        dists[_normalize(name)] = pyproject.parent
    return dists


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _expected_subpackage(dist: str) -> str | None:
    if dist in SUBPACKAGE_OF:
        return SUBPACKAGE_OF[dist]
    prefix = "lexigram-storage-"
    if dist.startswith(prefix):
        return dist[len(prefix) :].replace("-", "_")
    return None


@pytest.fixture(scope="module")
def wheels(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> dict[str, Wheel]:
    """Build every distribution's wheel (in parallel, without build isolation)."""
    dists = _distributions()
    announce(pytestconfig, f"test_wheels: building {len(dists)} wheels (about 10-30 s)")
    assert CORE in dists, f"{CORE} not found under {PACKAGES_DIR}"
    out_root = tmp_path_factory.mktemp("wheels")
    procs: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    for dist, src in dists.items():
        out = out_root / dist
        cmd = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out)]
        procs[dist] = (
            subprocess.Popen(
                [*cmd, str(src)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=src
            ),
            out,
        )
    built: dict[str, Wheel] = {}
    failures: list[str] = []
    for dist, (proc, out) in procs.items():
        output, _ = proc.communicate(timeout=BUILD_TIMEOUT)
        found = sorted(out.glob("*.whl"))
        if proc.returncode != 0 or len(found) != 1:
            failures.append(f"{dist}: exit {proc.returncode}\n{output.decode(errors='replace')}")
            continue
        with zipfile.ZipFile(found[0]) as zf:
            names = tuple(zf.namelist())
        built[dist] = Wheel(dist, found[0], names)
    assert not failures, "wheel build failed:\n" + "\n".join(failures)
    return built


def _subdirs(payload: list[str]) -> set[str]:
    """Names of the directories directly under lexigram/storage/ in a wheel's files."""
    return {
        n.split("/")[2] for n in payload if n.startswith("lexigram/storage/") and n.count("/") >= 3
    }


def _problems(wheel: Wheel) -> Iterator[str]:
    payload = wheel.payload
    if "lexigram/__init__.py" in payload:
        yield "ships lexigram/__init__.py (lexigram is a PEP 420 namespace: no __init__.py)"
    if not payload:
        yield "ships no files outside its .dist-info"
    if not any(n.startswith("lexigram/storage/") and n.endswith("/py.typed") for n in payload):
        yield "ships no py.typed under lexigram/storage/"
    if wheel.dist == CORE:
        if "lexigram/storage/__init__.py" not in payload:
            yield "core does not ship lexigram/storage/__init__.py"
        outside = [n for n in payload if not n.startswith("lexigram/storage/")]
        if outside:
            yield f"core ships files outside lexigram/storage/: {outside}"
        return
    if "lexigram/storage/__init__.py" in payload:
        yield (
            "ships lexigram/storage/__init__.py, which would overwrite core's on install; "
            "only lexigram-storage-core may ship it"
        )
    subdirs = _subdirs(payload)
    expected = _expected_subpackage(wheel.dist)
    allowed = {expected} if expected is not None else subdirs
    if len(subdirs) != 1 or subdirs != allowed:
        yield (
            f"must ship exactly one directory lexigram/storage/{expected or '<name>'}/, "
            f"ships {sorted(subdirs)}"
        )
    prefixes = tuple(f"lexigram/storage/{d}/" for d in allowed)
    outside = [n for n in payload if not n.startswith(prefixes)]
    if outside:
        yield f"ships files outside {list(prefixes)} and its .dist-info: {outside}"


def test_every_distribution_is_found(wheels: dict[str, Wheel]) -> None:
    assert set(wheels) == set(_distributions())


def test_wheels_respect_the_namespace_rules(wheels: dict[str, Wheel]) -> None:
    report = [f"{w.path.name}: {p}" for w in wheels.values() for p in _problems(w)]
    assert not report, "\n".join(report)


def test_core_init_extends_path_first(wheels: dict[str, Wheel]) -> None:
    core = wheels[CORE]
    if "lexigram/storage/__init__.py" not in core.payload:
        pytest.fail("core does not ship lexigram/storage/__init__.py")
    tree = ast.parse(core.read("lexigram/storage/__init__.py"))
    body = list(tree.body)
    # A module docstring is not code; the first real statement must be the extend_path line.
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    assert body, "lexigram/storage/__init__.py is empty"
    expected = ast.dump(ast.parse(EXTEND_PATH).body[0])
    assert ast.dump(body[0]) == expected, (
        f"the first statement of lexigram/storage/__init__.py must be\n    {EXTEND_PATH}\n"
        f"found\n    {ast.unparse(body[0])}"
    )


_CHECK_SCRIPT = """
import importlib.metadata as md
import json
import pathlib
import sys

import lexigram.storage
import lexigram.storage.memory

dirs = json.loads(sys.argv[1])
missing = []
for d in dirs:
    if not any((pathlib.Path(p) / d).is_dir() for p in lexigram.storage.__path__):
        missing.append(d)
eps = md.entry_points(group="lexigram.storage.drivers")
print(json.dumps({
    "storage_file": lexigram.storage.__file__,
    "memory_file": lexigram.storage.memory.__file__,
    "path": list(lexigram.storage.__path__),
    "missing_subpackages": missing,
    "drivers": sorted(ep.name for ep in eps),
}))
"""


def test_wheels_install_together_and_import(wheels: dict[str, Wheel], tmp_path: Path) -> None:
    """Install every wheel (no deps) into a fresh venv and import the namespace from it.

    The runtime dependencies come from the environment running the tests (see
    ``lexigram.storage.testing.wheels``); the ``lexigram`` found in the new venv is the
    installed wheels' one only.
    """
    python, purelib = venv_with_wheels((w.path for w in wheels.values()), tmp_path / "venv")

    subpackages = sorted(set().union(*(_subdirs(w.payload) for w in wheels.values())))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    result = subprocess.run(
        [str(python), "-I", "-c", _CHECK_SCRIPT, json.dumps(subpackages)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    site = str(purelib)
    assert seen["storage_file"].startswith(site), seen
    assert seen["memory_file"].startswith(site), seen
    assert seen["missing_subpackages"] == [], seen
    assert "memory" in seen["drivers"], seen

    # The command line comes with the meta distribution and names it (not the unrelated
    # `lexigram-storage` on PyPI).
    version = subprocess.run(
        [str(python.parent / "lexigram-storage"), "--version"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert version.returncode == 0, version.stdout + version.stderr
    assert version.stdout.strip() == "lexigram-storage-kit 0.1.0", version.stdout
