"""The driver registry: entry points, lazy loading, helpful errors, isolation of broken drivers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lexigram.storage import DriverNotFoundError, available_drivers, get_driver, registry
from lexigram.storage.memory import DRIVER, MemoryConfig


def test_memory_is_registered_through_its_entry_point() -> None:
    registry.refresh()
    assert "memory" in available_drivers()
    spec = get_driver("memory")
    assert spec is DRIVER
    assert spec.config_class is MemoryConfig
    assert get_driver("memory") is spec  # cached


@pytest.mark.parametrize(
    ("name", "dist", "extra"),
    [
        ("s3", "lexigram-storage-s3", "aws"),
        ("r2", "lexigram-storage-s3", "aws"),
        ("gcs", "lexigram-storage-gcs", "gcp"),
        ("azure", "lexigram-storage-azure", "azure"),
    ],
)
def test_well_known_missing_driver_names_its_distribution(
    name: str, dist: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Hide the driver even if it happens to be installed in this environment.
    registry.refresh()
    monkeypatch.setattr(registry, "_discover", dict)
    with pytest.raises(DriverNotFoundError) as caught:
        get_driver(name)
    message = str(caught.value)
    assert f"pip install {dist}" in message
    assert f"lexigram-storage-kit[{extra}]" in message
    assert isinstance(caught.value, LookupError)


def test_unknown_driver_lists_installed() -> None:
    with pytest.raises(DriverNotFoundError) as caught:
        get_driver("no-such-driver")
    assert "memory" in str(caught.value)
    assert "lexigram.storage.drivers" in str(caught.value)


@pytest.fixture
def fake_distributions(tmp_path: Path) -> Iterator[Path]:
    """Two installed third-party distributions: one broken, one good (real dist-info + module)."""
    (tmp_path / "lxs_good_driver.py").write_text(
        "from lexigram.storage.driver import DriverSpec\n"
        "from lexigram.storage.memory import MemoryConfig, MemoryDriver\n"
        "GOOD = DriverSpec(name='good', config_class=MemoryConfig, factory=MemoryDriver,\n"
        "                  distribution='lxs-good')\n"
        "WRONG = object()\n"
    )
    for dist, body in {
        "lxs_good-1.0": (
            "[lexigram.storage.drivers]\n"
            "good = lxs_good_driver:GOOD\n"
            "wrongtype = lxs_good_driver:WRONG\n"
        ),
        "lxs_broken-1.0": (
            "[lexigram.storage.drivers]\nbroken = lxs_module_that_does_not_exist:DRIVER\n"
        ),
    }.items():
        info = tmp_path / f"{dist}.dist-info"
        info.mkdir()
        name, version = dist.split("-")
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(body)
    sys.path.insert(0, str(tmp_path))
    registry.refresh()
    yield tmp_path
    sys.path.remove(str(tmp_path))
    sys.modules.pop("lxs_good_driver", None)
    registry.refresh()


def test_broken_entry_point_does_not_break_others(fake_distributions: Path) -> None:
    names = available_drivers()
    assert {"good", "broken", "wrongtype", "memory"} <= set(names)
    with pytest.raises(DriverNotFoundError, match="failed to load"):
        get_driver("broken")
    with pytest.raises(DriverNotFoundError, match="does not name a DriverSpec"):
        get_driver("wrongtype")
    assert get_driver("good").name == "good"
    assert get_driver("memory").name == "memory"


def test_loading_is_lazy(fake_distributions: Path) -> None:
    assert "good" in available_drivers()
    assert "lxs_good_driver" not in sys.modules  # discovered, not imported
    get_driver("good")
    assert "lxs_good_driver" in sys.modules
