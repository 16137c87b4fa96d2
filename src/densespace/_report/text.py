"""The run as text: the summary table, ``trials.csv`` and ``report.md``."""

from __future__ import annotations

import csv
import io
from typing import Any

from densespace._report.plot import PLOT_FILE
from densespace._results import Results

TRIALS_FILE = "trials.csv"
REPORT_FILE = "report.md"


def show(value: Any) -> str:
    """A hyperparameter value, short."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _values(values: dict[str, Any]) -> str:
    return " ".join(f"{k}={show(v)}" for k, v in values.items())


def trials_csv(results: Results) -> str:
    """One row per trial: id, status, score, seconds, epochs, then each hyperparameter."""
    names: list[str] = []
    for trial in results.trials:
        names += [n for n in trial.values if n not in names]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "status", "score", "seconds", "epochs", *names])
    for t in results.trials:
        writer.writerow([t.id, t.status, t.score, t.seconds, t.epochs, *(t.values.get(n, "") for n in names)])
    return buffer.getvalue()


def summary(results: Results) -> str:
    """The table of retrained models and the run's cost, as plain text."""
    trials = results.trials
    completed = sum(t.status == "completed" for t in trials)
    cost, data = results.cost, results.data
    lines = [
        f"{results.spec['name']}: {results.tuner} search, {len(trials)} trials "
        f"({completed} completed), objective {results.objective}",
        f"data: {data.source} (train {data.train}, validation {data.validation}, test {data.test})",
        f"cost: {cost.search_epochs:g} search + {cost.retrain_epochs} retraining epochs, {cost.seconds:.0f} s",
    ]
    if results.best:
        lines.append("")
        header = ["rank", "trial", "test accuracy", "test loss", "parameters", "model", "values"]
        rows = [
            [
                str(b.rank),
                b.trial,
                f"{b.test_metrics['accuracy']:.4f}",
                f"{b.test_metrics['loss']:.4f}",
                f"{b.parameters:,}",
                b.model,
                _values(b.values),
            ]
            for b in results.best
        ]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines) + "\n"


def report_markdown(results: Results) -> str:
    """``report.md``: the summary, the retrained models, every trial and the plot."""
    lines = [
        f"# {results.spec['name']}",
        "",
        "```",
        summary(results).rstrip(),
        "```",
        "",
        f"![score per trial]({PLOT_FILE})",
        "",
        "## Trials",
        "",
        f"| trial | status | {results.objective} | seconds | epochs | values |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for t in results.trials:
        score = "" if t.score is None else f"{t.score:.4f}"
        seconds = "" if t.seconds is None else f"{t.seconds:.1f}"
        epochs = "" if t.epochs is None else f"{t.epochs:g}"
        lines.append(f"| {t.id} | {t.status} | {score} | {seconds} | {epochs} | {_values(t.values)} |")
    versions = ", ".join(f"{k} {v}" for k, v in results.versions.items())
    lines += ["", f"densespace {results.densespace}, {versions}; {results.created}", ""]
    return "\n".join(lines)
