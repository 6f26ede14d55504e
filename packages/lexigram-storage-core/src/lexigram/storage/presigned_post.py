"""Presigned POST: a form a browser can post an upload with, within limits.

:meth:`BlobStore.get_presigned_post` returns a :class:`PresignedPost`: post a
``multipart/form-data`` form to ``url`` with every entry of ``fields`` as a form field,
then the file as the last field, named ``file``. The backend refuses the upload if it
is larger than ``max_size``, has another ``Content-Type`` than the one signed, or comes
after the expiry.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import attrs

__all__ = ["PostPolicyRequest", "PresignedPost"]


def _frozen_fields(value: Mapping[str, str]) -> dict[str, str]:
    """A copy (a plain dict, so it serialises as JSON for a browser as it is)."""
    return dict(value)


@attrs.frozen
class PresignedPost:
    """Where and with which form fields to POST an upload. ``fields`` hold the signed
    policy and its signature (a bearer grant until it expires), so the repr leaves them
    out; they never contain a signing key."""

    url: str
    fields: Mapping[str, str] = attrs.field(converter=_frozen_fields, repr=False, hash=False)


@attrs.frozen(kw_only=True)
class PostPolicyRequest:
    """Arguments of a presigned POST, validated by the core before the driver sees them."""

    expires_in: timedelta
    content_type: str | None = None
    #: largest upload in bytes the policy allows (None: no limit but the backend's).
    max_size: int | None = None
    #: user metadata the upload must carry (already valid portable metadata).
    metadata: Mapping[str, str] = attrs.field(factory=dict)
