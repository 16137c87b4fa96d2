"""The report's plot: each trial's score and the best so far (matplotlib, imported on use)."""

from __future__ import annotations

import io
import math
from pathlib import Path

from densespace._files import write_bytes
from densespace._results import Results, better

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


def plot(results: Results, path: Path) -> None:
    """Writes a PNG of each trial's score and the best so far."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    trials = results.trials
    fig, ax = plt.subplots(figsize=(7, 4))
    xs = [i + 1 for i, t in enumerate(trials) if t.score is not None]
    ax.scatter(xs, [t.score for t in trials if t.score is not None], label="trial score")
    ax.step(
        range(1, len(trials) + 1),
        [math.nan if b is None else b for b in best_so_far(results)],
        where="post",
        color="C1",
        label="best so far",
    )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(results.objective)
    ax.set_title(f"{results.spec['name']}: {results.tuner} search")
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    write_bytes(path, buffer.getvalue())
