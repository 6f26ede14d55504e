"""docs/recipes/migrate-with-the-cli.md runs as written: every ``lexigram-storage`` line of
its bash blocks is run, in order, against moto (S3) and fake-gcs-server (GCS) on 127.0.0.1,
with the page's config pointed at them; the second stage is interrupted with Ctrl-C in the
middle of an upload (the CLI's test hook pauses it there) before the page's rerun."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from lexigram.storage.testing.servers import ServerProcess

from .canary import CLI_ACCESS_KEY, CLI_SECRET_KEY, run_cli
from .test_docs_samples import _blocks

PAGE = "docs/recipes/migrate-with-the-cli.md"
CLI = [sys.executable, "-m", "lexigram.storage.cli"]
ENV = {**os.environ, "LEXIGRAM_STORAGE_CONFIG": ""}
BIG = 3 * 1024 * 1024 + 17
SOURCE = {  # key -> (bytes, content type, metadata)
    "exports/2026/01/orders.csv": (b"id,total\n1,20\n", "text/csv", {"owner": "finance"}),
    "exports/2026/02/orders.csv": (b"id,total\n2,30\n3,40\n", "text/csv", {"owner": "finance"}),
    "exports/readme.txt": (b"monthly exports\n", "text/plain", {}),
    "exports/reports/q4.bin": (os.urandom(BIG), "application/octet-stream", {"q": "4"}),
    "exports/tmp/scratch.part": (b"half a file", "application/octet-stream", {}),
}


def _page() -> tuple[str, list[list[str]]]:
    """The page's config and its ``lexigram-storage`` commands, split as a shell would."""
    config, commands = None, []
    for lang, code, _ in _blocks(PAGE):
        if lang == "yaml" and "storage:" in code:
            config = code
        elif lang == "bash":
            for line in code.splitlines():
                if line.startswith("lexigram-storage "):
                    commands.append(shlex.split(line, comments=True)[1:])
    assert config is not None
    return config, commands


def _run(cwd: Path, args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """One command; ``> FILE`` at its end sends standard output to FILE."""
    out = None
    if len(args) > 2 and args[-2] == ">":
        args, out = args[:-2], args[-1]
    done = run_cli(
        [*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=300,
        env={**ENV, **env}, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    if out is not None:
        (cwd / out).write_text(done.stdout)
    return done


def _gcs_keys(cwd: Path) -> set[str]:
    listed = run_cli(
        [*CLI, "ls", "-r", "--json", "gcs:exports/"], cwd=cwd, capture_output=True, text=True,
        timeout=120, env=ENV, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if listed.returncode == 1 and "nothing matches" in listed.stderr:
        return set()  # ls of an empty prefix exits 1
    assert listed.returncode == 0, listed.stderr
    return {json.loads(line)["path"] for line in listed.stdout.splitlines()}


def test_the_migration_page_runs_as_written(
    tmp_path: Path,
    moto_server: ServerProcess,
    fake_gcs: ServerProcess,
    new_gcs_bucket: Callable[[], str],
) -> None:
    import botocore.session

    client: Any = botocore.session.get_session().create_client(
        "s3", endpoint_url=moto_server.url, region_name="us-east-1",
        aws_access_key_id="AKIATESTCLIENT000002", aws_secret_access_key="test-client-secret",
    )  # fmt: skip
    bucket = f"recipe-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    for key, (data, content_type, metadata) in SOURCE.items():
        client.put_object(
            Bucket=bucket, Key=key, Body=data, ContentType=content_type, Metadata=metadata
        )
    config_text, commands = _page()
    config = yaml.safe_load(config_text)
    s3, gcs = (b for b in config["storage"]["backends"])
    assert (s3["name"], gcs["name"]) == ("s3", "gcs")
    s3["s3"].update(
        bucket=bucket, endpoint_url=moto_server.url, region="us-east-1",
        access_key=CLI_ACCESS_KEY, secret_key=CLI_SECRET_KEY, addressing_style="path",
    )  # fmt: skip
    gcs["gcs"].update(bucket=new_gcs_bucket(), endpoint_url=fake_gcs.url)
    (tmp_path / "lexigram-storage.yaml").write_text(yaml.safe_dump(config))
    assert len(commands) == 10, commands
    check, health, dry, stage1, stage2, ls_s3, ls_gcs, verify, stat, rerun = commands
    wanted = {k.removeprefix("exports/") for k in SOURCE if "/tmp/" not in k}

    assert check == ["config", "check"]
    _run(tmp_path, check)
    healthy = _run(tmp_path, health).stdout
    assert "ok   s3" in healthy and "ok   gcs" in healthy, healthy

    planned = _run(tmp_path, dry)
    assert planned.stdout.splitlines() == [f"would copy {k}" for k in sorted(wanted)]
    assert "would copy 4, would delete 0, unchanged 0" in planned.stderr
    assert _gcs_keys(tmp_path) == set()  # a dry run changes nothing

    first = _run(tmp_path, stage1)
    assert "copied 2, deleted 0, unchanged 0" in first.stderr
    assert _gcs_keys(tmp_path) == {"exports/2026/01/orders.csv", "exports/2026/02/orders.csv"}

    # the second stage as written, planted: Ctrl-C while reports/q4.bin is half uploaded
    assert stage2[-2:] == [">", "migrated.jsonl"]
    proc = subprocess.Popen(
        [*CLI, *stage2[:-2]], cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        env={**ENV, "LEXIGRAM_STORAGE_CLI_TEST_PAUSE_AFTER_BYTES": str(BIG // 2)},
    )  # fmt: skip
    assert proc.stderr is not None
    marker = proc.stderr.readline()
    assert marker.startswith("test-hook: paused"), marker + proc.stderr.read()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "exports/reports/q4.bin" not in _gcs_keys(tmp_path)  # no half-written object

    # the page's resume: the same command again copies what is missing, and only that
    resumed = _run(tmp_path, rerun)
    copies = [json.loads(line) for line in (tmp_path / "resumed.jsonl").read_text().splitlines()]
    assert {c["action"] for c in copies} == {"copy"}
    done = {c["source"].removeprefix("s3:exports/") for c in copies}
    assert "reports/q4.bin" in done and not done & {"2026/01/orders.csv", "2026/02/orders.csv"}
    assert f"copied {len(done)}, deleted 0, unchanged {4 - len(done)}" in resumed.stderr

    _run(tmp_path, ls_s3)
    _run(tmp_path, ls_gcs)
    counts = [len((tmp_path / f).read_text().splitlines()) for f in ("s3.jsonl", "gcs.jsonl")]
    assert counts == [4, 4]
    verified = _run(tmp_path, verify)
    assert verified.stdout == "" and "would copy 0, would delete 0, unchanged 4" in verified.stderr
    shown = json.loads(_run(tmp_path, stat).stdout)
    assert (shown["content_type"], shown["metadata"]) == ("text/csv", {"owner": "finance"})
    for key, (data, content_type, metadata) in SOURCE.items():
        if "/tmp/" in key:
            continue
        got = _run(tmp_path, ["stat", f"gcs:{key}"])
        info = json.loads(got.stdout)
        assert (info["size"], info["content_type"], info["metadata"]) == (
            len(data),
            content_type,
            metadata,
        ), key
        body = run_cli([*CLI, "cat", f"gcs:{key}"], cwd=tmp_path, capture_output=True,
                       timeout=120, env=ENV)  # fmt: skip
        assert body.returncode == 0 and body.stdout == data, key

    again = _run(tmp_path, stage2)  # everything is there: nothing to copy
    assert "copied 0, deleted 0, unchanged 4" in again.stderr
    assert (tmp_path / "migrated.jsonl").read_text() == ""
