"""The command line across two real servers: disk -> S3 (moto) -> GCS (fake-gcs-server),
the migration a team does with ``sync``. Driven as a user would, one subprocess a command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

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


# -- issue 20: a command line you can trust with a migration ------------------------------


def _s3_client(moto_server: ServerProcess) -> Any:
    import botocore.session

    return botocore.session.get_session().create_client(
        "s3",
        endpoint_url=moto_server.url,
        region_name="us-east-1",
        # not the canaries: this client's debug log lines are captured (moto takes any key)
        aws_access_key_id="AKIATESTCLIENT000001",
        aws_secret_access_key="test-client-secret",
    )


@pytest.fixture
def three_backends(
    tmp_path: Path,
    moto_server: ServerProcess,
    fake_gcs: ServerProcess,
    new_gcs_bucket: Callable[[], str],
) -> tuple[Path, str, Any]:
    """disk, s3 (5 MiB parts) and gcs; returns the folder, the S3 bucket and an SDK client."""
    client = _s3_client(moto_server)
    bucket = f"cli-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    (tmp_path / "lexigram-storage.yaml").write_text(
        "storage:\n"
        "  backends:\n"
        "    - {name: disk, primary: true, driver: local, local: {root_dir: ./disk}}\n"
        "    - name: s3\n"
        "      driver: s3\n"
        f"      s3: {{bucket: {bucket}, endpoint_url: '{moto_server.url}', region: us-east-1,\n"
        f"           access_key: {CLI_ACCESS_KEY}, secret_key: {CLI_SECRET_KEY},\n"
        "           addressing_style: path, part_size: 5242880, max_concurrency: 1}\n"
        "    - name: gcs\n"
        "      driver: gcs\n"
        f"      gcs: {{bucket: {new_gcs_bucket()}, endpoint_url: '{fake_gcs.url}'}}\n"
    )
    return tmp_path, bucket, client


def _stat(cwd: Path, target: str) -> dict[str, Any]:
    return dict(json.loads(cli(cwd, "stat", target).stdout))


def test_copies_between_backends_keep_content_type_and_metadata(
    three_backends: tuple[Path, str, Any],
) -> None:
    cwd, bucket, client = three_backends
    client.put_object(
        Bucket=bucket,
        Key="in/data.csv",
        Body=b"id\n1\n",
        ContentType="text/csv",
        Metadata={"owner": "42"},
    )
    cli(cwd, "cp", "s3:in/data.csv", "gcs:out/data")
    copied = _stat(cwd, "gcs:out/data")
    assert (copied["content_type"], copied["metadata"]) == ("text/csv", {"owner": "42"})
    cli(cwd, "sync", "s3:in", "gcs:synced")
    synced = _stat(cwd, "gcs:synced/data.csv")
    assert (synced["content_type"], synced["metadata"]) == ("text/csv", {"owner": "42"})
    cli(cwd, "cp", "-r", "gcs:synced", "disk:back")
    back = _stat(cwd, "disk:back/data.csv")
    assert (back["content_type"], back["metadata"]) == ("text/csv", {"owner": "42"})
    # a local file's type is guessed from its name, even when the key has no extension
    (cwd / "report.csv").write_text("a,b\n")
    cli(cwd, "cp", "report.csv", "s3:reports/latest")
    assert client.head_object(Bucket=bucket, Key="reports/latest")["ContentType"] == "text/csv"
    cli(cwd, "cp", "--no-metadata", "s3:in/data.csv", "gcs:plain/data")
    plain = _stat(cwd, "gcs:plain/data")
    assert plain["metadata"] == {} and plain["content_type"] != "text/csv"


def _paused(args: list[str], cwd: Path, pause_after: int) -> subprocess.Popen[str]:
    """Start the command; return once it printed the test hook's marker (it then waits)."""
    proc = subprocess.Popen(
        [*CLI, *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "LEXIGRAM_STORAGE_CONFIG": "",
            "LEXIGRAM_STORAGE_CLI_TEST_PAUSE_AFTER_BYTES": str(pause_after),
        },
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert line.startswith("test-hook: paused"), line + proc.stderr.read()
    return proc


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_aborts_the_multipart_upload(
    three_backends: tuple[Path, str, Any], signum: int, code: int
) -> None:
    cwd, bucket, client = three_backends
    (cwd / "big.bin").write_bytes(os.urandom(16 * 1024 * 1024))
    proc = _paused(["cp", "big.bin", "s3:big.bin"], cwd, pause_after=11 * 1024 * 1024)
    # planted: the upload is open, its first part sent, when the signal arrives
    assert len(client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])) == 1
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert "interrupted" in err
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert "Contents" not in client.list_objects_v2(Bucket=bucket)


def test_a_signal_during_a_download_leaves_no_partial_file_and_sync_finishes_it(
    three_backends: tuple[Path, str, Any],
) -> None:
    cwd, bucket, client = three_backends
    data = os.urandom(3 * 1024 * 1024)
    client.put_object(Bucket=bucket, Key="dl/big.bin", Body=data)
    proc = _paused(["sync", "s3:dl", "down"], cwd, pause_after=1)
    partials = list((cwd / "down").glob(".lxs-partial-*"))
    assert len(partials) == 1 and partials[0].stat().st_size > 0  # planted mid-download
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert list((cwd / "down").iterdir()) == []
    # a partial file of a process killed outright (no cleanup possible) is removed by sync
    partials[0].write_bytes(data[:100])
    partials[0].rename(cwd / "down" / ".lxs-partial-999999999-1-big.bin")
    done = cli(cwd, "sync", "s3:dl", "down")
    assert "copied 1" in done.stderr
    assert [p.name for p in (cwd / "down").iterdir()] == ["big.bin"]
    assert (cwd / "down" / "big.bin").read_bytes() == data


def test_round_trips_do_not_copy_again(three_backends: tuple[Path, str, Any]) -> None:
    cwd, bucket, client = three_backends
    for i in range(3):
        client.put_object(Bucket=bucket, Key=f"rt/f{i}.txt", Body=f"file {i}".encode())
    cli(cwd, "sync", "s3:rt", "here")
    stamp = client.head_object(Bucket=bucket, Key="rt/f0.txt")["LastModified"].timestamp()
    assert (cwd / "here" / "f0.txt").stat().st_mtime == stamp
    assert "copied 0, deleted 0, unchanged 3" in cli(cwd, "sync", "s3:rt", "here").stderr
    # MD5 of the local files against the etags S3 gives
    os.utime(cwd / "here" / "f1.txt")  # touched, same content
    assert (
        "copied 0, deleted 0, unchanged 3" in cli(cwd, "sync", "--checksum", "here", "s3:rt").stderr
    )
    (cwd / "here" / "f2.txt").write_text("file X")  # same size, other content
    os.utime(cwd / "here" / "f2.txt", (1, 1))  # and older: only the checksum sees it
    assert "f2.txt" not in cli(cwd, "sync", "here", "s3:rt").stdout  # copies touched f1
    assert "copied 0" in cli(cwd, "sync", "--size-only", "here", "s3:rt").stderr
    found = cli(cwd, "sync", "--checksum", "here", "s3:rt")
    assert found.stdout == "copy f2.txt\n" and "copied 1, deleted 0, unchanged 2" in found.stderr
    assert client.get_object(Bucket=bucket, Key="rt/f2.txt")["Body"].read() == b"file X"
