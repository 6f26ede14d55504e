"""LocalStorage.add() racing from two real processes: exactly one wins."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import lexigram.storage
from lexigram.storage.kv import LocalStorage

WORKER = Path(__file__).with_name("kv_worker.py")
SRC = Path(lexigram.storage.__file__).parents[2]


def _spawn(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _say(proc: subprocess.Popen[str], line: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()


def _hear(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line, proc.stderr.read() if proc.stderr else "worker died"
    return line


@pytest.mark.asyncio
async def test_add_racing_from_two_processes_has_exactly_one_winner(tmp_path: Path) -> None:
    path = str(tmp_path / "kv.jsonl")
    # A stops right after it found "lock" absent, before it wrote it; B's add starts
    # then. B must not also find the key absent: it must see A's write.
    with _spawn("add", path, "A", "1") as first, _spawn("add", path, "B", "0") as second:
        try:
            assert _hear(first) == "ready"
            assert _hear(second) == "ready"
            _say(first, "go")
            assert _hear(first) == "decided True"
            _say(second, "go")
            _say(first, "continue")
            results = {"A": _hear(first), "B": _hear(second)}
            assert first.wait() == 0 and second.wait() == 0
        finally:
            for proc in (first, second):
                if proc.poll() is None:
                    proc.kill()
    assert results == {"A": "result True", "B": "result False"}
    async with LocalStorage(path) as store:
        assert await store.get("lock") == "A"
