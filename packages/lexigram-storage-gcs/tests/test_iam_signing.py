"""Signing without a key file goes through IAM signBlob.

The IAM Credentials API (iamcredentials.googleapis.com) cannot be reached from tests, so
the driver's IamClient is replaced by a stand-in that signs with a local RSA key: this
checks the driver's wiring (which account, what is signed, how the reply is decoded),
not Google's API.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from lexigram.storage import BlobStore, NotSupportedError
from lexigram.storage.gcs.config import StorageGCSConfig
from lexigram.storage.gcs.driver import GCSDriver

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class _Token:
    def __init__(self) -> None:
        self.service_data: dict[str, Any] = {}  # metadata-server credentials: no key
        self.acquiring = None

    async def close(self) -> None:
        return None


class _Iam:
    def __init__(self) -> None:
        self.calls: list[tuple[bytes, str | None]] = []

    async def sign_blob(self, payload: bytes, service_account_email: str | None = None) -> Any:
        self.calls.append((payload, service_account_email))
        signature = KEY.sign(payload, padding.PKCS1v15(), hashes.SHA256())
        return {"keyId": "k", "signedBlob": base64.b64encode(signature).decode()}


async def test_sign_blob_is_used_under_workload_identity() -> None:
    driver = GCSDriver(
        StorageGCSConfig(bucket="b", signing_service_account="runner@p.iam.gserviceaccount.com")
    )
    await driver._client()  # opens the (unused) session; no request is sent
    driver._token = _Token()  # type: ignore[assignment]
    iam = _Iam()
    driver._iam = iam  # type: ignore[assignment]
    store = BlobStore(driver)
    url = await store.get_presigned_url("a/b.txt", timedelta(minutes=1))
    await store.close()
    assert url.startswith("https://storage.googleapis.com/b/a/b.txt?")
    params = dict(parse_qsl(urlsplit(url).query))
    assert params["X-Goog-Credential"].startswith("runner@p.iam.gserviceaccount.com/")
    [(payload, account)] = iam.calls
    assert account == "runner@p.iam.gserviceaccount.com"
    assert payload.startswith(b"GOOG4-RSA-SHA256\n")
    KEY.public_key().verify(
        bytes.fromhex(params["X-Goog-Signature"]), payload, padding.PKCS1v15(), hashes.SHA256()
    )
    assert len(payload.split(b"\n")[-1]) == len(hashlib.sha256().hexdigest())


async def test_without_an_account_email_signing_is_not_supported() -> None:
    driver = GCSDriver(StorageGCSConfig(bucket="b"))
    await driver._client()
    driver._token = _Token()  # type: ignore[assignment]
    store = BlobStore(driver)
    with pytest.raises(NotSupportedError, match="signing_service_account"):
        await store.get_presigned_url("k")
    await store.close()
