"""The run as text: the summary table, ``trials.csv``, ``report.md`` and the comparison of runs.

Text from a results file (names, values, paths) is shown with its control characters
escaped (``printable``); in ``report.md`` also with Markdown and HTML escaped, so that it
reads as text and never as markup.
"""

from __future__ import annotations

import csv
import html
import io
import re
from typing import Any

from densespace._errors import printable
from densespace._report.plot import PLOT_FILE
from densespace._results import Results, ranked

TRIALS_FILE = "trials.csv"
REPORT_FILE = "report.md"


def show(value: Any) -> str:
    """A hyperparameter value, short."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).lower() if isinstance(value, bool) else str(value)


def show_values(values: dict[str, Any]) -> str:
    """Hyperparameter values as ``name=value`` words."""
    return " ".join(f"{k}={show(v)}" for k, v in values.items())


def markdown(text: str) -> str:
    r"""``text`` as literal Markdown text on one line: control characters escaped (``printable``),
    the characters that make links, code, emphasis and table cells backslash-escaped, and HTML's
    ``&``, ``<`` and ``>`` as entities.

    Examples:
        >>> print(markdown("<img src=x onerror=alert(1)> | [a](b)\n# *c*"))
        &lt;img src=x onerror=alert(1)&gt; \| \[a\](b)\\n# \*c\*
    """
    return html.escape(re.sub(r"([\\`*\[\]|])", r"\\\1", printable(text)), quote=False)


def _fenced(text: str) -> list[str]:
    """``text`` as a Markdown code block, its fence longer than any run of backticks in it."""
    fence = "`" * max([3, *(len(run) + 1 for run in re.findall("`+", text))])
    return [fence, text, fence]


def _table(rows: list[list[str]]) -> list[str]:
    """Rows of cells as aligned text lines (the first row the header), control characters escaped."""
    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def _metric(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


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
    """The table of retrained models (and their ensemble), the run's cost and its accuracy/size front,
    as plain text."""
    trials = results.trials
    completed = sum(t.status == "completed" for t in trials)
    warm = sum(t.warm_start for t in trials)
    cost, data = results.cost, results.data
    lines = [
        printable(
            f"{results.spec.get('name', '(unnamed)')}: {results.tuner} search, {len(trials)} trials "
            f"({completed} completed{f', {warm} from a warm start' if warm else ''}), objective "
            f"{results.objective}" + ("" if results.task == "classification" else f", task {results.task}")
        ),
        printable(
            f"data: {data.source} (train {data.train}, validation {data.validation}, test {data.test})"
        ),
        f"cost: {cost.search_epochs:g} search + {cost.retrain_epochs} retraining epochs, {cost.seconds:.0f} s",
    ]
    if results.best:
        lines.append("")
        names = [*(n for n in results.best[0].test_metrics if n != "loss"), "loss"]
        header = ["rank", "trial", *(f"test {n}" for n in names), "parameters", "model", "values"]
        rows = [
            [
                str(b.rank),
                b.trial,
                *(_metric(b.test_metrics.get(n)) for n in names),
                f"{b.parameters:,}",
                b.model,
                show_values(b.values),
            ]
            for b in results.best
        ]
        if results.ensemble is not None:
            e = results.ensemble
            rows.append(
                [
                    "ensemble",
                    "ranks " + ", ".join(map(str, e.members)),
                    *(_metric(e.test_metrics.get(n)) for n in names),
                    f"{sum(b.parameters for b in results.best if b.rank in e.members):,}",
                    e.model,
                    "",
                ]
            )
        lines += _table([header, *rows])
    if results.front:
        points = (
            f"trial {p.trial} ({p.parameters:,} parameters, {results.objective} {p.score:.4f})"
            for p in results.front
        )
        lines += ["", "front (smaller and better): " + ", ".join(points)]
    return "\n".join(lines) + "\n"


def report_markdown(results: Results) -> str:
    """``report.md``: the summary, the retrained models, every trial and the plot."""
    lines = [
        f"# {markdown(str(results.spec.get('name', '(unnamed)')))}",
        "",
        *_fenced(summary(results).rstrip()),
        "",
        f"![score per trial]({PLOT_FILE})",
        "",
        "## Trials",
        "",
        f"| trial | status | {markdown(results.objective)} | seconds | epochs | values |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for t in results.trials:
        score = "" if t.score is None else f"{t.score:.4f}"
        seconds = "" if t.seconds is None else f"{t.seconds:.1f}"
        epochs = "" if t.epochs is None else f"{t.epochs:g}"
        lines.append(
            f"| {t.id} | {t.status} | {score} | {seconds} | {epochs} | {markdown(show_values(t.values))} |"
        )
    versions = ", ".join(f"{k} {v}" for k, v in results.versions.items())
    lines += ["", markdown(f"densespace {results.densespace}, {versions}; {results.created}"), ""]
    return "\n".join(lines)


def compare(results_list: list[Results], *, labels: list[str] | None = None) -> str:
    """Several runs side by side, one row each, as plain text.

    Columns: the run's label (when given), name, task, tuner, objective, the best
    completed trial's score, the test metrics of the rank-1 model (every metric of
    any run, ``loss`` last; empty where a run lacks it), completed/total trials,
    search+retraining epochs and wall seconds.

    Args:
        results_list: The runs, in the order to show them.
        labels: A label per run (the CLI passes the folders), shown first.

    Returns:
        The table, one line per row, with a trailing newline.

    Raises:
        ValueError: ``labels`` is given with a different length than ``results_list``.

    Examples:
        >>> print(compare([]), end="")  # the columns, for no run
        name  task  tuner  objective  best  trials  epochs  seconds
        >>> import densespace
        >>> runs = ["runs/a", "runs/b"]
        >>> print(compare([densespace.load_results(r) for r in runs], labels=runs))  # doctest: +SKIP
    """
    if labels is not None and len(labels) != len(results_list):
        raise ValueError(f"compare: expected one label per run ({len(results_list)}), received {len(labels)}")
    metrics: list[str] = []
    for results in results_list:
        if results.best:
            metrics += [n for n in results.best[0].test_metrics if n not in metrics]
    if "loss" in metrics:
        metrics = [*(n for n in metrics if n != "loss"), "loss"]
    header = [
        *(["run"] if labels is not None else []),
        *("name", "task", "tuner", "objective", "best"),
        *(f"test {n}" for n in metrics),
        *("trials", "epochs", "seconds"),
    ]
    rows = [header]
    for i, results in enumerate(results_list):
        top = ranked(results.trials, results.objective)
        tested = results.best[0].test_metrics if results.best else {}
        completed = sum(t.status == "completed" for t in results.trials)
        cost = results.cost
        rows.append(
            [
                *([labels[i]] if labels is not None else []),
                str(results.spec.get("name", "")),
                results.task,
                results.tuner,
                results.objective,
                _metric(top[0].score if top else None),
                *(_metric(tested.get(n)) for n in metrics),
                f"{completed}/{len(results.trials)}",
                f"{cost.search_epochs:g}+{cost.retrain_epochs}",
                f"{cost.seconds:.0f}",
            ]
        )
    return "\n".join(_table(rows)) + "\n"
