"""The core conformance kit against fake-gcs-server, through gcloud-aio-storage."""

from __future__ import annotations

from typing import Any

import pytest

from lexigram.storage import BlobStore, PreconditionFailedError
from lexigram.storage.testing import BlobStoreConformance
from lexigram.storage.testing.agreements import FetchedURL

from .test_gcs_driver import _query, _verify_v4

pytestmark = pytest.mark.integration


class TestGCSConformance(BlobStoreConformance):
    """Every test of the kit; ``store`` comes from conftest.py (a fresh bucket per test,
    resumable uploads from 256 KiB so the large-body paths run with small payloads)."""

    @pytest.fixture(autouse=True)
    def _public_key(self, service_account: dict[str, Any]) -> None:
        self.public_key = service_account["public_key"]

    async def fetch_presigned(self, store: BlobStore, url: str) -> FetchedURL:
        """Fetch the signed URL from fake-gcs-server for real. The emulator ignores GCS's
        ``response-content-type`` / ``response-content-disposition`` query parameters
        (which GCS answers with as the response's headers), so once the V4 signature is
        verified to cover them, they are applied to its answer as GCS would."""
        status, headers, body = await super().fetch_presigned(store, url)
        _verify_v4(url, "GET", self.public_key, {})
        query = _query(url)
        answered = dict(headers)
        for param, header in (
            ("response-content-type", "content-type"),
            ("response-content-disposition", "content-disposition"),
        ):
            if param in query:
                answered[header] = query[param]
        return status, answered, body

    @pytest.mark.asyncio
    async def test_delete_if_match(self, store: BlobStore, prefix: str) -> None:
        """fake-gcs-server ignores the preconditions of a DELETE (GCS checks them
        atomically), so a stale etag cannot be refused here: this checks the rest, and
        test_gcs_conditional.py that the preconditions are sent."""
        key = prefix + "del-cas"
        etag = (await store.upload(key, b"one")).etag
        assert etag
        with pytest.raises(PreconditionFailedError):
            await store.delete(key, if_match='"not-a-gcs-etag"')  # refused before sending
        assert await store.exists(key)
        await store.delete(key, if_match=etag.strip('"'))
        assert not await store.exists(key)
        with pytest.raises(PreconditionFailedError):
            await store.delete(key, if_match=etag)  # a missing key
