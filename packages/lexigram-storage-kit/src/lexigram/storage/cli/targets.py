"""``NAME:path`` arguments: a key on a configured backend, a store URL
(``s3://bucket/key``), or a path on this machine."""

from __future__ import annotations

import difflib
import re

import attrs
import click

from lexigram.storage.cli.store_urls import StoreUrl, is_store_url, parse_store_url_target

__all__ = ["Target", "parse_target"]

#: what a backend name looks like: ``s4:foo`` is a typo of a backend, not a key or file
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


@attrs.frozen
class Target:
    """A parsed argument: ``backend`` is None for a local filesystem path or a store URL
    (``url``, whose key is ``path``)."""

    backend: str | None
    path: str
    url: StoreUrl | None = None

    def __str__(self) -> str:
        if self.url is not None:
            return self.url.show(self.path)
        return f"{self.backend}:{self.path}" if self.backend is not None else self.path


def parse_target(text: str, backends: list[str], *, default: str | None = None) -> Target:
    """``NAME:path`` where NAME is a configured backend; anything else is a filesystem
    path (or, with ``default``, a key on the default backend). ``scheme://...`` is a store
    URL (see :mod:`lexigram.storage.cli.store_urls`)."""
    if is_store_url(text):
        url = parse_store_url_target(text)
        return Target(None, url.key, url)
    name, sep, rest = text.partition(":")
    if sep and name in backends:
        return Target(name, rest)
    if sep and _NAME.match(name) and not (len(name) == 1 and rest[:1] in ("/", "\\")):
        near = difflib.get_close_matches(name, backends, n=1, cutoff=0.5)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise click.UsageError(
            f"{text!r}: no backend {name!r} in the config (backends: {', '.join(backends)}); "
            f"{hint}for a key or file with a colon write it in full: "
            f"{backends[0] if backends else 'NAME'}:{text} or ./{text}"
        )
    if default is not None:
        return Target(default, text)
    return Target(None, text)
