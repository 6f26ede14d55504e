"""What ``cp``/``sync`` carry between backends: the HTTP headers, and the one warning when
the destination's driver cannot store them (the copy itself goes on)."""

from __future__ import annotations

import io

import attrs
from rich.console import Console

from lexigram.storage import BlobStore
from lexigram.storage.cli.endpoints import StoreEndpoint
from lexigram.storage.cli.transfer import Copy, run_copies
from lexigram.storage.memory.driver import MemoryDriver

HEADERS = {
    "cache_control": "public, max-age=60",
    "content_disposition": 'attachment; filename="a.html"',
    "content_encoding": "identity",
    "content_language": "fr",
}


class _NoHeadersDriver(MemoryDriver):
    """A driver that cannot store HTTP headers (as a third-party driver may be)."""

    capabilities = attrs.evolve(MemoryDriver.capabilities, http_headers=False)


async def _source() -> BlobStore:
    store = BlobStore(MemoryDriver(), name="src")
    for key in ("a.html", "b.html"):
        await store.upload(
            key, b"<p>hi</p>", content_type="text/html", metadata={"owner": "42"}, **HEADERS
        )
    return store


async def _copy(src: BlobStore, dst: BlobStore, *, keep: bool = True) -> str:
    err = io.StringIO()
    await run_copies(
        StoreEndpoint("src", src, ""),
        StoreEndpoint("dst", dst, "out/"),
        [Copy(k, k, 9) for k in ("a.html", "b.html")],
        concurrency=2,
        console=Console(file=err, width=200),
        show_progress=False,
        keep_metadata=keep,
    )
    return err.getvalue()


async def test_a_copy_keeps_the_http_headers_unless_no_metadata() -> None:
    src, dst = await _source(), BlobStore(MemoryDriver(), name="dst")
    assert (await _copy(src, dst)).strip() == ""  # no warning (rich 13.0 ends with a newline)
    for key in ("out/a.html", "out/b.html"):
        info = await dst.info(key)
        assert info.http_headers.fields() == HEADERS
        assert (info.content_type, dict(info.metadata)) == ("text/html", {"owner": "42"})
    # --no-metadata leaves them out with the rest
    plain = BlobStore(MemoryDriver(), name="plain")
    await _copy(src, plain, keep=False)
    info = await plain.info("out/a.html")
    assert not info.http_headers and dict(info.metadata) == {}


async def test_a_destination_without_http_headers_gets_the_rest_and_one_warning() -> None:
    src, dst = await _source(), BlobStore(_NoHeadersDriver(), name="dst")
    warnings = await _copy(src, dst)
    assert warnings.count("warning:") == 1, warnings
    assert "cannot store HTTP headers" in warnings and "dst:out/" in warnings
    for key in ("out/a.html", "out/b.html"):
        info = await dst.info(key)
        assert not info.http_headers
        assert (info.content_type, dict(info.metadata)) == ("text/html", {"owner": "42"})
