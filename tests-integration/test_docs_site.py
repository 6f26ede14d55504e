"""The documentation site as built by ``mkdocs build --strict``: the API reference shows
types and links instead of raw Sphinx roles, and every public method of ``BlobStore``
has its own text."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|exc|data|mod|obj):`?")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def _section(page: str, identifier: str) -> str:
    """The HTML of one documented object, up to the next object's heading."""
    start = page.index(f'id="{identifier}"')
    end = page.find('class="doc doc-heading"', start + 100)
    return page[start : end if end > 0 else None]


def test_no_page_shows_a_raw_sphinx_role(site: Path) -> None:
    found = {
        str(path.relative_to(site)): sorted(set(ROLE.findall(_text(path.read_text("utf-8")))))
        for path in site.rglob("*.html")
    }
    assert {page: roles for page, roles in found.items() if roles} == {}


def test_roles_become_links_to_the_documented_object(site: Path) -> None:
    api = (site / "reference" / "api" / "index.html").read_text("utf-8")
    protocol = _section(api, "lexigram.storage.protocol.BlobStoreProtocol")
    # "Every method raises :class:`~lexigram.storage.errors.StorageError` subclasses"
    assert re.search(r'<a [^>]*href="[^"]*#lexigram\.storage\.errors\.StorageError"', protocol)


def test_signatures_show_their_annotations(site: Path) -> None:
    api = (site / "reference" / "api" / "index.html").read_text("utf-8")
    signature = _text(_section(api, "lexigram.storage.store.BlobStore.get_presigned_url"))
    assert re.search(r"expires_in:\s*timedelta", signature), signature[:600]
    assert re.search(r"\)\s*->\s*str", signature)


@pytest.mark.parametrize(
    "method",
    [
        "upload",
        "download",
        "download_into",
        "stream",
        "info",
        "list",
        "delete_many",
        "get_url",
        "get_presigned_url",
        "health_check",
    ],
)
def test_every_blobstore_method_has_its_own_text(site: Path, method: str) -> None:
    api = (site / "reference" / "api" / "index.html").read_text("utf-8")
    text = _text(_section(api, f"lexigram.storage.store.BlobStore.{method}"))
    assert "see\nBlobStoreProtocol" not in text and "see BlobStoreProtocol" not in text
    # its parameters, what it returns or yields, or the errors it raises
    assert any(h in text for h in ("Parameters:", "Returns:", "Yields:", "Raises:")), text


def test_blobstore_upload_documents_parameters_errors_and_an_example(site: Path) -> None:
    api = (site / "reference" / "api" / "index.html").read_text("utf-8")
    text = _text(_section(api, "lexigram.storage.store.BlobStore.upload"))
    for needed in ("Parameters:", "Returns:", "Raises:", "BlobExistsError", "Example"):
        assert needed in text, needed
    assert "metadata={" in text


def _version() -> str:
    with (ROOT / "packages" / "lexigram-storage-core" / "pyproject.toml").open("rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def test_home_page_has_the_version_an_install_line_and_the_repository(site: Path) -> None:
    home = (site / "index.html").read_text("utf-8")
    text = _text(home)
    assert f"Version {_version()}" in text
    assert f"lexigram-storage {_version()}" in text  # the footer of every page
    assert 'pip install "lexigram-storage-kit[all]"' in text
    assert 'href="https://github.com/lexigram/lexigram-storage"' in home


def test_no_table_cell_shows_an_escaped_pipe(site: Path) -> None:
    cells = [
        cell
        for path in site.rglob("*.html")
        for cell in re.findall(r"<td>(.*?)</td>", path.read_text("utf-8"), re.S)
    ]
    assert cells
    assert [c for c in cells if "\\|" in c] == []


def test_the_layout_stylesheet_widens_the_page_and_keeps_code_words_whole(site: Path) -> None:
    home = (site / "index.html").read_text("utf-8")
    assert 'href="stylesheets/extra.css"' in home
    css = (site / "stylesheets" / "extra.css").read_text("utf-8")
    grid = re.search(r"\.md-grid\s*\{[^}]*max-width:\s*(\d+)rem", css)
    assert grid and int(grid.group(1)) > 61  # Material's default is 61rem
    code = re.search(r"\.md-typeset code\s*\{([^}]*)\}", css)
    assert code and "word-break: normal" in code.group(1)


@pytest.mark.parametrize(
    "member",
    ["driver", "driver_name", "closed", "add_hook", "exists", "delete", "copy", "move", "close"],
)
def test_every_other_blobstore_member_has_text(site: Path, member: str) -> None:
    api = (site / "reference" / "api" / "index.html").read_text("utf-8")
    section = _section(api, f"lexigram.storage.store.BlobStore.{member}")
    contents = section.split('class="doc doc-contents', 1)[1]
    assert re.search(r"<p>\s*\S", contents), contents[:400]
