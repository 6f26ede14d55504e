"""Azure AD credentials are built lazily, off the event loop, and closed with the driver
(no network: the credential objects are created and closed, never asked for a token)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from lexigram.storage.azure import StorageAzureConfig
from lexigram.storage.azure.clients import ad_credential, build_service_client, resolve
from lexigram.storage.azure.driver import AzureBlobDriver


async def test_default_credential_is_used_and_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.identity.aio import DefaultAzureCredential

    # DefaultAzureCredential reads the environment and token-cache files as it is built:
    # it must be built in a worker thread, not on the loop's.
    built_in: list[int] = []
    original = DefaultAzureCredential.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        built_in.append(threading.get_ident())
        original(self, *args, **kwargs)

    monkeypatch.setattr(DefaultAzureCredential, "__init__", init)
    config = StorageAzureConfig(account_name="acct", use_default_credential=True, container="c")
    driver = AzureBlobDriver(config)
    service = await driver._service_client()
    assert len(built_in) == 1 and built_in[0] != threading.get_ident()
    assert isinstance(driver._token, DefaultAzureCredential)
    assert service.url.startswith("https://acct.blob.core.windows.net")
    await driver.close()
    assert driver._token is None and driver._service is None


async def test_service_principal() -> None:
    from azure.identity.aio import ClientSecretCredential

    config = StorageAzureConfig(
        account_name="acct",
        tenant_id="00000000-0000-0000-0000-000000000000",
        client_id="11111111-1111-1111-1111-111111111111",
        client_secret="not-a-real-secret-value",
        container="c",
    )
    credential = ad_credential(config)
    assert isinstance(credential, ClientSecretCredential)
    await credential.close()


async def test_account_key_needs_no_token_credential() -> None:
    config = StorageAzureConfig(account_name="acct", account_key="a2V5LWtleQ==", container="c")
    service, token = build_service_client(config, resolve(config))
    assert token is None
    await service.close()
