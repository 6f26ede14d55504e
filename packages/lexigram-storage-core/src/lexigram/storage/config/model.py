"""StorageConfig: the ``storage:`` section, in either of its two shapes.

``drivers`` shape (each backend is named after its driver)::

    storage:
      default_driver: s3
      drivers:
        s3: {bucket: photos, region: eu-west-1}
        local: {root_dir: ./data}

``backends`` shape (several named backends, also of the same driver)::

    storage:
      backends:
        - {name: avatars, primary: true, driver: s3, s3: {bucket: avatars}}
        - {name: exports, driver: s3, s3: {bucket: exports}}
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from lexigram.storage import registry
from lexigram.storage.config.converter import structure_at, structure_value
from lexigram.storage.config.interpolate import interpolate
from lexigram.storage.config.yaml_file import load_yaml_file
from lexigram.storage.errors import ConfigError, DriverNotFoundError
from lexigram.storage.kv.backends import structure_kv_config
from lexigram.storage.kv.config import KVConfig
from lexigram.storage.retry import RetryPolicy

__all__ = ["BackendConfig", "StorageConfig"]

_ROOT = "$"
_TOP_KEYS = ("default_driver", "drivers", "backends", "kv", "retry", "health_timeout")
_BACKEND_KEYS = ("name", "driver", "primary", "retry")


def structure_driver_settings(driver: str, settings: Any, path: str) -> Any:
    """Structure one driver's settings with the config class its entry point declares."""
    try:
        spec = registry.get_driver(driver)
    except DriverNotFoundError as exc:
        raise DriverNotFoundError(f"{exc} (@ {path})") from exc
    config = structure_at(settings, spec.config_class, path)
    if spec.validate is not None:
        problems = list(spec.validate(config))
        if problems:
            raise ConfigError(
                "invalid configuration: "
                + "; ".join(f"{message} @ {path}.{field}" for field, message in problems)
            )
    return config


@attrs.define(kw_only=True)
class BackendConfig:
    """One named backend: a driver and its structured settings."""

    name: str
    driver: str
    settings: Any = None
    primary: bool = False
    retry: RetryPolicy | None = None
    _path: str = attrs.field(default="", repr=False, eq=False, alias="_path")

    def __attrs_post_init__(self) -> None:
        path = self._path or f"{_ROOT}.backends.{self.name}"
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"a backend needs a non-empty name @ {path}.name")
        if not isinstance(self.driver, str) or not self.driver:
            raise ConfigError(f"a backend needs a driver @ {path}.driver")
        if self.retry is not None and not isinstance(self.retry, RetryPolicy):
            self.retry = structure_at(self.retry, RetryPolicy, f"{path}.retry")
        self.settings = structure_driver_settings(
            self.driver, self.settings, f"{path}.{self.driver}"
        )


@attrs.define(kw_only=True)
class StorageConfig:
    """Configuration of every storage backend, and of the KV store.

    Build it from a dict (``from_dict``, the content of the ``storage:`` section), from a
    YAML file (``from_yaml``), or directly: ``StorageConfig(default_driver="memory",
    drivers={"memory": {}})`` — plain dicts are structured with each driver's config class.
    """

    default_driver: str | None = None
    drivers: dict[str, Any] = attrs.field(factory=dict)
    backends: list[BackendConfig] = attrs.field(factory=list)
    kv: KVConfig | Any | None = None  # a KV backend's config class (KVConfig for core's)
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    health_timeout: float = 5.0
    _path: str = attrs.field(default=_ROOT, repr=False, eq=False, alias="_path")

    def __attrs_post_init__(self) -> None:
        root = self._path
        self.health_timeout = _positive_seconds(self.health_timeout, f"{root}.health_timeout")
        if not isinstance(self.drivers, Mapping):
            raise ConfigError(
                f"drivers must be a mapping of driver name to settings @ {root}.drivers"
            )
        self.drivers = {
            name: structure_driver_settings(name, settings, f"{root}.drivers.{name}")
            for name, settings in self.drivers.items()
        }
        backends: list[BackendConfig] = []
        for i, entry in enumerate(self.backends):
            backends.append(
                entry
                if isinstance(entry, BackendConfig)
                else _backend_from_dict(entry, f"{root}.backends[{i}]")
            )
        self.backends = backends
        if self.kv is not None:
            self.kv = structure_kv_config(self.kv, f"{root}.kv")
        if not isinstance(self.retry, RetryPolicy):
            self.retry = structure_at(self.retry, RetryPolicy, f"{root}.retry")
        if self.default_driver is not None and self.default_driver not in self.drivers:
            raise ConfigError(
                f"default_driver {self.default_driver!r} has no settings under drivers "
                f"@ {root}.default_driver: add drivers: {{{self.default_driver}: {{...}}}} "
                f"(configured: {', '.join(self.drivers) or 'none'})"
            )
        names = [b.name for b in self.backends]
        for dup in sorted({n for n in names if names.count(n) > 1}):
            raise ConfigError(
                f"two backends are named {dup!r} @ {root}.backends: names must be unique"
            )
        for name in self.drivers:
            if name in names:
                raise ConfigError(
                    f"backend name {name!r} is used both under drivers and under backends "
                    f"@ {root}: "
                    "rename the entry under backends"
                )
        primaries = [b.name for b in self.backends if b.primary]
        if len(primaries) > 1:
            raise ConfigError(
                f"more than one backend is primary ({', '.join(primaries)}) "
                f"@ {root}.backends: mark one"
            )
        if primaries and self.default_driver is not None:
            raise ConfigError(
                f"both default_driver and a primary backend ({primaries[0]!r}) are set "
                f"@ {root}: keep one"
            )
        if (
            self.default_driver is None
            and not primaries
            and len(self.drivers) + len(self.backends) > 1
        ):
            raise ConfigError(
                f"several backends are configured but none is the default @ {root}: set "
                "default_driver, or primary: true on one backend"
            )

    # -- constructors ---------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, path: str = "$.storage") -> StorageConfig:
        """Build from the content of the ``storage:`` section (after ``${VAR}`` interpolation)."""
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"the storage section must be a mapping, got {type(data).__name__} @ {path}"
            )
        data = interpolate(dict(data), path)
        extra = sorted(set(data) - set(_TOP_KEYS))
        if extra:
            raise ConfigError(
                "invalid configuration: "
                + "; ".join(f"extra field {k!r} @ {path}.{k}" for k in extra)
                + f" (allowed: {', '.join(_TOP_KEYS)})"
            )
        default_driver = data.get("default_driver")
        if default_driver is not None and not isinstance(default_driver, str):
            raise ConfigError(f"default_driver must be a string @ {path}.default_driver")
        drivers = data.get("drivers") or {}
        if not isinstance(drivers, Mapping):
            raise ConfigError(
                f"drivers must be a mapping of driver name to settings @ {path}.drivers"
            )
        backends = data.get("backends") or []
        if not isinstance(backends, list):
            raise ConfigError(f"backends must be a list @ {path}.backends")
        timeout = _positive_seconds(data.get("health_timeout", 5.0), f"{path}.health_timeout")
        return cls(
            default_driver=default_driver,
            drivers=dict(drivers),
            backends=[
                _backend_from_dict(b, f"{path}.backends[{i}]") for i, b in enumerate(backends)
            ],
            kv=structure_kv_config(data["kv"], f"{path}.kv")
            if data.get("kv") is not None
            else None,
            retry=structure_at(data.get("retry") or {}, RetryPolicy, f"{path}.retry"),
            health_timeout=timeout,
            _path=path,
        )

    @classmethod
    def from_yaml(cls, path: str | Path) -> StorageConfig:
        """Read the ``storage:`` section of a YAML file.

        The file must be UTF-8; nesting and the expansion of YAML aliases are bounded and
        a key given twice in one mapping is refused (see ``config.yaml_file``). Every
        problem is a :class:`ConfigError` naming the file.
        """
        name = repr(str(path))
        doc = load_yaml_file(path)
        if doc is None:
            doc = {}
        if not isinstance(doc, Mapping):
            raise ConfigError(
                f"config file {name} holds {_describe(doc)} at its top level: it must be a "
                "mapping with a 'storage:' section"
            )
        if "storage" not in doc:
            raise ConfigError(
                f"config file {name} has no top-level 'storage:' section @ $.storage: add "
                "one (see the configuration docs)"
            )
        return cls.from_dict(doc["storage"])

    # -- resolution ---------------------------------------------------------------------

    def resolved_backends(self) -> dict[str, BackendConfig]:
        """Every backend by name, both shapes merged (``drivers`` entries are named after
        their driver)."""
        out: dict[str, BackendConfig] = {}
        for name, settings in self.drivers.items():
            out[name] = BackendConfig(
                name=name, driver=name, settings=settings, primary=name == self.default_driver
            )
        for backend in self.backends:
            out[backend.name] = backend
        return out

    @property
    def primary_backend(self) -> str | None:
        """The name of the default/primary backend, or None if nothing is configured."""
        if self.default_driver is not None:
            return self.default_driver
        for backend in self.backends:
            if backend.primary:
                return backend.name
        names = list(self.drivers) + [b.name for b in self.backends]
        return names[0] if names else None

    def validate_production_security(self, environment: str | None = None) -> list[str]:
        """Check for placeholder, demo, weak or unresolved credentials and TLS
        verification turned off.

        ``environment`` defaults to ``$LEXIGRAM_ENV``. In production (a name holding a
        ``production``, ``prod``, ``prd`` or ``live`` word: ``prod-us-east-1``,
        ``production-eu``...) any finding raises
        :class:`~lexigram.storage.errors.InsecureConfigError` (a ``ValueError``) naming
        each field; elsewhere the findings are returned.
        """
        from lexigram.storage.config.security import check_security

        return check_security(self, environment)


def _backend_from_dict(entry: Any, path: str) -> BackendConfig:
    if isinstance(entry, BackendConfig):
        return entry
    if not isinstance(entry, Mapping):
        raise ConfigError(f"a backend must be a mapping with name and driver @ {path}")
    name, driver = entry.get("name"), entry.get("driver")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"required field missing: name @ {path}.name")
    if not isinstance(driver, str) or not driver:
        raise ConfigError(f"required field missing: driver @ {path}.driver")
    extra = sorted(set(entry) - set(_BACKEND_KEYS) - {driver})
    if extra:
        raise ConfigError(
            "invalid configuration: "
            + "; ".join(f"extra field {k!r} @ {path}.{k}" for k in extra)
            + f" (a backend has {', '.join(_BACKEND_KEYS)} and its settings under {driver!r})"
        )
    primary = structure_value(entry.get("primary", False), bool, f"{path}.primary")
    return BackendConfig(
        name=name,
        driver=driver,
        settings=entry.get(driver),
        primary=primary,
        retry=entry.get("retry"),
        _path=path,
    )


def _positive_seconds(value: Any, path: str) -> float:
    seconds: float = structure_value(value, float, path)
    if seconds <= 0:
        raise ConfigError(f"must be a positive number of seconds, not {seconds!r} @ {path}")
    return seconds


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    return f"a {type(value).__name__}"
