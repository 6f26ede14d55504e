"""Runtime code does not import test machinery: importing the library, every driver and
the command line, and building a store of every kind, loads none of the test kits (the
fault proxy, the emulator launcher, the wheel builder, the server-log keeper, the
conformance suites) nor pytest or hypothesis. Checked in a fresh interpreter, since this
test process has them all loaded already."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

TEST_MACHINERY = (
    "lexigram.storage.testing",
    "lexigram.storage.testing.blob",
    "lexigram.storage.testing.kv",
    "lexigram.storage.testing.agreements",
    "lexigram.storage.testing.faults",
    "lexigram.storage.testing.servers",
    "lexigram.storage.testing.wheels",
    "lexigram.storage.testing.server_logs",
    "pytest",
    "_pytest",
    "pytest_asyncio",
    "hypothesis",
)

PROGRAM = textwrap.dedent(
    """
    import asyncio, json, sys, tempfile
    import lexigram.storage
    import lexigram.storage.kv
    import lexigram.storage.local, lexigram.storage.local.asgi
    import lexigram.storage.s3, lexigram.storage.gcs, lexigram.storage.azure
    import lexigram.storage.cli.main
    from lexigram.storage import StorageConfig, StorageProvider

    async def main() -> None:
        with tempfile.TemporaryDirectory() as root:
            config = StorageConfig.from_dict({
                "default_driver": "memory",
                "drivers": {
                    "memory": {},
                    "local": {"root_dir": root},
                    "s3": {"bucket": "b", "endpoint_url": "http://127.0.0.1:9",
                           "region": "us-east-1"},
                    "gcs": {"bucket": "b", "endpoint_url": "http://127.0.0.1:9"},
                    "azure": {"container": "c", "account_name": "devstoreaccount1",
                              "sas_token": "sv=x",
                              "endpoint_url": "http://127.0.0.1:9/devstoreaccount1"},
                },
            })
            async with StorageProvider(config=config) as provider:
                for name in ("memory", "local", "s3", "gcs", "azure"):
                    provider.store(name)
                await provider.store("local").upload("k", b"x")
    asyncio.run(main())
    print(json.dumps(sorted(sys.modules)))
    """
)


def test_runtime_imports_no_test_machinery() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "lexigram.storage.s3.driver" in loaded  # the program did reach the drivers
    assert sorted(loaded & set(TEST_MACHINERY)) == []
