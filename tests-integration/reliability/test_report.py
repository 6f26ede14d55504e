"""The end of a reliability run: a short summary a newcomer can read, the whole table
with a legend in a file."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from .conftest import FIGURES, TABLE_FILE, pytest_terminal_summary
from .report import LEGEND, Figures, render, summary, write_table

EMULATOR = "emulator stored an altered body unchecked; the driver deleted it"


def rows(*, undocumented_loss: bool = False) -> list[Figures]:
    return [
        Figures(driver="s3", test="load", operations=10_000, retries_core=3, retries_sdk=2),
        Figures(
            driver="gcs",
            test="integrity: streamed upload",
            operations=1,
            faults=1,
            failures=Counter({"IntegrityError": 1}),
            lost=1,
            documented_loss=EMULATOR,
        ),
        Figures(driver="azure", test="faults", operations=50, lost=int(undocumented_loss)),
    ]


def test_summary_counts_loss_outside_the_documented_emulator_cases() -> None:
    lines = summary(rows())
    assert lines == [
        "3 rows: 10,051 operations, 1 faults injected, 5 retries, 1 failures surfaced, 0 corrupted",
        "0 lost outside the documented emulator cases (1 lost in 1 documented emulator cases)",
    ]


def test_summary_names_each_undocumented_loss() -> None:
    lines = summary(rows(undocumented_loss=True))
    assert lines[1].startswith("1 lost outside the documented emulator cases")
    assert "  LOST: azure / faults: 1" in lines


def test_the_table_marks_documented_losses_and_the_file_has_a_legend(tmp_path: Path) -> None:
    table = render(rows())
    gcs = next(line for line in table if line.startswith("gcs"))
    azure = next(line for line in table if line.startswith("azure"))
    assert "| 1 *" in gcs and "*" not in azure
    path = tmp_path / "sub" / "figures.txt"
    write_table(rows(), path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("3 rows: 10,051 operations")
    assert LEGEND in text and "lost    " in LEGEND
    assert all(line in text for line in table)


class _Reporter:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def section(self, title: str) -> None:
        self.lines.append(f"== {title} ==")

    def write_line(self, line: str) -> None:
        self.lines.append(line)


def test_the_end_of_the_run_prints_a_summary_and_where_the_table_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as under `-p no:cacheprovider`: no `config.cache` at all; the table then goes to the
    # temp dir (here tmp_path), never into the checkout (rootpath)
    class Config:
        stash: Any = pytest.Stash()
        rootpath = tmp_path / "checkout"

    Config.stash[FIGURES] = rows()
    reporter = _Reporter()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    pytest_terminal_summary(reporter, Config())  # type: ignore[arg-type]
    assert reporter.lines[0] == "== reliability figures =="
    assert reporter.lines[2].startswith("0 lost outside the documented emulator cases")
    assert reporter.lines[-1] == f"full table, with a legend: {TABLE_FILE}"
    assert len(reporter.lines) == 4  # not the table: that is in the file
    assert "integrity: streamed upload" in (tmp_path / TABLE_FILE).read_text(encoding="utf-8")
