"""Building the SDK's service client from the config: endpoint, credential, tuning."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from azure.core.credentials import AzureNamedKeyCredential, AzureSasCredential
from lexigram.storage.azure.config import StorageAzureConfig, connection_string_parts
from lexigram.storage.azure.encoded_bytes import KeepStoredBytes
from lexigram.storage.errors import DriverError, ErrorCode

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential
    from azure.storage.blob.aio import BlobServiceClient

__all__ = ["Connection", "build_service_client", "resolve"]

#: Azurite's well-known development account (``UseDevelopmentStorage=true``).
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEV_ENDPOINT = "http://127.0.0.1:10000/devstoreaccount1"


@attrs.frozen(kw_only=True)
class Connection:
    """Where and how to connect, resolved from the config (no network)."""

    account_name: str
    endpoint: str
    account_key: str | None = attrs.field(default=None, repr=False)
    sas_token: str | None = attrs.field(default=None, repr=False)
    use_ad: bool = False


def resolve(config: StorageAzureConfig) -> Connection:
    """The account, blob endpoint and shared credential the config describes."""
    account = config.account_name or ""
    key = config.account_key
    sas = config.sas_token
    endpoint = config.endpoint_url
    protocol, suffix = "https", "core.windows.net"
    if config.connection_string:
        parts = connection_string_parts(config.connection_string)
        if parts.get("usedevelopmentstorage", "").lower() == "true":
            account, key = DEV_ACCOUNT, DEV_KEY
            endpoint = endpoint or DEV_ENDPOINT
        account = parts.get("accountname") or account
        key = parts.get("accountkey") or key
        sas = parts.get("sharedaccesssignature") or sas
        endpoint = endpoint or parts.get("blobendpoint")
        protocol = parts.get("defaultendpointsprotocol") or protocol
        suffix = parts.get("endpointsuffix") or suffix
    if not endpoint:
        if not account:
            raise DriverError(
                ErrorCode.INVALID_ARGUMENT, "no account name: set account_name or endpoint_url"
            )
        endpoint = f"{protocol}://{account}.blob.{suffix}"
    endpoint = endpoint.rstrip("/")
    if not account:
        # https://<account>.blob.core.windows.net or http://host:port/<account> (Azurite)
        host_part = endpoint.split("://", 1)[-1]
        host, _, path = host_part.partition("/")
        account = path.split("/", 1)[0] if path else host.split(".", 1)[0]
    if sas:
        sas = sas.lstrip("?")
    use_ad = not key and not sas and (config.use_default_credential or bool(config.client_secret))
    return Connection(
        account_name=account, endpoint=endpoint, account_key=key, sas_token=sas, use_ad=use_ad
    )


def ad_credential(config: StorageAzureConfig) -> AsyncTokenCredential:
    """An Azure AD credential from azure-identity (the ``[identity]`` extra)."""
    try:
        from azure.identity.aio import ClientSecretCredential, DefaultAzureCredential
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DriverError(
            ErrorCode.NOT_SUPPORTED,
            "Azure AD credentials need azure-identity: "
            "pip install 'lexigram-storage-azure[identity]'",
        ) from exc
    if config.client_secret and config.tenant_id and config.client_id:
        return ClientSecretCredential(config.tenant_id, config.client_id, config.client_secret)
    return DefaultAzureCredential()


def build_service_client(
    config: StorageAzureConfig, conn: Connection
) -> tuple[BlobServiceClient, AsyncTokenCredential | None]:
    """The asyncio service client, and the AD credential to close with it (if any)."""
    from azure.storage.blob.aio import BlobServiceClient, ExponentialRetry

    token: AsyncTokenCredential | None = None
    credential: Any
    if conn.account_key:
        credential = AzureNamedKeyCredential(conn.account_name, conn.account_key)
    elif conn.sas_token:
        credential = AzureSasCredential(conn.sas_token)
    elif conn.use_ad:
        token = ad_credential(config)
        credential = token
    else:
        credential = None  # anonymous: a public container
    client = BlobServiceClient(
        account_url=conn.endpoint,
        credential=credential,
        retry_policy=ExponentialRetry(
            retry_total=config.max_retries,
            initial_backoff=config.retry_backoff,  # type: ignore[arg-type]  # float is fine
            increment_base=2,
            random_jitter_range=0.5,  # type: ignore[arg-type]
        ),
        connection_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        max_single_get_size=config.download_chunk_size,
        max_chunk_get_size=config.download_chunk_size,
        max_single_put_size=config.single_put_threshold,
        max_block_size=config.block_size,
        # blob downloads keep the stored bytes of gzip-encoded blobs (see the module)
        _additional_pipeline_policies=[KeepStoredBytes()],
    )
    return client, token
