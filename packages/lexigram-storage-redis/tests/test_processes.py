"""increment and add from several real processes at once: no lost count, one winner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import lexigram.storage
from lexigram.storage.redis.store import RedisKVStorage

WORKER = Path(__file__).with_name("redis_worker.py")
PATHS = [str(Path(lexigram.storage.__file__).parents[2]), str(Path(__file__).parents[1] / "src")]


def _spawn(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*PATHS, env.get("PYTHONPATH", "")])
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


async def test_increment_and_add_are_atomic_across_processes(
    store: RedisKVStorage, redis_url: str, prefix: str
) -> None:
    workers, n = 3, 100
    with ExitStack() as stack:
        procs = [
            stack.enter_context(_spawn(redis_url, prefix, str(w), str(n))) for w in range(workers)
        ]
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:  # all connected: start them together
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outputs = [proc.communicate() for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * workers, outputs
    won = [json.loads(out) for out, _ in outputs]
    assert await store.get("counter") == workers * n
    assert sorted(i for wins in won for i in wins) == list(range(n))
    for w, wins in enumerate(won):
        for i in wins:
            assert await store.get(f"lock{i}") == str(w)
