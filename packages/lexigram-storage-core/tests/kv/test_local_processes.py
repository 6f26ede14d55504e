"""LocalStorage across processes: SIGKILL mid-stream, and concurrent writers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import lexigram.storage
from lexigram.storage.kv import LocalStorage

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fcntl and SIGKILL")

WORKER = Path(__file__).with_name("kv_worker.py")
SRC = Path(lexigram.storage.__file__).parents[2]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env["PYTHONWARNINGS"] = "error"
    return env


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


@pytest.mark.parametrize("tasks", [1, 16])
async def test_every_acknowledged_set_survives_sigkill(tmp_path: Path, tasks: int) -> None:
    """Kill -9 a writer mid-stream; every key it printed (after set returned) is there."""
    path = tmp_path / "kv.jsonl"
    proc = _spawn("ack", str(path), str(tasks))
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline() == "ready\n"
        acked: list[str] = []
        while len(acked) < 400:
            line = proc.stdout.readline()
            assert line, f"writer died early: {proc.stderr.read() if proc.stderr else ''}"
            acked.append(line.strip())
        proc.send_signal(signal.SIGKILL)
        # keys printed before the kill landed are acknowledged too: read the rest of the pipe
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    acked += [line for line in rest.splitlines() if line]
    assert proc.returncode == -signal.SIGKILL

    async with LocalStorage(path) as store:
        stored = await store.get_many(acked)
        for key in acked:
            task, n = (int(part) for part in key[1:].split("-"))
            assert stored.get(key) == {"task": task, "n": n, "pad": "x" * (n % 50)}, key
    # and the file is clean for the next opener: no warning on a second open
    async with LocalStorage(path) as store:
        assert len(await store.keys()) >= len(acked)


@pytest.mark.parametrize("workers", [2, 4])
async def test_concurrent_processes_lose_nothing(tmp_path: Path, workers: int) -> None:
    path = tmp_path / "kv.jsonl"
    n = 150
    procs = [_spawn("mixed", str(path), str(w), str(n)) for w in range(workers)]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out == "done\n"

    async with LocalStorage(path) as store:
        assert await store.get("counter") == workers * 2 * n
        keys = await store.keys()
        for w in range(workers):
            got = await store.get_many([f"w{w}:{i}" for i in range(n)])
            assert got == {f"w{w}:{i}": {"worker": w, "i": i} for i in range(n)}
            batched = await store.get_many([f"m{w}:{j}" for j in range(n)])
            assert batched == {f"m{w}:{j}": j for j in range(n)}
        for i in range(n):
            value = await store.get(f"shared:{i}")
            assert value["i"] == i
            assert value["worker"] in range(workers)
        assert len(keys) == 1 + workers * 2 * n + n
    # the workers compacted (32 KiB threshold): far fewer counter records than increments
    counter_lines = path.read_text().count('"k":"counter"')
    assert 0 < counter_lines < workers * 2 * n
