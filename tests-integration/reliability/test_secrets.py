"""Canary secrets (issue 9, item 6): the scanner itself, that the canaries are the
credentials really in use, and that no repr, error (with its whole chain of causes) or
CLI output of any driver shows one. The scan of every test's logs, output and failure
report is in ``tests-integration/canary.py``; this file holds what a scan of captured
output alone cannot see.
"""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
import traceback
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lexigram.storage import (
    BlobStore,
    ConfigError,
    StorageConfig,
    StorageError,
    StorageProvider,
)
from lexigram.storage.testing.faults import Fault
from lexigram.storage.testing.servers import ServerProcess

from .. import canary
from . import conftest as reliability
from .conftest import Backend

#: wrong credentials for the error paths: canaries too.
WRONG_AZURE_KEY = base64.b64encode(b"canary-wrong-azure-key-" + b"w" * 41).decode()
LOCAL_SIGNING_KEY = "canary-local-signing-key-0123456789abcdef"
#: an S3 session token (botocore sends it as X-Amz-Security-Token), and the keys the
#: default credential chain finds in the environment.
S3_SESSION_TOKEN = "canary-session-token-" + "t" * 40
CHAIN_ACCESS_KEY = "AKIACANARYCHAINKEY01"
CHAIN_SECRET_KEY = "canary-chain-secret-key-0123456789abcdef"
CHAIN_SESSION_TOKEN = "canary-chain-session-token-" + "c" * 40
SELF_TEST_CANARY = "canary-of-the-scanner-self-test-0123456789"
canary.register("self-test canary", SELF_TEST_CANARY)
canary.register("wrong azure key", WRONG_AZURE_KEY)
canary.register("local signing key", LOCAL_SIGNING_KEY)
canary.register("s3 session token", S3_SESSION_TOKEN)
canary.register("chain access key", CHAIN_ACCESS_KEY)
canary.register("chain secret key", CHAIN_SECRET_KEY)
canary.register("chain session token", CHAIN_SESSION_TOKEN)

CLI = [sys.executable, "-m", "lexigram.storage.cli"]


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def assert_clean_error(exc: BaseException, where: str) -> None:
    """No canary in the error, its repr, its traceback or any exception it chains."""
    canary.assert_no_canary("".join(traceback.format_exception(exc)), f"{where}: traceback")
    for link in _chain(exc):
        canary.assert_no_canary(f"{link}\n{link!r}\n{vars(link)!r}", f"{where}: {link!r}")


def _shown(*objects: object) -> str:
    return "\n".join(f"{obj!s}\n{obj!r}" for obj in objects)


# -- the scanner --------------------------------------------------------------------------


def test_find_canaries_names_each_canary_it_sees() -> None:
    text = f"a {canary.AZURE_ACCOUNT_KEY} and {canary.CLI_SECRET_KEY} here"
    assert sorted(canary.find_canaries(text)) == ["azure account key", "cli secret key"]
    assert canary.find_canaries("nothing secret here; AKIA, Eby8, canary") == []
    with pytest.raises(AssertionError, match=r"cli secret key.*in the test's text"):
        canary.assert_no_canary(text, "the test's text")


@pytest.mark.canary_leak_expected("log", "stdout", "stderr", "error")
def test_the_hook_catches_a_canary_leaked_through_each_channel() -> None:
    """Leaks a canary on purpose through a DEBUG log line of a lexigram logger, stdout,
    stderr and a StorageError's message; the marker makes the hook fail this test unless
    it caught every one of them (and keeps the deliberate leaks from failing it)."""
    # a canary no driver is given: a driver's live client would have it hidden in logs
    secret = SELF_TEST_CANARY
    logging.getLogger("lexigram.storage.test").debug("key %s", secret)
    print(f"key {secret}")
    print(f"key {secret}", file=sys.stderr)
    StorageError(f"built with {secret}")


# -- the canaries are the credentials in use -----------------------------------------------


def test_the_suite_credentials_are_canaries(backend: Backend) -> None:
    values = set(canary.CANARIES.values())
    assert {reliability.S3_ACCESS_KEY, reliability.S3_SECRET_KEY, reliability.AZURE_KEY} <= values
    from ..azure import conftest as azure
    from ..s3 import conftest as s3

    assert {s3.ACCESS_KEY, s3.SECRET_KEY, azure.ACCOUNT_KEY} <= values
    settings = json.dumps(backend.settings())
    if backend.driver == "gcs":  # fake-gcs-server runs anonymous: no credential to leak
        assert backend.settings().get("credentials_path") is None
    else:
        assert canary.find_canaries(settings), settings


def test_the_service_account_key_is_registered(service_account: dict[str, Any]) -> None:
    pem: str = service_account["data"]["private_key"]
    body = [line for line in pem.splitlines() if not line.startswith("-----")]
    assert len(body) > 20
    for line in body[:-1]:  # the last line may be too short to be a canary
        assert line in canary.CANARIES.values()
    assert service_account["data"]["private_key_id"] == canary.GCS_PRIVATE_KEY_ID


# -- SDK debug logs, per driver -------------------------------------------------------------

#: per driver: a logger of its SDK and a text of a record that carried a credential (so
#: the test sees the SDK's debug logging really on and really scrubbed).
_SDK_RECORD = {
    "s3": ("botocore.endpoint", "Sending http request"),
    "r2": ("botocore.endpoint", "Sending http request"),
    "azure": ("azure.core.pipeline.policies.http_logging_policy", "Request URL"),
}


def _record_text(record: logging.LogRecord) -> str:
    return "\n".join(
        str(part)
        for part in (record.getMessage(), record.exc_text, record.stack_info)
        if part is not None
    )


async def _exercise(store: BlobStore) -> None:
    await store.upload("logs/a.txt", b"a" * 10)
    assert await store.download("logs/a.txt") == b"a" * 10
    await store.info("logs/a.txt")
    assert [e.path async for e in store.list("logs/")] == ["logs/a.txt"]
    await store.copy("logs/a.txt", "logs/b.txt")
    await store.delete_many(["logs/a.txt", "logs/b.txt"])
    with pytest.raises(StorageError):
        await store.download("logs/missing.txt")
    await store.close()


async def test_sdk_debug_logs_hold_no_canary(
    backend: Backend, service_account: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """With the root logger at DEBUG every SDK logs its requests; no record of any logger
    holds a credential the driver was given (S3: with a session token too; GCS: with a
    service-account key, whose token request fake-gcs-server answers 404)."""
    caplog.set_level(logging.DEBUG)  # the root logger: every logger's records
    extra: dict[str, Any] = {}
    if backend.driver == "s3":
        extra = {"session_token": S3_SESSION_TOKEN}
    await _exercise(backend.store(**extra))
    if backend.driver == "gcs":
        key_file = Path(service_account["path"]).with_name(f"{uuid.uuid4().hex}.json")
        key_file.write_text(
            json.dumps({**service_account["data"], "token_uri": f"{backend.server.url}/token"})
        )
        keyed = backend.store(credentials_path=str(key_file), anonymous=False)
        with pytest.raises(StorageError):
            await keyed.upload("logs/a.txt", b"a")
        await keyed.get_presigned_url("logs/a.txt")  # signed with the key file's key
        await keyed.close()
    for record in caplog.records:
        canary.assert_no_canary(_record_text(record), f"a record of {record.name}")
    # the obstore engine's requests are logged by no Python logger (object_store logs
    # to Rust's tracing, which obstore does not forward): only the check above applies
    if backend.driver in _SDK_RECORD and backend.engine is None:
        logger, text = _SDK_RECORD[backend.driver]
        scrubbed = [r for r in caplog.records if r.name == logger and text in r.getMessage()]
        assert scrubbed, f"no {text!r} record of {logger}"
        if backend.driver != "azure":  # azure-core redacts its headers itself
            assert all("***" in r.getMessage() for r in scrubbed)


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
async def test_s3_debug_logs_hold_no_key_of_the_credential_chain(
    backend: Backend,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    """No keys in the config: botocore's credential chain finds them in the environment,
    and they are kept out of the logs as well."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": CHAIN_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": CHAIN_SECRET_KEY,
        "AWS_SESSION_TOKEN": CHAIN_SESSION_TOKEN,
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    await _exercise(backend.store(access_key=None, secret_key=None))
    sent = [r for r in caplog.records if r.name == "botocore.endpoint"]
    assert any("Sending http request" in r.getMessage() for r in sent)
    for record in caplog.records:
        canary.assert_no_canary(_record_text(record), f"a record of {record.name}")


# -- reprs and errors, per driver ---------------------------------------------------------


async def test_reprs_and_errors_of_every_cloud_driver_hold_no_canary(
    backend: Backend, service_account: dict[str, Any], tmp_path: Path
) -> None:
    store = backend.store()
    provider = backend._stores[-1]
    config = provider.config
    drivers = config.resolved_backends()
    await store.upload("secrets/a.txt", b"a")
    canary.assert_no_canary(
        _shown(provider, config, store, store.driver, *drivers.values()), "reprs"
    )

    failures: list[StorageError] = []
    # 1. a bucket/container that does not exist
    missing = backend.store(**_other_bucket(backend))
    with pytest.raises(StorageError) as caught:
        await missing.download("secrets/a.txt")
    failures.append(caught.value)
    # 2. every connection reset (after its retries: StorageUnavailableError)
    proxy = backend.proxy()
    proxy.add(Fault.RESET)
    # (Azure: no SDK retries, whose default backoff waits 15 s and more)
    sdk = {"max_retries": 0} if backend.driver == "azure" else {}
    broken = backend.store(via=proxy, retry={"attempts": 2, "base_delay": 0.0}, **sdk)
    with pytest.raises(StorageError) as caught:
        await broken.download("secrets/a.txt")
    failures.append(caught.value)
    # 3. wrong or unusable credentials
    if backend.driver == "azure":
        wrong = backend.settings()["connection_string"].replace(
            reliability.AZURE_KEY, WRONG_AZURE_KEY
        )
        with pytest.raises(StorageError) as caught:
            await backend.store(connection_string=wrong).download("secrets/a.txt")
        failures.append(caught.value)
    elif backend.driver == "gcs":  # a real key, whose token endpoint answers 404
        key_file = tmp_path / "sa.json"
        key_file.write_text(
            json.dumps({**service_account["data"], "token_uri": f"{backend.server.url}/token"})
        )
        keyed = backend.store(credentials_path=str(key_file), anonymous=False)
        with pytest.raises(StorageError) as caught:
            await keyed.download("secrets/a.txt")
        failures.append(caught.value)
        canary.assert_no_canary(_shown(keyed, keyed.driver), "reprs of a keyed store")
    for failure in failures:
        assert_clean_error(failure, f"{backend.driver}: {type(failure).__name__}")
    assert len(failures) == (2 if backend.driver in ("s3", "r2") else 3)


def _other_bucket(backend: Backend) -> dict[str, str]:
    name = f"missing-{uuid.uuid4().hex[:12]}"
    return {"container": name} if backend.driver == "azure" else {"bucket": name}


@pytest.mark.parametrize("driver", ["local", "memory"])
async def test_reprs_and_errors_of_local_drivers_hold_no_canary(
    driver: str, tmp_path: Path
) -> None:
    settings: dict[str, Any] = (
        {
            "root_dir": str(tmp_path),
            "signing_key": LOCAL_SIGNING_KEY,
            "base_url": "http://127.0.0.1:9/files",
        }
        if driver == "local"
        else {}
    )
    config = StorageConfig.from_dict({"drivers": {driver: settings}})
    async with StorageProvider(config=config) as provider:
        store: BlobStore = provider.store()
        canary.assert_no_canary(
            _shown(provider, config, store, store.driver, *config.resolved_backends().values()),
            "reprs",
        )
        with pytest.raises(StorageError) as caught:
            await store.download("secrets/missing.txt")
        assert_clean_error(caught.value, driver)
        if driver == "local":
            url = await store.get_presigned_url("secrets/a.txt")
            canary.assert_no_canary(urllib.parse.unquote(url), "a presigned URL")


@pytest.mark.parametrize(
    "section",
    [
        {"s3": {"bucket": 1, "secret_key": canary.S3_SECRET_KEY}},
        {"s3": {"bucket": "b", "secret_key": {"nested": canary.S3_SECRET_KEY}}},
        {"s3": {"bucket": "b", "secret_kye": canary.S3_SECRET_KEY}},
        {"azure": {"container": "c", "connection_string": 7, "account_key": ["x"]}},
        {"azure": {"container": "c", "account_key": canary.AZURE_ACCOUNT_KEY, "extra": 1}},
        {"local": {"signing_key": LOCAL_SIGNING_KEY, "root": "./typo"}},
    ],
)
def test_config_errors_hold_no_canary(section: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as caught:
        StorageConfig.from_dict({"drivers": section})
    assert_clean_error(caught.value, "a config error")


def test_production_security_findings_hold_no_canary(tmp_path: Path) -> None:
    config = StorageConfig.from_dict(
        {
            "backends": [
                {
                    "name": "s3",
                    "primary": True,
                    "driver": "s3",
                    "s3": {
                        "bucket": "b",
                        "access_key": canary.S3_ACCESS_KEY,
                        "secret_key": canary.S3_SECRET_KEY,
                    },
                },
                {
                    "name": "azure",
                    "driver": "azure",
                    "azure": {
                        "container": "c",
                        "account_name": "devstoreaccount1",
                        "account_key": canary.AZURE_ACCOUNT_KEY,
                    },
                },
                {
                    "name": "disk",
                    "driver": "local",
                    "local": {"root_dir": str(tmp_path), "signing_key": "short-canary"},
                },
            ]
        }
    )
    findings = config.validate_production_security("development")
    assert any("account_key" in f for f in findings), findings  # the emulator key is known
    canary.assert_no_canary("\n".join(findings), "security findings")
    with pytest.raises(ValueError) as caught:
        config.validate_production_security("production")
    assert_clean_error(caught.value, "the production check")


# -- the command line -----------------------------------------------------------------------


def _cli_config(tmp_path: Path, azurite: ServerProcess, service_account: dict[str, Any]) -> None:
    (tmp_path / "lexigram-storage.yaml").write_text(
        "storage:\n"
        "  backends:\n"
        "    - name: disk\n"
        "      primary: true\n"
        "      driver: local\n"
        f"      local: {{root_dir: ./disk, signing_key: {LOCAL_SIGNING_KEY}}}\n"
        "    - name: s3\n"
        "      driver: s3\n"
        "      s3: {bucket: b, endpoint_url: 'http://127.0.0.1:9', region: us-east-1,\n"
        f"           access_key: {canary.CLI_ACCESS_KEY}, secret_key: {canary.CLI_SECRET_KEY}}}\n"
        "    - name: azure\n"
        "      driver: azure\n"
        "      azure:\n"
        "        container: missing\n"
        "        connection_string: >-\n"
        "          DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={WRONG_AZURE_KEY};BlobEndpoint={azurite.url}/devstoreaccount1;\n"
        "    - name: gcs\n"
        "      driver: gcs\n"
        f"      gcs: {{bucket: b, credentials_path: '{service_account['path']}'}}\n"
    )


def _cli(tmp_path: Path, *args: str) -> Any:
    return canary.run_cli(
        [*CLI, *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "LEXIGRAM_STORAGE_CONFIG": "", "HOME": str(tmp_path)},
        stdin=subprocess.DEVNULL,
    )


def test_cli_output_holds_no_canary(
    tmp_path: Path, azurite: ServerProcess, service_account: dict[str, Any]
) -> None:
    _cli_config(tmp_path, azurite, service_account)
    checked = _cli(tmp_path, "config", "check")
    assert checked.returncode == 0, checked.stderr
    assert "backend azure: driver azure" in checked.stdout
    assert "warning:" in checked.stdout  # the findings are printed: and redacted
    production = _cli(tmp_path, "config", "check", "--environment", "production")
    assert production.returncode != 0
    assert "storage.backends[2].azure.connection_string" in production.stderr
    # an operation refused for its wrong key: the error the user sees holds no key
    refused = _cli(tmp_path, "ls", "azure:")
    assert refused.returncode != 0 and refused.stderr.strip(), refused
