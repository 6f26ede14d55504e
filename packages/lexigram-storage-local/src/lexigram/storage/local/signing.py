"""HMAC-SHA256 presigned URLs for the local driver, and the helper that verifies them.

A URL is ``<base_url>/<quoted key>?expires=<unix s>&method=<GET|PUT>[&content_type=...]
[&content_disposition=...]&signature=<hex>``. The signature is HMAC-SHA256 (key: the
``signing_key``) over ``"lexigram-local-v1\\n" + method + "\\n" + key + "\\n" + expires +
"\\n" + content_type + "\\n" + content_disposition``, followed, for a PUT URL that binds
them, by ``"\\ncache_control=" + value`` (and ``content_encoding``, ``content_language``)
for each one set (so a URL without them signs exactly as before). One of these holding a
line break is refused as malformed, so no value can pose as another field. Keys never
hold control characters (the core refuses them), so the newline-joined string is
unambiguous. A URL is refused
when the signature does not match (any part was changed), when it has expired, or when
it is used for another method (a HEAD request may use a GET URL). Neither the host nor
the path of ``base_url`` is signed: a URL verifies wherever the app serving it is
mounted, and ``base_url`` may be a path (``/files``), making the URLs relative.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from lexigram.storage.errors import PermissionDeniedError

__all__ = [
    "ExpiredSignatureError",
    "InvalidSignatureError",
    "SignedRequest",
    "parse_query",
    "sign",
    "signed_url",
    "verify_presigned_url",
    "verify_query",
]

_VERSION = "lexigram-local-v1"
#: ``expires``: a unix time in seconds, in canonical form (fewer than 16 digits).
_EXPIRES = re.compile(r"0|[1-9][0-9]{0,14}")
#: most query parameters a presigned URL has (expires, method, signature, two optional).
MAX_QUERY_FIELDS = 16


class InvalidSignatureError(PermissionDeniedError):
    """A presigned URL was tampered with, malformed, or used for another method.

    ``reason`` says which, without ever naming the signing key."""

    def __init__(self, message: str, *, reason: str, key: str | None = None) -> None:
        super().__init__(message, driver="local", key=key, operation="verify_presigned_url")
        self.reason = reason


class ExpiredSignatureError(InvalidSignatureError):
    """A presigned URL whose ``expires`` time has passed."""


class SignedRequest:
    """What a verified URL grants: ``method`` on ``key`` until ``expires`` (unix seconds)."""

    __slots__ = (
        "cache_control",
        "content_disposition",
        "content_encoding",
        "content_language",
        "content_type",
        "expires",
        "key",
        "method",
    )

    def __init__(
        self,
        key: str,
        method: str,
        expires: int,
        content_type: str | None,
        content_disposition: str | None,
        cache_control: str | None = None,
        content_encoding: str | None = None,
        content_language: str | None = None,
    ) -> None:
        self.key = key
        self.method = method
        self.expires = expires
        self.content_type = content_type
        self.content_disposition = content_disposition
        #: for PUT: headers the uploader must send (and that are stored)
        self.cache_control = cache_control
        self.content_encoding = content_encoding
        self.content_language = content_language

    def __repr__(self) -> str:
        return f"SignedRequest(key={self.key!r}, method={self.method!r}, expires={self.expires})"


def sign(
    signing_key: str,
    *,
    key: str,
    method: str,
    expires: int,
    content_type: str | None = None,
    content_disposition: str | None = None,
    cache_control: str | None = None,
    content_encoding: str | None = None,
    content_language: str | None = None,
) -> str:
    """The hex HMAC-SHA256 signature of one grant."""
    lines = [_VERSION, method, key, str(expires), content_type or "", content_disposition or ""]
    for name, value in (
        ("cache_control", cache_control),
        ("content_encoding", content_encoding),
        ("content_language", content_language),
    ):
        if value is not None:
            lines.append(f"{name}={value}")
    message = "\n".join(lines)
    return hmac.new(signing_key.encode(), message.encode("utf-8"), hashlib.sha256).hexdigest()


def signed_url(
    base_url: str,
    signing_key: str,
    *,
    key: str,
    method: str,
    expires: int,
    content_type: str | None = None,
    content_disposition: str | None = None,
    cache_control: str | None = None,
    content_encoding: str | None = None,
    content_language: str | None = None,
) -> str:
    """Build the presigned URL of one grant (``expires``: unix seconds)."""
    query: dict[str, str] = {"expires": str(expires), "method": method}
    fields = {
        "content_type": content_type,
        "content_disposition": content_disposition,
        "cache_control": cache_control,
        "content_encoding": content_encoding,
        "content_language": content_language,
    }
    for name, value in fields.items():
        if value is not None:
            query[name] = value
    query["signature"] = sign(signing_key, key=key, method=method, expires=expires, **fields)
    return f"{base_url.rstrip('/')}/{quote(key, safe='/')}?{urlencode(query, quote_via=quote)}"


def verify_query(
    key: str,
    query: Mapping[str, list[str]],
    signing_key: str,
    *,
    method: str = "GET",
    now: float | None = None,
) -> SignedRequest:
    """Check the query parameters (as from :func:`urllib.parse.parse_qs`) of a request
    for ``key``; raise :class:`InvalidSignatureError` / :class:`ExpiredSignatureError`."""

    def one(name: str) -> str | None:
        values = query.get(name)
        if not values:
            return None
        if len(values) > 1:
            raise InvalidSignatureError(
                f"presigned URL for {key!r} repeats {name!r}", reason="malformed", key=key
            )
        return values[0]

    expires_text, signed_method, signature = one("expires"), one("method"), one("signature")
    if expires_text is None or signed_method is None or signature is None:
        raise InvalidSignatureError(
            f"not a presigned URL for {key!r}: expires, method and signature are required",
            reason="malformed",
            key=key,
        )
    if not _EXPIRES.fullmatch(expires_text):
        # ASCII digits in canonical form only, and few of them: the signed text is
        # str(int(...)), so "+1", "01" or other scripts' digits would be other spellings
        # of a signed URL, and a huge number is refused before int() reads it.
        raise InvalidSignatureError(
            f"presigned URL for {key!r} has a malformed expires (unix seconds expected)",
            reason="malformed",
            key=key,
        )
    expires = int(expires_text)
    fields = {
        name: one(name)
        for name in (
            "content_type",
            "content_disposition",
            "cache_control",
            "content_encoding",
            "content_language",
        )
    }
    extra = (fields["cache_control"], fields["content_encoding"], fields["content_language"])
    if any(value is not None and ("\n" in value or "\r" in value) for value in extra):
        raise InvalidSignatureError(
            f"presigned URL for {key!r} has a line break in a signed field",
            reason="malformed",
            key=key,
        )
    expected = sign(signing_key, key=key, method=signed_method, expires=expires, **fields)
    if not hmac.compare_digest(expected, signature):
        raise InvalidSignatureError(
            f"the signature of the presigned URL for {key!r} does not match: it was altered "
            "or signed with another key",
            reason="signature",
            key=key,
        )
    verb = method.upper()
    if verb != signed_method and not (verb == "HEAD" and signed_method == "GET"):
        raise InvalidSignatureError(
            f"the presigned URL for {key!r} grants {signed_method}, not {verb}",
            reason="method",
            key=key,
        )
    current = time.time() if now is None else now
    if current >= expires:
        raise ExpiredSignatureError(
            f"the presigned URL for {key!r} expired at {expires} (unix time); ask for a new one",
            reason="expired",
            key=key,
        )
    return SignedRequest(
        key,
        signed_method,
        expires,
        fields["content_type"],
        fields["content_disposition"],
        fields["cache_control"],
        fields["content_encoding"],
        fields["content_language"],
    )


def verify_presigned_url(
    url: str,
    signing_key: str,
    *,
    method: str = "GET",
    base_url: str | None = None,
    now: float | None = None,
) -> SignedRequest:
    """Verify a URL made by ``get_presigned_url`` on a local store; return the grant.

    ``url`` may be absolute (``https://host/files/k?...``) or relative (``/files/k?...``,
    from a path-only ``base_url``): the signature covers the key (the path below
    ``base_url``) and the query, not the scheme, host or base path.

    ``base_url``: the store's ``base_url`` (its path is stripped from the URL's path to
    get the key; default: the key is the whole path). ``now``: unix seconds (tests).
    Raises :class:`InvalidSignatureError` (tampered, malformed, other method) or
    :class:`ExpiredSignatureError`.
    """
    parts = urlsplit(url)
    path = parts.path
    base_path = urlsplit(base_url).path.rstrip("/") if base_url else ""
    if base_path:
        if not path.startswith(base_path + "/"):
            raise InvalidSignatureError(
                "the URL is not below the store's base_url", reason="malformed"
            )
        path = path[len(base_path) :]
    try:
        key = unquote(path[1:] if path.startswith("/") else path, errors="strict")
    except UnicodeDecodeError:
        raise InvalidSignatureError(
            "the URL's path is not percent-encoded UTF-8", reason="malformed"
        ) from None
    return verify_query(key, parse_query(parts.query), signing_key, method=method, now=now)


def parse_query(query: str) -> dict[str, list[str]]:
    """The parameters of a presigned URL's query string; :class:`InvalidSignatureError`
    when there are more than a presigned URL ever has."""
    try:
        return parse_qs(query, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:
        raise InvalidSignatureError(
            "the URL's query has more parameters than a presigned URL", reason="malformed"
        ) from None
