"""A child process for the multi-process and crash tests (run as a script, not collected).

python kv_worker.py ack PATH TASKS        # write k<task>-<n> forever, print each acked key
python kv_worker.py mixed PATH ID N       # N distinct keys, N overlapping, N increments
python kv_worker.py add PATH ID PAUSE     # on "go", add("lock", ID); PAUSE=1: stop once it
                                          # decided (under the log's lock) until "continue"
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from lexigram.storage.kv import LocalStorage


async def ack(path: str, tasks: int) -> None:
    store = LocalStorage(path, compact_min_bytes=64 * 1024)

    async def writer(task: int) -> None:
        n = 0
        while True:
            key = f"k{task}-{n}"
            await store.set(key, {"task": task, "n": n, "pad": "x" * (n % 50)})
            sys.stdout.write(key + "\n")
            sys.stdout.flush()
            n += 1

    print("ready", flush=True)
    await asyncio.gather(*(writer(t) for t in range(tasks)))


async def mixed(path: str, worker: int, n: int) -> None:
    async with LocalStorage(path, compact_min_bytes=32 * 1024) as store:

        async def distinct() -> None:
            for i in range(n):
                await store.set(f"w{worker}:{i}", {"worker": worker, "i": i})

        async def overlapping() -> None:
            for i in range(n):
                await store.set(f"shared:{i}", {"worker": worker, "i": i})

        async def counting() -> None:
            for _ in range(n):
                await store.increment("counter")

        async def batched() -> None:
            for i in range(0, n, 10):
                await store.set_many({f"m{worker}:{j}": j for j in range(i, i + 10)})

        await asyncio.gather(distinct(), overlapping(), counting(), counting(), batched())
    print("done", flush=True)


async def add(path: str, worker: str, pause: bool) -> None:
    from lexigram.storage.kv.local import ops

    if pause:
        plan = ops.Planner.plan

        def paused(self: ops.Planner, op: ops.Op, texts: list[str], records: list[Any]) -> object:
            result = plan(self, op, texts, records)
            if isinstance(op, ops.AddOp):
                print(f"decided {result}", flush=True)
                assert sys.stdin.readline().strip() == "continue"
            return result

        ops.Planner.plan = paused  # type: ignore[method-assign]
    async with LocalStorage(path) as store:
        print("ready", flush=True)
        assert (await asyncio.to_thread(sys.stdin.readline)).strip() == "go"
        won = await store.add("lock", worker)
        print(f"result {won}", flush=True)


def main() -> None:
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "ack":
        asyncio.run(ack(path, int(sys.argv[3])))
    elif mode == "mixed":
        asyncio.run(mixed(path, int(sys.argv[3]), int(sys.argv[4])))
    elif mode == "add":
        asyncio.run(add(path, sys.argv[3], sys.argv[4] == "1"))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
