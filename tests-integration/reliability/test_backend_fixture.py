"""The shared ``backend`` fixture itself: each driver reachable directly and through a proxy."""

from __future__ import annotations

from .conftest import Backend


async def test_direct_and_proxied_stores_see_the_same_bucket(backend: Backend) -> None:
    proxy = backend.proxy()
    await backend.store(via=proxy).upload("fixture/a.txt", b"through the proxy")
    assert await backend.store().download("fixture/a.txt") == b"through the proxy"
    assert proxy.stats.connections >= 1
