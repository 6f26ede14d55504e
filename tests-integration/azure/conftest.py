"""Azurite on a free 127.0.0.1 port for the session; a fresh container per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from lexigram.storage.testing.servers import ServerProcess

#: Azurite's well-known development account (public, documented by Microsoft); the
#: server itself is the session fixture ``azurite`` of tests-integration/conftest.py.
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

#: aiohttp (under the Azure SDK) warns on every request body of more than 1 MiB given as
#: bytes: "Sending a large body directly with raw bytes might lock the event loop". The
#: body is written to the socket buffer without blocking; a file-like body would cost a
#: thread hop per 64 KiB instead. Only that warning is ignored, only for these tests.
SDK_WARNINGS = ["ignore:Sending a large body directly with raw bytes:ResourceWarning"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.path)).resolve().parents:
            for spec in SDK_WARNINGS:
                item.add_marker(pytest.mark.filterwarnings(spec))


@pytest.fixture(scope="session")
def endpoint(azurite: ServerProcess) -> str:
    return f"{azurite.url}/{ACCOUNT}"


@pytest.fixture(scope="session")
def connection_string(endpoint: str) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint={endpoint};"
    )


@pytest_asyncio.fixture
async def raw_service(endpoint: str) -> AsyncIterator[Any]:
    """The SDK's own client, to set up and to check behind the driver's back."""
    from azure.core.credentials import AzureNamedKeyCredential
    from azure.storage.blob.aio import BlobServiceClient

    client = BlobServiceClient(endpoint, credential=AzureNamedKeyCredential(ACCOUNT, ACCOUNT_KEY))
    async with client:
        yield client


@pytest_asyncio.fixture
async def container(raw_service: Any) -> AsyncIterator[str]:
    name = f"t{uuid.uuid4().hex[:20]}"
    await raw_service.create_container(name)
    yield name
    await raw_service.delete_container(name)


@pytest.fixture
def make_config(endpoint: str, container: str) -> Callable[..., Any]:
    from lexigram.storage.azure import StorageAzureConfig

    def make(**overrides: Any) -> StorageAzureConfig:
        settings: dict[str, Any] = {
            "account_name": ACCOUNT,
            "account_key": ACCOUNT_KEY,
            "container": container,
            "endpoint_url": endpoint,
        }
        settings.update(overrides)
        return StorageAzureConfig(**settings)

    return make
