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
from urllib.parse import quote

import pytest

from lexigram.storage.testing.servers import ServerProcess

from .azure_setup import create_container
from .canary import AZURE_ACCOUNT_KEY, CLI_ACCESS_KEY, CLI_SECRET_KEY, run_cli

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


# -- store URLs and HTTP headers ------------------------------------------------------------


def _url_env() -> dict[str, str]:
    """Credentials from the environment, as the AWS SDK finds them; no config file."""
    return {
        **os.environ,
        "LEXIGRAM_STORAGE_CONFIG": "",
        "AWS_ACCESS_KEY_ID": CLI_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": CLI_SECRET_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def url_cli(cwd: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    done = run_cli(
        [*CLI, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=_url_env(),
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == code, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def test_s3_urls_in_every_command_against_moto(tmp_path: Path, moto_server: ServerProcess) -> None:
    client = _s3_client(moto_server)
    bucket = f"cli-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    query = f"?endpoint_url={moto_server.url}&addressing_style=path"

    def s3(key: str = "") -> str:
        return f"s3://{bucket}/{key}{query}"

    (tmp_path / "report.csv").write_text("id\n1\n")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("alpha\n")
    (tree / "sub" / "b.bin").write_bytes(os.urandom(1000))

    # the bucket is the URL's host, the whole path the key; a path ending in / a folder
    url_cli(tmp_path, "cp", "report.csv", s3("in/report.csv"))
    assert client.get_object(Bucket=bucket, Key="in/report.csv")["Body"].read() == b"id\n1\n"
    url_cli(tmp_path, "cp", "report.csv", s3("drop/"))
    assert client.head_object(Bucket=bucket, Key="drop/report.csv")["ContentType"] == "text/csv"
    copied = url_cli(tmp_path, "cp", "-r", "--json", str(tree), s3("tree/"))
    shown = {json.loads(line)["destination"] for line in copied.stdout.splitlines()}
    assert f"s3://{bucket}/tree/a.txt?endpoint_url={moto_server.url}&addressing_style=path" in (
        shown
    )
    listed = url_cli(tmp_path, "ls", "-r", "--json", s3("tree/")).stdout.splitlines()
    assert sorted(json.loads(line)["path"] for line in listed) == ["tree/a.txt", "tree/sub/b.bin"]
    assert url_cli(tmp_path, "cat", s3("tree/a.txt")).stdout == "alpha\n"
    assert (
        json.loads(url_cli(tmp_path, "stat", "--json", s3("tree/sub/b.bin")).stdout)["size"] == 1000
    )
    public = url_cli(tmp_path, "url", s3("tree/a.txt")).stdout.strip()
    assert public == f"{moto_server.url}/{bucket}/tree/a.txt"

    # S3 -> this machine (a file: URL), and again: nothing left to copy
    mirror = tmp_path / "mirror"
    first = url_cli(tmp_path, "sync", s3("tree"), mirror.as_uri())
    assert "copied 2, deleted 0, unchanged 0" in first.stderr
    assert (mirror / "sub" / "b.bin").read_bytes() == (tree / "sub" / "b.bin").read_bytes()
    again = url_cli(tmp_path, "sync", s3("tree"), mirror.as_uri())
    assert "copied 0, deleted 0, unchanged 2" in again.stderr

    url_cli(tmp_path, "rm", s3("in/report.csv"))
    assert "Contents" not in client.list_objects_v2(Bucket=bucket, Prefix="in/")
    url_cli(tmp_path, "rm", "-r", "--yes", s3("tree/"))
    assert "Contents" not in client.list_objects_v2(Bucket=bucket, Prefix="tree/")
    # nothing of the zero-config store was made: the URLs needed no config
    assert not (tmp_path / "storage").exists()


def test_errors_of_a_store_url_never_show_its_secrets(
    tmp_path: Path, moto_server: ServerProcess
) -> None:
    client = _s3_client(moto_server)
    bucket = f"cli-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    # keys as parameters (allowed, discouraged): every message hides them
    url = (
        f"s3://{bucket}/missing.txt?endpoint_url={moto_server.url}&addressing_style=path"
        f"&access_key={CLI_ACCESS_KEY}&secret_key={CLI_SECRET_KEY}"
    )
    for command in (["cat"], ["stat"], ["cp"]):
        args = [*command, url, str(tmp_path / "out.txt")] if command == ["cp"] else [*command, url]
        done = url_cli(tmp_path, *args, code=1)  # run_cli fails on any canary in the output
        assert "missing.txt" in done.stderr and "secret_key=***" in done.stderr, done.stderr
    typo = url_cli(tmp_path, "ls", url.replace("secret_key", "secret_kye"), code=2)
    assert "'secret_kye'" in typo.stderr and "did you mean 'secret_key'" in typo.stderr
    unknown = url_cli(tmp_path, "cat", f"s5://{bucket}/k", code=2)
    assert "'s5'" in unknown.stderr and "Known schemes" in unknown.stderr


HEADERS = {
    "cache_control": "public, max-age=600",
    "content_disposition": 'attachment; filename="page.html"',
    "content_encoding": "identity",
    "content_language": "fr-CA",
}


def test_copies_between_backends_keep_the_http_headers(
    three_backends: tuple[Path, str, Any],
    fake_gcs: ServerProcess,
    new_gcs_bucket: Callable[[], str],
) -> None:
    cwd, bucket, client = three_backends
    client.put_object(
        Bucket=bucket,
        Key="in/page.html",
        Body=b"<p>bonjour</p>",
        ContentType="text/html",
        Metadata={"owner": "42"},
        CacheControl=HEADERS["cache_control"],
        ContentDisposition=HEADERS["content_disposition"],
        ContentEncoding=HEADERS["content_encoding"],
        ContentLanguage=HEADERS["content_language"],
    )
    # S3 (moto) -> local -> GCS (fake-gcs-server), with cp, cp -r and sync
    cli(cwd, "cp", "s3:in/page.html", "disk:mid/page.html")
    cli(cwd, "cp", "-r", "s3:in", "disk:tree")
    cli(cwd, "sync", "disk:mid", "gcs:out")
    for target in ("disk:mid/page.html", "disk:tree/page.html", "gcs:out/page.html"):
        info = _stat(cwd, target)
        assert {name: info[name] for name in HEADERS} == HEADERS, target
        assert (info["content_type"], info["metadata"]) == ("text/html", {"owner": "42"})
    # and to a gs:// URL (fake-gcs-server takes anonymous requests)
    gs = f"gs://{new_gcs_bucket()}/viaurl/?endpoint_url={fake_gcs.url}&anonymous=true"
    cli(cwd, "cp", "-r", "disk:mid", gs)
    info = _stat(cwd, gs.replace("/viaurl/", "/viaurl/page.html"))
    assert {name: info[name] for name in HEADERS} == HEADERS
    assert (info["content_type"], info["metadata"]) == ("text/html", {"owner": "42"})
    # the bytes are unchanged (no transcoding on the way)
    out = run_cli(
        [*CLI, "cat", "gcs:out/page.html"], cwd=cwd, capture_output=True, timeout=120,
        env={**os.environ, "LEXIGRAM_STORAGE_CONFIG": ""},
    )  # fmt: skip
    assert out.stdout == b"<p>bonjour</p>"
    # --no-metadata leaves all of them out
    cli(cwd, "cp", "--no-metadata", "s3:in/page.html", "gcs:plain/page.html")
    plain = _stat(cwd, "gcs:plain/page.html")
    assert all(plain[name] is None for name in HEADERS) and plain["metadata"] == {}


def test_az_urls_against_azurite(tmp_path: Path, azurite: ServerProcess) -> None:
    endpoint = f"{azurite.url}/devstoreaccount1"
    container = f"c{uuid.uuid4().hex[:20]}"
    create_container(
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={AZURE_ACCOUNT_KEY};BlobEndpoint={endpoint};",
        container,
    )
    key = quote(AZURE_ACCOUNT_KEY, safe="")
    query = f"?account_name=devstoreaccount1&account_key={key}&endpoint_url={quote(endpoint)}"

    def az(path: str = "") -> str:
        return f"az://{container}/{path}{query}"

    def checked(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        done = url_cli(tmp_path, *args, code=code)  # the raw key is a canary: checked there
        assert key not in done.stdout + done.stderr  # and so is its encoded form
        return done

    (tmp_path / "page.html").write_text("<p>hi</p>")
    checked("cp", "page.html", az("in/page.html"))
    listed = checked("ls", "-r", "--json", az("in/")).stdout.splitlines()
    assert [json.loads(line)["path"] for line in listed] == ["in/page.html"]
    assert checked("cat", az("in/page.html")).stdout == "<p>hi</p>"
    assert json.loads(checked("stat", "--json", az("in/page.html")).stdout)["content_type"] == (
        "text/html"
    )
    mirror = tmp_path / "mirror"
    checked("sync", az("in"), mirror.as_uri())
    assert (mirror / "page.html").read_text() == "<p>hi</p>"
    missing = checked("cat", az("in/missing.html"), code=1)
    assert "missing.html" in missing.stderr and "account_key=***" in missing.stderr
