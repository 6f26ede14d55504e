"""Store URLs as command-line arguments: ``s3://bucket/key``, ``gs://bucket/prefix/``,
``az://container/key?account_name=...``, ``file:///abs/path``, ``memory://key``.

How a URL is split (see :mod:`lexigram.storage.urls` for the store URL itself):

* ``s3``, ``r2``, ``gs``, ``az`` (a driver whose location is the URL's host): the host is
  the bucket or container, the whole path after it is the key (or the prefix, for
  ``ls``, ``rm -r``, ``cp -r``, ``sync``), exactly as written (``s3://b/dir/`` is the
  prefix ``dir/``); the query holds the driver's settings (``?region=``,
  ``?endpoint_url=``, ``?account_name=``).
* ``file:///abs/path``: a path on this machine. ``cp`` and ``sync`` treat it as a bare
  path; the other commands open the local driver on the directory (``ls``, ``rm -r``),
  on the folder before a glob (``file:///var/log/*.gz``), or on the file's directory
  with the file's name as the key.
* a driver without a location (``memory://key``): host and path are the key.

Credentials are found as each SDK finds them (``AWS_ACCESS_KEY_ID``,
``GOOGLE_APPLICATION_CREDENTIALS``...). A scheme no installed driver handles is a usage
error naming the scheme and the distribution to install. URLs are shown with
:func:`~lexigram.storage.urls.redact_url`: no secret is ever printed.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import attrs
import click

from lexigram.storage import BlobStore, DriverNotFoundError, registry
from lexigram.storage.cli.selection import split_glob
from lexigram.storage.memory.driver import MemoryDriver
from lexigram.storage.urls import open_store, parse_store_url, redact_url

__all__ = ["StoreUrl", "is_store_url", "parse_store_url_target"]

#: characters a shown key keeps as they are (glob characters read better unquoted)
_SAFE = "/*[]!"
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_store_url(text: str) -> bool:
    """``scheme://...``: a store URL, never a backend name or a file."""
    return bool(_URL.match(text))


@attrs.frozen
class StoreUrl:
    """A store URL argument: ``store_url`` opens the store, ``key`` is addressed in it."""

    #: the URL as given (holds any secret: never print it)
    url: str = attrs.field(repr=False)
    #: the URL of the store alone: the location and the settings, no key
    store_url: str = attrs.field(repr=False)
    key: str
    #: the driver's registered name
    driver: str
    #: for ``file:`` URLs, the path on this machine
    local_path: str | None = None

    def show(self, key: str | None = None) -> str:
        """The URL of ``key`` (default: this one) as messages show it, secrets hidden; a
        ``file:`` URL's keys are relative to the folder it names (or the one before its glob)."""
        if key is None:
            return redact_url(self.url, _public_parameters(self.driver))
        parts = urlsplit(self.url)
        if self.local_path is not None:
            root, _ = self.located(directory=True)
            rest = quote(str(root / key) if key else self.local_path, safe=_SAFE)
        else:
            rest = (f"{parts.netloc}/" if _has_location(self.driver) else "") + quote(
                key, safe=_SAFE
            )
        return redact_url(_join(parts.scheme, rest, parts.query), _public_parameters(self.driver))

    def __str__(self) -> str:
        return self.show()

    def located(self, *, directory: bool) -> tuple[Path, str]:
        """A ``file:`` URL's folder and key: the folder before a glob and the pattern
        (``file:///var/log/*.gz``); the path itself if it is a folder (or ``directory`` and
        it is not a file); else the file's folder and its name."""
        assert self.local_path is not None
        path = Path(self.local_path)
        base, glob = split_glob(self.local_path)
        if glob is not None:
            return Path(base), glob
        if (directory and not path.is_file()) or path.is_dir() or self.local_path.endswith("/"):
            return path, ""
        return path.parent, path.name

    def open(self, *, directory: bool) -> tuple[BlobStore, str]:
        """The store and the key (or prefix) to use in it (a ``file:`` URL: the local
        driver on the folder :meth:`located` says)."""
        if self.local_path is None:
            return open_store(self.store_url, name=self.show("")), self.key
        root, key = self.located(directory=directory)
        url = _join(urlsplit(self.url).scheme, quote(str(root)), urlsplit(self.url).query)
        name = redact_url(url, _public_parameters(self.driver))
        if not root.is_dir():
            # nothing is there; the local driver would make the folder, a read must not
            parse_store_url(url)  # its settings are still checked
            return BlobStore(MemoryDriver(), name=name), key
        return open_store(url, name=name), key


def parse_store_url_target(text: str) -> StoreUrl:
    """Split a ``scheme://location/key?settings`` argument; a bad URL or scheme is a
    usage error (exit code 2) whose message shows the URL with its secrets hidden."""
    try:
        parsed = parse_store_url(text)
    except DriverNotFoundError as exc:
        raise click.UsageError(str(exc)) from None
    parts = urlsplit(text)
    spec = registry.get_driver(parsed.driver)
    if spec.url_location is not None and spec.url_location_from == "path":
        path = parsed.settings.get(spec.url_location)
        if not isinstance(path, str) or not path:
            raise click.UsageError(
                f"the store URL {redact_url(text)} names no path: write "
                f"{parts.scheme}:///absolute/path"
            )
        return StoreUrl(text, text, "", parsed.driver, path)
    if spec.url_location is None:
        key = unquote(parts.netloc + parts.path)
        store_url = _join(parts.scheme, "", parts.query)
    else:
        key = unquote(parts.path).removeprefix("/")
        store_url = _join(parts.scheme, parts.netloc, parts.query)
    return StoreUrl(text, store_url, key, parsed.driver)


def _join(scheme: str, rest: str, query: str) -> str:
    return f"{scheme}://{rest}" + (f"?{query}" if query else "")


def _has_location(driver: str) -> bool:
    try:
        return registry.get_driver(driver).url_location is not None
    except DriverNotFoundError:
        return True


def _public_parameters(driver: str) -> list[str]:
    """The settings of ``driver`` that are no secret: shown in messages."""
    from lexigram.storage.urls import _parameter_names

    try:
        return _parameter_names(registry.get_driver(driver).config_class, secret=False)
    except DriverNotFoundError:
        return []
