"""The flow the project exists for, on local disk, with no cloud account:

1. the server hands a browser a presigned PUT URL;
2. the browser uploads the file straight to storage through that URL (here the local
   driver's ASGI app, ``lexigram.storage.local.asgi``, plays the part S3 plays in
   production: a real HTTP request built with the standard library goes into the app);
3. the server reads the object's metadata back;
4. a presigned GET URL serves the download (whole, a byte range, and a tampered URL);
5. the user's session lives in the key-value store with a TTL.

Run it with ``python3 -m hatch run demo:run`` (or ``python examples/upload_flow.py``).
Everything happens in a fresh temporary folder, which is removed at the end.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from lexigram.storage import StorageConfig, StorageProvider
from lexigram.storage.local.asgi import ASGIApp, create_app

BASE_URL = "http://127.0.0.1:8000/files"
PHOTO = b"\xff\xd8\xff\xe0" + b"a small jpeg " * 5000  # ~65 KB, sent in 16 KiB chunks


async def send(app: ASGIApp, request: urllib.request.Request) -> tuple[int, dict[str, str], bytes]:
    """Deliver ``request`` to ``app`` as an ASGI server would: the URL's path and query,
    the headers, and the body in chunks. Returns the status, headers and body."""
    url = urlsplit(request.full_url)
    body = request.data if isinstance(request.data, bytes) else b""
    headers = [(k.lower().encode(), v.encode()) for k, v in request.header_items()]
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": request.get_method(),
        "path": unquote(url.path),
        "raw_path": url.path.encode(),
        "query_string": url.query.encode(),
        "headers": headers,
        "root_path": "",
    }
    chunks = [body[i : i + 16384] for i in range(0, len(body), 16384)] or [b""]
    incoming = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    status, out, parts = 0, dict[str, str](), list[bytes]()

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def reply(message: Any) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            out.update((k.decode(), v.decode()) for k, v in message["headers"])
        else:
            parts.append(message.get("body", b""))

    await app(scope, receive, reply)
    return status, out, b"".join(parts)


def short(url: str) -> str:
    """A presigned URL with its signature shortened, for printing."""
    head, _, signature = url.rpartition("signature=")
    return f"{head}signature={signature[:8]}…" if signature else url


def ms(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.0f} ms"


async def main(folder: Path) -> None:
    # The command line's zero-config default (a local store under ./storage/data and a
    # local KV file), plus the two settings presigned URLs need.
    config = StorageConfig.from_dict(
        {
            "default_driver": "local",
            "drivers": {
                "local": {
                    "root_dir": str(folder / "storage" / "data"),
                    "base_url": BASE_URL,
                    "signing_key": secrets.token_urlsafe(32),
                }
            },
            "kv": {"backend": "local", "path": str(folder / "storage" / "kv.jsonl")},
        }
    )
    async with StorageProvider(config=config) as provider:
        store = provider.store()
        app = create_app(store)  # serve this at BASE_URL with any ASGI server
        print(f"# a local store in {folder}/storage, URLs under {BASE_URL}")

        print("\n1. server: a presigned PUT URL for the browser (10 minutes, image/jpeg only)")
        put_url = await store.get_presigned_url(
            "avatars/42.jpg", timedelta(minutes=10), "PUT", content_type="image/jpeg"
        )
        print(f"   {short(put_url)}")

        print("\n2. browser: PUT the photo to that URL")
        started = time.perf_counter()
        upload = urllib.request.Request(
            put_url, data=PHOTO, method="PUT", headers={"Content-Type": "image/jpeg"}
        )
        status, headers, _ = await send(app, upload)
        put_etag = headers.get("etag")
        took = ms(started)
        print(f"   PUT {len(PHOTO):,} bytes -> {status}, ETag {headers.get('etag')} ({took})")
        wrong = urllib.request.Request(
            put_url, data=b"<script>", method="PUT", headers={"Content-Type": "text/html"}
        )
        status, _, text = await send(app, wrong)
        print(f"   the same URL with Content-Type text/html -> {status} {text.decode()}")

        print("\n3. server: the object's metadata, read back")
        info = await store.info("avatars/42.jpg")
        modified = f"{info.last_modified:%Y-%m-%d %H:%M:%S} UTC" if info.last_modified else "-"
        print(f"   {info.path}: {info.size:,} bytes, {info.content_type}, modified {modified}")
        same_etag = "the same as" if info.etag == put_etag else "NOT the same as"
        print(f"   ETag {info.etag}, {same_etag} the one the browser got")

        print("\n4. browser: download through a presigned GET URL (5 minutes)")
        get_url = await store.get_presigned_url("avatars/42.jpg", timedelta(minutes=5))
        started = time.perf_counter()
        status, headers, body = await send(app, urllib.request.Request(get_url))
        same = "same bytes as uploaded" if body == PHOTO else "DIFFERENT bytes"
        took = ms(started)
        kind = headers["content-type"]
        print(f"   GET -> {status}, {len(body):,} bytes, {kind}, {same} ({took})")
        ranged = urllib.request.Request(get_url, headers={"Range": "bytes=0-3"})
        status, headers, body = await send(app, ranged)
        print(f"   GET Range: bytes=0-3 -> {status}, {headers['content-range']}, {body.hex()}")
        tampered = get_url.replace("avatars/42.jpg", "avatars/43.jpg")
        status, _, text = await send(app, urllib.request.Request(tampered))
        print(f"   the URL edited to name avatars/43.jpg -> {status} {text.decode()}")

        print("\n5. server: the user's session in the KV store, with a TTL")
        kv = provider.kv()
        await kv.set("session:7f3a", {"user": "42", "avatar": info.path}, ttl=1800)
        left = await kv.ttl("session:7f3a")
        print(f"   session:7f3a = {await kv.get('session:7f3a')} (expires in {left or 0:.0f} s)")
        await kv.set("flash:7f3a", "photo saved", ttl=0.2)
        print(f"   flash:7f3a = {await kv.get('flash:7f3a')!r} (ttl 0.2 s)")
        await asyncio.sleep(0.3)
        print(f"   flash:7f3a after 0.3 s = {await kv.get('flash:7f3a')!r}")

    print("\n# done: a browser upload, its metadata, a download and a session, on local disk")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="lexigram-flow-") as tmp:
        asyncio.run(main(Path(tmp)))
