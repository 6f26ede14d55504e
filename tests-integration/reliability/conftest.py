"""Shared machinery of the reliability suite: one ``backend`` fixture, parametrized over
every cloud driver (s3, r2, gcs, azure), each against its real server on 127.0.0.1.

A test asks for ``backend`` and gets a fresh bucket/container on that driver's server and
two ways in: ``backend.store()`` talks to the server directly (the truth, to check what is
really stored), ``backend.store(via=proxy)`` goes through a :class:`FaultProxy` put in front
of that same server (``backend.proxy()`` makes one). Tests are written once and run
against every driver.
"""

from __future__ import annotations

import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from lexigram.storage import BlobStore, StorageConfig, StorageProvider
from lexigram.storage.testing.faults import FaultProxy
from lexigram.storage.testing.servers import ServerProcess

from ..azure_setup import create_container
from .report import Figures, summary, write_table

CLOUD_DRIVERS = ["s3", "r2", "gcs", "azure", "s3-obstore", "r2-obstore"]

#: Azurite's well-known development account (public, documented by Microsoft).
AZURE_ACCOUNT = "devstoreaccount1"
AZURE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
#: moto accepts any credentials; distinct strings, so tests can look for them in output.
S3_ACCESS_KEY = "AKIARELIABILITYCANARY"
S3_SECRET_KEY = "reliability-canary-secret-0123456789abcd"

#: aiohttp (under the Azure SDK) warns on request bodies over 1 MiB given as bytes; see
#: tests-integration/azure/conftest.py.
AZURE_SDK_WARNING = "ignore:Sending a large body directly with raw bytes:ResourceWarning"


@attrs.define
class Backend:
    """One driver on its real server, with a fresh bucket/container for one test."""

    driver: str
    server: ServerProcess
    bucket: str
    _settings: Callable[[str], dict[str, Any]]
    #: the driver's engine (``engine:`` setting); None: the driver's default.
    engine: str | None = None
    _stores: list[StorageProvider] = attrs.field(factory=list)
    _proxies: list[FaultProxy] = attrs.field(factory=list)

    @property
    def label(self) -> str:
        """The driver and its engine, for the figures: ``s3``, ``s3-obstore``."""
        return self.driver if self.engine is None else f"{self.driver}-{self.engine}"

    @property
    def port(self) -> int:
        return self.server.port

    def settings(self, via: FaultProxy | None = None, **extra: Any) -> dict[str, Any]:
        """The driver's settings, pointing at the server or at ``via`` in front of it."""
        base = via.url if via is not None else self.server.url
        engine = {} if self.engine is None else {"engine": self.engine}
        return {**self._settings(base), **engine, **extra}

    def store(
        self,
        via: FaultProxy | None = None,
        *,
        retry: dict[str, Any] | None = None,
        **extra: Any,
    ) -> BlobStore:
        """A store on this backend (closed at the end of the test)."""
        data: dict[str, Any] = {"drivers": {self.driver: self.settings(via, **extra)}}
        if retry is not None:
            data["retry"] = retry
        provider = StorageProvider(config=StorageConfig.from_dict(data))
        self._stores.append(provider)
        return provider.store()

    def proxy(self, seed: int = 1234) -> FaultProxy:
        """A started fault proxy in front of this backend's server (stopped after the test)."""
        proxy = FaultProxy(upstream_port=self.port, seed=seed).start()
        self._proxies.append(proxy)
        return proxy

    async def aclose(self) -> None:
        for provider in self._stores:
            await provider.close()
        self._stores.clear()

    def stop_proxies(self) -> None:
        for proxy in self._proxies:
            proxy.stop()
        self._proxies.clear()


def _s3_bucket(server: ServerProcess) -> str:
    name = f"rel-{uuid.uuid4().hex[:16]}"
    create = urllib.request.Request(f"{server.url}/{name}", method="PUT")
    with urllib.request.urlopen(create, timeout=10) as reply:  # 127.0.0.1 only
        assert reply.status == 200
    return name


def _azure_container(server: ServerProcess) -> str:
    name = f"rel-{uuid.uuid4().hex[:16]}"
    create_container(_azure_connection(server.url), name)
    return name


def _azure_connection(base: str) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURE_ACCOUNT};AccountKey={AZURE_KEY};"
        f"BlobEndpoint={base}/{AZURE_ACCOUNT};"
    )


#: every row recorded by the ``figures`` fixture during the run.
FIGURES = pytest.StashKey[list[Figures]]()


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Callable[..., Figures]:
    """``figures(driver=..., test=..., ...)`` records a row of the "reliability figures"
    table printed at the end of the run, and returns it (fill it in as the test goes)."""
    rows = request.config.stash.setdefault(FIGURES, [])

    def record(**fields: Any) -> Figures:
        row = Figures(**fields)
        rows.append(row)
        return row

    return record


#: where the whole table goes, under the pytest cache directory.
TABLE_FILE = "reliability-figures.txt"


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """A few lines of totals; the whole table, with a legend, in a file named here."""
    rows = config.stash.get(FIGURES, [])
    lines = summary(rows)
    if not lines:
        return
    path = Path(config.cache.mkdir("reliability")) if config.cache else config.rootpath
    path = path / TABLE_FILE
    write_table(rows, path)
    terminalreporter.section("reliability figures")
    for line in lines:
        terminalreporter.write_line(line)
    try:
        shown: Path = path.relative_to(Path.cwd())
    except ValueError:
        shown = path
    terminalreporter.write_line(f"full table, with a legend: {shown}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("backend") == "azure":
            item.add_marker(pytest.mark.filterwarnings(AZURE_SDK_WARNING))


@pytest.fixture(params=CLOUD_DRIVERS)
async def backend(
    request: pytest.FixtureRequest,
    new_gcs_bucket: Callable[[], str],
) -> AsyncIterator[Backend]:
    driver, _, engine = request.param.partition("-")
    if driver in ("s3", "r2"):
        server: ServerProcess = request.getfixturevalue("moto_server")
        bucket = _s3_bucket(server)

        def settings(base: str) -> dict[str, Any]:
            common = {
                "bucket": bucket,
                "endpoint_url": base,
                "access_key": S3_ACCESS_KEY,
                "secret_key": S3_SECRET_KEY,
            }
            if driver == "s3":
                return {**common, "region": "us-east-1", "addressing_style": "path"}
            return common

    elif driver == "gcs":
        server = request.getfixturevalue("fake_gcs")
        bucket = new_gcs_bucket()

        def settings(base: str) -> dict[str, Any]:
            return {"bucket": bucket, "endpoint_url": base}

    else:
        server = request.getfixturevalue("azurite")
        bucket = _azure_container(server)

        def settings(base: str) -> dict[str, Any]:
            return {"connection_string": _azure_connection(base), "container": bucket}

    backend = Backend(
        driver=driver, server=server, bucket=bucket, settings=settings, engine=engine or None
    )
    yield backend
    await backend.aclose()
    backend.stop_proxies()
