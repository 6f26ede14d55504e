"""The ``s3`` and ``r2`` drivers (lexigram-storage-s3).

Importing this module is cheap: it declares the two drivers and their config classes;
aiobotocore is imported only when a store is first built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lexigram.storage.driver import DriverSpec
from lexigram.storage.s3.config import (
    EncryptionConfig,
    StorageR2Config,
    StorageS3Config,
    validate_r2,
    validate_s3,
)

if TYPE_CHECKING:
    from lexigram.storage.driver import BlobDriver

__all__ = ["R2", "S3", "EncryptionConfig", "StorageR2Config", "StorageS3Config"]

DISTRIBUTION = "lexigram-storage-s3"


def _build(config: StorageS3Config | StorageR2Config) -> BlobDriver:
    if config.engine == "obstore":
        from lexigram.storage.s3.obstore_engine import ObstoreS3Driver

        return ObstoreS3Driver.from_config(config)
    from lexigram.storage.s3.driver import S3Driver

    return S3Driver.from_config(config)


S3: DriverSpec[StorageS3Config] = DriverSpec(
    name="s3",
    config_class=StorageS3Config,
    factory=_build,
    distribution=DISTRIBUTION,
    description="AWS S3 and S3-compatible stores (MinIO, Spaces, ...) through aiobotocore",
    validate=validate_s3,
    schemes=("s3",),
    url_location="bucket",
)

R2: DriverSpec[StorageR2Config] = DriverSpec(
    name="r2",
    config_class=StorageR2Config,
    factory=_build,
    distribution=DISTRIBUTION,
    description="Cloudflare R2 (S3 API, region 'auto', explicit keys)",
    validate=validate_r2,
    schemes=("r2",),
    url_location="bucket",
)
