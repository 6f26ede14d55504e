"""The driver registry: drivers found through the entry-point group
``lexigram.storage.drivers``, discovered once, loaded only when asked for."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

from lexigram.storage.driver import DriverSpec
from lexigram.storage.plugins import PluginRegistry

__all__ = [
    "ENTRY_POINT_GROUP",
    "KNOWN_DISTRIBUTIONS",
    "available_drivers",
    "get_driver",
    "refresh",
    "register_driver",
    "unregister_driver",
]

ENTRY_POINT_GROUP = "lexigram.storage.drivers"

#: where the well-known drivers live, and the extra of ``lexigram-storage`` that brings them.
KNOWN_DISTRIBUTIONS: dict[str, tuple[str, str]] = {
    "memory": ("lexigram-storage-core", ""),
    "local": ("lexigram-storage-local", "local"),
    "s3": ("lexigram-storage-s3", "aws"),
    "r2": ("lexigram-storage-s3", "aws"),
    "gcs": ("lexigram-storage-gcs", "gcp"),
    "azure": ("lexigram-storage-azure", "azure"),
}

_REGISTRY: PluginRegistry[DriverSpec[Any]] = PluginRegistry(
    ENTRY_POINT_GROUP,
    DriverSpec,
    kind="storage driver",
    known=KNOWN_DISTRIBUTIONS,
    find=lambda: _discover(),
    plural="drivers",
    register_call="register_driver()",
)


def _discover() -> dict[str, EntryPoint]:
    return _REGISTRY.discover()


def refresh() -> None:
    """Forget what was discovered (after installing a driver at run time, or in tests)."""
    _REGISTRY.refresh()


def register_driver(spec: DriverSpec[Any], *, replace: bool = False) -> None:
    """Register a driver in this process without packaging it (apps and tests)."""
    _REGISTRY.register(spec, replace=replace)


def unregister_driver(name: str) -> None:
    """Undo :func:`register_driver`."""
    _REGISTRY.unregister(name)


def available_drivers() -> list[str]:
    """Names of every installed or registered driver (not loaded), sorted."""
    return _REGISTRY.available()


def get_driver(name: str) -> DriverSpec[Any]:
    """The :class:`DriverSpec` of driver ``name``, loading its entry point on first use.

    Raises :class:`DriverNotFoundError` naming the distribution to install if it is not
    installed, or saying why it could not be loaded; other drivers are unaffected.
    """
    return _REGISTRY.get(name)
