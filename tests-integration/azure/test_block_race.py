"""Two streamed uploads of one key race on Azure: the first stages its blocks, the second
stages and commits its own (which discards the first's uncommitted blocks), then the first
commits. The loser must get PreconditionFailedError (BlobExistsError in create mode)
saying what happened, not InvalidArgumentError "check the arguments"; the winner's
content stays whole. Planted at
the exact step: the second upload runs inside the first's Put Block List call, before it
is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from azure.storage.blob.aio import BlobClient

from lexigram.storage import BlobExistsError, BlobStore, PreconditionFailedError, StorageError
from lexigram.storage.azure.driver import AzureBlobDriver

pytestmark = pytest.mark.integration

MIB = 1024 * 1024


async def _stream(byte: bytes, size: int) -> AsyncIterator[bytes]:
    for offset in range(0, size, MIB // 2):
        yield byte * min(MIB // 2, size - offset)


@pytest.mark.parametrize(
    ("mode", "error"), [("overwrite", PreconditionFailedError), ("create", BlobExistsError)]
)
async def test_losing_a_streamed_upload_race_is_a_precondition_failure(
    make_config: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    error: type[StorageError],
) -> None:
    config = make_config(block_size=MIB, single_put_threshold=MIB, max_concurrency=2)
    store = BlobStore(AzureBlobDriver(config), name="race")
    key = "race/streamed.bin"
    size = 3 * MIB
    original = BlobClient.commit_block_list
    planted: list[str] = []

    async def commit_block_list(self: BlobClient, blocks: Any, **kwargs: Any) -> Any:
        if not planted:
            planted.append("second upload committed")
            # the first upload has staged every block and is about to commit them
            await store.upload(key, _stream(b"B", size))
        return await original(self, blocks, **kwargs)

    monkeypatch.setattr(BlobClient, "commit_block_list", commit_block_list)
    try:
        with pytest.raises(error) as caught:
            await store.upload(key, _stream(b"A", size), mode=mode)  # type: ignore[arg-type]
        assert planted
        message = str(caught.value)
        assert key in message
        assert "check the arguments" not in message
        if mode == "overwrite":
            assert "another upload" in message
        assert await store.download(key) == b"B" * size
    finally:
        await store.close()
