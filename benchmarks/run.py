"""Run one benchmark and print its report.

    python benchmarks/run.py NAME [--quick]
    python benchmarks/run.py --list

``NAME`` is the file name of ``benchmarks/<NAME>.py`` (dashes and underscores are
interchangeable). The module defines ``run(quick: bool) -> list[dict]``, plain or
``async def``. Each row holds at least ``case``, ``ours``, ``baseline``, ``unit``, ``ratio``
and ``target``; ``ok`` and ``extra`` are optional. The runner prints a fixed-width table,
then one line ``JSON: {"benchmark": NAME, "rows": [...]}``. A missed target is shown as
MISS but does not change the exit status: a benchmark is a report, not a test. The exit
status is 2 when the benchmark is unknown or its rows are malformed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import inspect
import json
import math
import operator
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
REQUIRED: dict[str, type | tuple[type, ...]] = {
    "case": str,
    "ours": (int, float),
    "baseline": (int, float),
    "unit": str,
    "ratio": (int, float),
    "target": str,
}
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
}
_TARGET = re.compile(r"^\s*(<=|>=|<|>|==)\s*([0-9]*\.?[0-9]+)\s*x?\s*$")


class BenchmarkError(Exception):
    """The benchmark cannot be found or its report is malformed."""


def available() -> list[str]:
    """Benchmark names: every ``benchmarks/*.py`` except this runner and ``_private`` files."""
    return sorted(
        p.stem for p in HERE.glob("*.py") if not p.name.startswith("_") and p.name != "run.py"
    )


def resolve(name: str) -> Path:
    wanted = name.removesuffix(".py").replace("-", "_")
    for stem in available():
        if stem.replace("-", "_") == wanted:
            return HERE / f"{stem}.py"
    raise BenchmarkError(
        f"no benchmark named {name!r} in {HERE}; available: {', '.join(available()) or 'none'}"
    )


def load(path: Path) -> ModuleType:
    # Benchmarks import their helpers as `import _measure`.
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    spec = importlib.util.spec_from_file_location(f"benchmarks_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise BenchmarkError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def call_run(module: ModuleType, quick: bool) -> Any:
    run = getattr(module, "run", None)
    if not callable(run):
        raise BenchmarkError(f"{module.__file__} defines no run(quick: bool) function")
    result = run(quick)
    if inspect.isawaitable(result):

        async def _await() -> Any:
            return await result

        result = asyncio.run(_await())
    return result


def target_met(ratio: float, target: str) -> bool | None:
    """Whether ``ratio`` meets a target such as ``"<= 1.5x"``; ``None`` if unparseable."""
    match = _TARGET.match(target)
    if match is None:
        return None
    return _OPS[match.group(1)](ratio, float(match.group(2)))


def check_rows(rows: Any) -> list[dict[str, Any]]:
    if not isinstance(rows, list):
        raise BenchmarkError(f"run() must return a list of dicts, got {type(rows).__name__}")
    problems: list[str] = []
    checked: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            problems.append(f"row {i}: not a dict ({type(row).__name__})")
            continue
        for key, kind in REQUIRED.items():
            if key not in row:
                problems.append(f"row {i}: missing {key!r}")
            elif isinstance(row[key], bool) or not isinstance(row[key], kind):
                problems.append(f"row {i}: {key!r} has type {type(row[key]).__name__}")
        if "ok" in row and not isinstance(row["ok"], bool):
            problems.append(f"row {i}: 'ok' must be a bool")
        if "extra" in row and not isinstance(row["extra"], dict):
            problems.append(f"row {i}: 'extra' must be a dict")
        checked.append(dict(row))
    if problems:
        raise BenchmarkError("malformed rows:\n  " + "\n  ".join(problems))
    for row in checked:
        if "ok" not in row:
            met = target_met(float(row["ratio"]), row["target"])
            if met is not None:
                row["ok"] = met
    return checked


def _num(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _status(ok: object) -> str:
    if ok is True:
        return "ok"
    if ok is False:
        return "MISS"
    return "-"


def table(rows: Sequence[dict[str, Any]]) -> str:
    header = ("case", "ours", "baseline", "unit", "ratio", "target", "status")
    lines = [
        (
            str(r["case"]),
            _num(float(r["ours"])),
            _num(float(r["baseline"])),
            str(r["unit"]),
            f"{float(r['ratio']):.2f}x",
            str(r["target"]),
            _status(r.get("ok")),
        )
        for r in rows
    ]
    widths = [max(len(c) for c in col) for col in zip(header, *lines, strict=False)]
    right = {1, 2, 4}

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), rule, *(fmt(line) for line in lines)])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py", description="Run one benchmark and print its report."
    )
    parser.add_argument("name", nargs="?", help="benchmark name (file stem in benchmarks/)")
    parser.add_argument("--quick", action="store_true", help="a short run, for smoke checks")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)

    if args.list:
        print("\n".join(available()) or "(no benchmarks yet)")
        return 0
    if not args.name:
        parser.error("NAME is required (or --list)")
    try:
        path = resolve(args.name)
        rows = check_rows(call_run(load(path), args.quick))
    except BenchmarkError as exc:
        print(f"benchmarks/run.py: {exc}", file=sys.stderr)
        return 2
    name = path.stem
    mode = "quick" if args.quick else "full"
    print(f"benchmark {name} ({mode})")
    print(table(rows))
    missed = sum(1 for r in rows if r.get("ok") is False)
    if missed:
        print(f"{missed} of {len(rows)} targets missed (reported, not failed)")
    print("JSON: " + json.dumps({"benchmark": name, "rows": rows}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
