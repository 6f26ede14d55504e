"""The ``sqlite`` driver: the entry point names ``DRIVER``. Cheap to import."""

from lexigram.storage import BlobDriver, DriverSpec
from lexigram.storage.sqlite.config import StorageSQLiteConfig

__all__ = ["DRIVER", "StorageSQLiteConfig"]


def _build(config: StorageSQLiteConfig) -> BlobDriver:
    from lexigram.storage.sqlite.driver import SQLiteDriver  # the "SDK" is imported here

    return SQLiteDriver(config)


def _validate(config: StorageSQLiteConfig) -> list[tuple[str, str]]:
    if not config.path:
        return [("path", "path must name the database file, e.g. ./blobs.sqlite3")]
    return []


DRIVER = DriverSpec(
    name="sqlite",
    config_class=StorageSQLiteConfig,
    factory=_build,
    distribution="lexigram-storage-sqlite",
    description="blobs in one SQLite database file",
    validate=_validate,
    # open_store("sqlite:///var/blobs.sqlite3"): the URL's path is the database file
    schemes=("sqlite",),
    url_location="path",
    url_location_from="path",
)
