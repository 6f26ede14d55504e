"""Stores from URLs: ``open_store("s3://bucket/prefix?region=eu-west-1")``.

A store URL is ``scheme://location/prefix?setting=value&...``:

* the scheme picks the driver: every :class:`~lexigram.storage.driver.DriverSpec`
  declares its ``schemes`` (``s3``, ``r2``, ``gs``, ``az``, ``file``, ``memory``, and any
  third-party driver's own);
* the location fills the config field the spec names in ``url_location`` (the bucket of
  ``s3://bucket``, the container of ``az://container``, the directory of
  ``file:///srv/data``);
* the rest of the path is a key prefix the store works under (see
  :mod:`lexigram.storage.prefixed`);
* each query parameter is one setting of the driver's config, structured and validated
  exactly as the same setting in YAML (``verify_ssl=false`` is ``False``; ``verify_ssl=nope``
  is a :class:`~lexigram.storage.errors.ConfigError`); a nested setting is written with a
  dot (``encryption.enabled=true``).

Credentials come from the environment as each SDK finds them (``AWS_ACCESS_KEY_ID``,
``GOOGLE_APPLICATION_CREDENTIALS``...). Secret settings may be given as parameters too,
but every message and repr shows them as ``***``.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Collection, Iterable
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import attrs

from lexigram.storage import registry
from lexigram.storage.config.fields import is_secret, secret_values
from lexigram.storage.config.model import structure_driver_settings
from lexigram.storage.driver import DriverSpec
from lexigram.storage.errors import ConfigError, DriverNotFoundError, StorageError
from lexigram.storage.prefixed import normalize_prefix, prefixed
from lexigram.storage.retry import RetryPolicy
from lexigram.storage.secrets import Redactor
from lexigram.storage.store import BlobStore

__all__ = ["KNOWN_SCHEMES", "StoreURL", "open_store", "parse_store_url", "redact_url"]

#: the schemes of the drivers this project ships, and the driver that handles each: used
#: to say which distribution to install when a scheme's driver is missing.
KNOWN_SCHEMES: dict[str, str] = {
    "memory": "memory",
    "file": "local",
    "s3": "s3",
    "r2": "r2",
    "gs": "gcs",
    "gcs": "gcs",
    "az": "azure",
    "azure": "azure",
}

#: parameter names whose values are hidden even when they are not a known secret field
#: (a misspelt ``secret_acess_key=`` must not be shown either).
_SECRET_WORDS = ("secret", "password", "token", "key", "sig", "credential", "connection")
_MASK = "***"


class StoreURL(NamedTuple):
    """A parsed store URL: ``driver_name, settings, prefix = parse_store_url(url)``."""

    #: the registered driver name (``s3``, ``gcs``...).
    driver: str
    #: the driver's settings as they would be written in YAML (strings from the query
    #: are structured and checked when the store is opened).
    settings: dict[str, Any]
    #: the key prefix the store works under, ``""`` or ending with ``/``.
    prefix: str

    def __repr__(self) -> str:
        try:
            public = set(
                _parameter_names(registry.get_driver(self.driver).config_class, secret=False)
            )
        except DriverNotFoundError:
            public = set()
        shown = {
            k: (v if k in public and not _looks_secret(k) else _MASK)
            for k, v in self.settings.items()
        }
        return f"StoreURL(driver={self.driver!r}, settings={shown!r}, prefix={self.prefix!r})"


def _looks_secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def redact_url(url: str, reveal: Collection[str] = ()) -> str:
    """``url`` for messages: any userinfo and the value of every query parameter are
    replaced by ``***``, except the parameters named in ``reveal`` that do not look
    secret (a misspelt ``secret_acess_key=`` is hidden too) and hold no ``@`` (an
    ``endpoint_url`` with credentials in it)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<a store URL that is not a valid URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = _MASK + "@" + netloc.rsplit("@", 1)[1]
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = urlencode(
        [
            (k, v if k in reveal and not _looks_secret(k) and "@" not in v else _MASK)
            for k, v in pairs
        ],
        safe="*/:",
        quote_via=quote,
    )
    scheme = f"{parts.scheme}:" if parts.scheme else ""
    slashes = "//" if url[len(scheme) :].startswith("//") else ""
    return f"{scheme}{slashes}{netloc}{parts.path}" + (f"?{query}" if query else "")


def _spec_for_scheme(scheme: str, shown: str) -> DriverSpec[Any]:
    """The spec of the driver that declares ``scheme``; the well-known driver first, so
    no other driver is imported for a well-known scheme."""
    candidates = [KNOWN_SCHEMES[scheme]] if scheme in KNOWN_SCHEMES else []
    candidates += [n for n in registry.available_drivers() if n not in candidates]
    for name in candidates:
        try:
            spec = registry.get_driver(name)
        except DriverNotFoundError:
            continue
        if scheme in spec.schemes:
            return spec
    known = KNOWN_SCHEMES.get(scheme)
    if known is not None:
        dist, extra = registry.KNOWN_DISTRIBUTIONS[known]
        how = f"pip install {dist}" + (
            f" (or: pip install 'lexigram-storage-kit[{extra}]')" if extra else ""
        )
        raise DriverNotFoundError(
            f"the store URL {shown} has scheme {scheme!r}, handled by the {known!r} driver of "
            f"the distribution {dist}, which is not installed. Install it with: {how}."
        )
    supported = sorted(set(KNOWN_SCHEMES) | {s for s in _installed_schemes()})
    raise DriverNotFoundError(
        f"no installed storage driver handles the URL scheme {scheme!r} (in {shown}). "
        f"Known schemes: {', '.join(supported)}; a third-party driver declares its own in "
        "DriverSpec(schemes=...)."
    )


def _installed_schemes() -> Iterable[str]:
    for name in registry.available_drivers():
        try:
            yield from registry.get_driver(name).schemes
        except DriverNotFoundError:
            continue


def _field_names(cls: type) -> dict[str, attrs.Attribute[Any]]:
    if not attrs.has(cls):
        return {}
    # string annotations (from __future__ import annotations); unresolvable hints leave
    # nested classes unknown
    with contextlib.suppress(Exception):
        attrs.resolve_types(cls)
    return {f.alias or f.name: f for f in attrs.fields(cls) if not f.name.startswith("_")}


def _parameter_names(cls: type, prefix: str = "", *, secret: bool | None = None) -> list[str]:
    """Every query parameter a config class accepts (nested classes with dots); only the
    secret (or only the other) ones if ``secret`` is given."""
    names: list[str] = []
    for name, field in _field_names(cls).items():
        inner = field.type if isinstance(field.type, type) else None
        if inner is not None and attrs.has(inner):
            names += _parameter_names(inner, f"{prefix}{name}.", secret=secret)
        elif secret is None or is_secret(field) == secret:
            names.append(prefix + name)
    return names


def parse_store_url(url: str) -> StoreURL:
    """Split a store URL into ``(driver_name, settings, prefix)`` without opening anything.

    The settings are those of the URL's location and query, unstructured (strings), as a
    dict that ``StorageConfig(drivers={driver_name: settings})`` accepts; nested settings
    (``encryption.enabled=true``) become nested dicts. Raises
    :class:`~lexigram.storage.errors.DriverNotFoundError` for a scheme no installed driver
    handles (naming the distribution that provides it) and
    :class:`~lexigram.storage.errors.ConfigError` for anything else wrong with the URL
    (an unknown parameter is named with the nearest valid one). No secret is ever shown.
    """
    if not isinstance(url, str):
        raise ConfigError(f"a store URL must be a string, not {type(url).__name__}")
    shown = repr(redact_url(url))
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ConfigError(
            f"{shown} is not a valid store URL: write scheme://location/prefix?setting=value"
        ) from None
    scheme = parts.scheme.lower()
    if not scheme:
        raise ConfigError(
            f"{shown} has no scheme: write e.g. s3://bucket/prefix, gs://bucket, "
            "az://container, file:///srv/data or memory://"
        )
    if parts.fragment:
        raise ConfigError(f"the store URL {shown} has a #fragment: remove it")
    if "@" in parts.netloc:
        raise ConfigError(
            f"the store URL {shown} holds credentials before '@': remove them and give them "
            "through the environment as the SDK expects (or as query parameters)"
        )
    spec = _spec_for_scheme(scheme, shown)
    shown = repr(redact_url(url, _parameter_names(spec.config_class, secret=False)))
    settings: dict[str, Any] = {}
    prefix = ""
    host = unquote(parts.netloc)
    path = unquote(parts.path)
    location_field = spec.url_location
    if location_field is None:
        prefix = host + path
    elif spec.url_location_from == "path":
        if host and host.lower() != "localhost":
            raise ConfigError(
                f"the store URL {shown} names the host {host!r}: a {scheme}: URL is a local "
                f"path; write {scheme}:///absolute/path or {scheme}:relative/path"
            )
        if path:
            settings[location_field] = path
    else:
        if not host:
            raise ConfigError(
                f"the store URL {shown} has no {location_field}: write "
                f"{scheme}://{location_field.upper()}/optional/prefix"
            )
        settings[location_field] = host
        prefix = path
    try:
        prefix = normalize_prefix(prefix)
    except ConfigError as exc:
        raise ConfigError(f"in the store URL {shown}: {exc}") from None
    _apply_query(spec, parts.query, settings, shown)
    return StoreURL(spec.name, settings, prefix)


def _apply_query(spec: DriverSpec[Any], query: str, settings: dict[str, Any], shown: str) -> None:
    valid = _parameter_names(spec.config_class)
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise ConfigError(
            f"the query of the store URL {shown} is not name=value pairs joined by '&'"
        ) from None
    seen: set[str] = set()
    for name, value in pairs:
        if name in seen:
            raise ConfigError(f"the store URL {shown} gives the parameter {name!r} twice")
        seen.add(name)
        if name not in valid:
            if name == spec.url_location:
                raise ConfigError(
                    f"the store URL {shown} gives {name!r} as a parameter: it is the URL's "
                    "location already"
                )
            close = difflib.get_close_matches(name, valid, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            listed = (
                f"valid parameters: {', '.join(sorted(valid))}"
                if valid
                else "this driver takes no parameters"
            )
            raise ConfigError(
                f"unknown parameter {name!r} in the store URL {shown} for the {spec.name!r} "
                f"driver: {hint}{listed}"
            )
        if name == spec.url_location and name in settings:
            raise ConfigError(
                f"the store URL {shown} gives {name!r} both as its location and as a parameter"
            )
        *parents, leaf = name.split(".")
        target = settings
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value


def _structure(parsed: StoreURL, shown: str) -> Any:
    try:
        return structure_driver_settings(parsed.driver, parsed.settings, "url")
    except ConfigError as exc:
        raise type(exc)(f"in the store URL {shown}: {exc}") from None


def open_store(url: str, *, retry: RetryPolicy | None = None, name: str | None = None) -> BlobStore:
    """The store a URL describes, ready to use: nothing is contacted until its first
    operation. Closing the store closes its driver (clients, connection pools).

    Use it as an async context manager, ``async with open_store("s3://b/p") as store:``,
    or keep it and ``await store.close()``. ``name`` names the store in errors (default:
    the driver's name); ``retry`` is its retry policy (default: ``RetryPolicy()``).
    """
    parsed = parse_store_url(url)
    spec = registry.get_driver(parsed.driver)
    shown = repr(redact_url(url, _parameter_names(spec.config_class, secret=False)))
    config = _structure(parsed, shown)
    redactor = Redactor([*secret_values(config), *_secret_query_values(url)])
    try:
        driver = spec.build(config)
    except StorageError as exc:
        raise type(exc)(redactor.redact(str(exc))) from None
    return BlobStore(prefixed(driver, parsed.prefix), name=name, retry=retry, redactor=redactor)


def _secret_query_values(url: str) -> list[str]:
    try:
        pairs = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    except ValueError:
        return []
    return [v for k, v in pairs if v and _looks_secret(k)]
