"""The command line, driven as a user would: a subprocess per command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "lexigram.storage.cli"]


def run(
    cwd: Path, *args: str, ok: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*CLI, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LEXIGRAM_STORAGE_CONFIG": "", **(env or {})},
        stdin=subprocess.DEVNULL,
    )
    if ok:
        assert done.returncode == 0, f"{args} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture
def two_backends(tmp_path: Path) -> Path:
    (tmp_path / "lexigram-storage.yaml").write_text(
        "storage:\n"
        "  backends:\n"
        "    - name: disk\n"
        "      primary: true\n"
        "      driver: local\n"
        "      local:\n"
        "        root_dir: ./disk\n"
        "        base_url: https://files.example.test/static\n"
        "        signing_key: ${CLI_SIGNING_KEY:-a-test-signing-key-of-32-chars-min}\n"
        "    - name: archive\n"
        "      driver: local\n"
        "      local: {root_dir: ./archive}\n"
        "  kv: {backend: local, path: ./kv.jsonl}\n"
    )
    return tmp_path


def test_zero_config_session(tmp_path: Path) -> None:
    (tmp_path / "report.csv").write_text("month,revenue\noct,10\n")
    run(tmp_path, "cp", "report.csv", "local:reports/2026/q4.csv")
    assert (tmp_path / "storage" / "data" / "reports" / "2026" / "q4.csv").is_file()
    assert "reports/" in run(tmp_path, "ls").stdout
    listing = run(tmp_path, "ls", "-r", "--json").stdout.splitlines()
    entries = [json.loads(line) for line in listing]
    assert [(e["path"], e["size"]) for e in entries] == [("reports/2026/q4.csv", 21)]
    assert run(tmp_path, "cat", "local:reports/2026/q4.csv").stdout == "month,revenue\noct,10\n"
    info = json.loads(run(tmp_path, "stat", "reports/2026/q4.csv").stdout)
    assert info["content_type"] == "text/csv" and info["size"] == 21
    run(tmp_path, "rm", "local:reports/2026/q4.csv")
    assert run(tmp_path, "ls", "-r").stdout == ""


def test_ls_sizes_are_human_readable(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(b"x" * 3 * 1024 * 1024)
    run(tmp_path, "cp", "big.bin", "local:big.bin")
    assert "3.0 MiB" in run(tmp_path, "ls").stdout


def test_errors_are_one_line_and_non_zero(tmp_path: Path) -> None:
    done = run(tmp_path, "cat", "local:missing/file.txt", ok=False)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "missing/file.txt" in lines[0] and "'local'" in lines[0]
    debug = run(tmp_path, "--debug", "cat", "local:missing/file.txt", ok=False)
    assert "Traceback" in debug.stderr
    bad_key = run(tmp_path, "cat", "local:a//b", ok=False)
    assert bad_key.returncode == 1 and "Invalid key" in bad_key.stderr


def test_recursive_copies_both_ways_and_between_backends(two_backends: Path) -> None:
    src = two_backends / "exports"
    (src / "2026" / "11").mkdir(parents=True)
    files = {"a.txt": b"alpha", "2026/11/b.json": b'{"b": 1}', "2026/c.bin": os.urandom(300_000)}
    for rel, data in files.items():
        (src / rel).write_bytes(data)
    copied = run(two_backends, "cp", "-r", "exports", "disk:exports")
    assert "copied 3 object(s)" in copied.stderr and "sizes verified" in copied.stderr
    run(two_backends, "cp", "-r", "disk:exports", "archive:backup")
    run(two_backends, "cp", "-r", "archive:backup", "restored")
    for rel, data in files.items():
        assert (two_backends / "restored" / rel).read_bytes() == data
        assert (two_backends / "archive" / "backup" / rel).read_bytes() == data
    assert not list((two_backends / "restored").rglob(".lxs-partial-*"))


def test_copy_into_a_prefix_or_folder_keeps_the_name(two_backends: Path) -> None:
    (two_backends / "one.txt").write_text("1")
    run(two_backends, "cp", "one.txt", "disk:inbox/")
    assert (two_backends / "disk" / "inbox" / "one.txt").read_text() == "1"
    (two_backends / "out").mkdir()
    run(two_backends, "cp", "disk:inbox/one.txt", "out")
    assert (two_backends / "out" / "one.txt").read_text() == "1"
    missing = run(two_backends, "cp", "disk:inbox/none.txt", "out", ok=False)
    assert missing.returncode == 1 and "-r" in missing.stderr


def test_sync_copies_only_what_differs(two_backends: Path) -> None:
    for i in range(5):
        run(two_backends, "kv", "keys")  # the KV store works alongside
        (two_backends / "site").mkdir(exist_ok=True)
        (two_backends / "site" / f"page{i}.html").write_text(f"page {i}")
    first = run(two_backends, "sync", "site", "disk:site")
    assert "copied 5, deleted 0, unchanged 0" in first.stderr
    second = run(two_backends, "sync", "disk:site", "archive:site")
    assert "copied 5" in second.stderr
    again = run(two_backends, "sync", "disk:site", "archive:site")
    assert "copied 0, deleted 0, unchanged 5" in again.stderr
    (two_backends / "disk" / "site" / "page1.html").write_text("page 1, edited and longer")
    run(two_backends, "cp", "site/page0.html", "archive:site/stale.html")
    dry = run(two_backends, "sync", "--delete", "--dry-run", "disk:site", "archive:site")
    assert "would copy page1.html" in dry.stdout and "would delete stale.html" in dry.stdout
    assert (two_backends / "archive" / "site" / "stale.html").exists()
    real = run(two_backends, "sync", "--delete", "disk:site", "archive:site")
    assert "copied 1, deleted 1, unchanged 4" in real.stderr
    assert (
        two_backends / "archive" / "site" / "page1.html"
    ).read_text() == "page 1, edited and longer"
    assert not (two_backends / "archive" / "site" / "stale.html").exists()


def test_recursive_rm_needs_yes(two_backends: Path) -> None:
    (two_backends / "f.txt").write_text("x")
    run(two_backends, "cp", "f.txt", "disk:tmp/f.txt")
    refused = run(two_backends, "rm", "-r", "disk:tmp", ok=False)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert (two_backends / "disk" / "tmp" / "f.txt").exists()
    done = run(two_backends, "rm", "-r", "--yes", "disk:tmp")
    assert "deleted 1 object(s)" in done.stderr
    assert run(two_backends, "ls", "-r", "disk:").stdout == ""


def test_urls(two_backends: Path) -> None:
    (two_backends / "a b.txt").write_text("x")
    run(two_backends, "cp", "a b.txt", "disk:docs/a b.txt")
    assert run(two_backends, "url", "disk:docs/a b.txt").stdout.strip() == (
        "https://files.example.test/static/docs/a%20b.txt"
    )
    signed = run(
        two_backends, "url", "--presign", "--expires", "15m", "--method", "PUT", "disk:docs/a b.txt"
    )
    assert signed.stdout.startswith("https://files.example.test/static/docs/a%20b.txt?")
    bad = run(two_backends, "url", "--presign", "--expires", "soon", "disk:x", ok=False)
    assert bad.returncode == 2 and "duration" in bad.stderr


def test_health_and_config_check(two_backends: Path) -> None:
    health = run(two_backends, "health")
    assert "ok   disk" in health.stdout and "ok   archive" in health.stdout
    check = run(two_backends, "config", "check")
    assert "backend disk: driver local (default)" in check.stdout
    prod = run(
        two_backends,
        "config",
        "check",
        "--environment",
        "production",
        ok=False,
        env={"CLI_SIGNING_KEY": "changeme"},
    )
    assert prod.returncode == 2 and "signing_key" in prod.stderr
    assert "changeme" not in prod.stderr + prod.stdout


def test_unhealthy_backend_exit_code(tmp_path: Path) -> None:
    (tmp_path / "down.yaml").write_text(
        "storage:\n"
        "  health_timeout: 5\n"
        "  drivers:\n"
        "    local: {root_dir: ./ok}\n"
        "    s3: {bucket: b, endpoint_url: 'http://127.0.0.1:9',\n"
        "         access_key: AKIAQ3EGRXXY5ZBQ7H2K,\n"
        "         secret_key: canary-secret-do-not-print, addressing_style: path}\n"
        "  default_driver: local\n"
    )
    done = run(tmp_path, "--config", "down.yaml", "health", ok=False)
    assert done.returncode == 3
    assert "ok   local" in done.stdout and "FAIL s3" in done.stdout
    assert "canary-secret-do-not-print" not in done.stdout + done.stderr


def test_kv_commands(tmp_path: Path) -> None:
    run(tmp_path, "kv", "set", "flags:dark_mode", "true")
    run(tmp_path, "kv", "set", "greeting", "hello", "--string", "--ttl", "3600")
    assert run(tmp_path, "kv", "get", "flags:dark_mode").stdout.strip() == "true"
    assert run(tmp_path, "kv", "get", "greeting").stdout.strip() == '"hello"'
    assert run(tmp_path, "kv", "keys", "flags:").stdout.split() == ["flags:dark_mode"]
    run(tmp_path, "kv", "del", "flags:dark_mode")
    assert run(tmp_path, "kv", "get", "flags:dark_mode", ok=False).returncode == 1
    bad = run(tmp_path, "kv", "set", "k", "not json", ok=False)
    assert bad.returncode == 2 and "--string" in bad.stderr


def test_config_errors_name_the_path(tmp_path: Path) -> None:
    (tmp_path / "lexigram-storage.yaml").write_text(
        "storage:\n  drivers:\n    local: {root_dir: ./d, colour: red}\n"
    )
    done = run(tmp_path, "ls", ok=False)
    assert done.returncode == 2 and "$.storage.drivers.local" in done.stderr


def test_ctrl_c_leaves_nothing_partial(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    with open(big, "wb") as handle:
        for _ in range(64):
            handle.write(os.urandom(4 * 1024 * 1024))  # 256 MiB
    proc = subprocess.Popen(
        [*CLI, "cp", "big.bin", "local:big.bin"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "LEXIGRAM_STORAGE_CONFIG": ""},
    )
    data = tmp_path / "storage" / "data"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (
        data.exists() and any(p.is_file() for p in data.rglob("*"))
    ):
        time.sleep(0.005)
    assert proc.poll() is None, "the copy finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert not (data / "big.bin").exists()
    leftovers = [p for p in data.rglob("*") if p.is_file()] if data.exists() else []
    assert leftovers == []


def test_help_names_the_distribution_and_the_docs(tmp_path: Path) -> None:
    out = " ".join(run(tmp_path, "--help").stdout.split())
    assert "Installed by the distribution lexigram-storage-kit" in out
    assert "https://lexigram.github.io/lexigram-storage/cli/" in out


def test_sigterm_during_a_download_leaves_no_partial_file(two_backends: Path) -> None:
    (two_backends / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    run(two_backends, "cp", "big.bin", "disk:big.bin")
    proc = subprocess.Popen(
        [*CLI, "cp", "disk:big.bin", "out.bin"],
        cwd=two_backends,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "LEXIGRAM_STORAGE_CONFIG": "",
            "LEXIGRAM_STORAGE_CLI_TEST_PAUSE_AFTER_BYTES": "1",
        },
    )
    assert proc.stderr is not None
    assert proc.stderr.readline().startswith("test-hook: paused")
    assert len(list(two_backends.glob(".lxs-partial-*"))) == 1  # planted mid-download
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "interrupted by SIGTERM" in err
    assert (
        list(two_backends.glob(".lxs-partial-*")) == [] and not (two_backends / "out.bin").exists()
    )


def test_downloads_keep_the_source_time_so_syncing_back_copies_nothing(two_backends: Path) -> None:
    (two_backends / "site").mkdir()
    for i in range(3):
        (two_backends / "site" / f"p{i}.html").write_text(f"page {i}")
    run(two_backends, "sync", "site", "disk:site")
    run(two_backends, "sync", "disk:site", "copy")
    stat = json.loads(run(two_backends, "stat", "disk:site/p0.html").stdout)
    assert (two_backends / "copy" / "p0.html").stat().st_mtime == pytest.approx(
        datetime.fromisoformat(stat["last_modified"]).timestamp(), abs=1e-3
    )
    assert (
        "copied 0, deleted 0, unchanged 3" in run(two_backends, "sync", "copy", "disk:site").stderr
    )
    assert (
        "copied 0, deleted 0, unchanged 3" in run(two_backends, "sync", "disk:site", "copy").stderr
    )


def test_read_only_commands_never_create_the_zero_config_store(tmp_path: Path) -> None:
    for args, code in [
        (["ls"], 0),
        (["ls", "-r", "--json"], 0),
        (["health"], 0),
        (["kv", "keys"], 0),
        (["cat", "local:a.txt"], 1),
        (["stat", "a.txt"], 1),
        (["kv", "get", "k"], 1),
        (["ls", "local:reports/"], 1),
    ]:
        done = run(tmp_path, *args, ok=False)
        assert done.returncode == code, (args, done.stderr)
        assert "zero-config default" in done.stderr and len(done.stderr.splitlines()) == 1
        assert list(tmp_path.iterdir()) == [], args
    (tmp_path / "a.txt").write_text("a")
    first = run(tmp_path, "cp", "a.txt", "local:a.txt")
    assert "zero-config default" in first.stderr  # said once: when the store is made
    assert "zero-config" not in run(tmp_path, "ls").stderr


def test_documented_exit_codes_of_every_command(two_backends: Path) -> None:
    (two_backends / "f.txt").write_text("x")
    run(two_backends, "cp", "f.txt", "disk:d/f.txt")
    cases: list[tuple[list[str], int]] = [
        # 0: done
        (["ls", "disk:d/"], 0),
        (["stat", "disk:d/f.txt"], 0),
        (["cat", "disk:d/f.txt"], 0),
        (["url", "disk:d/f.txt"], 0),
        (["health"], 0),
        (["config", "check"], 0),
        (["sync", "disk:d", "archive:d"], 0),
        (["cp", "disk:d/f.txt", "archive:f.txt"], 0),
        (["rm", "archive:f.txt"], 0),
        (["kv", "keys"], 0),
        # 1: an error (missing object, nothing matches)
        (["ls", "disk:nothing-here"], 1),
        (["ls", "disk:d/nothing-"], 1),
        (["stat", "disk:nope"], 1),
        (["cat", "disk:nope"], 1),
        (["cp", "disk:nope", "archive:x"], 1),
        (["kv", "get", "nope"], 1),
        # 2: usage: an unknown backend, a bad option or value
        (["ls", "dsk:d/"], 2),
        (["stat", "archiv:d/f.txt"], 2),
        (["cat", "s4:foo"], 2),
        (["rm", "dsik:d/f.txt"], 2),
        (["rm", "-r", "disk:d"], 2),
        (["url", "dsk:d/f.txt"], 2),
        (["url", "--presign", "--expires", "soon", "disk:d/f.txt"], 2),
        (["cp", "f.txt", "dsk:f.txt"], 2),
        (["sync", "disk:d", "archve:d"], 2),
        (["sync", "--checksum", "--size-only", "disk:d", "archive:d"], 2),
        (["kv", "set", "k", "not json"], 2),
        (["frobnicate"], 2),
    ]
    for args, code in cases:
        done = run(two_backends, *args, ok=False)
        assert done.returncode == code, (args, done.stdout, done.stderr)
    typo = run(two_backends, "ls", "dsk:d/", ok=False)
    assert "no backend 'dsk'" in typo.stderr and "did you mean 'disk'?" in typo.stderr
    assert (two_backends / "disk" / "d" / "f.txt").exists()


def _read_then_close(cwd: Path, *args: str) -> tuple[int, bytes, str]:
    """Run the command with its stdout read for a few bytes, then closed (``| head``)."""
    proc = subprocess.Popen(
        [*CLI, *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "LEXIGRAM_STORAGE_CONFIG": ""},
    )
    assert proc.stdout is not None and proc.stderr is not None
    head = proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    return proc.wait(timeout=60), head, err


def test_a_closed_pipe_ends_quietly_as_unix_tools_do(two_backends: Path) -> None:
    (two_backends / "big.bin").write_bytes(b"0123456789" * 500_000)  # far more than a pipe holds
    run(two_backends, "cp", "big.bin", "disk:big.bin")
    many = two_backends / "disk" / "many"
    many.mkdir()
    for i in range(1500):
        (many / f"a-file-with-a-rather-long-name-{i:05}.txt").write_text("x")
    for args in (["cat", "disk:big.bin"], ["ls", "-r", "disk:"], ["ls", "-r", "--json", "disk:"]):
        code, head, err = _read_then_close(two_backends, *args)
        assert len(head) == 10
        assert (code, err) == (141, ""), args


@pytest.fixture
def logs(two_backends: Path) -> Path:
    folder = two_backends / "logs"
    (folder / "old").mkdir(parents=True)
    for name in ("2026-01.gz", "2026-02.gz", "2025-12.gz", "2026-notes.txt", "old/2026-00.gz"):
        (folder / name).write_text(name)
    run(two_backends, "cp", "-r", "logs", "disk:logs")
    return two_backends


def test_globs_in_source_paths(logs: Path) -> None:
    listed = run(logs, "ls", "disk:logs/2026-*.gz").stdout
    assert "logs/2026-01.gz" in listed and "logs/2026-02.gz" in listed
    assert "2025-12" not in listed and "notes" not in listed and "old/" not in listed
    run(logs, "cp", "disk:logs/2026-*.gz", "archive:y2026/")
    assert sorted(p.name for p in (logs / "archive" / "y2026").iterdir()) == [
        "2026-01.gz",
        "2026-02.gz",
    ]
    run(logs, "cp", "logs/2025-*.gz", "archive:y2025/")  # a glob on this machine, quoted
    assert [p.name for p in (logs / "archive" / "y2025").iterdir()] == ["2025-12.gz"]
    nothing = run(logs, "ls", "disk:logs/1999-*", ok=False)
    assert nothing.returncode == 1 and "nothing matches" in nothing.stderr
    assert run(logs, "cp", "disk:logs/1999-*", "archive:x/", ok=False).returncode == 1
    refused = run(logs, "rm", "disk:logs/*.txt", ok=False)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    run(logs, "rm", "--yes", "disk:logs/*.txt")
    assert not (logs / "disk" / "logs" / "2026-notes.txt").exists()
    assert (logs / "disk" / "logs" / "2026-01.gz").exists()


def test_include_and_exclude(logs: Path) -> None:
    run(logs, "cp", "-r", "--include", "*.gz", "--exclude", "old/*", "disk:logs", "archive:gz")
    got = sorted(
        p.relative_to(logs / "archive" / "gz").as_posix()
        for p in (logs / "archive" / "gz").rglob("*")
        if p.is_file()
    )
    assert got == ["2025-12.gz", "2026-01.gz", "2026-02.gz"]
    listed = run(logs, "ls", "-r", "--exclude", "*.gz", "disk:logs/").stdout
    assert listed.count("\n") == 1 and "2026-notes.txt" in listed
    (logs / "archive" / "gz" / "keep.txt").write_text("not a .gz: out of the sync's scope")
    synced = run(logs, "sync", "--delete", "--include", "*.gz", "disk:logs", "archive:gz")
    assert "copied 1, deleted 0, unchanged 3" in synced.stderr  # old/2026-00.gz
    assert (logs / "archive" / "gz" / "keep.txt").exists()
    run(logs, "rm", "-r", "--yes", "--exclude", "2026-*", "disk:logs")
    left = sorted(p.name for p in (logs / "disk" / "logs").rglob("*") if p.is_file())
    assert left == ["2026-00.gz", "2026-01.gz", "2026-02.gz", "2026-notes.txt"]


def test_dry_run_json_and_parallel_rm(logs: Path) -> None:
    dry = run(logs, "cp", "-r", "--dry-run", "disk:logs", "archive:copy")
    assert "would copy disk:logs/2026-01.gz -> archive:copy/2026-01.gz" in dry.stdout
    assert not (logs / "archive" / "copy").exists()
    dry_rm = run(logs, "rm", "-r", "--dry-run", "disk:logs/old")
    assert dry_rm.stdout == "would delete disk:logs/old/2026-00.gz\n"
    assert (logs / "disk" / "logs" / "old" / "2026-00.gz").exists()
    copied = run(logs, "cp", "-r", "--json", "-j", "3", "disk:logs", "archive:copy")
    rows = [json.loads(line) for line in copied.stdout.splitlines()]
    assert sorted(r["destination"] for r in rows) == [
        f"archive:copy/{n}"
        for n in ("2025-12.gz", "2026-01.gz", "2026-02.gz", "2026-notes.txt", "old/2026-00.gz")
    ]
    assert all(r["action"] == "copy" and r["size"] > 0 for r in rows)
    synced = run(logs, "sync", "--json", "logs", "archive:fresh")
    assert {json.loads(line)["action"] for line in synced.stdout.splitlines()} == {"copy"}
    stat = run(logs, "stat", "--json", "disk:logs/2026-01.gz").stdout
    assert stat.count("\n") == 1 and json.loads(stat)["size"] == len("2026-01.gz")
    health = [json.loads(line) for line in run(logs, "health", "--json").stdout.splitlines()]
    assert {h["backend"] for h in health} == {"disk", "archive"}
    run(logs, "rm", "-r", "--yes", "-j", "4", "archive:copy")
    assert run(logs, "ls", "-r", "archive:copy/", ok=False).returncode == 1


def _on_a_terminal(
    cwd: Path, *args: str, env: dict[str, str], stdout_too: bool = True, until: str = ""
) -> tuple[subprocess.Popen[bytes], str]:
    """Run the command with stderr (and stdout) on a pseudo-terminal; read what it shows
    until ``until`` appears (or it ends)."""
    import pty
    import re

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*CLI, *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=slave if stdout_too else subprocess.DEVNULL,
        stderr=slave,
        env={**os.environ, "LEXIGRAM_STORAGE_CONFIG": "", "COLUMNS": "160", **env},
    )
    os.close(slave)
    shown = b""
    while not (until and until.encode() in shown):
        try:
            data = os.read(master, 65536)
        except OSError:  # the process ended and closed the terminal
            break
        if not data:
            break
        shown += data
    if until:
        proc.master = master  # type: ignore[attr-defined]  # closed by the caller
    else:
        os.close(master)
    return proc, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode(errors="replace"))


def test_progress_shows_the_phase_after_the_last_byte_in_binary_units(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    proc, shown = _on_a_terminal(
        tmp_path,
        "cp",
        "big.bin",
        "local:big.bin",
        env={"LEXIGRAM_STORAGE_CLI_TEST_PAUSE_AFTER_BYTES": str(3 * 1024 * 1024)},
        until="test-hook: paused",
    )
    # every byte is handed over; the bar says the upload is being completed, not just 100 %
    assert "0/1 object(s), completing 1 upload(s)" in shown
    assert "3.0/3.0 MiB" in shown and " MB" not in shown
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=60)
    os.close(proc.master)  # type: ignore[attr-defined]
    assert code == 143
    done, shown = _on_a_terminal(tmp_path, "cp", "big.bin", "local:again.bin", env={})
    assert done.wait(timeout=60) == 0
    assert "1/1 object(s)" in shown and "MiB/s" in shown
    piped, shown = _on_a_terminal(
        tmp_path, "cp", "big.bin", "local:piped.bin", env={}, stdout_too=False
    )
    assert piped.wait(timeout=60) == 0
    assert "object(s)" in shown and "1/1 object(s)" not in shown  # no bar, the summary only


def test_messages_read_as_people_write(two_backends: Path) -> None:
    long = run(two_backends, "url", "--presign", "--expires", "8d", "disk:x.txt", ok=False)
    assert "expires_in=8 days for" in long.stderr and "at most 7 days for" in long.stderr
    assert "0:00:00" not in long.stderr
    (two_backends / "bad.yaml").write_text(
        "storage:\n  drivers:\n    local: {root_dir: ./d\n  x: 1\n"
    )
    bad = run(two_backends, "--config", "bad.yaml", "ls", ok=False)
    assert bad.returncode == 2
    assert "expected ',' or '}', but got ':'" in bad.stderr and "(line 4," in bad.stderr


def _http(method: str, url: str, data: bytes | None = None, **headers: str) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    assert url.startswith("http://127.0.0.1:")  # loopback only
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_serve_a_local_backend_over_http(tmp_path: Path) -> None:
    import re

    (tmp_path / "lexigram-storage.yaml").write_text(
        "storage:\n"
        "  backends:\n"
        "    - name: files\n"
        "      primary: true\n"
        "      driver: local\n"
        "      local: {root_dir: ./files, base_url: 'http://127.0.0.1:1/dl',\n"
        "              signing_key: a-test-signing-key-of-32-chars-minimum}\n"
        "    - {name: s3ish, driver: memory}\n"
    )
    (tmp_path / "a.txt").write_text("hello, served")
    run(tmp_path, "cp", "a.txt", "files:docs/a.txt")
    proc = subprocess.Popen(
        [*CLI, "serve", "files:", "--port", "0"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "LEXIGRAM_STORAGE_CONFIG": ""},
    )
    try:
        assert proc.stderr is not None
        banner = proc.stderr.readline()
        found = re.search(r"at http://127\.0\.0\.1:(\d+)/dl/", banner)
        assert found, banner
        port = found.group(1)

        def here(url: str) -> str:
            return url.strip().replace("http://127.0.0.1:1/", f"http://127.0.0.1:{port}/")

        get = here(run(tmp_path, "url", "--presign", "files:docs/a.txt").stdout)
        assert _http("GET", get) == (200, b"hello, served")
        assert _http("GET", get, Range="bytes=7-12") == (206, b"served")
        assert _http("HEAD", get)[0] == 200
        assert _http("GET", get.replace("signature=", "signature=0"))[0] == 403
        put = here(run(tmp_path, "url", "--presign", "--method", "PUT", "files:up/b.txt").stdout)
        assert _http("PUT", put, b"uploaded")[0] in (200, 201, 204)
        assert run(tmp_path, "cat", "files:up/b.txt").stdout == "uploaded"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    not_local = run(tmp_path, "serve", "s3ish:", ok=False)
    assert not_local.returncode == 2 and "local backends only" in not_local.stderr


def test_serve_without_its_extra_names_it(tmp_path: Path) -> None:
    blocker = tmp_path / "no-uvicorn"
    blocker.mkdir()
    # stands in for an install without the extra: importing uvicorn fails as if absent
    (blocker / "uvicorn.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'uvicorn'\", name='uvicorn')\n"
    )
    done = run(
        tmp_path,
        "serve",
        ok=False,
        env={"PYTHONPATH": f"{blocker}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"},
    )
    assert done.returncode == 2
    assert "pip install 'lexigram-storage-kit[serve]'" in done.stderr
    assert not (tmp_path / "storage").exists()


# -- store URLs wherever NAME:path is taken ------------------------------------------------


def test_file_urls_in_every_command(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "tree" / "sub").mkdir(parents=True)
    (work / "tree" / "a.txt").write_text("alpha\n")
    (work / "tree" / "sub" / "b.csv").write_text("x,y\n")
    root = (work / "tree").as_uri()
    assert run(work, "cat", f"{root}/a.txt").stdout == "alpha\n"
    assert json.loads(run(work, "stat", "--json", f"{root}/sub/b.csv").stdout)["size"] == 4
    listed = run(work, "ls", "-r", "--json", root).stdout.splitlines()
    assert sorted(json.loads(line)["path"] for line in listed) == ["a.txt", "sub/b.csv"]
    copy = tmp_path / "copy"
    run(work, "cp", "-r", root, f"{copy.as_uri()}/", ok=False)  # two local paths: refused
    run(work, "sync", root, "local:mirror")
    assert (work / "storage" / "data" / "mirror" / "sub" / "b.csv").read_text() == "x,y\n"
    run(work, "sync", "local:mirror", copy.as_uri())
    assert (copy / "a.txt").read_text() == "alpha\n"
    run(work, "rm", f"{copy.as_uri()}/a.txt")
    assert not (copy / "a.txt").exists() and (copy / "sub" / "b.csv").exists()
    run(work, "rm", "-r", "--yes", copy.as_uri())
    assert not (copy / "sub" / "b.csv").exists()


def test_a_url_only_command_needs_no_config_and_creates_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("alpha\n")
    done = run(tmp_path, "cat", (tmp_path / "a.txt").as_uri())
    assert done.stdout == "alpha\n" and "zero-config" not in done.stderr
    missing = run(tmp_path, "stat", (tmp_path / "nope.txt").as_uri(), ok=False)
    assert missing.returncode == 1 and "nope.txt" in missing.stderr
    assert not (tmp_path / "storage").exists()


def test_a_memory_url_is_a_store_of_its_own(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("alpha\n")
    done = run(tmp_path, "cp", "--json", "a.txt", "memory://in/")
    assert json.loads(done.stdout)["destination"] == "memory://in/a.txt"
    assert "zero-config" not in done.stderr  # a file and a URL: no config involved
    assert not (tmp_path / "storage").exists()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("foo://bucket/key", ["'foo'", "Known schemes"]),
        ("s4://bucket/key", ["'s4'", "Known schemes"]),
        ("s3://bucket/key?regoin=eu-west-1", ["'regoin'", "did you mean 'region'"]),
        ("s3://bucket/key#frag", ["#fragment"]),
    ],
)
def test_a_bad_store_url_is_a_usage_error(tmp_path: Path, url: str, words: list[str]) -> None:
    for command in (["cat"], ["ls"], ["cp", "x.txt"], ["rm"]):
        done = run(tmp_path, *command, url, ok=False)
        assert done.returncode == 2, (command, done.stderr)
        assert all(w in done.stderr for w in words), done.stderr
        assert "no backend" not in done.stderr


def test_secrets_in_a_store_url_are_never_echoed(tmp_path: Path) -> None:
    secret = "never-show-this-secret-0123456789"
    url = f"s3://bucket/key?secret_key={secret}&region=eu-west-1"
    for command in (["cat"], ["stat"], ["url"], ["cp", "x.txt"], ["ls"]):
        done = run(tmp_path, *command, url, ok=False)
        assert done.returncode == 2, (command, done.stderr)
        assert secret not in done.stdout + done.stderr
        assert "secret_key=***" in done.stderr and "region=eu-west-1" in done.stderr


def test_serve_takes_no_store_url(tmp_path: Path) -> None:
    done = run(tmp_path, "serve", "memory://", ok=False)
    assert done.returncode == 2 and "not a store URL" in done.stderr


def test_reading_a_file_url_of_a_missing_folder_creates_nothing(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    assert run(tmp_path, "ls", f"{gone.as_uri()}/sub/", ok=False).returncode == 1
    missing = run(tmp_path, "cat", f"{gone.as_uri()}/a.txt", ok=False)
    assert missing.returncode == 1 and "a.txt" in missing.stderr
    run(tmp_path, "rm", f"{gone.as_uri()}/a.txt")  # a missing object is not an error
    assert not gone.exists()
