"""Packaging: entry point, light import, no namespace __init__, lazy clients, locations."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

from lexigram.storage import get_driver
from lexigram.storage.gcs import DRIVER, StorageGCSConfig
from lexigram.storage.gcs.driver import GCSDriver

SRC = Path(__file__).resolve().parents[1] / "src"


def test_entry_point_registers_gcs() -> None:
    names = {ep.name: ep.value for ep in entry_points(group="lexigram.storage.drivers")}
    assert names["gcs"] == "lexigram.storage.gcs:DRIVER"
    spec = get_driver("gcs")
    assert spec.config_class is StorageGCSConfig
    assert spec.distribution == "lexigram-storage-gcs"
    assert isinstance(spec.build(StorageGCSConfig(bucket="b")), GCSDriver)


def test_entry_point_module_does_not_import_the_sdk() -> None:
    code = (
        "import sys, lexigram.storage.gcs; "
        "bad = [m for m in sys.modules if m.startswith(('gcloud', 'aiohttp'))]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_no_namespace_init_files() -> None:
    assert not (SRC / "lexigram" / "__init__.py").exists()
    assert not (SRC / "lexigram" / "storage" / "__init__.py").exists()
    assert (SRC / "lexigram" / "storage" / "gcs" / "py.typed").exists()


def test_public_surface() -> None:
    import lexigram.storage.gcs as package

    assert sorted(package.__all__) == ["DRIVER", "StorageGCSConfig"]
    assert DRIVER.name == "gcs"


async def test_driver_is_lazy_and_describes_itself() -> None:
    driver = GCSDriver(StorageGCSConfig(bucket="photos", public_url="https://cdn.example.com"))
    assert driver._http is None and driver._sdk is None  # nothing opened yet
    assert driver.location == "bucket 'photos'"
    assert driver.public_base_url == "https://cdn.example.com"
    assert driver.native_url("a b/c.txt") == "https://storage.googleapis.com/photos/a%20b/c.txt"
    await driver.close()  # closing an unused driver is fine
    emulator = GCSDriver(StorageGCSConfig(bucket="b", endpoint_url="http://127.0.0.1:1"))
    assert emulator.native_url("a/b") == (
        "http://127.0.0.1:1/download/storage/v1/b/b/o/a%2Fb?alt=media"
    )


async def test_driver_built_directly_refuses_a_malformed_key_file(tmp_path: Path) -> None:
    """Without StorageConfig's validation, the driver still refuses the file (the SDK
    would fall back to the metadata server) and never quotes it."""
    from lexigram.storage import BlobStore, PermissionDeniedError

    path = tmp_path / "sa.json"
    path.write_text('{"private_key": "CANARY-SECRET-42"')
    store = BlobStore(GCSDriver(StorageGCSConfig(bucket="b", credentials_path=str(path))))
    try:
        await store.info("k")
    except PermissionDeniedError as exc:
        assert str(path) in str(exc) and "CANARY-SECRET-42" not in str(exc)
    else:
        raise AssertionError("a malformed key file was accepted")
    finally:
        await store.close()
