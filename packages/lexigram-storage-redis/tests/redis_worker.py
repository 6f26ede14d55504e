"""A child process for the cross-process tests (run as a script, not collected).

python redis_worker.py URL PREFIX ID N   # N times: increment("counter"), add(f"lock{i}", ID)
                                         # then print the indices of the locks it won
"""

from __future__ import annotations

import asyncio
import json
import sys

from lexigram.storage.redis.store import RedisKVStorage


async def main(url: str, prefix: str, worker: str, n: int) -> None:
    async with RedisKVStorage(url, prefix=prefix) as store:
        print("ready", flush=True)
        assert (await asyncio.to_thread(sys.stdin.readline)).strip() == "go"
        won = []
        for i in range(n):
            await store.increment("counter")
            if await store.add(f"lock{i}", worker):
                won.append(i)
        print(json.dumps(won), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
