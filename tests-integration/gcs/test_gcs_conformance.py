"""The core conformance kit against fake-gcs-server, through gcloud-aio-storage."""

from __future__ import annotations

import pytest

from lexigram.storage.testing import BlobStoreConformance

pytestmark = pytest.mark.integration


class TestGCSConformance(BlobStoreConformance):
    """Every test of the kit; ``store`` comes from conftest.py (a fresh bucket per test,
    resumable uploads from 256 KiB so the large-body paths run with small payloads)."""
