"""The report's plot (matplotlib, imported on use): each trial's score with the best so far,
and each completed trial's score against its trainable parameters with the accuracy/size front."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from densespace._files import write_bytes
from densespace._results import Results, better, front

PLOT_FILE = "scores.png"


def best_so_far(results: Results) -> list[float | None]:
    """The best score after each trial, in trial order."""
    best: float | None = None
    curve = []
    for trial in results.trials:
        score = trial.score
        if score is not None and (best is None or better(score, best, results.objective)):
            best = score
        curve.append(best)
    return curve


def sized_trials(results: Results) -> list[tuple[str, int, float]]:
    """``(id, trainable parameters, score)`` of each scored trial whose parameter count was recorded
    (every trial of this densespace that trained; not those of older results files)."""
    return [
        (trial.id, trial.parameters, trial.score)
        for trial in results.trials
        if trial.parameters is not None and trial.score is not None
    ]


def plot(results: Results, path: Path) -> None:
    """Writes a PNG (atomically) of each trial's score with the best so far and, when the
    parameter counts are known, each completed trial's score against its size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sized = sized_trials(results)
    if sized:
        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
        _scores(left, results)
        _sizes(right, results, sized)
    else:
        fig, left = plt.subplots(figsize=(7, 4.5))
        _scores(left, results)
    fig.suptitle(f"{results.spec.get('name', '')}: {results.tuner} search")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    write_bytes(path, buffer.getvalue())


def _scores(ax: Any, results: Results) -> None:
    """Each completed trial's score and the best so far, by trial number."""
    from matplotlib.ticker import MaxNLocator

    trials = results.trials
    xs = [i + 1 for i, t in enumerate(trials) if t.score is not None]
    ax.scatter(xs, [t.score for t in trials if t.score is not None], label="trial score")
    curve = [math.nan if b is None else b for b in best_so_far(results)]
    # drawn on to the right edge, so that the last trial's best (a single trial's too) shows as a line
    ends = [*range(1, len(curve) + 1), len(curve) + 0.5] if curve else []
    ax.step(
        ends,
        [*curve, *curve[-1:]],
        where="post",
        color="C1",
        label="best so far",
    )
    ax.set_xlim(0.5, max(len(trials), 1) + 0.5)  # a single trial gets a range around it, not a point
    if len(trials) <= 12:
        ax.set_xticks(range(1, len(trials) + 1))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(results.objective)
    ax.set_title("score per trial")
    if xs:
        ax.legend()


def _sizes(ax: Any, results: Results, sized: list[tuple[str, int, float]]) -> None:
    """Each completed trial's score against its trainable parameters (log scale), the front
    highlighted and the retrained trials marked with their rank."""
    on_front = front([(count, score) for _, count, score in sized], objective=results.objective)
    ax.scatter(
        [c for (_, c, _), f in zip(sized, on_front, strict=True) if not f],
        [s for (_, _, s), f in zip(sized, on_front, strict=True) if not f],
        color="C0",
        alpha=0.5,
        label="trial",
    )
    edge = sorted((c, s) for (_, c, s), f in zip(sized, on_front, strict=True) if f)
    ax.step([c for c, _ in edge], [s for _, s in edge], where="post", color="C3", alpha=0.6)
    ax.scatter(
        [c for c, _ in edge],
        [s for _, s in edge],
        color="C3",
        zorder=3,
        label="no smaller model beats it",
    )
    where = {trial: (count, score) for trial, count, score in sized}
    for best in results.best:
        if best.trial in where:
            count, score = where[best.trial]
            ax.scatter([count], [score], s=200, facecolors="none", edgecolors="black", zorder=4)
            ax.annotate(
                f"#{best.rank}", (count, score), textcoords="offset points", xytext=(8, 6), fontsize=9
            )
    ax.set_xscale("log")
    low, high = min(c for _, c, _ in sized), max(c for _, c, _ in sized)
    if low == high:  # one size: a decade around it rather than matplotlib's guess
        ax.set_xlim(low / math.sqrt(10), high * math.sqrt(10))
    ax.set_xlabel("trainable parameters")
    ax.set_ylabel(results.objective)
    ax.set_title("score against size (circled: retrained, by rank)")
    ax.legend()
