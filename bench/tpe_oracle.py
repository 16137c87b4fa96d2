"""The oracle's cost per proposal: TPE against keras-tuner's Bayesian optimization and random search.

Each search of a conditional space (1-4 Dense layers, each of its own width, dropout, a
log-sampled learning rate: the shape of every densespace space) runs 100 trials whose
"training" is instant (a made-up score of the values), so that the oracle is all that
runs. The seconds of each ``create_trial`` (the proposal) are recorded; the baseline is
keras-tuner's own BayesianOptimizationOracle, unpatched, on the same space, in the same run.
Also: the best made-up score after 10, 20 and 40 trials, median over the seeds (a sanity
check that each algorithm optimizes at all; sample efficiency on real training is issue 23's
other measurement, still to do).

    python bench/tpe_oracle.py [--trials 100] [--seeds 5]   (committed results: --trials 60 --seeds 1)
"""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import _harness as harness

SPACE = {
    "version": 1,
    "name": "conditional",
    "input": {"shape": [20], "preprocessing": "none"},
    "output": {"units": 2},
    "hidden": {
        "layers": {"min": 1, "max": 4},
        "units": {"min": 16, "max": 256, "step": 16},
        "dropout": {"min": 0.0, "max": 0.5, "step": 0.1},
    },
    "optimizer": {"learning_rate": {"min": 1e-4, "max": 1e-1, "sampling": "log"}},
}
TUNERS = ("tpe", "bayesian", "random")
TARGET = harness.Target("TPE's median seconds per proposal", "<=", 0.05)


def score(values: Mapping[str, Any]) -> float:
    """A made-up val_loss, best at 2 layers of 128 units, dropout 0.2 and a learning rate of 3e-3."""
    layers = values["layers"]
    widths = sum(abs(values[f"units_{i}"] - 128) for i in range(layers)) / (128 * layers)
    return (
        (layers - 2) ** 2
        + widths
        + abs(values.get("dropout_0", 0.2) - 0.2)
        + abs(math.log10(values["learning_rate"]) - math.log10(3e-3))
    )


def drive(oracle: Any, trials: int) -> tuple[list[float], list[float]]:
    """Seconds of each proposal, and each trial's score, over ``trials`` trials."""
    seconds, scores = [], []
    for _ in range(trials):
        start = time.perf_counter()
        trial = oracle.create_trial("tuner0")
        seconds.append(time.perf_counter() - start)
        if trial.status != "RUNNING":
            break
        value = score(trial.hyperparameters.values)
        oracle.update_trial(trial.trial_id, {"val_loss": value})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
        scores.append(value)
    return seconds, scores


def keras_tuner_bayesian(seed: int, trials: int, folder: Path) -> Any:
    """keras-tuner's BayesianOptimizationOracle on the same space, as a user would make it."""
    import keras_tuner

    from densespace import validate_spec

    oracle = keras_tuner.oracles.BayesianOptimizationOracle(
        objective=keras_tuner.Objective("val_loss", "min"), max_trials=trials, seed=seed
    )
    oracle._set_project_dir(str(folder), "search")
    oracle._display.verbose = 0
    oracle.save = oracle._save_trial = lambda *args: None
    space = harness.memory_oracle(
        validate_spec({**SPACE, "search": {"max_trials": 1}}), folder
    ).hyperparameters
    oracle.update_space(space)
    return oracle


def search(make: Callable[[Path], Any], trials: int) -> dict[str, Any]:
    """One search: its proposals' seconds and best-so-far scores."""
    with tempfile.TemporaryDirectory() as folder:
        seconds, scores = drive(make(Path(folder)), trials)
    best = [min(scores[: n + 1]) for n in range(len(scores))]
    return {"seconds": seconds, "best": best}


def main() -> int:
    parser = harness.parser(__doc__)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    from densespace import validate_spec

    run = harness.Run("tpe_oracle", "The oracle's cost per proposal: TPE, Bayesian, random", args.results)
    runs: dict[str, list[dict[str, Any]]] = {}
    for seed in range(1, args.seeds + 1):
        for name in TUNERS:
            spec = validate_spec(
                {**SPACE, "search": {"tuner": name, "max_trials": args.trials, "seed": seed}}
            )
            runs.setdefault(name, []).append(
                search(lambda f, s=spec: harness.memory_oracle(s, f), args.trials)
            )
        runs.setdefault("keras-tuner bayesian", []).append(
            search(lambda f, s=seed: keras_tuner_bayesian(s, args.trials, f), args.trials)
        )
    figures = {name: summary(found) for name, found in runs.items()}
    baseline = figures["keras-tuner bayesian"]["median_ms"]
    body = [
        f"Space: 1-4 Dense layers of 16-256 units (step 16), dropout 0-0.5 (step 0.1), log learning rate; "
        f"{args.trials} trials of instant made-up scores, {args.seeds} seeds each.",
        "",
        "| algorithm | median ms per proposal | 90th percentile ms | vs keras-tuner's Bayesian | "
        "best score at 10 / 20 / 40 trials (median of seeds, lower is better) |",
        "| --- | ---: | ---: | ---: | --- |",
        *(
            f"| {name} | {f['median_ms']:.2f} | {f['p90_ms']:.2f} | {f['median_ms'] / baseline:.3f}x | "
            + " / ".join(harness.number(f["best_at"].get(n)) for n in ("10", "20", "40"))
            + " |"
            for name, f in figures.items()
        ),
    ]
    return run.finish(figures, body, [TARGET.check(figures["tpe"]["median_ms"] / 1000)])


def summary(found: list[dict[str, Any]]) -> dict[str, Any]:
    """Median and 90th percentile milliseconds per proposal over every seed, and the median
    best-so-far score at 10, 20 and 40 trials."""
    seconds = sorted(s for one in found for s in one["seconds"])
    best_at = {
        str(n): statistics.median(one["best"][n - 1] for one in found)
        for n in (10, 20, 40)
        if all(len(one["best"]) >= n for one in found)
    }
    return {
        "median_ms": statistics.median(seconds) * 1000,
        "p90_ms": seconds[int(0.9 * (len(seconds) - 1))] * 1000,
        "best_at": best_at,
    }


if __name__ == "__main__":
    harness.run_script(main)
