"""The local filesystem driver, registered as ``local`` by lexigram-storage-local.

Light on purpose: the entry point imports this module at config time, so it holds the
:data:`DRIVER` spec and the config class only; the driver itself is imported by the
factory when a store is first created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lexigram.storage.driver import DriverSpec
from lexigram.storage.local.config import (
    StorageLocalConfig,
    security_problems,
    validate_config,
)

if TYPE_CHECKING:
    from lexigram.storage.local.driver import LocalDriver

__all__ = ["DRIVER", "StorageLocalConfig", "create_driver"]


def create_driver(config: StorageLocalConfig) -> LocalDriver:
    """Build a :class:`~lexigram.storage.local.driver.LocalDriver` (sync and cheap)."""
    from lexigram.storage.local.driver import LocalDriver

    return LocalDriver(config)


DRIVER: DriverSpec[StorageLocalConfig] = DriverSpec(
    name="local",
    config_class=StorageLocalConfig,
    factory=create_driver,
    distribution="lexigram-storage-local",
    description="objects as files under a local directory (development, CI, single host)",
    validate=validate_config,
    security_check=security_problems,
    schemes=("file",),
    url_location="root_dir",
    url_location_from="path",
)
