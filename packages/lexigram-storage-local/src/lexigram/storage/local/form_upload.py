"""The ``POST`` side of the local ASGI app: browser form uploads with a signed policy.

The form is ``multipart/form-data`` with the fields of ``get_presigned_post`` first and
the file last, in a field named ``file`` (the order S3 requires too). It is parsed as it
arrives by python-multipart's streaming parser (the ``post`` extra) within fixed bounds:
at most :data:`MAX_PARTS` parts, :data:`MAX_FIELD_BYTES` per field value and
:data:`MAX_HEADER_BYTES` of headers per part. The file is streamed into the store through
``BlobStore.open(key, "wb")``: a file over the policy's ``max_size``, a refused policy or
a broken request aborts that upload, and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from lexigram.storage.local.post_policy import PostPolicy, verify_policy
from lexigram.storage.local.signing import InvalidSignatureError
from lexigram.storage.readers import BlobWriter
from lexigram.storage.store import BlobStore

__all__ = ["MAX_FIELD_BYTES", "MAX_HEADER_BYTES", "MAX_PARTS", "FormRefused", "receive_form"]

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]

#: parts a form may have (the policy's fields, the file, a few extra fields).
MAX_PARTS = 32
#: bytes of one non-file field's value.
MAX_FIELD_BYTES = 16 * 1024
#: bytes of one part's headers.
MAX_HEADER_BYTES = 8 * 1024


class FormRefused(Exception):
    """The form is refused with ``status`` and a short ``reason`` (no secrets)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class ClientGone(Exception):
    """The client disconnected before the form was whole."""


def _parser_module() -> Any:
    try:
        import python_multipart.multipart as multipart
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise FormRefused(
            501,
            "form uploads need python-multipart: install lexigram-storage-local[post]",
        ) from None
    return multipart


class _Form:
    """The state of one form being received; fed the parser's events in order."""

    def __init__(self, blobs: BlobStore, key: str, signing_key: str) -> None:
        self.blobs = blobs
        self.key = key
        self.signing_key = signing_key
        self.fields: dict[str, str] = {}
        self.parts = 0
        self.header_bytes = 0
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.headers: dict[str, str] = {}
        self.name: str | None = None
        self.value = bytearray()
        self.in_file = False
        self.file_done = False
        self.size = 0
        self.policy: PostPolicy | None = None
        self.writer: BlobWriter | None = None
        self.events: list[tuple[str, bytes]] = []

    # parser callbacks: record only (the parser is synchronous; the store is async)
    def callbacks(self) -> dict[str, Callable[..., None]]:
        def rec(kind: str) -> Callable[..., None]:
            def data(buf: bytes, start: int, end: int) -> None:
                self.events.append((kind, bytes(buf[start:end])))

            def plain() -> None:
                self.events.append((kind, b""))

            return data if kind in ("hfield", "hvalue", "data") else plain

        return {
            "on_part_begin": rec("begin"),
            "on_header_field": rec("hfield"),
            "on_header_value": rec("hvalue"),
            "on_header_end": rec("hend"),
            "on_headers_finished": rec("hdone"),
            "on_part_data": rec("data"),
            "on_part_end": rec("end"),
        }

    async def drain(self) -> None:
        events, self.events = self.events, []
        for kind, data in events:
            await self._event(kind, data)

    async def _event(self, kind: str, data: bytes) -> None:
        if self.file_done:
            return  # parts after the file are ignored, as S3 does
        if kind == "begin":
            self.parts += 1
            if self.parts > MAX_PARTS:
                raise FormRefused(400, "too many form fields")
            self.headers, self.header_bytes, self.value = {}, 0, bytearray()
            self.name = None
        elif kind in ("hfield", "hvalue"):
            self.header_bytes += len(data)
            if self.header_bytes > MAX_HEADER_BYTES:
                raise FormRefused(400, "form part headers too large")
            (self.header_field if kind == "hfield" else self.header_value).extend(data)
        elif kind == "hend":
            name = self.header_field.decode("latin-1").strip().lower()
            self.headers[name] = self.header_value.decode("latin-1").strip()
            self.header_field.clear()
            self.header_value.clear()
        elif kind == "hdone":
            await self._part_started()
        elif kind == "data":
            await self._data(data)
        elif kind == "end":
            await self._part_ended()

    async def _part_started(self) -> None:
        multipart = _parser_module()
        disposition = self.headers.get("content-disposition", "")
        _, options = multipart.parse_options_header(disposition)
        raw_name = options.get(b"name")
        if raw_name is None:
            raise FormRefused(400, "a form part has no name")
        self.name = raw_name.decode("utf-8", "replace")
        if self.name == "file":
            await self._open_file()

    async def _open_file(self) -> None:
        policy_text = self.fields.get("policy")
        signature = self.fields.get("signature")
        if policy_text is None or signature is None:
            raise FormRefused(400, "the policy and signature fields must come before the file")
        try:
            policy = verify_policy(self.key, policy_text, signature, self.signing_key)
        except InvalidSignatureError as exc:
            raise FormRefused(403, f"forbidden: {exc.reason}") from None
        field_type = self.fields.get("Content-Type")
        part_type = self.headers.get("content-type")
        content_type = policy.content_type
        if content_type is not None:
            for given in (field_type, part_type):
                if given is not None and given != content_type:
                    raise FormRefused(403, "forbidden: content-type differs from the policy's")
        else:
            content_type = field_type or part_type
        self.policy = policy
        self.in_file = True
        writer = self.blobs.open(
            self.key, "wb", content_type=content_type, metadata=policy.metadata or None
        )
        await writer.__aenter__()
        self.writer = writer

    async def _data(self, data: bytes) -> None:
        if self.in_file:
            assert self.writer is not None and self.policy is not None
            self.size += len(data)
            limit = self.policy.max_size
            if limit is not None and self.size > limit:
                raise FormRefused(413, f"the file is larger than the policy's {limit} bytes")
            await self.writer.write(data)
            return
        self.value.extend(data)
        if len(self.value) > MAX_FIELD_BYTES:
            raise FormRefused(400, "a form field is too large")

    async def _part_ended(self) -> None:
        if self.in_file:
            assert self.writer is not None
            self.in_file = False
            self.file_done = True
            await self.writer.close()
        elif self.name is not None:
            self.fields[self.name] = self.value.decode("utf-8", "replace")

    async def abort(self) -> None:
        if self.writer is not None and not self.file_done:
            await self.writer.abort()


async def receive_form(
    blobs: BlobStore, key: str, signing_key: str, content_type: str, receive: Receive
) -> str | None:
    """Receive a policy-signed form upload of ``key``; return the stored etag. Raises
    :class:`FormRefused` (nothing stored) or :class:`ClientGone`."""
    multipart = _parser_module()
    ctype, options = multipart.parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise FormRefused(400, "expected a multipart/form-data form")
    form = _Form(blobs, key, signing_key)
    parser = multipart.MultipartParser(boundary, form.callbacks())
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone()
            chunk = message.get("body", b"")
            if chunk:
                try:
                    parser.write(chunk)
                except multipart.MultipartParseError:
                    raise FormRefused(400, "malformed multipart form") from None
                await form.drain()
            if not message.get("more_body", False):
                break
        try:
            parser.finalize()
        except multipart.MultipartParseError:
            raise FormRefused(400, "malformed multipart form") from None
        await form.drain()
        if not form.file_done:
            raise FormRefused(400, "the form has no complete 'file' field")
    except BaseException:
        await form.abort()
        raise
    assert form.writer is not None and form.writer.info is not None
    return form.writer.info.etag
