"""``lexigram-storage serve``: a local backend over HTTP, with the local driver's ASGI app
(GET/HEAD/Range and presigned GET/PUT URLs) under uvicorn (the ``serve`` extra)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from lexigram.storage import ConfigError, StorageProvider

__all__ = ["SERVE_EXTRA_HINT", "serve"]

SERVE_EXTRA_HINT = (
    "lexigram-storage serve needs an ASGI server: install the serve extra, "
    "pip install 'lexigram-storage-kit[serve]' (it adds uvicorn)"
)


def _uvicorn() -> Any:
    try:
        import uvicorn
    except ImportError:
        raise ConfigError(SERVE_EXTRA_HINT) from None
    return uvicorn


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def serve(provider: StorageProvider, name: str, host: str, port: int, announce: Any) -> int:
    """Serve backend ``name`` on ``host:port`` until a signal (Ctrl-C, SIGTERM, SIGHUP)
    stops it gracefully; returns that signal's number."""
    uvicorn = _uvicorn()
    from lexigram.storage.local.asgi import create_app
    from lexigram.storage.local.config import StorageLocalConfig

    backend = provider.config.resolved_backends()[name]
    store = provider.store(name)
    config = getattr(store.driver, "config", None)
    if backend.driver != "local" or not isinstance(config, StorageLocalConfig):
        raise ConfigError(
            f"backend {name!r} uses driver {backend.driver!r}: serve serves local backends "
            "only (a cloud backend serves itself: use url --presign)"
        )
    if not config.signing_key:
        raise ConfigError(
            f"backend {name!r} has no signing_key, so no presigned URL could be checked: "
            f"set storage backend {name!r} local.signing_key (32+ characters, e.g. from "
            "${LOCAL_SIGNING_KEY})"
        )
    app = create_app(store)
    base_path = urlsplit(config.base_url).path.rstrip("/") if config.base_url else ""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}: pick another --port"
        ) from None
    sock.listen(128)
    bound_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    announce(
        f"serving backend {name!r} ({config.root_dir}) at "
        f"http://{shown_host}:{bound_port}{base_path}/ (Ctrl-C to stop)"
    )
    if not is_loopback(host):
        announce(
            f"warning: listening on {host}, not only on this machine: anyone who can reach "
            "it can fetch with a presigned URL"
        )
    server = _server_class(uvicorn)(
        uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
    )
    received: list[int] = []

    def stop(signum: int) -> None:
        received.append(signum)
        server.should_exit = True  # a graceful shutdown: requests in flight complete

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, stop, signum)
    try:
        await server.serve(sockets=[sock])
    finally:
        sock.close()
    return received[0] if received else 0


def _server_class(uvicorn: Any) -> Any:
    """uvicorn's server, with the signals left to us (every uvicorn version installs its
    own handlers otherwise, and only newer ones re-raise the signal afterwards)."""

    class Server(uvicorn.Server):  # type: ignore[misc]
        def install_signal_handlers(self) -> None:  # uvicorn < 0.29
            return

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:  # uvicorn >= 0.29
            yield

    return Server
