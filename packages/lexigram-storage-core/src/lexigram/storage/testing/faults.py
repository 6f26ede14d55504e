"""A fault-injecting TCP proxy for testing drivers against real servers under failure.

It listens on 127.0.0.1, forwards every connection to a real server (e.g. moto, Azurite,
fake-gcs-server) and, by rule, resets connections, stalls them, cuts a response short,
slows it to a trickle or flips a byte::

    with FaultProxy(upstream_port=server.port) as proxy:
        proxy.add(Fault.RESET, fraction=0.1)            # 10% of connections reset
        proxy.add(Fault.CUT, every=5, at_byte=1000)     # every 5th: response cut at byte 1000
        endpoint = proxy.url                             # point the driver here

Rules match connections: ``every=N`` (the Nth, 2Nth, ... connection), ``fraction=p``
(each connection with probability p, from a seeded generator), ``nth=N`` (that one
connection only). ``at_byte`` is where in the chosen direction's byte stream the fault
strikes (default 0). ``direction`` is ``"response"`` (server to client, the default) or
``"request"``. ``stats`` counts connections and the faults injected (a fault counts
when its byte comes, so a rule whose ``at_byte`` lies past the end is not counted). The
proxy runs its own event loop in a thread, so it works with sync fixtures and with any
test's loop.

With ``per="exchange"`` a rule is drawn for each exchange instead of each connection:
an exchange starts whenever the traffic on a connection turns around (the first bytes of
each response after a request, or of each request after a response), so on a keep-alive
HTTP/1.1 connection every request/response is its own draw, and ``at_byte`` counts from
the start of that exchange::

    proxy.add(Fault.RESET, fraction=0.1, per="exchange")  # 10% of responses reset
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import random
import socket
import struct
import threading
from collections.abc import Callable
from types import TracebackType

import attrs

__all__ = ["Fault", "FaultProxy", "FaultRule", "ProxyStats"]

HOST = "127.0.0.1"


class Fault(enum.Enum):
    RESET = "reset"  # abort the connection with a TCP RST
    STALL = "stall"  # stop forwarding for ``seconds`` (default: until the client gives up)
    CUT = "cut"  # close the connection cleanly (FIN) at ``at_byte``
    TRICKLE = "trickle"  # forward ``rate`` bytes a second from ``at_byte`` on
    FLIP = "flip"  # flip the bits of the byte at ``at_byte``


@attrs.define(kw_only=True)
class FaultRule:
    fault: Fault
    every: int | None = None
    fraction: float | None = None
    nth: int | None = None
    at_byte: int = 0
    direction: str = "response"
    seconds: float = 3600.0
    rate: int = 1024
    limit: int | None = None  # inject at most this many times
    per: str = attrs.field(default="connection")  # or "exchange" (see the module docstring)
    injected: int = 0

    @per.validator
    def _check_per(self, attribute: attrs.Attribute[str], value: str) -> None:
        if value not in ("connection", "exchange"):
            raise ValueError(f"per must be 'connection' or 'exchange', not {value!r}")

    def matches(self, number: int, rng: random.Random) -> bool:
        if self.limit is not None and self.injected >= self.limit:
            return False
        if self.nth is not None:
            return number == self.nth
        if self.every is not None:
            return number % self.every == 0
        if self.fraction is not None:
            return rng.random() < self.fraction
        return True


@attrs.define
class ProxyStats:
    connections: int = 0
    #: exchanges seen in each direction (``"request"``, ``"response"``).
    exchanges: dict[str, int] = attrs.field(factory=dict)
    faults: dict[str, int] = attrs.field(factory=dict)
    bytes_up: int = 0
    bytes_down: int = 0

    @property
    def faults_injected(self) -> int:
        return sum(self.faults.values())


class FaultProxy:
    """A TCP proxy on a free 127.0.0.1 port in front of ``upstream_port``."""

    def __init__(self, upstream_port: int, *, upstream_host: str = HOST, seed: int = 1234) -> None:
        if upstream_host not in (HOST, "localhost", "::1"):
            raise ValueError("the fault proxy only forwards to a server on this machine")
        self.upstream = (upstream_host, upstream_port)
        self.rules: list[FaultRule] = []
        self.stats = ProxyStats()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    # -- rules ----------------------------------------------------------------------------

    def add(self, fault: Fault, **options: object) -> FaultRule:
        """Add a rule (see the module docstring) and return it."""
        rule = FaultRule(fault=fault, **options)  # type: ignore[arg-type]
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def _choose(
        self, number: int, per: str = "connection", direction: str | None = None
    ) -> list[FaultRule]:
        with self._lock:
            chosen = [
                r
                for r in self.rules
                if r.per == per
                and (direction is None or (r.direction == "request") == (direction == "request"))
                and r.matches(number, self._rng)
            ]
            return chosen

    def _strike(self, rule: FaultRule) -> bool:
        """Count a chosen rule as injected when its byte comes, unless its limit was
        reached meanwhile (by another connection). Rules that never reach their byte
        are not counted."""
        with self._lock:
            if rule.limit is not None and rule.injected >= rule.limit:
                return False
            rule.injected += 1
            key = rule.fault.value
            self.stats.faults[key] = self.stats.faults.get(key, 0) + 1
            return True

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fault proxy did not start")
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)

        async def serve() -> None:
            self._server = await asyncio.start_server(self._handle, HOST, 0)
            self.port = self._server.sockets[0].getsockname()[1]
            self._ready.set()

        loop.run_until_complete(serve())
        loop.run_forever()
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            loop.run_until_complete(asyncio.gather(*self._tasks, return_exceptions=True))
        loop.close()

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            loop.stop()

        loop.call_soon_threadsafe(shutdown)
        thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- forwarding -----------------------------------------------------------------------

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        with self._lock:
            self.stats.connections += 1
            number = self.stats.connections
        rules = self._choose(number)
        try:
            server_r, server_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            _abort(client_w)
            self._tasks.discard(task)
            return
        up = [r for r in rules if r.direction == "request"]
        down = [r for r in rules if r.direction != "request"]
        turn: list[str] = [""]  # the direction that last carried bytes on this connection
        try:
            await asyncio.gather(
                self._pump(
                    client_r,
                    server_w,
                    up,
                    client_w,
                    server_w,
                    count=self._count_up,
                    direction="request",
                    turn=turn,
                ),
                self._pump(
                    server_r,
                    client_w,
                    down,
                    client_w,
                    server_w,
                    count=self._count_down,
                    direction="response",
                    turn=turn,
                ),
            )
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # the proxy is stopping: end quietly (asyncio logs cancelled handlers)
        finally:
            for writer in (client_w, server_w):
                with contextlib.suppress(Exception):
                    writer.close()
            self._tasks.discard(task)

    def _exchange(self, direction: str) -> list[FaultRule]:
        """A new exchange starts in ``direction``: count it, draw its per-exchange rules."""
        with self._lock:
            number = self.stats.exchanges.get(direction, 0) + 1
            self.stats.exchanges[direction] = number
            if not any(r.per == "exchange" for r in self.rules):
                return []
        return self._choose(number, "exchange", direction)

    def _count_up(self, n: int) -> None:
        self.stats.bytes_up += n

    def _count_down(self, n: int) -> None:
        self.stats.bytes_down += n

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        rules: list[FaultRule],
        client_w: asyncio.StreamWriter,
        server_w: asyncio.StreamWriter,
        *,
        count: Callable[[int], None],
        direction: str,
        turn: list[str],
    ) -> None:
        offset = 0
        # (absolute byte of this direction's stream where it strikes, rule)
        pending = sorted(((r.at_byte, r) for r in rules), key=lambda p: p[0])
        trickle: FaultRule | None = None
        while True:
            data = await reader.read(65536)
            if not data:
                with contextlib.suppress(Exception):
                    writer.write_eof()
                return
            if turn[0] != direction:
                # The traffic turned around: a new exchange. Per-exchange rules of the
                # last one that never struck lapse; this one's are drawn.
                turn[0] = direction
                pending = [p for p in pending if p[1].per == "connection"]
                if trickle is not None and trickle.per == "exchange":
                    trickle = None
                fresh = self._exchange(direction)
                if fresh:
                    pending += [(offset + r.at_byte, r) for r in fresh]
                    pending.sort(key=lambda p: p[0])
            while pending and pending[0][0] < offset + len(data):
                at, rule = pending.pop(0)
                if not self._strike(rule):
                    continue
                cut = max(0, at - offset)
                if rule.fault is Fault.FLIP:
                    data = data[:cut] + bytes([data[cut] ^ 0xFF]) + data[cut + 1 :]
                    continue
                if rule.fault is Fault.TRICKLE:
                    trickle = rule
                    continue
                # RESET, CUT and STALL act at this byte: send what comes before it first.
                if cut:
                    writer.write(data[:cut])
                    await writer.drain()
                    count(cut)
                if rule.fault is Fault.STALL:
                    await asyncio.sleep(rule.seconds)
                    data = data[cut:]
                    offset += cut
                    continue
                if rule.fault is Fault.RESET:
                    _abort(client_w)
                    _abort(server_w)
                else:  # CUT: a clean close, as if the server had finished
                    with contextlib.suppress(Exception):
                        client_w.close()
                    with contextlib.suppress(Exception):
                        server_w.close()
                raise ConnectionResetError("fault injected")
            if trickle is not None:
                for i in range(0, len(data), max(1, trickle.rate // 10)):
                    piece = data[i : i + max(1, trickle.rate // 10)]
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(len(piece) / trickle.rate)
            else:
                writer.write(data)
                await writer.drain()
            count(len(data))
            offset += len(data)


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0), as a crashed peer or a middlebox would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport = writer.transport
    with contextlib.suppress(Exception):
        transport.abort()
