"""V4 signing, checked against an independent rebuild of Google's canonical request."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from lexigram.storage.gcs.signing import rsa_signer, sign_url

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def _expected_string_to_sign(url: str, method: str, headers: dict[str, str]) -> str:
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    params.pop("X-Goog-Signature")
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in sorted(params.items()))
    all_headers = {"host": parts.netloc, **headers}
    names = sorted(all_headers)
    canonical = (
        f"{method}\n{parts.path}\n{query}\n"
        + "".join(f"{k}:{all_headers[k]}\n" for k in names)
        + "\n"
        + ";".join(names)
        + "\nUNSIGNED-PAYLOAD"
    )
    return (
        "GOOG4-RSA-SHA256\n20260304T050607Z\n20260304/auto/storage/goog4_request\n"
        + hashlib.sha256(canonical.encode()).hexdigest()
    )


def _signature(url: str) -> bytes:
    return bytes.fromhex(dict(parse_qsl(urlsplit(url).query))["X-Goog-Signature"])


async def test_get_url_signature_verifies() -> None:
    url = await sign_url(
        signer=rsa_signer(PEM),
        client_email="sa@p.iam.gserviceaccount.com",
        scheme="https",
        host="storage.googleapis.com",
        bucket="bkt",
        key="dir/a b+ü~.txt",
        method="GET",
        expires_in=timedelta(minutes=15),
        content_disposition='attachment; filename="x.txt"',
        now=NOW,
    )
    assert url.startswith("https://storage.googleapis.com/bkt/dir/a%20b%2B%C3%BC~.txt?")
    q = dict(parse_qsl(urlsplit(url).query))
    assert q["X-Goog-Credential"] == (
        "sa@p.iam.gserviceaccount.com/20260304/auto/storage/goog4_request"
    )
    assert q["X-Goog-Expires"] == "900"
    assert q["X-Goog-SignedHeaders"] == "host"
    assert q["response-content-disposition"] == 'attachment; filename="x.txt"'
    to_sign = _expected_string_to_sign(url, "GET", {})
    KEY.public_key().verify(_signature(url), to_sign.encode(), padding.PKCS1v15(), hashes.SHA256())
    tampered = _expected_string_to_sign(url, "PUT", {})
    with pytest.raises(InvalidSignature):
        KEY.public_key().verify(
            _signature(url), tampered.encode(), padding.PKCS1v15(), hashes.SHA256()
        )


async def test_put_url_signs_the_content_type() -> None:
    url = await sign_url(
        signer=rsa_signer(PEM),
        client_email="sa@p",
        scheme="http",
        host="127.0.0.1:4443",
        bucket="b",
        key="k",
        method="PUT",
        expires_in=timedelta(days=7),
        content_type="image/png",
        now=NOW,
    )
    q = dict(parse_qsl(urlsplit(url).query))
    assert q["X-Goog-SignedHeaders"] == "content-type;host"
    assert q["X-Goog-Expires"] == "604800"
    to_sign = _expected_string_to_sign(url, "PUT", {"content-type": "image/png"})
    KEY.public_key().verify(_signature(url), to_sign.encode(), padding.PKCS1v15(), hashes.SHA256())


def test_non_rsa_key_is_refused() -> None:
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="not an RSA key"):
        rsa_signer(other.decode())


async def test_put_url_signs_the_object_headers() -> None:
    bound = {
        "cache-control": "public, max-age=60",
        "content-disposition": 'attachment; filename="x.txt"',
        "content-encoding": "gzip",
        "content-language": "en",
    }
    url = await sign_url(
        signer=rsa_signer(PEM),
        client_email="sa@p",
        scheme="https",
        host="storage.googleapis.com",
        bucket="bkt",
        key="k",
        method="PUT",
        expires_in=timedelta(minutes=5),
        content_type="text/plain",
        now=NOW,
        signed_headers=bound,
    )
    q = dict(parse_qsl(urlsplit(url).query))
    assert q["X-Goog-SignedHeaders"] == (
        "cache-control;content-disposition;content-encoding;content-language;content-type;host"
    )
    headers = {"content-type": "text/plain", **bound}
    to_sign = _expected_string_to_sign(url, "PUT", headers)
    KEY.public_key().verify(_signature(url), to_sign.encode(), padding.PKCS1v15(), hashes.SHA256())
    # an uploader sending another value (or none) does not match the signature
    other = _expected_string_to_sign(url, "PUT", {**headers, "cache-control": "no-cache"})
    with pytest.raises(InvalidSignature):
        KEY.public_key().verify(
            _signature(url), other.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
