"""Quick start: write, list, read and delete on the memory store, with nothing but core.

Run it with ``python3 -m hatch run demo:run`` (or ``python examples/quickstart.py``).
"""

import asyncio

from lexigram.storage import BlobNotFoundError, StorageConfig, StorageProvider


async def main() -> None:
    config = StorageConfig(default_driver="memory", drivers={"memory": {}})
    async with StorageProvider(config=config) as provider:
        store = provider.store()

        info = await store.upload(
            "avatars/42.jpg", b"\xff\xd8 a tiny jpeg", metadata={"user": "42"}
        )
        print(f"uploaded {info.path}: {info.size} bytes, {info.content_type}")
        await store.upload("avatars/43.png", b"\x89PNG a tiny png")
        await store.upload("reports/2026/q4.csv", b"month,revenue\noct,10\nnov,12\n")

        async for entry in store.list("", delimiter="/"):
            kind = "dir " if entry.is_prefix else "file"
            print(f"  {kind} {entry.path}")

        print("first bytes of q4.csv:", await store.download("reports/2026/q4.csv", range=(0, 13)))
        for name, status in (await provider.health_check()).items():
            state = "ok" if status.healthy else f"unhealthy: {status.detail}"
            print(f"health of {name}: {state} ({status.latency_ms:.1f} ms)")

        await store.delete("avatars/42.jpg")
        try:
            await store.download("avatars/42.jpg")
        except BlobNotFoundError as exc:
            print("after delete:", exc)


if __name__ == "__main__":
    asyncio.run(main())
