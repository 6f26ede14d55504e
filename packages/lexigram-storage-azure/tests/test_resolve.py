"""Endpoint and credential resolution from the config (no network)."""

from __future__ import annotations

from lexigram.storage.azure import StorageAzureConfig
from lexigram.storage.azure.clients import DEV_ACCOUNT, DEV_KEY, resolve

KEY = "a2V5LWZvci10ZXN0cy1vbmx5"


def test_account_and_key() -> None:
    conn = resolve(StorageAzureConfig(account_name="acct", account_key=KEY, container="c"))
    assert conn.endpoint == "https://acct.blob.core.windows.net"
    assert (conn.account_name, conn.account_key, conn.use_ad) == ("acct", KEY, False)


def test_connection_string_parts() -> None:
    conn = resolve(
        StorageAzureConfig(
            connection_string=f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={KEY};EndpointSuffix=core.chinacloudapi.cn",
            container="c",
        )
    )
    assert conn.endpoint == "https://acct.blob.core.chinacloudapi.cn"
    assert conn.account_key == KEY


def test_connection_string_blob_endpoint_and_sas() -> None:
    conn = resolve(
        StorageAzureConfig(
            connection_string="BlobEndpoint=http://127.0.0.1:1234/devstoreaccount1/;SharedAccessSignature=sv=1&sig=x%3D",
            container="c",
        )
    )
    assert conn.endpoint == "http://127.0.0.1:1234/devstoreaccount1"
    assert conn.account_name == "devstoreaccount1"
    assert conn.sas_token == "sv=1&sig=x%3D"
    assert conn.account_key is None


def test_development_storage_shortcut() -> None:
    conn = resolve(
        StorageAzureConfig(connection_string="UseDevelopmentStorage=true", container="c")
    )
    assert (conn.account_name, conn.account_key) == (DEV_ACCOUNT, DEV_KEY)
    assert conn.endpoint == "http://127.0.0.1:10000/devstoreaccount1"


def test_endpoint_url_wins() -> None:
    conn = resolve(
        StorageAzureConfig(
            account_name="devstoreaccount1",
            account_key=KEY,
            endpoint_url="http://127.0.0.1:9/devstoreaccount1/",
            container="c",
        )
    )
    assert conn.endpoint == "http://127.0.0.1:9/devstoreaccount1"


def test_azure_ad() -> None:
    conn = resolve(
        StorageAzureConfig(account_name="acct", use_default_credential=True, container="c")
    )
    assert conn.use_ad and conn.account_key is None
    sp = resolve(
        StorageAzureConfig(
            account_name="acct", tenant_id="t", client_id="i", client_secret="s" * 10, container="c"
        )
    )
    assert sp.use_ad


def test_sas_token_question_mark_is_dropped() -> None:
    conn = resolve(StorageAzureConfig(account_name="acct", sas_token="?sv=1&sig=2", container="c"))
    assert conn.sas_token == "sv=1&sig=2"
