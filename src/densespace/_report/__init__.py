"""What a finished search shows a person: the summary, ``trials.csv``, ``report.md`` and its plot."""

from __future__ import annotations

from pathlib import Path

from densespace._files import write_text
from densespace._report.plot import PLOT_FILE, plot
from densespace._report.text import (
    REPORT_FILE,
    TRIALS_FILE,
    fit,
    report_markdown,
    show,
    show_values,
    summary,
    terminal_width,
    trials_csv,
)
from densespace._results import Results

__all__ = [
    "PLOT_FILE",
    "REPORT_FILE",
    "TRIALS_FILE",
    "fit",
    "show",
    "show_values",
    "summary",
    "terminal_width",
    "write_report",
]


def write_report(out: Path, results: Results) -> None:
    """Writes ``trials.csv``, the score plot and ``report.md`` into ``out`` (each atomically)."""
    write_text(out / TRIALS_FILE, trials_csv(results))
    plot(results, out / PLOT_FILE)
    write_text(out / REPORT_FILE, report_markdown(results))
