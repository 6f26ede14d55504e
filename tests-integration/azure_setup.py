"""Setting up Azurite for tests that are not in tests-integration/azure/."""

from __future__ import annotations

import contextlib


def create_container(connection_string: str, name: str) -> None:
    """Create container ``name`` (a fresh random name) with the SDK's sync client.

    "Already exists" is success: the SDK retries a request whose answer it did not get
    (Azurite under load), and the retry finds the container its first try made.
    """
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    client = BlobServiceClient.from_connection_string(connection_string)
    with contextlib.suppress(ResourceExistsError):
        client.create_container(name)
