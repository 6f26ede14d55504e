"""``RedisKVConfig``: the ``kv:`` section for the ``redis`` backend.

::

    storage:
      kv:
        backend: redis
        url: redis://127.0.0.1:6379/0     # rediss:// for TLS
        prefix: "myapp:"                  # this store's namespace; clear() stays inside it
        username: ${REDIS_USERNAME}       # secret: redacted in reprs, errors and logs
        password: ${REDIS_PASSWORD}       # secret
        socket_timeout: 5.0
        connect_timeout: 5.0
        max_connections: 64
        ssl_ca_file: /etc/ssl/redis-ca.pem   # rediss:// only: trust this CA
"""

from __future__ import annotations

import math
from typing import Literal
from urllib.parse import SplitResult, urlsplit

import attrs

from lexigram.storage.config.fields import secret_field
from lexigram.storage.errors import ConfigError
from lexigram.storage.retry import RetryPolicy

__all__ = ["RedisKVConfig", "redact_url", "url_secrets", "validate_config"]

SCHEMES = ("redis", "rediss")


def _split(url: str) -> SplitResult | None:
    try:
        return urlsplit(url)
    except ValueError:
        return None


def redact_url(url: str) -> str:
    """``url`` with the user name and password of its user info replaced by ``***``."""
    parts = _split(url)
    if parts is None:
        return "<unparsable URL>"
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"***@{host}").geturl()


def url_secrets(url: str) -> list[str]:
    """The secrets a URL carries: its user name and password (and the URL itself)."""
    parts = _split(url)
    if parts is None or "@" not in parts.netloc:
        return []
    found = [url]
    for value in (parts.username, parts.password):
        if value:
            found.append(value)
    return found


def _url_repr(url: str) -> str:
    return repr(redact_url(url))


@attrs.define(frozen=True, kw_only=True)
class RedisKVConfig:
    """Where the Redis (or Valkey) server is and how to talk to it.

    - ``url``: ``redis://host:port/db`` or ``rediss://`` for TLS. A password in the URL
      works but prefer ``password``; either way it never appears in a repr or error.
    - ``prefix``: put in front of every key; ``keys()`` and ``clear()`` see only keys
      under it, so several stores (or apps) can share one database.
    - ``username`` / ``password``: ACL credentials (secrets).
    - ``socket_timeout`` / ``connect_timeout``: seconds before a command or a connect
      attempt fails with ``StorageUnavailableError``.
    - ``max_connections``: the size of the connection pool.
    - ``ssl_ca_file``: a CA bundle to verify a ``rediss://`` server against (default:
      the system's).
    - ``retry``: how often idempotent operations are tried on a transient failure
      (``increment`` and ``add`` never are).
    """

    backend: Literal["redis"] = "redis"
    url: str = attrs.field(default="redis://127.0.0.1:6379/0", repr=_url_repr)
    prefix: str = ""
    username: str | None = secret_field()
    password: str | None = secret_field()
    socket_timeout: float = 5.0
    connect_timeout: float = 5.0
    max_connections: int = 64
    ssl_ca_file: str | None = None
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)


def _seconds(value: float, name: str, where: str) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(
            f"{name} must be a positive number of seconds, got {value!r} @ {where}.{name}: e.g. 5.0"
        )


def validate_config(config: RedisKVConfig, where: str = "$.storage.kv") -> None:
    """Raise :class:`ConfigError` naming the path of the first invalid setting."""
    parts = _split(config.url)
    if parts is None or parts.scheme not in SCHEMES or not parts.hostname:
        raise ConfigError(
            f"url must be a redis:// or rediss:// URL with a host, got "
            f"{redact_url(config.url)!r} @ {where}.url: e.g. redis://127.0.0.1:6379/0"
        )
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise ConfigError(
            f"url has an invalid port: {redact_url(config.url)!r} @ {where}.url"
        ) from None
    db = parts.path.lstrip("/")
    if db and not db.isdigit():
        raise ConfigError(
            f"url must end in a database number (/0 ... /15), got {redact_url(config.url)!r} "
            f"@ {where}.url"
        )
    _seconds(config.socket_timeout, "socket_timeout", where)
    _seconds(config.connect_timeout, "connect_timeout", where)
    if config.max_connections < 1:
        raise ConfigError(
            f"max_connections must be 1 or more, got {config.max_connections!r} "
            f"@ {where}.max_connections: e.g. 64"
        )
    if config.ssl_ca_file is not None and parts.scheme != "rediss":
        raise ConfigError(
            f"ssl_ca_file is set but the url is not rediss:// @ {where}.ssl_ca_file: use a "
            "rediss:// url for TLS, or remove ssl_ca_file"
        )
