"""The fault-injecting proxy, against a small real TCP server on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from lexigram.storage.testing.faults import Fault, FaultProxy

PAYLOAD = os.urandom(200_000)


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        request = self.request.recv(1024)  # b"GET\n" then the payload, then close
        if request:
            self.request.sendall(PAYLOAD)


def _serve(handler: type[socketserver.BaseRequestHandler]) -> Iterator[int]:
    """A threaded TCP server on a free 127.0.0.1 port for one test; yields its port."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def upstream() -> Iterator[int]:
    yield from _serve(_Handler)


def fetch(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET\n")
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                raise
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def test_passes_bytes_through(upstream: int) -> None:
    with FaultProxy(upstream) as proxy:
        assert fetch(proxy.port) == PAYLOAD
        assert proxy.stats.connections == 1 and proxy.stats.faults_injected == 0
        assert proxy.stats.bytes_down == len(PAYLOAD)


def test_reset_every_second_connection(upstream: int) -> None:
    with FaultProxy(upstream) as proxy:
        proxy.add(Fault.RESET, every=2, at_byte=5000)
        assert fetch(proxy.port) == PAYLOAD
        with pytest.raises(ConnectionResetError):
            fetch(proxy.port)
        assert fetch(proxy.port) == PAYLOAD
        assert proxy.stats.faults == {"reset": 1}


def test_cut_short_is_a_clean_close_at_the_byte(upstream: int) -> None:
    with FaultProxy(upstream) as proxy:
        proxy.add(Fault.CUT, nth=1, at_byte=1000)
        assert fetch(proxy.port) == PAYLOAD[:1000]
        assert fetch(proxy.port) == PAYLOAD


def test_flip_one_byte(upstream: int) -> None:
    with FaultProxy(upstream) as proxy:
        proxy.add(Fault.FLIP, nth=1, at_byte=70_000)
        got = fetch(proxy.port)
        assert len(got) == len(PAYLOAD)
        diff = [i for i, (a, b) in enumerate(zip(got, PAYLOAD, strict=True)) if a != b]
        assert diff == [70_000]


def test_trickle_and_stall_still_deliver_everything(upstream: int) -> None:
    with FaultProxy(upstream) as proxy:
        proxy.add(Fault.TRICKLE, nth=1, at_byte=190_000, rate=100_000)
        proxy.add(Fault.STALL, nth=2, at_byte=10, seconds=0.2)
        assert fetch(proxy.port) == PAYLOAD
        assert fetch(proxy.port) == PAYLOAD
        assert proxy.stats.faults == {"trickle": 1, "stall": 1}


def test_fraction_is_seeded_and_limit_caps(upstream: int) -> None:
    counts = []
    for _ in range(2):
        with FaultProxy(upstream, seed=7) as proxy:
            proxy.add(Fault.CUT, fraction=0.5, at_byte=0, limit=3)
            results = [fetch(proxy.port) for _ in range(10)]
            counts.append([len(r) for r in results])
            assert proxy.stats.faults_injected == 3
            assert sum(1 for r in results if r == b"") == 3
    assert counts[0] == counts[1]


def test_only_loopback_upstreams() -> None:
    with pytest.raises(ValueError, match="this machine"):
        FaultProxy(80, upstream_host="10.0.0.1")


class _KeepAliveHandler(socketserver.BaseRequestHandler):
    """Answers each b"GET\\n" on the same connection with EXCHANGE_REPLY (keep-alive)."""

    def handle(self) -> None:
        while True:
            try:
                request = self.request.recv(1024)
                if not request:
                    return
                self.request.sendall(EXCHANGE_REPLY)
            except OSError:  # the proxy reset the connection
                return


EXCHANGE_REPLY = os.urandom(5000)


@pytest.fixture
def keepalive() -> Iterator[int]:
    yield from _serve(_KeepAliveHandler)


def exchanges(port: int, n: int) -> list[bytes | str]:
    """``n`` request/response exchanges on one connection: each reply, or how it ended."""
    out: list[bytes | str] = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for _ in range(n):
            sock.sendall(b"GET\n")
            got = b""
            try:
                while len(got) < len(EXCHANGE_REPLY):
                    chunk = sock.recv(65536)
                    if not chunk:
                        out.append(got if got else "closed")
                        return out
                    got += chunk
            except ConnectionResetError:
                out.append("reset")
                return out
            out.append(got)
    return out


def test_per_exchange_rules_strike_within_one_connection(keepalive: int) -> None:
    with FaultProxy(keepalive) as proxy:
        proxy.add(Fault.RESET, nth=3, per="exchange")
        got = exchanges(proxy.port, 5)
        assert got == [EXCHANGE_REPLY, EXCHANGE_REPLY, "reset"]
        assert proxy.stats.connections == 1
        assert proxy.stats.exchanges["response"] == 3
        assert proxy.stats.faults == {"reset": 1}


def test_per_exchange_at_byte_counts_from_the_exchange(keepalive: int) -> None:
    with FaultProxy(keepalive) as proxy:
        proxy.add(Fault.CUT, nth=2, at_byte=1000, per="exchange")
        got = exchanges(proxy.port, 3)
        assert got == [EXCHANGE_REPLY, EXCHANGE_REPLY[:1000]]


def test_per_exchange_fraction_draws_each_exchange(keepalive: int) -> None:
    with FaultProxy(keepalive, seed=3) as proxy:
        proxy.add(Fault.RESET, fraction=0.5, per="exchange")
        ended = [exchanges(proxy.port, 50)[-1] for _ in range(20)]
        # Many connections get past their first exchange, and every one ends in a reset.
        assert proxy.stats.exchanges["response"] > 20
        assert proxy.stats.faults_injected == 20
        assert ended == ["reset"] * 20


def test_per_must_be_known() -> None:
    with pytest.raises(ValueError, match="per must be"):
        FaultProxy(1).add(Fault.RESET, per="request")
