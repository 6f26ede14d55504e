"""The package's public surface and the light entry-point module."""

from __future__ import annotations

import subprocess
import sys

import lexigram.storage.azure as azure
from lexigram.storage import registry


def test_all_is_the_public_surface() -> None:
    assert sorted(azure.__all__) == ["DRIVER", "StorageAzureConfig"]


def test_entry_point_is_registered() -> None:
    registry.refresh()
    assert registry.get_driver("azure") is azure.DRIVER
    assert "azure" in registry.available_drivers()


def test_entry_point_module_does_not_import_the_sdk() -> None:
    code = (
        "import sys, lexigram.storage.azure; "
        "sdk = ('azure.storage', 'azure.core', 'aiohttp'); "
        "bad = [m for m in sys.modules if m.startswith(sdk)]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_factory_builds_a_driver_without_network() -> None:
    driver = azure.DRIVER.build(
        azure.StorageAzureConfig(account_name="acct", account_key="a2V5", container="c")
    )
    assert driver.name == "azure"
    assert driver.capabilities.delete_batch_size == 256
