"""examples/fastapi_app.py (the FastAPI recipe of the docs), through httpx's ASGI
transport: a streamed upload, a download by redirect to a presigned URL, sessions in the
KV store."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from lexigram.storage import BlobStore

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 64 * 1024


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "fastapi_app_example", ROOT / "examples" / "fastapi_app.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    example = _example()
    app = example.create(example.storage_config(str(tmp_path)))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as c:
            yield c, app


async def test_streamed_upload_then_download_by_redirect(
    client: tuple[httpx.AsyncClient, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    http, _ = client
    assert (await http.post("/login", params={"user": "ada"})).status_code == 200
    chunks = [os.urandom(CHUNK) for _ in range(8)]
    received: list[object] = []
    upload = BlobStore.upload

    async def spy(self: BlobStore, path: str, data: Any, **kwargs: Any) -> Any:
        received.append(data)
        return await upload(self, path, data, **kwargs)

    monkeypatch.setattr(BlobStore, "upload", spy)

    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    put = await http.put(
        "/files/reports/q4.bin", content=body(), headers={"content-type": "application/x-q4"}
    )
    assert put.status_code == 201, put.text
    assert put.json()["path"] == "users/ada/reports/q4.bin"
    assert put.json()["size"] == 8 * CHUNK
    # the store got the request's stream, not the body read into memory
    assert len(received) == 1 and not isinstance(received[0], bytes | bytearray)

    got = await http.get("/files/reports/q4.bin")
    assert got.status_code == 307
    location = got.headers["location"]
    assert location.startswith("/blobs/users/ada/reports/q4.bin?")
    file = await http.get(location)
    assert file.status_code == 200
    assert file.content == b"".join(chunks)
    assert file.headers["content-type"] == "application/x-q4"
    tampered = await http.get(location.replace("q4.bin", "q3.bin"))
    assert tampered.status_code == 403


async def test_sessions_live_in_the_kv_store_with_a_ttl(
    client: tuple[httpx.AsyncClient, Any],
) -> None:
    http, app = client
    assert (await http.get("/files/x.txt")).status_code == 401
    login = await http.post("/login", params={"user": "bob"})
    sid = login.cookies["sid"]
    kv = app.state.provider.kv()
    assert await kv.get(f"session:{sid}") == {"user": "bob"}
    ttl = await kv.ttl(f"session:{sid}")
    assert ttl is not None and 0 < ttl <= 3600
    assert (await http.get("/files/x.txt")).status_code == 404  # logged in; no such file
    assert (await http.post("/logout")).json() == {"ended": True}
    assert await kv.get(f"session:{sid}") is None
    http.cookies.set("sid", sid)  # an ended session's cookie, replayed
    assert (await http.get("/files/x.txt")).status_code == 401


async def test_a_bad_name_is_a_400_not_a_500(client: tuple[httpx.AsyncClient, Any]) -> None:
    http, _ = client
    await http.post("/login", params={"user": "ada"})
    bad = await http.put("/files/a//b.txt", content=b"x")
    assert bad.status_code == 400
