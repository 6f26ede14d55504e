"""Arbitrary unicode keys on every driver, against its real server: a key either round-trips
exactly (upload, download, info, list, delete) or is refused with ``InvalidKeyError`` and
nothing is stored — never silently changed. Property-based (hypothesis)."""

from __future__ import annotations

import asyncio
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lexigram.storage import BlobStore, InvalidKeyError, StorageConfig, StorageProvider
from lexigram.storage.keys import validate_key
from lexigram.storage.testing.servers import ServerProcess

from .azure_setup import create_container
from .canary import KEYS_ACCESS_KEY, KEYS_SECRET_KEY

#: Azurite's well-known development key (public, documented by Microsoft).
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
DRIVERS = ["memory", "local", "s3", "gcs", "azure"]

# Mostly keys the core accepts (any code point but '/' and surrogates in 1..12-character
# segments), mixed with arbitrary text (empty segments, controls, surrogates...).
segment = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="/"),
    min_size=1,
    max_size=12,
)
keys = st.one_of(
    st.lists(segment, min_size=1, max_size=4).map("/".join),
    st.lists(segment, min_size=1, max_size=4).map("/".join),
    st.text(max_size=30),
)


def _settings(
    driver: str,
    tmp_path: Path,
    moto: ServerProcess,
    fake_gcs: ServerProcess,
    new_gcs_bucket: Callable[[], str],
    azurite: ServerProcess,
) -> dict[str, Any]:
    if driver == "memory":
        return {}
    if driver == "local":
        return {"root_dir": str(tmp_path / "root")}
    if driver == "s3":
        bucket = f"keys-{uuid.uuid4().hex[:12]}"
        create = urllib.request.Request(f"{moto.url}/{bucket}", method="PUT")
        with urllib.request.urlopen(create, timeout=10) as reply:  # 127.0.0.1 only
            assert reply.status == 200
        return {
            "bucket": bucket,
            "endpoint_url": moto.url,
            "access_key": KEYS_ACCESS_KEY,
            "secret_key": KEYS_SECRET_KEY,
            "addressing_style": "path",
        }
    if driver == "gcs":
        return {"bucket": new_gcs_bucket(), "endpoint_url": fake_gcs.url}
    container = f"keys-{uuid.uuid4().hex[:12]}"
    connection = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={AZURITE_KEY};BlobEndpoint={azurite.url}/devstoreaccount1;"
    )
    create_container(connection, container)
    return {"connection_string": connection, "container": container}


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.mark.parametrize("driver", DRIVERS)
def test_unicode_keys_round_trip_or_are_refused(
    driver: str,
    tmp_path: Path,
    loop: asyncio.AbstractEventLoop,
    moto_server: ServerProcess,
    fake_gcs: ServerProcess,
    new_gcs_bucket: Callable[[], str],
    azurite: ServerProcess,
) -> None:
    config = StorageConfig(
        drivers={
            driver: _settings(driver, tmp_path, moto_server, fake_gcs, new_gcs_bucket, azurite)
        }
    )
    provider = StorageProvider(config=config)
    store = provider.store()
    seen = {"stored": 0, "refused_by_core": 0, "refused_by_backend": 0}

    async def check(store: BlobStore, suffix: str) -> None:
        prefix = f"prop-{uuid.uuid4().hex[:8]}/"
        key = prefix + suffix
        data = key.encode("utf-8", "surrogatepass")
        try:
            validate_key(key)
        except InvalidKeyError:
            with pytest.raises(InvalidKeyError):
                await store.upload(key, data)
            seen["refused_by_core"] += 1
            return
        try:
            info = await store.upload(key, data)
        except InvalidKeyError:
            # A limit of this backend: refused, and nothing stored under the prefix.
            assert [i async for i in store.list(prefix)] == []
            seen["refused_by_backend"] += 1
            return
        assert info.path == key
        assert await store.download(key) == data
        assert (await store.info(key)).path == key
        assert [i.path async for i in store.list(prefix)] == [key]
        await store.delete(key)
        assert not await store.exists(key)
        seen["stored"] += 1

    @settings(
        max_examples=80,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(keys)
    def property(suffix: str) -> None:
        loop.run_until_complete(check(store, suffix))

    try:
        property()
    finally:
        loop.run_until_complete(provider.aclose())
    assert seen["stored"] > 10, seen  # the property was exercised, not vacuously true
