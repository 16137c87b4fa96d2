"""Results on disk: ``results.json``, ``trials.csv``, ``report.md`` and its plot.

The format is documented in ``docs/results.md``; scripts rely on the names.
"""

from __future__ import annotations

import csv
import io
import json
import math
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from densespace._version import __version__

if TYPE_CHECKING:
    from densespace._spec import Spec
    from densespace._tuning import BestModel

RESULTS_FILE = "results.json"
TRIALS_FILE = "trials.csv"
REPORT_FILE = "report.md"
PLOT_FILE = "scores.png"


def model_file(rank: int) -> str:
    """File name of the retrained model of a rank."""
    return f"best-{rank}.keras"


def frozen_spec_file(rank: int) -> str:
    """File name of the frozen spec of a rank."""
    return f"best-{rank}.spec.json"


def describe_data(data: Any) -> dict[str, Any]:
    """Where the data came from and how large each split is."""
    return {
        "source": str(getattr(data, "source", "in-memory arrays")),
        "train": len(data.train[1]),
        "validation": len(data.validation[1]),
        "test": len(data.test[1]),
    }


def clean_trial(trial: dict[str, Any]) -> dict[str, Any]:
    """A trial record without bookkeeping values (``tuner/...``, ``densespace/...``)."""
    values = {k: v for k, v in trial["values"].items() if "/" not in k}
    return {**trial, "values": values}


def better(a: float, b: float, objective: str) -> bool:
    """Whether score ``a`` beats ``b`` for the objective (losses go down, accuracies up)."""
    return a < b if objective.endswith("loss") else a > b


def ranked(trials: list[dict[str, Any]], objective: str) -> list[dict[str, Any]]:
    """Completed trials, best first, one per configuration.

    Hyperband continues a configuration in later trials with the same values;
    only its best-scoring trial is kept.
    """
    sign = 1 if objective.endswith("loss") else -1
    seen: set[str] = set()
    result = []
    for trial in sorted(trials, key=lambda t: sign * t["score"]):
        key = json.dumps(trial["values"], sort_keys=True)
        if key not in seen:
            seen.add(key)
            result.append(trial)
    return result


def show(value: Any) -> str:
    """A hyperparameter value, short."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).lower() if isinstance(value, bool) else str(value)


def assemble(
    spec: Spec,
    data: dict[str, Any],
    trials: list[dict[str, Any]],
    best: list[BestModel],
    *,
    seconds: float,
    versions: dict[str, str],
) -> dict[str, Any]:
    """The content of ``results.json``."""
    search_epochs = sum(t["epochs"] or 0 for t in trials)
    retrain_epochs = sum(b.epochs for b in best)
    return {
        "densespace": __version__,
        "versions": {"python": platform.python_version(), **versions},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "spec": spec.model_dump(mode="json"),
        "seed": spec.search.seed,
        "tuner": spec.search.tuner,
        "objective": spec.search.objective,
        "data": data,
        "trials": [
            {k: t[k] for k in ("id", "values", "status", "score", "seconds", "epochs", "message")}
            for t in trials
        ],
        "best": [
            {
                "rank": b.rank,
                "trial": b.trial_id,
                "values": b.values,
                "test_metrics": b.test_metrics,
                "parameters": b.parameters,
                "epochs": b.epochs,
                "model": model_file(b.rank),
                "frozen_spec": frozen_spec_file(b.rank),
            }
            for b in best
        ],
        "cost": {
            "search_epochs": search_epochs,
            "retrain_epochs": retrain_epochs,
            "images_trained": (search_epochs + retrain_epochs) * data["train"],
            "seconds": round(seconds, 1),
        },
    }


def write(out: Path, results: dict[str, Any]) -> None:
    """Writes ``results.json``, ``trials.csv``, ``report.md`` and the score plot into ``out``."""
    (out / RESULTS_FILE).write_text(json.dumps(results, indent=2) + "\n")
    (out / TRIALS_FILE).write_text(trials_csv(results))
    plot(results, out / PLOT_FILE)
    (out / REPORT_FILE).write_text(report_markdown(results))


def load(out: Path) -> dict[str, Any]:
    """Reads ``results.json`` from a results folder."""
    return json.loads((out / RESULTS_FILE).read_text())


def trials_csv(results: dict[str, Any]) -> str:
    """One row per trial: id, status, score, seconds, epochs, then each hyperparameter."""
    names: list[str] = []
    for trial in results["trials"]:
        names += [n for n in trial["values"] if n not in names]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "status", "score", "seconds", "epochs", *names])
    for t in results["trials"]:
        writer.writerow(
            [
                t["id"],
                t["status"],
                t["score"],
                t["seconds"],
                t["epochs"],
                *(t["values"].get(n, "") for n in names),
            ]
        )
    return buffer.getvalue()


def best_so_far(results: dict[str, Any]) -> list[float | None]:
    """The best score after each trial, in trial order."""
    best: float | None = None
    curve = []
    for trial in results["trials"]:
        score = trial["score"]
        if score is not None and (best is None or better(score, best, results["objective"])):
            best = score
        curve.append(best)
    return curve


def plot(results: dict[str, Any], path: Path) -> None:
    """A PNG of each trial's score and the best so far."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    trials = results["trials"]
    fig, ax = plt.subplots(figsize=(7, 4))
    xs = [i + 1 for i, t in enumerate(trials) if t["score"] is not None]
    ax.scatter(xs, [t["score"] for t in trials if t["score"] is not None], label="trial score")
    ax.step(
        range(1, len(trials) + 1),
        [math.nan if b is None else b for b in best_so_far(results)],
        where="post",
        color="C1",
        label="best so far",
    )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(results["objective"])
    ax.set_title(f"{results['spec']['name']}: {results['tuner']} search")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def summary(results: dict[str, Any]) -> str:
    """The table of retrained models and the run's cost, as plain text."""
    trials = results["trials"]
    completed = sum(t["status"] == "completed" for t in trials)
    cost = results["cost"]
    lines = [
        f"{results['spec']['name']}: {results['tuner']} search, {len(trials)} trials "
        f"({completed} completed), objective {results['objective']}",
        f"data: {results['data']['source']} (train {results['data']['train']}, validation "
        f"{results['data']['validation']}, test {results['data']['test']})",
        f"cost: {cost['search_epochs']:g} search + {cost['retrain_epochs']} retraining epochs, "
        f"{cost['seconds']:.0f} s",
    ]
    if results["best"]:
        lines.append("")
        header = ["rank", "trial", "test accuracy", "test loss", "parameters", "model", "values"]
        rows = [
            [
                str(b["rank"]),
                b["trial"],
                f"{b['test_metrics']['accuracy']:.4f}",
                f"{b['test_metrics']['loss']:.4f}",
                f"{b['parameters']:,}",
                b["model"],
                " ".join(f"{k}={show(v)}" for k, v in b["values"].items()),
            ]
            for b in results["best"]
        ]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())
    return "\n".join(lines) + "\n"


def report_markdown(results: dict[str, Any]) -> str:
    """``report.md``: the summary, the retrained models, every trial and the plot."""
    lines = [
        f"# {results['spec']['name']}",
        "",
        "```",
        summary(results).rstrip(),
        "```",
        "",
        f"![score per trial]({PLOT_FILE})",
        "",
        "## Trials",
        "",
        f"| trial | status | {results['objective']} | seconds | epochs | values |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for t in results["trials"]:
        score = "" if t["score"] is None else f"{t['score']:.4f}"
        seconds = "" if t["seconds"] is None else f"{t['seconds']:.1f}"
        epochs = "" if t["epochs"] is None else f"{t['epochs']:g}"
        values = " ".join(f"{k}={show(v)}" for k, v in t["values"].items())
        lines.append(f"| {t['id']} | {t['status']} | {score} | {seconds} | {epochs} | {values} |")
    versions = ", ".join(f"{k} {v}" for k, v in results["versions"].items())
    lines += ["", f"densespace {results['densespace']}, {versions}; {results['created']}", ""]
    return "\n".join(lines)
