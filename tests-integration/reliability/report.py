"""The "reliability figures" of a run of the reliability suite.

Tests record one :class:`Figures` row each through the ``figures`` fixture (see the
conftest). At the end of the run ``pytest_terminal_summary`` prints a few lines from
:func:`summary` and writes the whole table, with its :data:`LEGEND`, to a file
(:func:`write_table`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import attrs

__all__ = ["LEGEND", "Figures", "render", "summary", "write_table"]


@attrs.define(kw_only=True)
class Figures:
    """What one test did to one driver, and what came of it."""

    driver: str
    test: str
    operations: int = 0
    faults: int = 0
    retries_core: int = 0
    retries_sdk: int = 0
    failures: Counter[str] = attrs.field(factory=Counter)
    lost: int = 0
    corrupted: int = 0
    #: anything else worth a column (fds, connections, memory, seconds).
    notes: dict[str, str] = attrs.field(factory=dict)
    #: why ``lost`` is expected here, for the cases docs/reliability.md documents (an
    #: emulator that stores a body without checking it); empty: any loss is a failure.
    documented_loss: str = ""

    @property
    def retries(self) -> str:
        return f"{self.retries_core + self.retries_sdk} ({self.retries_core}+{self.retries_sdk})"

    @property
    def lost_text(self) -> str:
        return f"{self.lost} *" if self.lost and self.documented_loss else str(self.lost)

    @property
    def failures_text(self) -> str:
        if not self.failures:
            return "0"
        total = sum(self.failures.values())
        kinds = ", ".join(f"{name} {n}" for name, n in sorted(self.failures.items()))
        return f"{total} ({kinds})"


_COLUMNS = (
    ("driver", "driver"),
    ("test", "test"),
    ("ops", "operations"),
    ("faults", "faults"),
    ("retries (core+sdk)", "retries"),
    ("failures surfaced", "failures_text"),
    ("lost", "lost_text"),
    ("corrupted", "corrupted"),
)


def render(rows: Iterable[Figures]) -> list[str]:
    """The table as lines of text (empty when nothing was recorded)."""
    rows = sorted(rows, key=lambda r: (r.test, r.driver))
    if not rows:
        return []
    cells = [[str(getattr(r, attr)) for _, attr in _COLUMNS] for r in rows]
    for r, line in zip(rows, cells, strict=True):
        line.append("; ".join(f"{k} {v}" for k, v in r.notes.items()))
    heads = [h for h, _ in _COLUMNS] + ["notes"]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]

    def fmt(values: list[str]) -> str:
        return " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    out = [fmt(heads), "-+-".join("-" * w for w in widths)]
    out += [fmt(c) for c in cells]
    return out


LEGEND = """\
Legend (one row per test and driver; the suite is tests-integration/reliability/):
  ops                 operations the test ran against the driver's server
  faults              faults injected by the fault proxy (resets, stalls, cut or flipped bytes)
  retries (core+sdk)  attempts repeated: by BlobStore's retry policy + by the SDK's own retries
  failures surfaced   typed errors the caller saw (a fault the test expects to surface)
  lost                objects whose last acknowledged version could not be read back
  corrupted           objects read back with bytes that were never written
  notes               per-test measures (fds, connections, RSS, seconds, outcome)
A "lost" count is a failure except in the emulator cases docs/reliability.md documents
(an altered upload that moto or fake-gcs-server stored without checking, which the driver
then deleted); those rows are marked "*" after the lost count.
"""


def summary(rows: Iterable[Figures]) -> list[str]:
    """A few lines for the end of the run: totals, and what was lost outside the
    documented emulator cases (each such row named; there should be none)."""
    rows = sorted(rows, key=lambda r: (r.test, r.driver))
    if not rows:
        return []
    lost = sum(r.lost for r in rows)
    documented = [r for r in rows if r.lost and r.documented_loss]
    outside = [r for r in rows if r.lost and not r.documented_loss]
    unexpected = sum(r.lost for r in outside)
    failures = sum(sum(r.failures.values()) for r in rows)
    out = [
        f"{len(rows)} row{'' if len(rows) == 1 else 's'}: "
        f"{sum(r.operations for r in rows):,} operations, "
        f"{sum(r.faults for r in rows):,} faults injected, "
        f"{sum(r.retries_core + r.retries_sdk for r in rows):,} retries, "
        f"{failures:,} failures surfaced, {sum(r.corrupted for r in rows)} corrupted",
        f"{unexpected} lost outside the documented emulator cases "
        f"({lost - unexpected} lost in {len(documented)} documented emulator cases)",
    ]
    out += [f"  LOST: {r.driver} / {r.test}: {r.lost}" for r in outside]
    out += [f"  CORRUPTED: {r.driver} / {r.test}: {r.corrupted}" for r in rows if r.corrupted]
    return out


def write_table(rows: Iterable[Figures], path: Path) -> None:
    """The summary, the legend and the whole table, written to ``path``."""
    rows = list(rows)
    text = "\n".join([*summary(rows), "", LEGEND, *render(rows), ""])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
