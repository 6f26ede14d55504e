"""Blob downloads return the bytes stored, also of a blob with ``Content-Encoding: gzip``.

The driver asks ``download_blob(decompress=False)``, so the SDK hands out the stored
bytes. But its MD5 check of each range (``validate_content``) reads the response body
through azure-core, which decompresses it whenever the response names a
Content-Encoding: the MD5 of the decompressed bytes never matches the service's MD5 of
the stored ones. This policy sits next to the transport and marks blob download
responses as "do not decompress" before any other policy reads them, so the check is
made over the stored bytes, as the service made it.
"""

from __future__ import annotations

from typing import Any

from azure.core.pipeline.policies import SansIOHTTPPolicy

__all__ = ["KeepStoredBytes"]


class KeepStoredBytes(SansIOHTTPPolicy):  # type: ignore[type-arg]
    """Turn off azure-core's decompression of blob download responses."""

    def on_response(self, request: Any, response: Any) -> None:
        http = response.http_response
        headers = http.headers
        if (
            headers.get("Content-Encoding")
            and headers.get("x-ms-blob-type")
            and hasattr(http, "_decompress")
        ):
            http._decompress = False
