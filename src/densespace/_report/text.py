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
import shutil
import textwrap
from collections.abc import Sequence
from typing import Any

from densespace._errors import printable
from densespace._report.plot import PLOT_FILE
from densespace._results import BestRecord, Results, ranked

TRIALS_FILE = "trials.csv"
REPORT_FILE = "report.md"
#: The width of the tables when standard output is not a terminal.
WIDTH = 80
#: The indent of a line's continuation, when it is broken to fit the terminal (``fit``).
INDENT = "    "
#: The width of the summary in ``report.md`` (a file, read in an editor or a browser).
REPORT_WIDTH = 100


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


def fit(line: str, width: int | None) -> str:
    """``line`` broken at its spaces into lines of at most ``width`` columns, the later ones
    indented, so that a terminal never breaks a number or a name in two (a word wider than
    ``width`` stays whole); as it is for no ``width``.

    Examples:
        >>> print(fit("[12/40] trial 11  units_0=128  dropout=0.25  val_loss=0.4521", 30))
        [12/40] trial 11  units_0=128
            dropout=0.25
            val_loss=0.4521
    """
    if width is None or len(line) <= width:
        return line
    return "\n".join(
        textwrap.wrap(line, width, subsequent_indent=INDENT, break_long_words=False, break_on_hyphens=False)
    )


def terminal_width() -> int:
    """The width to print at: ``COLUMNS``, else standard output's terminal's, else ``WIDTH``."""
    return shutil.get_terminal_size((WIDTH, 24)).columns


#: The spaces between two columns of a table.
GAP = 2


def _table(rows: list[list[str]], *, width: int | None = None, turn: bool = False) -> list[str]:
    """Rows of cells as a table of plain text lines ``width`` columns wide at most (default
    ``terminal_width()``), with ``rich``: the first row is the header, the columns ``GAP`` spaces
    apart, control characters escaped and nothing read as markup. Cells too wide wrap at their
    spaces, the widest columns first, never inside a word (a number): a word wider than the
    table allows widens it. With ``turn``, a table that cannot fit so is shown turned (its first
    column the header, a column per row).
    """
    from rich.console import Console

    width = width or terminal_width()
    cells = [[printable(cell) for cell in row] for row in rows]
    header = True
    if turn and sum(_widths(cells, 0)) + GAP * (len(cells[0]) - 1) > width:
        cells, header = [list(column) for column in zip(*cells, strict=True)], False
    buffer = io.StringIO()
    # the console is as wide as the widest word needs: rich would cut a word otherwise
    widths = _widths(cells, width)
    console = Console(
        file=buffer,
        width=max(width, sum(widths) + GAP * (len(widths) - 1)),
        color_system=None,
        force_terminal=False,
        emoji=False,
    )
    console.print(_rich_table(cells, widths, header=header), markup=False, highlight=False)
    return [line.rstrip() for line in buffer.getvalue().splitlines()]


def _widths(cells: list[list[str]], width: int) -> list[int]:
    """Each column's width in a table at most ``width`` columns wide: as wide as its widest cell,
    then the widest ones narrowed together, level by level, each down to its longest word at most
    (a few steps per column, however long the cells)."""
    from rich.cells import cell_len

    columns = list(zip(*cells, strict=True))
    widths = [max(cell_len(cell) for cell in column) for column in columns]
    least = [
        max((cell_len(word) for cell in column for word in cell.split()), default=1) for column in columns
    ]
    excess = sum(widths) + GAP * (len(widths) - 1) - width
    while excess > 0:
        narrower = [i for i, (w, m) in enumerate(zip(widths, least, strict=True)) if w > m]
        if not narrower:
            break
        top = max(widths[i] for i in narrower)
        widest = [i for i in narrower if widths[i] == top]
        floor = max([least[i] for i in widest] + [widths[i] for i in narrower if widths[i] < top])
        step = min(top - floor, -(-excess // len(widest)))
        for i in widest:
            cut = min(step, excess)
            widths[i] -= cut
            excess -= cut
    return widths


def _rich_table(cells: list[list[str]], widths: list[int], *, header: bool) -> Any:
    """A ``rich`` table of escaped ``cells`` (the first row the header, unless ``header`` is False),
    its columns of ``widths``."""
    from rich.table import Table
    from rich.text import Text

    table = Table(
        box=None, padding=(0, GAP // 2), pad_edge=False, show_edge=False, show_header=header, header_style=""
    )
    for name, column_width in zip(cells[0], widths, strict=True):
        table.add_column(Text(name) if header else "", width=column_width, overflow="fold")
    for row in cells[1:] if header else cells:
        table.add_row(*(Text(cell) for cell in row))
    return table


def _metric(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def models_table(best: Sequence[BestRecord]) -> tuple[list[str], list[str], list[list[str]]]:
    """The retrained models as a table (``best`` not empty): the test metrics' names (the loss last),
    the header (rank, trial, test metrics, parameters, model, values) and a row per model."""
    names = [*(n for n in best[0].test_metrics if n != "loss"), "loss"]
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
        for b in best
    ]
    return names, header, rows


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


def summary(results: Results, *, width: int | None = None) -> str:
    """The table of retrained models (and their ensemble), the run's cost and its accuracy/size front, as plain text
    ``width`` columns wide at most (default ``terminal_width()``), broken at spaces."""
    width = width or terminal_width()
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
    lines = [fit(line, width) for line in lines]
    if results.best:
        lines.append("")
        names, header, rows = models_table(results.best)
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
        lines += _table([header, *rows], width=width, turn=True)
    if results.front:
        points = (
            f"trial {p.trial} ({p.parameters:,} parameters, {results.objective} {p.score:.4f})"
            for p in results.front
        )
        lines += ["", fit("front (smaller and better): " + ", ".join(points), width)]
    return "\n".join(lines) + "\n"


def report_markdown(results: Results) -> str:
    """``report.md``: the summary, the retrained models, every trial and the plot."""
    lines = [
        f"# {markdown(str(results.spec.get('name', '(unnamed)')))}",
        "",
        *_fenced(summary(results, width=REPORT_WIDTH).rstrip()),
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
    versions += f", Keras backend {results.backend}" if results.backend else ""
    lines += ["", markdown(f"densespace {results.densespace}, {versions}; {results.created}"), ""]
    return "\n".join(lines)


def compare(results_list: list[Results], *, labels: list[str] | None = None, width: int | None = None) -> str:
    """Several runs side by side, one row each, as a plain text table ``width`` columns wide at most
    (default ``terminal_width()``), or turned (a column per run) when it cannot be that narrow.

    Columns: the run's label (when given), name, task, tuner, objective, the best
    completed trial's score, the test metrics of the rank-1 model (every metric of
    any run, ``loss`` last; empty where a run lacks it), completed/total trials,
    search+retraining epochs and wall seconds.

    Args:
        results_list: The runs, in the order to show them.
        labels: A label per run (the CLI passes the folders), shown first.
        width: The most columns of the table.

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
    return "\n".join(_table(rows, width=width, turn=True)) + "\n"
