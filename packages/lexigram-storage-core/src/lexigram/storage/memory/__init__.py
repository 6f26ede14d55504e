"""The memory driver, registered as ``memory`` by lexigram-storage-core."""

from lexigram.storage.driver import DriverSpec
from lexigram.storage.memory.config import MemoryConfig
from lexigram.storage.memory.driver import MemoryDriver

__all__ = ["DRIVER", "MemoryConfig", "MemoryDriver"]

DRIVER: DriverSpec[MemoryConfig] = DriverSpec(
    name="memory",
    config_class=MemoryConfig,
    factory=MemoryDriver,
    distribution="lexigram-storage-core",
    description="objects in process memory (tests, caches, ephemeral data)",
    schemes=("memory",),
)
