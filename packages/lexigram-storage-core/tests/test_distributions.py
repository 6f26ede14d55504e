"""Every distribution's page on the package index: sdist and wheel metadata, README, license.

Each distribution under ``packages/`` is built as an sdist and a wheel, and:

- ``twine check --strict`` accepts them (the README renders; no metadata warnings);
- the metadata carries the project URLs, the license, ``Requires-Python`` and the
  classifiers, and the sdist and the wheel both ship the repository's ``LICENSE``;
- the README (the long description) is a page of its own: the install line, a code
  sample, absolute links to the documentation (relative links break on the index).

The distributions are found by globbing ``packages/*/pyproject.toml``, like the wheel
namespace test, so a distribution added later is covered without touching this file.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path

import pytest

from lexigram.storage.testing.progress import announce
from lexigram.storage.testing.wheels import build_sdist_and_wheel

REPO_ROOT = Path(__file__).resolve().parents[3]
PACKAGES_DIR = REPO_ROOT / "packages"
LICENSE = (REPO_ROOT / "LICENSE").read_text(encoding="utf-8")
DOCS_URL = "https://lexigram.github.io/lexigram-storage/"
REPO_URL = "https://github.com/lexigram/lexigram-storage"
PROJECT_URLS = {
    "Homepage": REPO_URL,
    "Repository": REPO_URL,
    "Issues": f"{REPO_URL}/issues",
    "Changelog": f"{REPO_URL}/blob/main/CHANGELOG.md",
}
CLASSIFIERS = {
    "Framework :: AsyncIO",
    "Programming Language :: Python :: 3.11",
    "Programming Language :: Python :: 3.12",
    "Programming Language :: Python :: 3.13",
    "Typing :: Typed",
}
#: The name on PyPI that belongs to an unrelated project (see docs/install.md).
TAKEN = "lexigram-storage"
KIT = "lexigram-storage-kit"


@dataclass(frozen=True)
class Built:
    dist: str
    source: Path
    sdist: Path
    wheel: Path

    def wheel_file(self, suffix: str) -> str:
        with zipfile.ZipFile(self.wheel) as zf:
            (name,) = [n for n in zf.namelist() if n.endswith(suffix)]
            return zf.read(name).decode("utf-8")

    def sdist_file(self, suffix: str) -> str:
        with tarfile.open(self.sdist) as tf:
            (member,) = [m for m in tf.getmembers() if m.name.endswith(suffix)]
            extracted = tf.extractfile(member)
            assert extracted is not None
            return extracted.read().decode("utf-8")

    def metadata(self) -> Message:
        return HeaderParser().parsestr(self.wheel_file(".dist-info/METADATA"))


def _sources() -> dict[str, Path]:
    sources: dict[str, Path] = {}
    for pyproject in sorted(PACKAGES_DIR.glob("*/pyproject.toml")):
        with pyproject.open("rb") as f:
            sources[tomllib.load(f)["project"]["name"]] = pyproject.parent
    return sources


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> dict[str, Built]:
    """Build every distribution's sdist and wheel (in parallel, without build isolation)."""
    out = tmp_path_factory.mktemp("dists")
    sources = _sources()
    announce(
        pytestconfig,
        f"test_distributions: building {len(sources)} sdists and wheels (about 10-30 s)",
    )
    with ThreadPoolExecutor(max_workers=len(sources)) as pool:
        futures = {
            dist: pool.submit(build_sdist_and_wheel, src, out / dist)
            for dist, src in sources.items()
        }
        return {
            dist: Built(dist, sources[dist], *future.result()) for dist, future in futures.items()
        }


def test_no_distribution_takes_the_name_of_the_unrelated_project() -> None:
    names = set(_sources())
    assert TAKEN not in names, (
        f"{TAKEN!r} on PyPI is an unrelated project; the meta distribution is {KIT!r}"
    )
    assert KIT in names


def test_twine_check_strict(built: dict[str, Built]) -> None:
    files = [str(p) for b in built.values() for p in (b.sdist, b.wheel)]
    done = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *files],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == len(files), done.stdout


def test_metadata_of_every_wheel(built: dict[str, Built]) -> None:
    problems: list[str] = []
    for b in built.values():
        meta = b.metadata()
        urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL", []))
        for label, url in PROJECT_URLS.items():
            if urls.get(label) != url:
                problems.append(f"{b.dist}: Project-URL {label} is {urls.get(label)!r}, not {url}")
        if not urls.get("Documentation", "").startswith(DOCS_URL):
            problems.append(f"{b.dist}: Project-URL Documentation is not under {DOCS_URL}")
        if meta["License-Expression"] != "MIT":
            problems.append(f"{b.dist}: License-Expression is {meta['License-Expression']!r}")
        if meta.get_all("License-File") != ["LICENSE"]:
            problems.append(f"{b.dist}: License-File is {meta.get_all('License-File')!r}")
        if meta["Requires-Python"] != ">=3.11":
            problems.append(f"{b.dist}: Requires-Python is {meta['Requires-Python']!r}")
        if meta["Description-Content-Type"] != "text/markdown":
            problems.append(f"{b.dist}: the README is not declared as markdown")
        classifiers = set(meta.get_all("Classifier", []))
        missing = CLASSIFIERS - classifiers
        if missing:
            problems.append(f"{b.dist}: classifiers missing {sorted(missing)}")
        for prefix in ("Development Status :: ", "Topic :: "):
            if not any(c.startswith(prefix) for c in classifiers):
                problems.append(f"{b.dist}: no {prefix!r} classifier")
        # PEP 639: the license expression replaces the License :: classifiers.
        if any(c.startswith("License :: ") for c in classifiers):
            problems.append(f"{b.dist}: a License :: classifier beside License-Expression")
        if meta["Summary"] is None or len(meta["Summary"]) < 20:
            problems.append(f"{b.dist}: no summary")
    assert not problems, "\n".join(problems)


def test_the_sdist_metadata_matches_the_wheel(built: dict[str, Built]) -> None:
    for b in built.values():
        sdist = HeaderParser().parsestr(b.sdist_file("/PKG-INFO"))
        wheel = b.metadata()
        for field in ("Name", "Version", "Requires-Python", "License-Expression"):
            assert sdist[field] == wheel[field], (b.dist, field)
        assert sdist.get_all("Project-URL") == wheel.get_all("Project-URL"), b.dist


def test_every_sdist_and_wheel_ships_the_license(built: dict[str, Built]) -> None:
    for b in built.values():
        assert b.wheel_file(".dist-info/licenses/LICENSE") == LICENSE, b.wheel.name
        assert b.sdist_file("/LICENSE") == LICENSE, b.sdist.name


def _blocks(markdown: str) -> list[tuple[str, str]]:
    return re.findall(r"^```(\w+)\n(.*?)^```", markdown, re.S | re.M)


def test_every_readme_is_a_page(built: dict[str, Built]) -> None:
    problems: list[str] = []
    for b in built.values():
        readme = (b.source / "README.md").read_text(encoding="utf-8")
        long_description = b.metadata().get_payload()
        if not isinstance(long_description, str) or readme.strip() not in long_description:
            problems.append(f"{b.dist}: the wheel's long description is not its README")
        if not readme.startswith(f"# {b.dist}\n"):
            problems.append(f"{b.dist}: README does not start with '# {b.dist}'")
        blocks = _blocks(readme)
        install = re.compile(rf"^pip install ['\"]?{re.escape(b.dist)}\b", re.M)
        if not any(lang == "bash" and install.search(code) for lang, code in blocks):
            problems.append(f"{b.dist}: no `pip install {b.dist}` line in a bash block")
        if not any(lang == "yaml" and "storage:" in code for lang, code in blocks):
            problems.append(f"{b.dist}: no minimal config (a yaml block with storage:)")
        samples = [
            code
            for lang, code in blocks
            if (lang == "python" and "lexigram.storage" in code)
            or (lang == "bash" and re.search(r"^lexigram-storage \w", code, re.M))
        ]
        if not samples:
            problems.append(f"{b.dist}: no code sample (python, or the command line)")
        if DOCS_URL not in readme:
            problems.append(f"{b.dist}: no link to the documentation ({DOCS_URL})")
        relative = re.findall(r"\]\((?!https?://|#)[^)]*\)", readme)
        if relative:
            problems.append(f"{b.dist}: relative links break on the index: {relative}")
        if len(readme.splitlines()) < 25:
            problems.append(f"{b.dist}: README is too short to be a page")
    assert not problems, "\n".join(problems)


def test_the_kit_installs_the_command_line(built: dict[str, Built]) -> None:
    entry_points = built[KIT].wheel_file(".dist-info/entry_points.txt")
    assert "lexigram-storage = lexigram.storage.cli:main" in entry_points
    meta = built[KIT].metadata()
    extras = {"aws", "gcp", "azure", "local", "redis", "all"}
    assert set(meta.get_all("Provides-Extra", [])) >= extras


def test_core_declares_the_integrations(built: dict[str, Built]) -> None:
    core = built["lexigram-storage-core"]
    entry_points = core.wheel_file(".dist-info/entry_points.txt")
    assert "[fsspec.specs]" in entry_points
    assert "lexigram = lexigram.storage.fsspec:LexigramFileSystem" in entry_points
    meta = core.metadata()
    assert set(meta.get_all("Provides-Extra", [])) >= {"fsspec", "otel", "django"}
    requires = meta.get_all("Requires-Dist", [])
    # only in their extras: installing the core brings none of them
    for name in ("fsspec", "opentelemetry-api", "django"):
        found = [r for r in requires if r.lower().startswith(name)]
        assert found and all("extra ==" in r for r in found), (name, found)
