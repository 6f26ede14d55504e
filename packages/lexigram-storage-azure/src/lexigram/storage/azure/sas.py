"""Presigned URLs: blob SAS tokens signed with the account key or a user delegation key."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from azure.storage.blob import BlobSasPermissions, generate_blob_sas
from lexigram.storage.driver import PresignRequest

if TYPE_CHECKING:
    from azure.storage.blob import UserDelegationKey
    from azure.storage.blob.aio import BlobServiceClient

__all__ = ["DelegationKeys", "blob_sas"]

#: SAS start time is set a little in the past: clocks of client and server differ.
CLOCK_SKEW = timedelta(minutes=5)


def _permission(method: str) -> BlobSasPermissions:
    if method == "PUT":
        return BlobSasPermissions(create=True, write=True)
    return BlobSasPermissions(read=True)


def blob_sas(
    *,
    account_name: str,
    container: str,
    key: str,
    request: PresignRequest,
    account_key: str | None = None,
    delegation_key: UserDelegationKey | None = None,
    now: datetime | None = None,
) -> str:
    """The SAS token (query string without ``?``) granting ``request.method`` on one blob."""
    now = now or datetime.now(UTC)
    # Response-header overrides only make sense on a GET (they change the reply).
    content_type = request.content_type if request.method == "GET" else None
    disposition = request.content_disposition if request.method == "GET" else None
    return generate_blob_sas(
        account_name,
        container,
        key,
        account_key=account_key,
        user_delegation_key=delegation_key,
        permission=_permission(request.method),
        start=now - CLOCK_SKEW,
        expiry=now + request.expires_in,
        content_type=content_type,
        content_disposition=disposition,
    )


class DelegationKeys:
    """User delegation keys (Azure AD): fetched on demand, reused while they last."""

    #: lifetime asked for a key; Azure's maximum is 7 days.
    LIFETIME = timedelta(days=7)

    def __init__(self) -> None:
        self._key: UserDelegationKey | None = None
        self._expiry: datetime | None = None
        self._lock = asyncio.Lock()

    async def get(self, service: BlobServiceClient, needed_until: datetime) -> UserDelegationKey:
        async with self._lock:
            if self._key is None or self._expiry is None or self._expiry < needed_until:
                now = datetime.now(UTC)
                expiry = now + self.LIFETIME
                self._key = await service.get_user_delegation_key(now - CLOCK_SKEW, expiry)
                self._expiry = expiry
            return self._key
