"""GCS V4 POST policies: the signed document (verified with the service account's public
key) and a real form upload to fake-gcs-server, which stores form uploads but does not
enforce policies (the local driver's tests show refusals end to end)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from lexigram.storage import BlobStore


def _verify(fields: dict[str, str], public_key_pem: Any) -> None:
    key = public_key_pem
    if isinstance(key, str | bytes):
        key = serialization.load_pem_public_key(key.encode() if isinstance(key, str) else key)
    key.verify(
        bytes.fromhex(fields["x-goog-signature"]),
        fields["policy"].encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


async def test_post_policy_is_signed_and_bounded(
    store: BlobStore, service_account: dict[str, Any]
) -> None:
    bucket = store.driver.config.bucket  # type: ignore[attr-defined]
    post = await store.get_presigned_post(
        "up/photo.png",
        expires_in=timedelta(minutes=10),
        content_type="image/png",
        max_size=1000,
        metadata={"owner": "u1"},
    )
    fields = dict(post.fields)
    assert post.url.endswith(f"/{bucket}")
    document = json.loads(base64.b64decode(fields["policy"]))
    conditions = document["conditions"]
    assert ["content-length-range", 0, 1000] in conditions
    assert {"Content-Type": "image/png"} in conditions
    assert {"x-goog-meta-owner": "u1"} in conditions
    assert {"bucket": bucket} in conditions
    assert {"key": "up/photo.png"} in conditions
    assert fields["x-goog-credential"].startswith(service_account["data"]["client_email"] + "/")
    _verify(fields, service_account["public_key"])
    # the signature covers the policy: a widened limit does not verify
    widened = json.dumps({**document, "conditions": conditions[:-1]}).encode()
    with pytest.raises(InvalidSignature):
        _verify(
            {**fields, "policy": base64.b64encode(widened).decode()}, service_account["public_key"]
        )


async def test_a_form_upload_is_stored(store: BlobStore) -> None:
    post = await store.get_presigned_post(
        "up/form.png", expires_in=timedelta(minutes=10), content_type="image/png", max_size=1000
    )
    form = aiohttp.FormData()
    for name, value in post.fields.items():
        form.add_field(name, value)
    form.add_field("file", b"\x89PNG fake", filename="form.png", content_type="image/png")
    # fake-gcs-server routes form uploads by the Host header: its public host, which the
    # fixture sets to its own loopback address (so the request's own Host matches)
    async with aiohttp.ClientSession() as http, http.post(post.url, data=form) as resp:
        assert resp.status in (200, 201, 204), await resp.text()
    assert await store.download("up/form.png") == b"\x89PNG fake"
    assert (await store.info("up/form.png")).content_type == "image/png"
