"""End-to-end CRC32C checks of the GCS driver: what GCS's answers say about them (the
checksums themselves, the check of a stream and the repair policy: core's
:mod:`lexigram.storage.integrity`).

CRC32C is the checksum Google Cloud Storage keeps for every object (composite ones
included) and recommends; ``google-crc32c`` computes it in C at several GB/s, over ten
times faster than MD5.

- Single-request uploads carry the body's ``crc32c`` in the object resource of a
  multipart upload; resumable uploads send ``X-Goog-Hash: crc32c=...`` with the last
  request, computed as the chunks are sent. Google Cloud Storage refuses an upload whose
  bytes differ, so nothing altered is stored.
- The ``crc32c`` the server reports for the new object is compared with the one the
  driver computed while sending: this catches a server that does not check (e.g.
  fake-gcs-server); the driver then repairs or removes the object (see ``GCSDriver.put``).
- Whole-object downloads: the bytes are hashed as they arrive and compared with the
  ``x-goog-hash`` response header's CRC32C at the end. Ranged reads and objects served
  with decompressive transcoding are not checked.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from typing import Any

__all__ = ["response_crc32c"]


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
