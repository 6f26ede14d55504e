"""V4 POST policy documents (browser form uploads), signed like V4 signed URLs.

As Google documents them (https://cloud.google.com/storage/docs/authentication/signatures
#policy-document): the policy is JSON with ``conditions`` and ``expiration``; its
base64 encoding is the ``policy`` form field and also the string to sign with
``GOOG4-RSA-SHA256``; the hex signature is ``x-goog-signature``. The form is posted to
``<endpoint>/<bucket>`` (path style) with the file as the last field, ``file``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from lexigram.storage.gcs.signing import ALGORITHM, Signer

__all__ = ["sign_post_policy"]


async def sign_post_policy(
    *,
    signer: Signer,
    client_email: str,
    scheme: str,
    host: str,
    bucket: str,
    key: str,
    expires_in: timedelta,
    content_type: str | None = None,
    max_size: int | None = None,
    metadata: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> tuple[str, dict[str, str]]:
    """The URL and form fields of a V4 POST policy for exactly ``bucket/key``."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    timestamp = moment.strftime("%Y%m%dT%H%M%SZ")
    credential = f"{client_email}/{moment:%Y%m%d}/auto/storage/goog4_request"
    fields: dict[str, str] = {"key": key}
    if content_type is not None:
        fields["Content-Type"] = content_type
    for name, value in (metadata or {}).items():
        fields[f"x-goog-meta-{name}"] = value
    fields.update(
        {
            "x-goog-algorithm": ALGORITHM,
            "x-goog-credential": credential,
            "x-goog-date": timestamp,
        }
    )
    conditions: list[Any] = [{"bucket": bucket}, *({k: v} for k, v in fields.items())]
    if max_size is not None:
        conditions.append(["content-length-range", 0, max_size])
    expiration = (moment + expires_in).strftime("%Y-%m-%dT%H:%M:%SZ")
    document = {"conditions": conditions, "expiration": expiration}
    raw = json.dumps(document, separators=(",", ":"), ensure_ascii=True).encode()
    policy = base64.b64encode(raw).decode("ascii")
    signature = (await signer(policy.encode("ascii"))).hex()
    fields["policy"] = policy
    fields["x-goog-signature"] = signature
    return f"{scheme}://{host}/{quote(bucket, safe='')}", fields
