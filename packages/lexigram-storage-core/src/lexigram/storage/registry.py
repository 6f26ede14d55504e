"""The driver registry: drivers found through the entry-point group
``lexigram.storage.drivers``, discovered once, loaded only when asked for."""

from __future__ import annotations

import logging
import threading
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from lexigram.storage.driver import DriverSpec
from lexigram.storage.errors import DriverNotFoundError

__all__ = [
    "ENTRY_POINT_GROUP",
    "KNOWN_DISTRIBUTIONS",
    "available_drivers",
    "get_driver",
    "refresh",
    "register_driver",
    "unregister_driver",
]

logger = logging.getLogger("lexigram.storage")

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

_lock = threading.Lock()
_entry_points: dict[str, EntryPoint] | None = None
_loaded: dict[str, DriverSpec[Any]] = {}
_registered: dict[str, DriverSpec[Any]] = {}


def _discover() -> dict[str, EntryPoint]:
    global _entry_points
    with _lock:
        if _entry_points is None:
            found: dict[str, EntryPoint] = {}
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                if ep.name in found and found[ep.name].value != ep.value:
                    logger.warning(
                        "two installed distributions register storage driver %r (%s and %s); "
                        "using the first",
                        ep.name,
                        found[ep.name].value,
                        ep.value,
                    )
                    continue
                found[ep.name] = ep
            _entry_points = found
        return _entry_points


def refresh() -> None:
    """Forget what was discovered (after installing a driver at run time, or in tests)."""
    global _entry_points
    with _lock:
        _entry_points = None
        _loaded.clear()


def register_driver(spec: DriverSpec[Any], *, replace: bool = False) -> None:
    """Register a driver in this process without packaging it (apps and tests)."""
    if not isinstance(spec, DriverSpec):
        raise TypeError(f"register_driver() takes a DriverSpec, not {type(spec).__name__}")
    with _lock:
        if spec.name in _registered and not replace:
            raise ValueError(
                f"a storage driver named {spec.name!r} is already registered; pass replace=True"
            )
        _registered[spec.name] = spec


def unregister_driver(name: str) -> None:
    """Undo :func:`register_driver`."""
    with _lock:
        _registered.pop(name, None)


def available_drivers() -> list[str]:
    """Names of every installed or registered driver (not loaded), sorted."""
    return sorted(set(_discover()) | set(_registered))


def get_driver(name: str) -> DriverSpec[Any]:
    """The :class:`DriverSpec` of driver ``name``, loading its entry point on first use.

    Raises :class:`DriverNotFoundError` naming the distribution to install if it is not
    installed, or saying why it could not be loaded; other drivers are unaffected.
    """
    spec = _registered.get(name) or _loaded.get(name)
    if spec is not None:
        return spec
    ep = _discover().get(name)
    if ep is None:
        raise DriverNotFoundError(_not_installed(name))
    try:
        loaded = ep.load()
    except Exception as exc:
        raise DriverNotFoundError(
            f"Storage driver {name!r} is installed ({ep.value}) but failed to load: "
            f"{type(exc).__name__}: {exc}. Reinstall its distribution"
            f"{_install_hint(name)}, or uninstall it."
        ) from exc
    if not isinstance(loaded, DriverSpec) or loaded.name != name:
        raise DriverNotFoundError(
            f"The entry point {name!r} = {ep.value!r} in group {ENTRY_POINT_GROUP!r} does not "
            f"name a DriverSpec called {name!r} (got {type(loaded).__name__}); it is broken: "
            "fix or uninstall the distribution that provides it."
        )
    with _lock:
        _loaded[name] = loaded
    return loaded


def _install_hint(name: str) -> str:
    known = KNOWN_DISTRIBUTIONS.get(name)
    return f" ({known[0]})" if known else ""


def _not_installed(name: str) -> str:
    installed = ", ".join(available_drivers()) or "none"
    known = KNOWN_DISTRIBUTIONS.get(name)
    if known is not None:
        dist, extra = known
        how = f"pip install {dist}"
        if extra:
            how += f" (or: pip install 'lexigram-storage-kit[{extra}]')"
        return (
            f"No storage driver named {name!r} is installed. Install it with: {how}. "
            f"Installed drivers: {installed}."
        )
    return (
        f"No storage driver named {name!r} is installed. Installed drivers: {installed}. "
        "Check the spelling, or install the distribution that provides it (it registers "
        f"itself under the entry-point group {ENTRY_POINT_GROUP!r})."
    )
