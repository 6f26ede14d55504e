"""The integrations stay optional: importing the library (and building stores) loads
neither fsspec, OpenTelemetry nor Django."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import asyncio, sys
import lexigram.storage
from lexigram.storage import StorageProvider

async def main():
    async with StorageProvider() as p:
        await p.store().upload("a", b"1")

asyncio.run(main())
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("fsspec", "opentelemetry", "django"))
print(",".join(loaded))
"""


def test_the_core_imports_no_integration_library() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_each_integration_loads_its_library() -> None:
    for module, library in (
        ("lexigram.storage.fsspec", "fsspec"),
        ("lexigram.storage.otel", "opentelemetry"),
        ("lexigram.storage.django", "django"),
    ):
        probe = f"import sys, {module}; print({library!r} in sys.modules)"
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        )
        assert done.stdout.strip() == "True", (module, done.stderr)
