"""The Azure Blob Storage driver, registered as ``azure`` by lexigram-storage-azure.

This module is imported when a config is read: it holds the :data:`DRIVER` spec and the
config class only. The Azure SDK is imported when the first store is created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lexigram.storage.azure.config import StorageAzureConfig, security_problems, validate
from lexigram.storage.driver import DriverSpec

if TYPE_CHECKING:
    from lexigram.storage.driver import BlobDriver

__all__ = ["DRIVER", "StorageAzureConfig"]


def _build(config: StorageAzureConfig) -> BlobDriver:
    from lexigram.storage.azure.driver import AzureBlobDriver

    return AzureBlobDriver(config)


DRIVER: DriverSpec[StorageAzureConfig] = DriverSpec(
    name="azure",
    config_class=StorageAzureConfig,
    factory=_build,
    distribution="lexigram-storage-azure",
    description="Azure Blob Storage (azure-storage-blob asyncio client; Azurite for tests)",
    validate=validate,
    security_check=security_problems,
    schemes=("az", "azure"),
    url_location="container",
)
