"""docs/recipes/django.md runs as written: its settings.py configures Django (in a fresh
process, with an in-memory SQLite database), its model saves and reads a file, and the
download link is a presigned URL that serves the file: on local disk in development (the
local driver's ASGI app checks it) and on S3 (moto on 127.0.0.1) in production."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from lexigram.storage import StorageConfig, StorageProvider
from lexigram.storage.local.asgi import create_app
from lexigram.storage.testing.servers import ServerProcess

from .test_docs_samples import _blocks

PAGE = "docs/recipes/django.md"
CONTENT = b"%PDF-1.7 quarterly numbers"
#: Configures Django from the page's settings.py, makes the model's table, runs the page's
#: usage block, then calls its view.
_RUNNER = """
import importlib, runpy, sys
project = importlib.import_module("settings")
import django
from django.conf import settings
settings.configure(
    **{name: getattr(project, name) for name in dir(project) if name.isupper()},
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    ROOT_URLCONF="urls",
)
django.setup()
from django.db import connection
from documents.models import Document
with connection.schema_editor() as editor:
    editor.create_model(Document)
done = runpy.run_path("usage.py")
from django.test import RequestFactory
from documents.views import download
response = download(RequestFactory().get("/"), done["document"].pk)
print(f"redirect {response.status_code} {response['Location']}")
"""


def _page_files() -> dict[str, str]:
    """The page's blocks by the path in their first line (``# settings.py``, ...)."""
    files = {}
    for lang, code, _ in _blocks(PAGE):
        if lang in ("python", "yaml"):
            first = code.split("\n", 1)[0]
            files[first.removeprefix("# ").split(":", 1)[0]] = code
    assert sorted(files) == [
        "config/dev.yaml",
        "config/prod.yaml",
        "documents/models.py",
        "documents/views.py",
        "settings.py",
        "usage.py",
    ], sorted(files)
    return files


def _project(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "documents" / "__init__.py").write_text("")
    (folder / "urls.py").write_text(
        "from django.urls import path\nfrom documents.views import download\n"
        "urlpatterns = [path('documents/<int:pk>/download', download)]\n"
    )


def _run(folder: Path, env: dict[str, str]) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": f"{folder}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
             "LEXIGRAM_STORAGE_CONFIG": "", **env},
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0] == f"documents/q4.pdf: {len(CONTENT)} bytes", lines
    assert lines[2].startswith("redirect 302 "), lines
    return lines


async def test_dev_stores_on_disk_and_the_link_is_signed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(tmp_path, _page_files())
    lines = _run(tmp_path, {"APP_ENV": "dev"})
    assert lines[1] == "download: http://127.0.0.1:8000/media/documents/q4.pdf?…", lines
    assert (tmp_path / "media" / "documents" / "q4.pdf").read_bytes() == CONTENT
    link = lines[2].split(" ", 2)[2]
    assert link.startswith("http://127.0.0.1:8000/media/documents/q4.pdf?expires=")
    # the link is one the local driver's app serves, and only as signed
    monkeypatch.chdir(tmp_path)
    async with StorageProvider(config=StorageConfig.from_yaml("config/dev.yaml")) as provider:
        app = create_app(provider.store())
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as c:
            got = await c.get(link)
            assert got.status_code == 200 and got.content == CONTENT
            forged = await c.get(link.replace("signature=", "signature=0"))
            assert forged.status_code == 403


def test_prod_runs_the_same_code_on_s3(tmp_path: Path, moto_server: ServerProcess) -> None:
    files = _page_files()
    bucket = f"django-{uuid.uuid4().hex[:12]}"
    create = urllib.request.Request(f"{moto_server.url}/{bucket}", method="PUT")
    with urllib.request.urlopen(create, timeout=10) as reply:  # 127.0.0.1 only
        assert reply.status == 200
    prod: dict[str, Any] = yaml.safe_load(files["config/prod.yaml"])
    prod["storage"]["drivers"]["s3"].update(
        bucket=bucket,
        endpoint_url=moto_server.url,
        addressing_style="path",
        access_key="AKIADJANGORECIPE0001",
        secret_key="django-recipe-secret-key-0123456789",
    )
    files["config/prod.yaml"] = yaml.safe_dump(prod)
    _project(tmp_path, files)
    lines = _run(tmp_path, {"APP_ENV": "prod"})
    assert lines[1] == f"download: {moto_server.url}/{bucket}/documents/q4.pdf?…", lines
    assert not (tmp_path / "media").exists()
    link = lines[2].split(" ", 2)[2]
    assert "X-Amz-Signature=" in link
    with urllib.request.urlopen(link, timeout=10) as reply:  # moto on 127.0.0.1
        assert reply.read() == CONTENT
