"""lexigram:// through fsspec, pandas and pyarrow, on a local directory and on S3 (moto)."""

from __future__ import annotations

import importlib.metadata
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lexigram.storage.errors import ConfigError
from lexigram.storage.fsspec import CONFIG_ENV, LexigramFileSystem

CORE = Path(__file__).resolve().parents[2] / "packages" / "lexigram-storage-core"


def _declared_entry_point() -> importlib.metadata.EntryPoint:
    project = tomllib.loads((CORE / "pyproject.toml").read_text())["project"]
    value = project["entry-points"]["fsspec.specs"]["lexigram"]
    return importlib.metadata.EntryPoint("lexigram", value, "fsspec.specs")


@pytest.fixture(autouse=True)
def _registered() -> None:
    # What fsspec does with an installed distribution's ``fsspec.specs`` entry point
    # (registry.process_entries), from the pyproject.toml of this checkout, so the tests
    # do not depend on the development environment having been reinstalled.
    ep = _declared_entry_point()
    fsspec.register_implementation(ep.name, ep.value.replace(":", "."), clobber=True)


def test_entry_point_names_the_filesystem() -> None:
    assert _declared_entry_point().load() is LexigramFileSystem
    assert fsspec.get_filesystem_class("lexigram") is LexigramFileSystem


@pytest.fixture
def fs(backend_config: dict[str, Any]) -> Iterator[Any]:
    # plain sync code: fsspec runs the async filesystem on its own loop thread
    filesystem = fsspec.filesystem("lexigram", config=backend_config, skip_instance_cache=True)
    yield filesystem
    filesystem.close()


def _spy_reads(fs: Any, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int | None, int]]:
    """Record (start, end, bytes returned) of every read the store's driver makes."""
    driver = fs.provider.store("data").driver
    calls: list[tuple[int, int | None, int]] = []
    original = type(driver).read

    async def read(self: Any, key: str, *, start: int, end: int | None) -> bytes:
        data: bytes = await original(self, key, start=start, end=end)
        calls.append((start, end, len(data)))
        return data

    monkeypatch.setattr(type(driver), "read", read)
    return calls


def test_ls_info_cat_pipe_rm_find(fs: Any) -> None:
    fs.pipe_file("data/top.txt", b"top")
    fs.pipe({"data/dir/a.txt": b"aaaa", "data/dir/sub/b.txt": b"bb"})

    assert fs.ls("data", detail=False) == ["data/dir", "data/top.txt"]
    listed = {e["name"]: e for e in fs.ls("lexigram://data/dir", detail=True)}
    assert listed["data/dir/a.txt"]["type"] == "file"
    assert listed["data/dir/a.txt"]["size"] == 4
    assert listed["data/dir/sub"] == {"name": "data/dir/sub", "size": 0, "type": "directory"}
    assert sorted(listed) == ["data/dir/a.txt", "data/dir/sub"]
    # ls of a file lists the file itself
    assert fs.ls("data/top.txt", detail=False) == ["data/top.txt"]
    assert fs.ls("", detail=False) == ["data"]

    assert fs.info("data/dir/a.txt")["size"] == 4
    assert fs.info("data/dir/")["type"] == "directory"
    assert fs.info("data")["type"] == "directory"
    assert fs.isdir("data/dir/sub") and not fs.isfile("data/dir/sub")
    assert fs.exists("data/dir/sub/b.txt") and not fs.exists("data/nope")
    with pytest.raises(FileNotFoundError):
        fs.info("data/nope")
    with pytest.raises(FileNotFoundError):
        fs.ls("data/nope")

    assert fs.cat_file("data/dir/a.txt") == b"aaaa"
    assert fs.cat_file("data/top.txt", start=1) == b"op"
    assert fs.cat_file("data/top.txt", start=0, end=2) == b"to"
    assert fs.cat_file("data/top.txt", start=-2) == b"op"
    assert fs.cat_file("data/top.txt", start=1, end=-1) == b"o"
    assert fs.cat_file("data/top.txt", start=2, end=100) == b"p"
    assert fs.cat("data/dir/*.txt") == {"data/dir/a.txt": b"aaaa"}
    with pytest.raises(FileNotFoundError):
        fs.cat_file("data/nope")

    assert fs.find("data") == ["data/dir/a.txt", "data/dir/sub/b.txt", "data/top.txt"]
    assert fs.find("data/dir", maxdepth=1) == ["data/dir/a.txt"]
    assert fs.find("data/dir", withdirs=True) == [
        "data/dir",
        "data/dir/a.txt",
        "data/dir/sub",
        "data/dir/sub/b.txt",
    ]
    found = fs.find("data/dir", detail=True)
    assert found["data/dir/sub/b.txt"]["size"] == 2
    assert fs.find("data/top.txt") == ["data/top.txt"]
    assert fs.find("data/nope") == []
    assert fs.glob("data/**/*.txt") == ["data/dir/a.txt", "data/dir/sub/b.txt", "data/top.txt"]
    assert fs.du("data/dir") == 6

    with pytest.raises(FileNotFoundError):
        fs.rm_file("data/nope")
    fs.rm_file("data/top.txt")
    assert not fs.exists("data/top.txt")
    fs.pipe({"data/g/1.csv": b"1", "data/g/2.txt": b"2"})
    fs.rm("data/g/*.csv")
    assert fs.find("data/g") == ["data/g/2.txt"]
    fs.rm("data/dir", recursive=True)
    assert fs.find("data") == ["data/g/2.txt"]
    assert not fs.exists("data/dir")
    with pytest.raises(FileNotFoundError):
        fs.rm("data/dir", recursive=True)
    fs.rm(["lexigram://data/g/2.txt"])
    assert fs.find("data") == []


def test_open_read_fetches_only_the_blocks_asked_for(
    fs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    fs.pipe_file("data/big.bin", payload)
    calls = _spy_reads(fs, monkeypatch)
    with fs.open("data/big.bin", "rb", block_size=64 * 1024, cache_type="bytes") as f:
        f.seek(500_000)
        assert f.read(10) == payload[500_000:500_010]
        assert f.size == len(payload)
    assert calls and all(start >= 500_000 for start, _, _ in calls)
    assert sum(n for _, _, n in calls) <= 64 * 1024 + 10


def test_open_write_uploads_on_close(fs: Any) -> None:
    with fs.open("data/out/w.bin", "wb", block_size=5 * 1024 * 1024) as f:
        f.write(b"x" * 6_000_000)
        f.write(b"end")
        assert not fs.exists("data/out/w.bin")  # nothing is visible until close
    assert fs.cat_file("data/out/w.bin") == b"x" * 6_000_000 + b"end"


def test_put_and_get_file(fs: Any, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_bytes(b"hello put")
    fs.put_file(str(source), "data/up/in.txt")
    assert fs.cat_file("data/up/in.txt") == b"hello put"
    target = tmp_path / "out.txt"
    fs.get_file("data/up/in.txt", str(target))
    assert target.read_bytes() == b"hello put"
    with pytest.raises(FileNotFoundError):
        fs.get_file("data/up/missing.txt", str(tmp_path / "missing.txt"))
    assert not (tmp_path / "missing.txt").exists()
    fs.get("data/up/", str(tmp_path / "tree"), recursive=True)
    assert (tmp_path / "tree" / "in.txt").read_bytes() == b"hello put"


def test_pandas_csv_round_trip(backend_config: dict[str, Any]) -> None:
    options = {"config": backend_config}
    frame = pd.DataFrame({"city": ["Oslo", "Lima", "Pune"], "n": [1, 2, 3]})
    frame.to_csv("lexigram://data/csv/cities.csv", index=False, storage_options=options)
    back = pd.read_csv("lexigram://data/csv/cities.csv", storage_options=options)
    pd.testing.assert_frame_equal(back, frame)


def _parquet(fs: Any) -> tuple[pa.Table, int]:
    table = pa.table(
        {
            "id": pa.array(range(100_000), pa.int64()),
            # wide, incompressible: the column a projection on 'id' must not fetch
            "blob": pa.array([i.to_bytes(4, "big") * 16 for i in range(100_000)], pa.binary()),
        }
    )
    with fs.open("data/pq/t.parquet", "wb") as f:
        pq.write_table(table, f, row_group_size=25_000, compression="none")
    return table, fs.size("data/pq/t.parquet")


@pytest.mark.parametrize("cache_type", ["readahead", "none"])
def test_pyarrow_reads_parquet_with_ranged_reads(
    backend_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch, cache_type: str
) -> None:
    fs = fsspec.filesystem(
        "lexigram",
        config=backend_config,
        default_block_size=256 * 1024,
        default_cache_type=cache_type,
        skip_instance_cache=True,
    )
    table, size = _parquet(fs)
    calls = _spy_reads(fs, monkeypatch)

    read = pq.read_table("data/pq/t.parquet", filesystem=fs, columns=["id"])

    assert read.column("id").equals(table.column("id"))
    # every read was ranged; the first one is the footer, at the end of the object
    assert calls[0][0] > 0 and calls[0][1] == size, calls
    assert all(end is not None for _, end, _ in calls), calls
    fetched = sum(n for _, _, n in calls)
    # the 'blob' column (about 80 % of the object) was not fetched
    assert fetched < size // 2, (fetched, size, calls)
    fs.close()


def test_pyarrow_default_options_read_the_footer_by_range(
    backend_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    fs = fsspec.filesystem("lexigram", config=backend_config, skip_instance_cache=True)
    table, size = _parquet(fs)
    calls = _spy_reads(fs, monkeypatch)
    assert pq.read_table("data/pq/t.parquet", filesystem=fs).equals(table)
    assert calls[0][0] > 0 and calls[0][1] == size, calls
    # never the whole object twice
    assert sum(n for _, _, n in calls) < 2 * size, (size, calls)
    fs.close()


def test_config_from_path_and_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "storage.yaml"
    config.write_text(f"storage:\n  drivers:\n    local:\n      root_dir: {tmp_path / 'env'}\n")
    by_path = fsspec.filesystem("lexigram", config_path=str(config), skip_instance_cache=True)
    by_path.pipe_file("local/a.txt", b"via path")
    monkeypatch.setenv(CONFIG_ENV, str(config))
    with fsspec.open("lexigram://local/a.txt", "rb") as f:
        assert f.read() == b"via path"
    assert (tmp_path / "env" / "a.txt").read_bytes() == b"via path"


def test_missing_config_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    with pytest.raises(ConfigError, match=CONFIG_ENV):
        fsspec.filesystem("lexigram", skip_instance_cache=True)
    with pytest.raises(ConfigError, match="not both"):
        fsspec.filesystem("lexigram", config={}, config_path="x.yaml", skip_instance_cache=True)


def test_unknown_backend_names_the_configured_ones(tmp_path: Path) -> None:
    fs = fsspec.filesystem(
        "lexigram",
        config={"drivers": {"local": {"root_dir": str(tmp_path)}}},
        skip_instance_cache=True,
    )
    with pytest.raises(ConfigError, match=r"'nope'.*local"):
        fs.cat_file("nope/a.txt")


async def test_async_use_on_a_running_loop(tmp_path: Path) -> None:
    fs = LexigramFileSystem(
        config={"drivers": {"memory": {}}}, asynchronous=True, skip_instance_cache=True
    )
    await fs._pipe_file("memory/k/v.txt", b"async")
    assert await fs._cat_file("memory/k/v.txt", start=1) == b"sync"
    assert await fs._ls("memory", detail=False) == ["memory/k"]
    await fs._close()


def test_a_closed_filesystem_is_not_handed_out_again(tmp_path: Path) -> None:
    config = {"drivers": {"local": {"root_dir": str(tmp_path / "c")}}}
    first = fsspec.filesystem("lexigram", config=config)
    assert fsspec.filesystem("lexigram", config=config) is first  # fsspec's instance cache
    first.pipe_file("local/a.txt", b"1")
    first.close()
    second = fsspec.filesystem("lexigram", config=config)
    assert second is not first
    assert second.cat_file("local/a.txt") == b"1"
    second.close()
