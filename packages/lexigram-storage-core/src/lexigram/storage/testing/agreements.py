"""Rules every driver must agree on: part of the blob conformance kit.

Each test holds one promise the public API makes the same way on every backend:

- an object's etag has one format on every path (upload, info, list);
- a metadata value is kept exactly, or refused before anything is stored;
- a presigned GET's ``content_type`` / ``content_disposition`` are the response's
  headers when the URL is fetched (never dropped without a word);
- the records a store returns are the caller's: changing them changes nothing stored;
- a malformed content type is refused, naming the key and the argument.

A presigned URL is fetched with :meth:`DriverAgreements.fetch_presigned` (``urllib`` in
a worker thread); a driver whose URLs are served by an app in-process (the local
driver's ASGI app) overrides it.
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping, MutableMapping
from datetime import timedelta
from typing import Any

import pytest

from lexigram.storage.errors import InvalidArgumentError, NotSupportedError
from lexigram.storage.store import BlobStore

__all__ = ["MALFORMED_CONTENT_TYPES", "DriverAgreements", "FetchedURL"]

#: content types every store must refuse with InvalidArgumentError.
MALFORMED_CONTENT_TYPES: list[str] = [
    "application/octet/stream",
    "",
    "text",
    "text/",
    "/plain",
    "text /plain",
    "text/plain\n",
    "text/plain\r\nx-injected: 1",
    "text/pl\x00ain",
    "text/plain; charset",
    "text/plaín",
    "text/\u6587\u5b57",
]

#: (status, headers with lowercase names, body)
FetchedURL = tuple[int, Mapping[str, str], bytes]


def _fetch(url: str) -> FetchedURL:
    try:
        with urllib.request.urlopen(url, timeout=60) as reply:
            headers = {k.lower(): v for k, v in reply.headers.items()}
            return reply.status, headers, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


class DriverAgreements:
    """Tests of the rules above against the ``store`` fixture (see the kit's docstring)."""

    async def fetch_presigned(self, store: BlobStore, url: str) -> FetchedURL:
        """GET ``url`` with a real HTTP client; override where URLs are served in-process."""
        return await asyncio.to_thread(_fetch, url)

    @pytest.fixture
    def agreement_prefix(self) -> str:
        return f"agreements-{uuid.uuid4().hex[:10]}/"

    # -- etags ----------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_etag_is_one_format(self, store: BlobStore, agreement_prefix: str) -> None:
        key = agreement_prefix + "etag.txt"
        written = await store.upload(key, b"etag body")
        head = await store.info(key)
        assert head.etag, "info() must give an etag"
        if written.etag is not None:
            assert written.etag == head.etag, "upload() and info() give different etags"
        [listed] = [i async for i in store.list(agreement_prefix)]
        assert listed.etag == head.etag, "list() and info() give different etags"
        copied = agreement_prefix + "etag-copy.txt"
        await store.copy(key, copied)
        copy_head = await store.info(copied)
        listed_copy = [i async for i in store.list(copied)]
        assert [i.etag for i in listed_copy] == [copy_head.etag]
        # the same format: quoted on one path means quoted on every other
        assert copy_head.etag is not None
        assert copy_head.etag.startswith('"') == head.etag.startswith('"')

    # -- metadata values ------------------------------------------------------------------

    @pytest.mark.asyncio
    @pytest.mark.parametrize("value", [" a", "a ", "  ", " padded both "])
    async def test_metadata_value_with_outer_spaces_is_refused(
        self, store: BlobStore, agreement_prefix: str, value: str
    ) -> None:
        key = agreement_prefix + "spaced-meta"
        if not store.driver.capabilities.metadata:
            with pytest.raises(NotSupportedError):
                await store.upload(key, b"x", metadata={"note": value})
            return
        with pytest.raises(InvalidArgumentError) as caught:
            await store.upload(key, b"x", metadata={"note": value})
        message = str(caught.value)
        assert key in message and "'note'" in message and "space" in message
        assert not await store.exists(key)

    @pytest.mark.asyncio
    async def test_metadata_values_come_back_exactly(
        self, store: BlobStore, agreement_prefix: str
    ) -> None:
        key = agreement_prefix + "exact-meta"
        meta = {"inner": "a  b", "punct": "x=1; y='2' \"z\"", "empty": "", "tilde": "~!@#$%^&*()"}
        if not store.driver.capabilities.metadata:
            return
        await store.upload(key, b"x", metadata=meta)
        assert dict((await store.info(key)).metadata) == meta

    # -- presigned GET response overrides -------------------------------------------------

    @pytest.mark.asyncio
    async def test_presigned_get_answers_with_the_asked_headers(
        self, store: BlobStore, agreement_prefix: str
    ) -> None:
        key = agreement_prefix + "signed override.txt"
        await store.upload(key, b"signed body", content_type="text/plain")
        wanted_type = "application/x-conformance"
        wanted_disposition = 'attachment; filename="report.csv"'
        if "GET" not in store.driver.capabilities.presign_methods:
            with pytest.raises(NotSupportedError):
                await store.get_presigned_url(key, content_type=wanted_type)
            return
        url = await store.get_presigned_url(
            key,
            timedelta(minutes=5),
            content_type=wanted_type,
            content_disposition=wanted_disposition,
        )
        status, headers, body = await self.fetch_presigned(store, url)
        assert status == 200, (status, body[:300])
        assert body == b"signed body"
        assert headers.get("content-type") == wanted_type
        assert headers.get("content-disposition") == wanted_disposition

    # -- returned records are copies ------------------------------------------------------

    @pytest.mark.asyncio
    async def test_returned_metadata_does_not_change_the_object(
        self, store: BlobStore, agreement_prefix: str
    ) -> None:
        key = agreement_prefix + "own-meta"
        if not store.driver.capabilities.metadata:
            return
        written = await store.upload(key, b"x", metadata={"owner": "a"})
        head = await store.info(key)
        [listed] = [i async for i in store.list(key)]
        listed_before = dict(listed.metadata)  # list() need not carry metadata (S3's does not)
        for record in (written, head, listed):
            mapping: Any = record.metadata
            if isinstance(mapping, MutableMapping):
                mapping["owner"] = "changed"
                mapping["added"] = "y"
        assert dict((await store.info(key)).metadata) == {"owner": "a"}
        [again] = [i async for i in store.list(key)]
        assert dict(again.metadata) == listed_before

    # -- content types --------------------------------------------------------------------

    @pytest.mark.asyncio
    @pytest.mark.parametrize("content_type", MALFORMED_CONTENT_TYPES)
    async def test_malformed_content_type_is_refused(
        self, store: BlobStore, agreement_prefix: str, content_type: str
    ) -> None:
        key = agreement_prefix + "bad-type"
        with pytest.raises(InvalidArgumentError) as caught:
            await store.upload(key, b"x", content_type=content_type)
        assert key in str(caught.value) and "content_type" in str(caught.value)
        assert not await store.exists(key)
        with pytest.raises((InvalidArgumentError, NotSupportedError)) as signed:
            await store.get_presigned_url(key, content_type=content_type)
        if isinstance(signed.value, InvalidArgumentError):
            assert "content_type" in str(signed.value)

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        "content_type", ["text/plain; charset=utf-8", "application/vnd.api+json", 'a/b;q="x y"']
    )
    async def test_well_formed_content_type_is_kept(
        self, store: BlobStore, agreement_prefix: str, content_type: str
    ) -> None:
        key = agreement_prefix + "good-type"
        await store.upload(key, b"x", content_type=content_type)
        assert (await store.info(key)).content_type == content_type

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        "disposition",
        ["", " attachment", "attachment\r\nx-injected: 1", 'inline; filename="\u6587"'],
    )
    async def test_malformed_content_disposition_is_refused(
        self, store: BlobStore, agreement_prefix: str, disposition: str
    ) -> None:
        key = agreement_prefix + "bad-disposition"
        with pytest.raises((InvalidArgumentError, NotSupportedError)) as caught:
            await store.get_presigned_url(key, content_disposition=disposition)
        if isinstance(caught.value, InvalidArgumentError):
            assert key in str(caught.value) and "content_disposition" in str(caught.value)
