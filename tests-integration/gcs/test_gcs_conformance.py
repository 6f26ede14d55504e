"""The core conformance kit against fake-gcs-server, through gcloud-aio-storage."""

from __future__ import annotations

import pytest

from lexigram.storage import BlobStore, PreconditionFailedError
from lexigram.storage.testing import BlobStoreConformance

pytestmark = pytest.mark.integration


class TestGCSConformance(BlobStoreConformance):
    """Every test of the kit; ``store`` comes from conftest.py (a fresh bucket per test,
    resumable uploads from 256 KiB so the large-body paths run with small payloads)."""

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
