"""End-to-end MD5 checks of the GCS driver.

- Single-request uploads carry the body's ``md5Hash`` in the object resource of a
  multipart upload; resumable uploads send ``X-Goog-Hash: md5=...`` with the last
  request. Google Cloud Storage refuses an upload whose bytes differ, so nothing altered
  is stored.
- The ``md5Hash`` the server reports for the new object is compared with the MD5 the
  driver computed while sending: this catches a server that does not check (e.g.
  fake-gcs-server); the driver then repairs or removes the object (see ``GCSDriver.put``).
- Whole-object downloads: the ``x-goog-hash`` response header's MD5 is compared with the
  bytes received. Ranged reads, composite objects (no MD5) and objects served with
  decompressive transcoding are not checked.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping

__all__ = ["content_md5", "md5_b64", "response_md5"]


def content_md5(data: bytes | bytearray | memoryview) -> bytes:
    """The MD5 digest of ``data``."""
    return hashlib.md5(data, usedforsecurity=False).digest()


def md5_b64(digest: bytes) -> str:
    """A digest as GCS writes it (``md5Hash``, ``x-goog-hash``): base64."""
    return base64.b64encode(digest).decode("ascii")


def response_md5(headers: Mapping[str, str]) -> bytes | None:
    """The MD5 of the object a download response carries (``x-goog-hash: crc32c=..,md5=..``,
    one header or several), or None: no MD5 given (composite objects), or the body is
    not the stored bytes (decompressive transcoding of a gzip-encoded object)."""
    if headers.get("Content-Encoding") or headers.get("x-goog-stored-content-encoding", "") not in (
        "",
        "identity",
    ):
        return None
    values = headers.getall("x-goog-hash", ()) if hasattr(headers, "getall") else ()
    if not values:
        single = headers.get("x-goog-hash")
        values = [single] if single else []
    for value in values:
        for item in str(value).split(","):
            name, _, encoded = item.strip().partition("=")
            if name.lower() == "md5" and encoded:
                try:
                    return base64.b64decode(encoded, validate=True)
                except ValueError:
                    return None
    return None
