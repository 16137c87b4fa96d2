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


def figure(results: Results) -> Any:
    """The matplotlib figure of each trial's score with the best so far and, when the parameter
    counts are known, each completed trial's score against its size (not shown, not closed)."""
    from matplotlib.figure import Figure

    sized = sized_trials(results)
    fig = Figure(figsize=(12, 4.5) if sized else (7, 4.5))
    if sized:
        left, right = fig.subplots(1, 2)
        _scores(left, results)
        _sizes(right, results, sized)
    else:
        _scores(fig.subplots(), results)
    fig.suptitle(f"{results.spec.get('name', '')}: {results.tuner} search")
    fig.tight_layout()
    return fig


def plot(results: Results, path: Path) -> None:
    """Writes ``figure(results)`` as a PNG (atomically)."""
    buffer = io.BytesIO()
    figure(results).savefig(buffer, format="png", dpi=100)
    write_bytes(path, buffer.getvalue())


def trial_numbers(results: Results) -> list[int]:
    """Each trial's place on the score plot's axis, as the tables and trial lines number trials:
    keras-tuner's trial ids (0, 1, ...), the warm-start trials (listed first) before 0."""
    warm = sum(t.warm_start for t in results.trials)
    return [place - warm for place in range(len(results.trials))]


def _scores(ax: Any, results: Results) -> None:
    """Each completed trial's score and the best so far, by trial id."""
    from matplotlib.ticker import MaxNLocator

    trials, numbers = results.trials, trial_numbers(results)
    scored = [(x, t.score) for x, t in zip(numbers, trials, strict=True) if t.score is not None]
    ax.scatter([x for x, _ in scored], [score for _, score in scored], label="trial score")
    curve = [math.nan if b is None else b for b in best_so_far(results)]
    # drawn on to the right edge, so that the last trial's best (a single trial's too) shows as a line
    ends = [*numbers, numbers[-1] + 0.5] if numbers else []
    ax.step(ends, [*curve, *curve[-1:]], where="post", color="C1", label="best so far")
    first, last = (numbers[0], numbers[-1]) if numbers else (0, 0)
    ax.set_xlim(first - 0.5, last + 0.5)  # a single trial gets a range around it, not a point
    if len(trials) <= 12:
        ax.set_xticks(numbers, [t.id for t in trials])
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(results.objective)
    ax.set_title("score per trial")
    if scored:
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
