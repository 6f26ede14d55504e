__path__ = __import__("pkgutil").extend_path(__path__, __name__)

# lexigram-storage: one async API for blob storage, and a small KV store with TTL.
# The line above lets driver distributions (lexigram.storage.s3, ...) live beside this
# package in other wheels; it must stay the first statement (see docs/architecture.md,
# "Distributions and the namespace rule").
# ruff: noqa: E402 (the imports below come after the namespace check on purpose)

from lexigram.storage.namespace_check import check_namespace

# Before anything else is imported: stop with a clear error if another project's
# lexigram/__init__.py is on the path (its files overwrite ours; see namespace_check).
check_namespace()

from lexigram.storage.body import ProgressCallback, UploadBody
from lexigram.storage.config import BackendConfig, StorageConfig, secret_field
from lexigram.storage.driver import BlobDriver, Capabilities, DriverSpec, PresignRequest
from lexigram.storage.errors import (
    BlobExistsError,
    BlobNotFoundError,
    BucketNotFoundError,
    ConfigError,
    DeleteManyError,
    DriverError,
    DriverNotFoundError,
    ErrorCode,
    InsecureConfigError,
    IntegrityError,
    InvalidArgumentError,
    InvalidKeyError,
    NotModifiedError,
    NotSupportedError,
    PermissionDeniedError,
    PreconditionFailedError,
    StorageError,
    StorageUnavailableError,
    StoreClosedError,
    SyncInEventLoopError,
)
from lexigram.storage.headers import HttpHeaders
from lexigram.storage.info import BlobInfo, HealthStatus
from lexigram.storage.instrumentation import Hook, OperationEvent
from lexigram.storage.presigned_post import PostPolicyRequest, PresignedPost
from lexigram.storage.protocol import BlobStoreProtocol
from lexigram.storage.provider import StorageProvider
from lexigram.storage.readers import BlobReader, BlobWriter
from lexigram.storage.registry import available_drivers, get_driver, register_driver
from lexigram.storage.retry import RetryPolicy
from lexigram.storage.store import BlobStore
from lexigram.storage.urls import open_store

__version__ = "0.1.0"

__all__ = [
    "BackendConfig",
    "BlobDriver",
    "BlobExistsError",
    "BlobInfo",
    "BlobNotFoundError",
    "BlobReader",
    "BlobStore",
    "BlobStoreProtocol",
    "BlobWriter",
    "BucketNotFoundError",
    "Capabilities",
    "ConfigError",
    "DeleteManyError",
    "DriverError",
    "DriverNotFoundError",
    "DriverSpec",
    "ErrorCode",
    "HealthStatus",
    "Hook",
    "HttpHeaders",
    "InsecureConfigError",
    "IntegrityError",
    "InvalidArgumentError",
    "InvalidKeyError",
    "NotModifiedError",
    "NotSupportedError",
    "OperationEvent",
    "PermissionDeniedError",
    "PostPolicyRequest",
    "PreconditionFailedError",
    "PresignRequest",
    "PresignedPost",
    "ProgressCallback",
    "RetryPolicy",
    "StorageConfig",
    "StorageError",
    "StorageProvider",
    "StorageUnavailableError",
    "StoreClosedError",
    "SyncInEventLoopError",
    "UploadBody",
    "available_drivers",
    "get_driver",
    "open_store",
    "register_driver",
    "secret_field",
]
