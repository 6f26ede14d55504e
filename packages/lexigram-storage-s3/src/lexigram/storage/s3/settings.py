"""One resolved shape for both configs, so a single driver class serves ``s3`` and ``r2``."""

from __future__ import annotations

import attrs

from lexigram.storage.config.fields import secret_values
from lexigram.storage.s3.config import EncryptionConfig, StorageR2Config, StorageS3Config

__all__ = ["S3Settings", "resolve"]


@attrs.frozen(kw_only=True)
class S3Settings:
    """What the driver needs, whichever config it came from. Secrets hidden in repr."""

    driver: str
    bucket: str
    region: str
    endpoint_url: str | None
    public_url: str | None
    addressing_style: str
    access_key: str | None = attrs.field(repr=False)
    secret_key: str | None = attrs.field(repr=False)
    session_token: str | None = attrs.field(repr=False)
    profile: str | None
    encryption: EncryptionConfig
    multipart_threshold: int
    part_size: int
    max_concurrency: int
    connect_timeout: float
    read_timeout: float
    max_attempts: int
    max_pool_connections: int
    verify_ssl: bool
    checksums: bool
    #: ``sdk`` (aiobotocore) or ``obstore``.
    engine: str
    #: every secret value of the config, scrubbed from error details.
    secrets: tuple[str, ...] = attrs.field(repr=False)


def resolve(config: StorageS3Config | StorageR2Config) -> S3Settings:
    common = {
        "bucket": config.bucket,
        "endpoint_url": config.endpoint_url.rstrip("/") if config.endpoint_url else None,
        "public_url": config.public_url,
        "access_key": config.access_key,
        "secret_key": config.secret_key,
        "multipart_threshold": config.multipart_threshold,
        "part_size": config.part_size,
        "max_concurrency": config.max_concurrency,
        "connect_timeout": config.connect_timeout,
        "read_timeout": config.read_timeout,
        "max_attempts": config.max_attempts,
        "max_pool_connections": config.max_pool_connections,
        "checksums": config.checksums,
        "engine": config.engine,
        "secrets": tuple(secret_values(config)),
    }
    if isinstance(config, StorageR2Config):
        return S3Settings(
            driver="r2",
            region="auto",
            addressing_style="path",
            session_token=None,
            profile=None,
            encryption=EncryptionConfig(),
            verify_ssl=True,
            **common,  # type: ignore[arg-type]
        )
    return S3Settings(
        driver="s3",
        region=config.region,
        addressing_style=config.addressing_style,
        session_token=config.session_token,
        profile=config.profile,
        encryption=config.encryption,
        verify_ssl=config.verify_ssl,
        **common,  # type: ignore[arg-type]
    )
