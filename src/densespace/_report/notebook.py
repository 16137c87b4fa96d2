"""Results in a notebook or a REPL: a one-line ``repr`` and an HTML summary (``_repr_html_``).

Text from a results file (names, sources, values) is escaped as in the terminal (``printable``)
and, in HTML, as HTML, so it reads as text and never as markup.
"""

from __future__ import annotations

import html
from pathlib import Path

from densespace._errors import printable
from densespace._report.plot import PLOT_FILE
from densespace._report.text import REPORT_FILE, models_table
from densespace._results import Results, ranked

#: The most retrained models the HTML summary lists.
MAX_ROWS = 20


def brief(results: Results) -> str:
    """One line: the search, its trials, the best score and the rank-1 model's test metrics."""
    completed = sum(t.status == "completed" for t in results.trials)
    text = (
        f"{results.spec.get('name', '(unnamed)')!r}: {results.tuner} search, {len(results.trials)} trials "
        f"({completed} completed)"
    )
    top = ranked(results.trials, results.objective)
    if top:
        text += f", best {results.objective} {top[0].score:.4f} (trial {top[0].id})"
    if results.best:
        first = results.best[0]
        names = sorted(first.test_metrics, key=lambda name: name == "loss")  # loss last, as in the tables
        metrics = ", ".join(f"{name} {first.test_metrics[name]:.4f}" for name in names)
        text += f"; {first.model}: test {metrics}"
    return printable(text)


def results_html(results: Results, *, out: Path | None = None) -> str:
    """An HTML summary: the search, the retrained models as a table (rank, trial, test metrics,
    parameters, model file, values) and, with ``out``, where the files are; every text escaped."""
    e = _escaped
    completed = sum(t.status == "completed" for t in results.trials)
    top = ranked(results.trials, results.objective)
    best = f"; best {e(results.objective)} <b>{top[0].score:.4f}</b> (trial {e(top[0].id)})" if top else ""
    data = results.data
    parts = [
        f"<div><b>{e(str(results.spec.get('name', '(unnamed)')))}</b>: {e(results.tuner)} search, "
        f"{len(results.trials)} trials ({completed} completed), task {e(results.task)}{best}</div>",
        f"<div>data: {e(data.source)} (train {data.train}, validation {data.validation}, test {data.test})</div>",
    ]
    if results.best:
        _, header, rows = models_table(results.best[:MAX_ROWS])
        parts.append(_html_table(header, rows))
    if out is not None:
        files = ", ".join(
            e(name) for name in [REPORT_FILE, PLOT_FILE, *(b.model for b in results.best[:MAX_ROWS])]
        )
        parts.append(f"<div>files in <code>{e(str(out))}</code>: {files}</div>")
    return "<div>" + "".join(parts) + "</div>"


def worker_html(worker: str | None, trials: int) -> str:
    """What a worker of a distributed search holds, as HTML."""
    return f"<div>worker {_escaped(str(worker))}: {trials} trials run; the chief holds the results</div>"


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_escaped(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{_escaped(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _escaped(text: str) -> str:
    """``text`` with its control characters escaped (``printable``), then as HTML text."""
    return html.escape(printable(text))
