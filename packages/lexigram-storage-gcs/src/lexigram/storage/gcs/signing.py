"""V4 signed URLs (``GOOG4-RSA-SHA256``), as Google documents them.

The string to sign is built here; the signature comes from a service account's RSA key
(:func:`rsa_signer`) or from the IAM Credentials ``signBlob`` API (workload identity,
see the driver). Reference: https://cloud.google.com/storage/docs/access-control/signed-urls
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = ["Signer", "canonical_query", "rsa_signer", "sign_url"]

Signer = Callable[[bytes], Awaitable[bytes]]
ALGORITHM = "GOOG4-RSA-SHA256"


def canonical_query(params: dict[str, str]) -> str:
    """Sorted by name, names and values percent-encoded (RFC 3986 unreserved kept)."""
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in sorted(params.items()))


def rsa_signer(private_key_pem: str) -> Signer:
    """A signer over a PEM RSA private key (a service-account key's ``private_key``)."""
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the service account's private_key is not an RSA key")

    async def sign(data: bytes) -> bytes:
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    return sign


async def sign_url(
    *,
    signer: Signer,
    client_email: str,
    scheme: str,
    host: str,
    bucket: str,
    key: str,
    method: str,
    expires_in: timedelta,
    content_type: str | None = None,
    content_disposition: str | None = None,
    now: datetime | None = None,
    signed_headers: Mapping[str, str] | None = None,
) -> str:
    """A path-style V4 signed URL for ``method`` on ``bucket/key``. ``signed_headers``
    (lowercase names): more headers the request must carry, with these values."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    timestamp = moment.strftime("%Y%m%dT%H%M%SZ")
    scope = f"{moment:%Y%m%d}/auto/storage/goog4_request"
    resource = f"/{bucket}/{quote(key, safe='/~')}"
    headers = {"host": host}
    if content_type and method == "PUT":
        headers["content-type"] = content_type
    if signed_headers:
        headers.update(signed_headers)
    signed_names = ";".join(sorted(headers))
    params = {
        "X-Goog-Algorithm": ALGORITHM,
        "X-Goog-Credential": f"{client_email}/{scope}",
        "X-Goog-Date": timestamp,
        "X-Goog-Expires": str(int(expires_in.total_seconds())),
        "X-Goog-SignedHeaders": signed_names,
    }
    if content_disposition:
        params["response-content-disposition"] = content_disposition
    if content_type and method != "PUT":
        params["response-content-type"] = content_type
    query = canonical_query(params)
    canonical_headers = "".join(f"{k}:{' '.join(headers[k].split())}\n" for k in sorted(headers))
    canonical_request = "\n".join(
        [method, resource, query, canonical_headers, signed_names, "UNSIGNED-PAYLOAD"]
    )
    string_to_sign = "\n".join(
        [ALGORITHM, timestamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    signature = (await signer(string_to_sign.encode())).hex()
    return f"{scheme}://{host}{resource}?{query}&X-Goog-Signature={signature}"
