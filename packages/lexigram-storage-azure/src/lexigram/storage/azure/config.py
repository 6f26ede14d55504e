"""Settings of the Azure Blob Storage driver, and their checks."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from lexigram.storage.config.fields import connection_string_parts, secret_field

__all__ = ["StorageAzureConfig", "connection_string_parts", "security_problems", "validate"]

MIB = 1024 * 1024
#: Azure's largest block (Put Block, service version 2019-12-12 and later).
MAX_BLOCK_SIZE = 4000 * MIB
#: Azure's largest single-request upload (Put Blob, 2019-12-12 and later).
MAX_SINGLE_PUT = 5000 * MIB


def _positive(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be positive, got {value}")


def _positive_float(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be positive, got {value}")


def _non_negative(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be 0 or more, got {value}")


def _non_negative_float(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be 0 or more, got {value}")


@attrs.define(frozen=True, kw_only=True)
class StorageAzureConfig:
    """``drivers: {azure: {...}}``.

    Credentials, in the order they are looked at: ``connection_string``; else
    ``account_name`` with ``account_key``, ``sas_token`` or Azure AD (``tenant_id`` +
    ``client_id`` + ``client_secret``, or ``use_default_credential``; needs the
    ``[identity]`` extra).
    """

    #: the container every key lives in (must exist).
    container: str = ""
    #: the storage account (not needed with a connection string).
    account_name: str | None = None
    #: shared key of the account: signs requests and SAS URLs.
    account_key: str | None = secret_field()
    #: full connection string (``DefaultEndpointsProtocol=...;AccountName=...;AccountKey=...``).
    connection_string: str | None = secret_field()
    #: blob endpoint, e.g. ``http://127.0.0.1:10000/devstoreaccount1`` for Azurite; default
    #: ``https://<account_name>.blob.core.windows.net``.
    endpoint_url: str | None = None
    #: a SAS token (with or without the leading ``?``) used as the credential.
    sas_token: str | None = secret_field()
    #: base URL for ``get_url`` (a CDN, a public container...).
    public_url: str | None = None
    #: Azure AD through ``azure.identity.aio.DefaultAzureCredential`` (managed identity,
    #: environment, workload identity, Azure CLI...).
    use_default_credential: bool = False
    #: Azure AD service principal: tenant.
    tenant_id: str | None = None
    #: Azure AD service principal: application (client) id.
    client_id: str | None = None
    #: Azure AD service principal: client secret.
    client_secret: str | None = secret_field()
    #: bytes per staged block of a block upload.
    block_size: int = attrs.field(default=8 * MIB, validator=_positive)
    #: blocks staged at the same time by one upload (memory: about block_size x this).
    max_concurrency: int = attrs.field(default=4, validator=_positive)
    #: bodies up to this size go in one Put Blob request; larger or streamed ones in blocks.
    single_put_threshold: int = attrs.field(default=8 * MIB, validator=_positive)
    #: largest piece a download asks for in one request (memory bound of ``stream``).
    download_chunk_size: int = attrs.field(default=4 * MIB, validator=_positive)
    #: names per List Blobs page (None: the service's default, 5000).
    list_page_size: int | None = None
    #: retries of one HTTP request by the SDK (on top of the core's retries of whole operations).
    max_retries: int = attrs.field(default=2, validator=_non_negative)
    #: seconds before the SDK's first retry of a request (then + 2, + 4, ... seconds, with
    #: up to half a second of jitter). The SDK's own default is 15 s, too long a stall for a
    #: connection reset.
    retry_backoff: float = attrs.field(default=0.5, validator=_non_negative_float)
    #: seconds to open a connection.
    connect_timeout: float = attrs.field(default=10.0, validator=_positive_float)
    #: seconds to wait for data on an open connection.
    read_timeout: float = attrs.field(default=60.0, validator=_positive_float)
    #: longest time a server-side copy is polled for (seconds).
    copy_timeout: float = attrs.field(default=600.0, validator=_positive_float)
    #: end-to-end MD5 checks: Content-MD5 on every Put Blob / Put Block (the service
    #: refuses a body that does not match), the blob's MD5 stored on single-request
    #: uploads, and every download range checked against the MD5 the service computes
    #: (ranges of at most 4 MiB). False: none of these.
    checksums: bool = True


def _has_ad(config: StorageAzureConfig) -> bool:
    return config.use_default_credential or bool(config.client_secret)


def validate(config: StorageAzureConfig) -> Sequence[tuple[str, str]]:
    """Problems of a structured config, as (field, message) pairs."""
    problems: list[tuple[str, str]] = []
    if not config.container:
        problems.append(("container", "is required: the name of an existing blob container"))
    if config.connection_string:
        parts = connection_string_parts(config.connection_string)
        if parts.get("usedevelopmentstorage", "").lower() != "true" and not (
            parts.get("accountname") or parts.get("blobendpoint")
        ):
            problems.append(("connection_string", "holds neither AccountName nor BlobEndpoint"))
    elif not config.account_name:
        problems.append(
            (
                "account_name",
                "is required unless connection_string is given (with account_key, sas_token "
                "or Azure AD credentials)",
            )
        )
    elif not (config.account_key or config.sas_token or _has_ad(config)):
        problems.append(
            (
                "account_key",
                "give account_key, sas_token, Azure AD credentials (tenant_id + client_id + "
                "client_secret) or use_default_credential: true",
            )
        )
    sp = [config.tenant_id, config.client_id, config.client_secret]
    if any(sp) and not all(sp):
        missing = [
            n for n, v in zip(("tenant_id", "client_id", "client_secret"), sp, strict=True) if not v
        ]
        problems.append(
            (
                missing[0],
                "an Azure AD service principal needs tenant_id, client_id and client_secret",
            )
        )
    if config.list_page_size is not None and not 1 <= config.list_page_size <= 5000:
        problems.append(("list_page_size", "must be between 1 and 5000"))
    if config.block_size > MAX_BLOCK_SIZE:
        problems.append(("block_size", f"is at most {MAX_BLOCK_SIZE} bytes (4000 MiB)"))
    if config.single_put_threshold > MAX_SINGLE_PUT:
        problems.append(("single_put_threshold", f"is at most {MAX_SINGLE_PUT} bytes (5000 MiB)"))
    for name in ("endpoint_url", "public_url"):
        value = getattr(config, name)
        if value and not value.startswith(("http://", "https://")):
            problems.append((name, "must start with http:// or https://"))
    return problems


def security_problems(config: StorageAzureConfig) -> Sequence[tuple[str, str]]:
    """Driver-specific production findings."""
    problems: list[tuple[str, str]] = []
    if config.endpoint_url and config.endpoint_url.startswith("http://"):
        host = config.endpoint_url.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]
        if host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
            problems.append(
                ("endpoint_url", "uses plain http: credentials and data travel unencrypted")
            )
    if config.connection_string:
        parts = connection_string_parts(config.connection_string)
        if parts.get("defaultendpointsprotocol", "").lower() == "http":
            problems.append(
                (
                    "connection_string",
                    "uses DefaultEndpointsProtocol=http: data travels unencrypted",
                )
            )
    return problems
