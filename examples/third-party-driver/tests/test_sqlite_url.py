"""The driver declares the ``sqlite`` scheme: ``open_store("sqlite:///path/to/file")``."""

from __future__ import annotations

from pathlib import Path

import pytest

from lexigram.storage import ConfigError, open_store
from lexigram.storage.urls import parse_store_url


def test_the_url_path_is_the_database_file(tmp_path: Path) -> None:
    db = tmp_path / "blobs.sqlite3"
    assert parse_store_url(f"sqlite://{db}?busy_timeout=2") == (
        "sqlite",
        {"path": str(db), "busy_timeout": "2"},
        "",
    )
    with pytest.raises(ConfigError) as caught:
        parse_store_url(f"sqlite://{db}?busy_timout=2")
    assert "did you mean 'busy_timeout'?" in str(caught.value)


@pytest.mark.asyncio
async def test_open_store_from_a_sqlite_url(tmp_path: Path) -> None:
    db = tmp_path / "blobs.sqlite3"
    async with open_store(f"sqlite://{db}?busy_timeout=2") as store:
        assert store.driver.config.busy_timeout == 2.0  # type: ignore[attr-defined]
        await store.upload("a/b.txt", b"hello")
        assert [i.path async for i in store.list()] == ["a/b.txt"]
    assert db.exists()
