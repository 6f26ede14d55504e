"""The command line across two real servers: disk -> S3 (moto) -> GCS (fake-gcs-server),
the migration a team does with ``sync``. Driven as a user would, one subprocess a command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

from lexigram.storage.testing.servers import ServerProcess

from .canary import CLI_ACCESS_KEY, CLI_SECRET_KEY, run_cli

CLI = [sys.executable, "-m", "lexigram.storage.cli"]


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = run_cli(
        [*CLI, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "LEXIGRAM_STORAGE_CONFIG": ""},
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def test_sync_from_disk_to_s3_to_gcs(
    tmp_path: Path,
    moto_server: ServerProcess,
    fake_gcs: ServerProcess,
    new_gcs_bucket: Callable[[], str],
) -> None:
    s3_bucket = f"cli-{uuid.uuid4().hex[:12]}"
    create = urllib.request.Request(f"{moto_server.url}/{s3_bucket}", method="PUT")
    with urllib.request.urlopen(create, timeout=10) as reply:  # 127.0.0.1 only
        assert reply.status == 200
    gcs_bucket = new_gcs_bucket()
    (tmp_path / "lexigram-storage.yaml").write_text(
        "storage:\n"
        "  backends:\n"
        "    - {name: disk, primary: true, driver: local, local: {root_dir: ./disk}}\n"
        "    - name: s3\n"
        "      driver: s3\n"
        f"      s3: {{bucket: {s3_bucket}, endpoint_url: '{moto_server.url}', region: us-east-1,\n"
        f"           access_key: {CLI_ACCESS_KEY}, secret_key: {CLI_SECRET_KEY},\n"
        "           addressing_style: path}\n"
        "    - name: gcs\n"
        "      driver: gcs\n"
        f"      gcs: {{bucket: {gcs_bucket}, endpoint_url: '{fake_gcs.url}'}}\n"
    )

    exports = tmp_path / "exports"
    (exports / "2026" / "11").mkdir(parents=True)
    files = {
        "a.csv": b"id,value\n1,2\n",
        "2026/11/big.bin": os.urandom(3 * 1024 * 1024 + 17),
        "2026/readme.txt": "ünïcödé text\n".encode(),
    }
    for rel, data in files.items():
        (exports / rel).write_bytes(data)

    copied = cli(tmp_path, "cp", "-r", "exports", "s3:exports")
    assert "copied 3 object(s)" in copied.stderr and "sizes verified" in copied.stderr
    first = cli(tmp_path, "sync", "s3:exports", "gcs:exports")
    assert "copied 3, deleted 0, unchanged 0" in first.stderr
    listed = [
        json.loads(line)
        for line in cli(tmp_path, "ls", "-r", "--json", "gcs:exports/").stdout.splitlines()
    ]
    assert {e["path"]: e["size"] for e in listed} == {
        f"exports/{k}": len(v) for k, v in files.items()
    }
    for rel, data in files.items():
        out = run_cli(
            [*CLI, "cat", f"gcs:exports/{rel}"], cwd=tmp_path, capture_output=True, timeout=120,
            env={**os.environ, "LEXIGRAM_STORAGE_CONFIG": ""},
        )  # fmt: skip
        assert out.returncode == 0 and out.stdout == data, rel

    again = cli(tmp_path, "sync", "s3:exports", "gcs:exports")
    assert "copied 0, deleted 0, unchanged 3" in again.stderr
    (tmp_path / "new.csv").write_bytes(b"a longer replacement of the first file\n")
    cli(tmp_path, "cp", "new.csv", "s3:exports/a.csv")
    cli(tmp_path, "rm", "s3:exports/2026/readme.txt")
    final = cli(tmp_path, "sync", "--delete", "s3:exports", "gcs:exports")
    assert "copied 1, deleted 1, unchanged 1" in final.stderr
    listed = [
        json.loads(line)["path"]
        for line in cli(tmp_path, "ls", "-r", "--json", "gcs:exports/").stdout.splitlines()
    ]
    assert listed == ["exports/2026/11/big.bin", "exports/a.csv"]
    health = cli(tmp_path, "health")
    assert all(f"ok   {name}" in health.stdout for name in ("disk", "s3", "gcs"))
