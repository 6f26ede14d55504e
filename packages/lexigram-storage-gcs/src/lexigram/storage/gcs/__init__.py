"""The Google Cloud Storage driver, registered as ``gcs`` by lexigram-storage-gcs.

Importing this module is cheap: the SDK (gcloud-aio-storage, aiohttp) is imported only
when a driver is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lexigram.storage.driver import DriverSpec
from lexigram.storage.gcs.config import StorageGCSConfig, security_check, validate

if TYPE_CHECKING:
    from lexigram.storage.driver import BlobDriver

__all__ = ["DRIVER", "StorageGCSConfig"]


def _build(config: StorageGCSConfig) -> BlobDriver:
    from lexigram.storage.gcs.driver import GCSDriver

    return GCSDriver(config)


DRIVER: DriverSpec[StorageGCSConfig] = DriverSpec(
    name="gcs",
    config_class=StorageGCSConfig,
    factory=_build,
    distribution="lexigram-storage-gcs",
    description="Google Cloud Storage (gcloud-aio-storage)",
    validate=validate,
    security_check=security_check,
    schemes=("gs", "gcs"),
    url_location="bucket",
)
