"""Browser form uploads (get_presigned_post) through the ASGI app, and streaming writers
on disk: a refused or aborted upload leaves no object and no temp file."""

from __future__ import annotations

import base64
import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from urllib3.filepost import encode_multipart_formdata

from lexigram.storage import BlobStore, PresignedPost
from lexigram.storage.local import form_upload, post_policy
from lexigram.storage.local.asgi import ASGIApp, create_app

from .test_asgi import Response, request


@pytest.fixture
def app(store: BlobStore) -> ASGIApp:
    return create_app(store)


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def form(
    post: PresignedPost,
    data: bytes,
    *,
    file_type: str | None = "image/png",
    change: dict[str, str] | None = None,
    file_first: bool = False,
) -> tuple[bytes, str]:
    fields: list[Any] = [(k, v) for k, v in {**post.fields, **(change or {})}.items()]
    part = ("file", ("photo.png", data, file_type) if file_type else ("photo.png", data))
    fields = [part, *fields] if file_first else [*fields, part]
    return encode_multipart_formdata(fields)  # type: ignore[no-any-return]


async def post_form(
    app: ASGIApp, post: PresignedPost, body: bytes, content_type: str, piece: int = 7000
) -> Response:
    pieces = [body[i : i + piece] for i in range(0, len(body), piece)]
    return await request(app, "POST", post.url, body=pieces, headers={"content-type": content_type})


async def photo_post(store: BlobStore, key: str = "up/photo.png", **kw: Any) -> PresignedPost:
    return await store.get_presigned_post(
        key,
        expires_in=timedelta(minutes=5),
        content_type="image/png",
        max_size=kw.pop("max_size", 100_000),
        metadata={"owner": "u1"},
        **kw,
    )


async def test_a_valid_form_is_stored(app: ASGIApp, store: BlobStore, root: Path) -> None:
    post = await photo_post(store)
    assert post.url.endswith("/files/up/photo.png")
    assert post.fields["Content-Type"] == "image/png"
    data = os.urandom(100_000)  # exactly max_size
    got = await post_form(app, post, *form(post, data))
    assert got.status == 204, got.body
    assert got.headers["etag"]
    assert await store.download("up/photo.png") == data
    info = await store.info("up/photo.png")
    assert info.content_type == "image/png"
    assert info.metadata == {"owner": "u1"}


async def test_over_max_size_is_refused_and_nothing_stays(
    app: ASGIApp, store: BlobStore, root: Path
) -> None:
    await store.upload("keep.txt", b"k")
    before = files_under(root)
    post = await photo_post(store, max_size=50_000)
    got = await post_form(app, post, *form(post, os.urandom(50_001)))
    assert got.status == 413
    assert not await store.exists("up/photo.png")
    assert files_under(root) == before  # no temp file left behind


async def test_an_existing_object_survives_a_refused_form(app: ASGIApp, store: BlobStore) -> None:
    await store.upload("up/photo.png", b"old", content_type="image/png")
    post = await photo_post(store, max_size=10)
    got = await post_form(app, post, *form(post, b"x" * 11))
    assert got.status == 413
    assert await store.download("up/photo.png") == b"old"


@pytest.mark.parametrize(
    ("change", "file_type"),
    [
        ({"Content-Type": "text/html"}, "image/png"),  # the form field
        ({}, "text/html"),  # the file part's own type
    ],
)
async def test_another_content_type_is_refused(
    app: ASGIApp, store: BlobStore, change: dict[str, str], file_type: str
) -> None:
    post = await photo_post(store)
    got = await post_form(app, post, *form(post, b"<html>", change=change, file_type=file_type))
    assert got.status == 403
    assert not await store.exists("up/photo.png")


def _tampered(post: PresignedPost, **changes: Any) -> str:
    document = json.loads(base64.urlsafe_b64decode(post.fields["policy"]))
    document.update(changes)
    raw = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode()


async def test_a_tampered_policy_is_refused(app: ASGIApp, store: BlobStore) -> None:
    post = await photo_post(store, max_size=10)
    bigger = _tampered(post, max_size=10_000_000)
    got = await post_form(app, post, *form(post, b"x" * 100, change={"policy": bigger}))
    assert got.status == 403 and b"signature" in got.body
    assert not await store.exists("up/photo.png")


async def test_a_policy_for_another_key_is_refused(app: ASGIApp, store: BlobStore) -> None:
    post = await photo_post(store, key="up/mine.png")
    other = PresignedPost(url=post.url.replace("mine.png", "theirs.png"), fields=post.fields)
    got = await post_form(app, other, *form(other, b"x"))
    assert got.status == 403 and b"key" in got.body
    assert not await store.exists("up/theirs.png")


async def test_an_expired_policy_is_refused(
    app: ASGIApp, store: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    post = await photo_post(store)
    expires = json.loads(base64.urlsafe_b64decode(post.fields["policy"]))["expires"]
    monkeypatch.setattr(post_policy.time, "time", lambda: float(expires))
    got = await post_form(app, post, *form(post, b"x"))
    assert got.status == 403 and b"expired" in got.body


async def test_the_file_must_come_after_the_policy(app: ASGIApp, store: BlobStore) -> None:
    post = await photo_post(store)
    got = await post_form(app, post, *form(post, b"x", file_first=True))
    assert got.status == 400
    assert not await store.exists("up/photo.png")


async def test_malformed_and_oversized_forms_are_400(app: ASGIApp, store: BlobStore) -> None:
    post = await photo_post(store)
    body, ctype = form(post, b"x")
    assert (await post_form(app, post, body[: len(body) // 2], ctype)).status == 400
    assert (await post_form(app, post, body, "text/plain")).status == 400
    many = [(f"f{i}", "v") for i in range(form_upload.MAX_PARTS + 1)]
    body, ctype = encode_multipart_formdata(many)
    assert (await post_form(app, post, body, ctype)).status == 400
    body, ctype = encode_multipart_formdata([("big", "v" * (form_upload.MAX_FIELD_BYTES + 1))])
    assert (await post_form(app, post, body, ctype)).status == 400
    assert not await store.exists("up/photo.png")


async def test_presigned_post_needs_signing_key_and_base_url(tmp_path: Path) -> None:
    from lexigram.storage import NotSupportedError
    from lexigram.storage.local.config import StorageLocalConfig
    from lexigram.storage.local.driver import LocalDriver

    async with BlobStore(LocalDriver(StorageLocalConfig(root_dir=str(tmp_path)))) as bare:
        with pytest.raises(NotSupportedError) as caught:
            await bare.get_presigned_post("k", expires_in=timedelta(minutes=1))
        assert "signing_key" in str(caught.value)


async def test_an_aborted_writer_leaves_no_temp_file(store: BlobStore, root: Path) -> None:
    await store.upload("keep.txt", b"k")
    before = files_under(root)

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with store.open("w/new.bin", "wb") as w:
            await w.write(os.urandom(3 * 1024 * 1024))
            assert any(".lexigram-tmp-" in f for f in files_under(root))  # it was streaming
            raise Boom
    assert files_under(root) == before
    assert not await store.exists("w/new.bin")
