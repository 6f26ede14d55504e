"""The "reliability figures" table printed at the end of a run of the reliability suite.

Tests record one :class:`Figures` row each through the ``figures`` fixture (see the
conftest); ``pytest_terminal_summary`` prints them with :func:`render`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import attrs

__all__ = ["Figures", "render"]


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

    @property
    def retries(self) -> str:
        return f"{self.retries_core + self.retries_sdk} ({self.retries_core}+{self.retries_sdk})"

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
    ("lost", "lost"),
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
