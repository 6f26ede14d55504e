"""End-to-end CRC32C checks of the GCS driver.

CRC32C is the checksum Google Cloud Storage keeps for every object (composite ones
included) and recommends; ``google-crc32c`` computes it in C at several GB/s, about ten
times faster than MD5.

- Single-request uploads carry the body's ``crc32c`` in the object resource of a
  multipart upload; resumable uploads send ``X-Goog-Hash: crc32c=...`` with the last
  request. Google Cloud Storage refuses an upload whose bytes differ, so nothing altered
  is stored.
- The ``crc32c`` the server reports for the new object is compared with the one the
  driver computed while sending: this catches a server that does not check (e.g.
  fake-gcs-server); the driver then repairs or removes the object (see ``GCSDriver.put``).
- Whole-object downloads: the ``x-goog-hash`` response header's CRC32C is compared with
  the bytes received. Ranged reads and objects served with decompressive transcoding are
  not checked.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import google_crc32c

__all__ = ["Crc32c", "b64", "content_crc32c", "response_crc32c"]

#: google-crc32c takes only ``bytes``: other buffers are hashed in copies of this size.
_PIECE = 1024 * 1024
#: google-crc32c's functions carry no annotations.
_Checksum: Any = google_crc32c.Checksum
_value: Any = google_crc32c.value


class Crc32c:
    """A running CRC32C over pieces of any bytes-like type; ``digest()`` is 4 bytes,
    big-endian, as GCS writes it (base64) in ``crc32c`` and ``x-goog-hash``."""

    __slots__ = ("_sum",)

    def __init__(self) -> None:
        self._sum = _Checksum()

    def update(self, data: bytes | bytearray | memoryview) -> None:
        if isinstance(data, bytes):
            self._sum.update(data)
            return
        view = data if isinstance(data, memoryview) else memoryview(data)
        for start in range(0, view.nbytes, _PIECE):
            self._sum.update(bytes(view[start : start + _PIECE]))

    def digest(self) -> bytes:
        digest: bytes = self._sum.digest()
        return digest


def content_crc32c(data: bytes | bytearray | memoryview) -> bytes:
    """The CRC32C of ``data`` (4 bytes, big-endian)."""
    if isinstance(data, bytes):
        return int(_value(data)).to_bytes(4, "big")
    checksum = Crc32c()
    checksum.update(data)
    return checksum.digest()


def b64(digest: bytes) -> str:
    """A digest as GCS writes it (``crc32c``, ``x-goog-hash``): base64."""
    return base64.b64encode(digest).decode("ascii")


def response_crc32c(headers: Mapping[str, str]) -> bytes | None:
    """The CRC32C of the object a download response carries (``x-goog-hash:
    crc32c=..,md5=..``, one header or several), or None: none given, or the body is not
    the stored bytes (decompressive transcoding of a gzip-encoded object)."""
    if headers.get("Content-Encoding"):
        return None
    stored = headers.get("x-goog-stored-content-encoding")
    if stored and stored != "identity":
        return None
    getall = getattr(headers, "getall", None)
    if getall is not None:
        values: Any = getall("x-goog-hash", ())
    else:
        single = headers.get("x-goog-hash")
        values = (single,) if single else ()
    for value in values:
        at = value.lower().find("crc32c=")
        if at < 0:
            continue
        encoded = value[at + 7 :].split(",", 1)[0].strip()
        try:
            digest = binascii.a2b_base64(encoded, strict_mode=True)
        except binascii.Error:
            return None
        return digest if len(digest) == 4 else None
    return None
