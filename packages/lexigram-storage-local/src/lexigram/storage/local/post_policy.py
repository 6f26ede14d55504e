"""HMAC-signed POST policies of the local driver (browser form uploads).

A policy is compact JSON ``{"v": 1, "key": ..., "expires": <unix s>, "content_type": ...,
"max_size": ..., "metadata": {...}}``, sent base64url-encoded as the form field
``policy``; ``signature`` is the hex HMAC-SHA256 (key: the ``signing_key``) of
``"lexigram-local-post-v1\\n" + policy``. The ASGI app (:mod:`lexigram.storage.local.asgi`)
refuses a form whose signature does not match, which is expired, is posted to another
key, has another content type, or whose file is larger than ``max_size``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from lexigram.storage.local.signing import ExpiredSignatureError, InvalidSignatureError

__all__ = ["MAX_POLICY_BYTES", "PostPolicy", "sign_policy", "verify_policy"]

_VERSION = "lexigram-local-post-v1"
#: longest ``policy`` field accepted (a policy holds at most 2 KiB of metadata).
MAX_POLICY_BYTES = 8192


class PostPolicy:
    """What a verified policy grants: an upload of ``key`` until ``expires``."""

    __slots__ = ("content_type", "expires", "key", "max_size", "metadata")

    def __init__(
        self,
        key: str,
        expires: int,
        content_type: str | None,
        max_size: int | None,
        metadata: Mapping[str, str],
    ) -> None:
        self.key = key
        self.expires = expires
        self.content_type = content_type
        self.max_size = max_size
        self.metadata = dict(metadata)

    def __repr__(self) -> str:
        return f"PostPolicy(key={self.key!r}, expires={self.expires}, max_size={self.max_size})"


def _signature(signing_key: str, policy: str) -> str:
    message = f"{_VERSION}\n{policy}".encode()
    return hmac.new(signing_key.encode(), message, hashlib.sha256).hexdigest()


def sign_policy(
    signing_key: str,
    *,
    key: str,
    expires: int,
    content_type: str | None,
    max_size: int | None,
    metadata: Mapping[str, str],
) -> dict[str, str]:
    """The form fields (``policy``, ``signature``) of one grant."""
    document: dict[str, Any] = {"v": 1, "key": key, "expires": expires}
    if content_type is not None:
        document["content_type"] = content_type
    if max_size is not None:
        document["max_size"] = max_size
    if metadata:
        document["metadata"] = dict(metadata)
    raw = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
    policy = base64.urlsafe_b64encode(raw).decode("ascii")
    return {"policy": policy, "signature": _signature(signing_key, policy)}


def verify_policy(
    key: str, policy: str, signature: str, signing_key: str, *, now: float | None = None
) -> PostPolicy:
    """Check a posted policy for ``key``; raise :class:`InvalidSignatureError` (altered,
    malformed, for another key) or :class:`ExpiredSignatureError`."""
    if len(policy) > MAX_POLICY_BYTES:
        raise InvalidSignatureError("the POST policy is too long", reason="malformed", key=key)
    if not hmac.compare_digest(_signature(signing_key, policy), signature):
        raise InvalidSignatureError(
            f"the signature of the POST policy for {key!r} does not match: it was altered or "
            "signed with another key",
            reason="signature",
            key=key,
        )
    try:
        document = json.loads(base64.urlsafe_b64decode(policy.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        raise InvalidSignatureError(
            "the POST policy is not valid", reason="malformed", key=key
        ) from None
    if not isinstance(document, dict) or document.get("v") != 1:
        raise InvalidSignatureError("the POST policy is not valid", reason="malformed", key=key)
    if document.get("key") != key:
        raise InvalidSignatureError(f"the POST policy is not for {key!r}", reason="key", key=key)
    expires = document.get("expires")
    content_type = document.get("content_type")
    max_size = document.get("max_size")
    metadata = document.get("metadata", {})
    if (
        type(expires) is not int
        or not (content_type is None or isinstance(content_type, str))
        or not (max_size is None or type(max_size) is int)
        or not isinstance(metadata, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    ):
        raise InvalidSignatureError("the POST policy is not valid", reason="malformed", key=key)
    if (time.time() if now is None else now) >= expires:
        raise ExpiredSignatureError(
            f"the POST policy for {key!r} expired at {expires} (unix time); ask for a new one",
            reason="expired",
            key=key,
        )
    return PostPolicy(key, expires, content_type, max_size, metadata)
