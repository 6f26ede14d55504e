"""Settings of the ``s3`` and ``r2`` drivers (attrs classes structured by the core)."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Literal

import attrs

from lexigram.storage.config.fields import secret_field

__all__ = [
    "MIB",
    "MIN_PART_SIZE",
    "OBSTORE_MISSING",
    "EncryptionConfig",
    "StorageR2Config",
    "StorageS3Config",
    "validate_r2",
    "validate_s3",
]

#: the problem reported for ``engine: obstore`` when obstore is not installed.
OBSTORE_MISSING = (
    "engine: obstore needs the obstore package: pip install 'lexigram-storage-s3[obstore]' "
    "(or set engine: sdk)"
)

MIB = 1024 * 1024
#: S3's smallest part (all but the last).
MIN_PART_SIZE = 5 * MIB
#: S3's largest part.
MAX_PART_SIZE = 5 * 1024 * MIB

_positive = attrs.validators.gt(0)


@attrs.define(frozen=True, kw_only=True)
class EncryptionConfig:
    """Server-side encryption sent on every write (PutObject, CreateMultipartUpload,
    CopyObject)."""

    enabled: bool = False
    #: ``AES256`` (SSE-S3) or ``aws:kms`` (SSE-KMS).
    type: Literal["AES256", "aws:kms"] = "AES256"
    #: KMS key id, ARN or alias for ``aws:kms``; None: the account's default S3 KMS key.
    kms_key_id: str | None = None


@attrs.define(frozen=True, kw_only=True)
class _Transfer:
    """Transfer tuning and timeouts shared by both drivers (mixed in by inheritance)."""

    #: in-memory bodies larger than this go multipart.
    multipart_threshold: int = attrs.field(default=8 * MIB, validator=_positive)
    #: bytes per part of multipart uploads and of parallel ranged downloads (>= 5 MiB).
    part_size: int = attrs.field(
        default=8 * MIB,
        validator=[attrs.validators.ge(MIN_PART_SIZE), attrs.validators.le(MAX_PART_SIZE)],
    )
    #: parts in flight at once per transfer (memory: part_size x max_concurrency).
    max_concurrency: int = attrs.field(default=8, validator=_positive)
    #: seconds to open a connection.
    connect_timeout: float = attrs.field(default=10.0, validator=attrs.validators.gt(0.0))
    #: seconds without a byte on a socket read (a slow but moving stream is never cut).
    read_timeout: float = attrs.field(default=60.0, validator=attrs.validators.gt(0.0))
    #: attempts per request in botocore's "standard" retry mode (1 = no retry).
    max_attempts: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    #: connections kept in the client's pool.
    max_pool_connections: int = attrs.field(default=64, validator=_positive)
    #: end-to-end checksums: one CRC32C (x-amz-checksum-crc32c) on every PutObject and
    #: UploadPart, the CRC32C the answer reports compared with it, whole-object downloads
    #: checked against the stored CRC32C or a plain-MD5 ETag. False: none of these
    #: (botocore computes checksums only where S3 requires them, in both cases).
    checksums: bool = True
    #: the client that talks to the store: ``sdk`` (aiobotocore, every feature) or
    #: ``obstore`` (Rust ``object_store``, much less CPU per request; needs the
    #: ``lexigram-storage-s3[obstore]`` extra). See docs/drivers/s3.md#engines.
    engine: Literal["sdk", "obstore"] = "sdk"


@attrs.define(frozen=True, kw_only=True)
class StorageS3Config(_Transfer):
    """``drivers: {s3: {...}}``: AWS S3 and S3-compatible stores."""

    bucket: str
    region: str = "us-east-1"
    #: explicit credentials; leave all unset for the default AWS chain (env, profile, IAM).
    access_key: str | None = secret_field()
    secret_key: str | None = secret_field()
    session_token: str | None = secret_field()
    #: a named profile of ~/.aws/config for the default chain.
    profile: str | None = None
    #: S3-compatible endpoint (MinIO, Spaces, ...); None: AWS.
    endpoint_url: str | None = None
    #: base URL ``get_url`` joins keys to (a CDN); None: the bucket's own URL.
    public_url: str | None = None
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    encryption: EncryptionConfig = attrs.field(factory=EncryptionConfig)
    #: verify TLS certificates (False only for a local test endpoint).
    verify_ssl: bool = True


@attrs.define(frozen=True, kw_only=True)
class StorageR2Config(_Transfer):
    """``drivers: {r2: {...}}``: Cloudflare R2. Keys and endpoint are required (no IAM)."""

    bucket: str
    access_key: str | None = secret_field()
    secret_key: str | None = secret_field()
    #: ``https://<account_id>.r2.cloudflarestorage.com`` (or a jurisdiction endpoint).
    endpoint_url: str | None = None
    #: the bucket's public domain (r2.dev or a custom domain), for ``get_url``.
    public_url: str | None = None


def _common(config: _Transfer, bucket: str) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if config.engine == "obstore" and importlib.util.find_spec("obstore") is None:
        problems.append(("engine", OBSTORE_MISSING))
    if not bucket:
        problems.append(("bucket", "bucket must not be empty"))
    if config.multipart_threshold < MIN_PART_SIZE:
        problems.append(
            ("multipart_threshold", f"must be at least {MIN_PART_SIZE} bytes (5 MiB, S3's minimum)")
        )
    return problems


def _check_url(value: str | None, field: str) -> list[tuple[str, str]]:
    if value is not None and not value.startswith(("http://", "https://")):
        return [(field, f"must be an http:// or https:// URL, not {value!r}")]
    return []


def validate_s3(config: StorageS3Config) -> Sequence[tuple[str, str]]:
    """Extra checks of an ``s3`` config, reported as ``ConfigError`` at config time."""
    problems = _common(config, config.bucket)
    keys = (config.access_key, config.secret_key)
    if any(keys) and not all(keys):
        missing = "secret_key" if config.access_key else "access_key"
        problems.append(
            (
                missing,
                "access_key and secret_key go together: give both, or neither for the "
                "default AWS credential chain",
            )
        )
    if config.session_token and not all(keys):
        problems.append(("session_token", "a session_token needs access_key and secret_key"))
    if config.encryption.kms_key_id and config.encryption.type != "aws:kms":
        problems.append(("encryption.kms_key_id", "kms_key_id needs type: aws:kms"))
    if config.engine == "obstore" and config.profile:
        problems.append(
            (
                "profile",
                "engine: obstore does not read AWS profiles: give access_key and secret_key "
                "(or AWS_* environment variables), or use engine: sdk",
            )
        )
    problems += _check_url(config.endpoint_url, "endpoint_url")
    problems += _check_url(config.public_url, "public_url")
    return problems


def validate_r2(config: StorageR2Config) -> Sequence[tuple[str, str]]:
    """R2 has no IAM roles: keys and endpoint are required."""
    problems = _common(config, config.bucket)
    for field in ("access_key", "secret_key", "endpoint_url"):
        if not getattr(config, field):
            problems.append((field, f"{field} is required for Cloudflare R2 (no IAM roles)"))
    problems += _check_url(config.endpoint_url, "endpoint_url")
    problems += _check_url(config.public_url, "public_url")
    return problems
