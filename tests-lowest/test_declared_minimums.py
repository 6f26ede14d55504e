"""Run only in ``.venv-lowest`` (``tests-lowest/run.py``): what is installed there is
exactly the lower bound each ``packages/*/pyproject.toml`` declares, so the suites that
ran beside this test proved those bounds. A bound that drifts from what uv installs (a
floor raised by a dependency, a stale environment) fails here."""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
TEST_EXTRAS = {"testing"}


def declared() -> dict[str, dict[str, Requirement]]:
    """Each distribution's third-party requirements (dependencies and non-test extras)."""
    out: dict[str, dict[str, Requirement]] = {}
    for pyproject in sorted(ROOT.glob("packages/*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        lines = list(project.get("dependencies", []))
        for extra, reqs in project.get("optional-dependencies", {}).items():
            if extra not in TEST_EXTRAS:
                lines += reqs
        reqs = [Requirement(line) for line in lines]
        out[project["name"]] = {
            canonicalize_name(r.name): r for r in reqs if not r.name.startswith("lexigram-")
        }
    return out


def floor(req: Requirement) -> Version:
    lows = [Version(s.version) for s in req.specifier if s.operator in (">=", "==", "~=")]
    assert len(lows) == 1, f"{req}: declare exactly one lower bound (>=)"
    return lows[0]


DECLARED = declared()
NAMES = sorted({name for reqs in DECLARED.values() for name in reqs})


def test_every_distribution_was_read() -> None:
    assert len(DECLARED) == len(list(ROOT.glob("packages/*/pyproject.toml"))) >= 6
    assert {"aiobotocore", "attrs", "azure-storage-blob", "gcloud-aio-storage"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_installed_version_is_the_declared_floor(name: str) -> None:
    floors = {dist: floor(reqs[name]) for dist, reqs in DECLARED.items() if name in reqs}
    # Two distributions asking for the same package ask for the same floor: the one
    # environment here proves one version of it.
    assert len(set(floors.values())) == 1, f"{name}: different lower bounds {floors}"
    want = next(iter(floors.values()))
    try:
        have = Version(version(name))
    except PackageNotFoundError:  # pragma: no cover - a broken environment
        pytest.fail(f"{name} is not installed in the lowest environment")
    assert have == want, (
        f"{name}: {have} is installed but {sorted(floors)} declare >={want}; "
        "raise the bound to what works, or rebuild the environment (hatch run test-lowest)"
    )
    for dist, reqs in DECLARED.items():
        if name in reqs:
            assert reqs[name].specifier.contains(have, prereleases=True), (dist, reqs[name])
