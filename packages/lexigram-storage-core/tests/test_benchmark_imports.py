"""``benchmarks/`` runs without the test extra: the server launchers and the fault proxy
of the test kit, and every benchmark module, import in an interpreter where pytest,
pytest-asyncio and hypothesis cannot be imported at all (a meta-path finder refuses
them), so a missing test extra cannot go unnoticed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"

PROGRAM = textwrap.dedent(
    """
    import importlib.abc, importlib.util, json, sys
    from pathlib import Path

    class NoTestExtra(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("pytest", "_pytest", "pytest_asyncio", "hypothesis"):
                raise ImportError(f"{name} is not installed (test extra missing)")
            return None

    sys.meta_path.insert(0, NoTestExtra())
    import lexigram.storage.testing.servers, lexigram.storage.testing.faults

    here = Path(sys.argv[1])
    sys.path.insert(0, str(here))
    loaded = []
    for path in sorted(here.glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)  # imports only: run() is not called
        loaded.append(path.stem)
    print(json.dumps(loaded))
    """
)


def test_benchmarks_import_without_the_test_extra() -> None:
    assert BENCHMARKS.is_dir(), BENCHMARKS
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(BENCHMARKS)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"run", "_measure", "s3", "local", "memory_overhead"} <= set(loaded)
