"""``PluginRegistry``: plugins found through an entry-point group, discovered once and
loaded only when asked for.

Storage drivers (group ``lexigram.storage.drivers``, see :mod:`lexigram.storage.registry`)
and KV backends (group ``lexigram.storage.kv``, see :mod:`lexigram.storage.kv.backends`)
are both registries of this kind: a plugin is a spec object with a ``name``, published by
an installed distribution under its entry-point group, or registered in the process.
A plugin that is not installed raises :class:`DriverNotFoundError` naming the
distribution to install when it is a well-known one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, Protocol, TypeVar

from lexigram.storage.errors import DriverNotFoundError

__all__ = ["NamedSpec", "PluginRegistry"]

logger = logging.getLogger("lexigram.storage")


class NamedSpec(Protocol):
    @property
    def name(self) -> str: ...


S = TypeVar("S", bound=NamedSpec)


class PluginRegistry(Generic[S]):
    """The plugins of one entry-point ``group``, each an instance of ``spec_type``.

    ``kind`` names a plugin in messages (``"storage driver"``, ``"KV backend"``);
    ``known`` maps a well-known plugin's name to ``(distribution, extra of
    lexigram-storage-kit)`` for the "install it with" hint.
    """

    def __init__(
        self,
        group: str,
        spec_type: type[S],
        *,
        kind: str,
        known: dict[str, tuple[str, str]],
        find: Callable[[], dict[str, EntryPoint]] | None = None,
        plural: str | None = None,
        register_call: str = "register()",
    ) -> None:
        self.group = group
        self.spec_type = spec_type
        self.kind = kind
        self.known = known
        #: how messages name the installed ones ("drivers") and the register function
        self.plural = plural if plural is not None else f"{kind}s"
        self.register_call = register_call
        self._lock = threading.Lock()
        self._entry_points: dict[str, EntryPoint] | None = None
        self._loaded: dict[str, S] = {}
        self._registered: dict[str, S] = {}
        # how get()/available() see the installed entry points (a module may route it
        # through a function of its own, which tests can replace)
        self._find = find if find is not None else self.discover

    def discover(self) -> dict[str, EntryPoint]:
        """The installed entry points of the group by name (read once, then cached)."""
        with self._lock:
            if self._entry_points is None:
                found: dict[str, EntryPoint] = {}
                for ep in entry_points(group=self.group):
                    if ep.name in found and found[ep.name].value != ep.value:
                        logger.warning(
                            "two installed distributions register %s %r (%s and %s); "
                            "using the first",
                            self.kind,
                            ep.name,
                            found[ep.name].value,
                            ep.value,
                        )
                        continue
                    found[ep.name] = ep
                self._entry_points = found
            return self._entry_points

    def refresh(self) -> None:
        """Forget what was discovered (after installing a plugin at run time, or in tests)."""
        with self._lock:
            self._entry_points = None
            self._loaded.clear()

    def register(self, spec: S, *, replace: bool = False) -> None:
        """Register a plugin in this process without packaging it (apps and tests)."""
        if not isinstance(spec, self.spec_type):
            raise TypeError(
                f"{self.register_call} takes a {self.spec_type.__name__}, not {type(spec).__name__}"
            )
        with self._lock:
            if spec.name in self._registered and not replace:
                raise ValueError(
                    f"a {self.kind} named {spec.name!r} is already registered; pass replace=True"
                )
            self._registered[spec.name] = spec

    def unregister(self, name: str) -> None:
        """Undo :meth:`register`."""
        with self._lock:
            self._registered.pop(name, None)

    def available(self) -> list[str]:
        """Names of every installed or registered plugin (not loaded), sorted."""
        return sorted(set(self._find()) | set(self._registered))

    def get(self, name: str) -> S:
        """The spec of plugin ``name``, loading its entry point on first use.

        Raises :class:`DriverNotFoundError` naming the distribution to install if it is
        not installed, or saying why it could not be loaded; other plugins are unaffected.
        """
        spec = self._registered.get(name) or self._loaded.get(name)
        if spec is not None:
            return spec
        ep = self._find().get(name)
        if ep is None:
            raise DriverNotFoundError(self.not_installed(name))
        try:
            loaded = ep.load()
        except Exception as exc:
            raise DriverNotFoundError(
                f"{self.kind[0].upper()}{self.kind[1:]} {name!r} is installed ({ep.value}) but "
                f"failed to load: {type(exc).__name__}: {exc}. Reinstall its distribution"
                f"{self._install_hint(name)}, or uninstall it."
            ) from exc
        if not isinstance(loaded, self.spec_type) or loaded.name != name:
            raise DriverNotFoundError(
                f"The entry point {name!r} = {ep.value!r} in group {self.group!r} does not "
                f"name a {self.spec_type.__name__} called {name!r} (got "
                f"{type(loaded).__name__}); it is broken: fix or uninstall the distribution "
                "that provides it."
            )
        with self._lock:
            self._loaded[name] = loaded
        return loaded

    def _install_hint(self, name: str) -> str:
        known = self.known.get(name)
        return f" ({known[0]})" if known else ""

    def not_installed(self, name: str) -> str:
        """The message for a plugin that is not installed: what to install, what is."""
        installed = ", ".join(self.available()) or "none"
        plural = self.plural
        known = self.known.get(name)
        if known is not None:
            dist, extra = known
            how = f"pip install {dist}"
            if extra:
                how += f" (or: pip install 'lexigram-storage-kit[{extra}]')"
            return (
                f"No {self.kind} named {name!r} is installed. Install it with: {how}. "
                f"Installed {plural}: {installed}."
            )
        return (
            f"No {self.kind} named {name!r} is installed. Installed {plural}: {installed}. "
            "Check the spelling, or install the distribution that provides it (it registers "
            f"itself under the entry-point group {self.group!r})."
        )
