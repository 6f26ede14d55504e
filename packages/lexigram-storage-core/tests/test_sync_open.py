"""``SyncBlobStore.open``: plain binary file objects that zipfile, pandas and pyarrow
take as they are, over ranged reads pinned to a version and one streamed upload."""

from __future__ import annotations

import gc
import io
import os
import zipfile
from collections.abc import Iterator

import pytest

from lexigram.storage import (
    BlobNotFoundError,
    InvalidArgumentError,
    PreconditionFailedError,
    SyncInEventLoopError,
)
from lexigram.storage.sync import SyncBlobStore, SyncStorageProvider
from lexigram.storage.sync.file_objects import SyncBlobReader, SyncBlobWriter
from lexigram.storage.testing.blob_open import make_zip


@pytest.fixture
def store() -> Iterator[SyncBlobStore]:
    with SyncStorageProvider() as provider:
        yield provider.store()


def test_zipfile_reads_one_member_by_ranges(store: SyncBlobStore) -> None:
    archive, members = make_zip(members=40, member_size=64 * 1024)
    store.upload("data/a.zip", archive)
    with store.open("data/a.zip", block_size=16 * 1024) as f:
        assert isinstance(f, io.RawIOBase) and isinstance(f, SyncBlobReader)
        assert f.size == len(archive) and f.name == "data/a.zip" and f.mode == "rb"
        with zipfile.ZipFile(f) as zf:
            assert zf.namelist() == list(members)
            assert zf.read("m017.bin") == members["m017.bin"]
        assert f.bytes_fetched < len(archive) // 4  # only the directory and one member
    assert f.closed


def test_pandas_and_pyarrow_read_through_it(store: SyncBlobStore) -> None:
    import pandas as pd
    import pyarrow.parquet as pq

    store.upload("t.csv", b"a,b\n1,x\n2,y\n")
    with store.open("t.csv") as f:
        frame = pd.read_csv(f)
    assert frame.to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}
    with store.open("t.parquet", "wb") as w:
        frame.to_parquet(w)
    with store.open("t.parquet") as f:
        assert pq.read_table(f).to_pydict() == {"a": [1, 2], "b": ["x", "y"]}


def test_the_reader_is_a_seekable_binary_file(store: SyncBlobStore) -> None:
    body = bytes(range(256)) * 40
    store.upload("b.bin", body)
    with store.open("b.bin", block_size=100) as f:
        assert f.readable() and f.seekable() and not f.writable()
        assert f.read(10) == body[:10] and f.tell() == 10
        buffer = bytearray(20)
        assert f.readinto(buffer) == 20 and bytes(buffer) == body[10:30]
        assert f.seek(-5, os.SEEK_END) == len(body) - 5
        assert f.read() == body[-5:] and f.read(3) == b""
        assert f.etag == f.info.etag == store.info("b.bin").etag
        f.seek(1000)
        buffered = io.BufferedReader(f, 64)
        assert buffered.read(300) == body[1000:1300]
        buffered.close()  # closes the raw file too, as for any file
        assert f.closed
    with pytest.raises(ValueError):
        f.read(1)


def test_an_overwrite_between_two_fetches_is_refused(store: SyncBlobStore) -> None:
    store.upload("v.bin", b"a" * 3000)
    with store.open("v.bin", block_size=1000) as f:
        assert f.read(1000) == b"a" * 1000
        store.upload("v.bin", b"b" * 3000)
        with pytest.raises(PreconditionFailedError):
            f.read(1000)


def test_the_writer_stores_on_close_and_nothing_on_an_exception(store: SyncBlobStore) -> None:
    store.upload("w.bin", b"previous")
    with store.open("w.bin", "wb", content_type="text/plain", metadata={"k": "v"}) as w:
        assert isinstance(w, io.RawIOBase) and isinstance(w, SyncBlobWriter)
        assert w.writable() and not w.seekable() and not w.readable()
        buffer = bytearray(b"hello ")
        assert w.write(buffer) == 6
        buffer[:] = b"XXXXXX"  # reused by the caller: what was written is kept
        w.write(memoryview(b"world"))
        assert w.tell() == 11
        assert store.download("w.bin") == b"previous"  # nothing until closed
    assert w.info is not None and w.info.size == 11
    info = store.info("w.bin")
    assert store.download("w.bin") == b"hello world"
    assert (info.content_type, info.metadata) == ("text/plain", {"k": "v"})
    with pytest.raises(RuntimeError, match="boom"), store.open("w.bin", "wb") as w:
        w.write(b"half of it")
        raise RuntimeError("boom")
    assert store.download("w.bin") == b"hello world"  # left as it was
    with pytest.raises(ValueError):
        w.write(b"more")
    with pytest.raises(TypeError):
        store.open("x.bin", "wb").write("text")


def test_a_writer_dropped_without_close_stores_nothing(store: SyncBlobStore) -> None:
    w = store.open("dropped.bin", "wb")
    w.write(b"partial")
    del w
    gc.collect()
    assert not store.exists("dropped.bin")
    aborted = store.open("aborted.bin", "wb")
    aborted.write(b"x")
    aborted.abort()
    assert aborted.closed and not store.exists("aborted.bin")


def test_zipfile_writes_through_the_writer(store: SyncBlobStore) -> None:
    with store.open("out.zip", "wb") as w, zipfile.ZipFile(w, "w") as zf:
        zf.writestr("inner.txt", "zipped" * 100)
    with store.open("out.zip") as f, zipfile.ZipFile(f) as zf:
        assert zf.read("inner.txt") == b"zipped" * 100


def test_bad_arguments_and_missing_objects(store: SyncBlobStore) -> None:
    with pytest.raises(InvalidArgumentError, match="'rb'"):
        store.open("k", "r")
    with pytest.raises(InvalidArgumentError, match="mode 'wb'"):
        store.open("k", content_type="text/plain")
    with pytest.raises(BlobNotFoundError):
        store.open("missing")


async def test_open_from_a_thread_running_an_event_loop_is_refused(
    store: SyncBlobStore,
) -> None:
    with pytest.raises(SyncInEventLoopError):
        store.open("k")
    with pytest.raises(SyncInEventLoopError):
        store.open("k", "wb")
