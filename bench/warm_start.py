"""A warm start from an earlier search against cold starts: best-so-far score by epochs spent.

    python bench/warm_start.py [--cache DIR] [--results DIR] [--work DIR] [--limit N]
                               [--earlier-trials N] [--trials N] [--epochs N]

The space is ``examples/seed-depth-width.json`` (2 to 4 Dense elu layers of 64 to
512 units, step 64; Adam 1e-3, batch 64; keras-tuner's BayesianOptimization with 2
random initial points, objective val_loss) at ``--epochs`` epochs per trial, on the
CIFAR-10 45k/5k/10k split of the binary folder (``--limit`` images per split at
most, seed 0). Four searches, each in a fresh process:

* earlier: densespace, ``--earlier-trials`` trials, seed 1: the search a user ran
  before (its epochs are spent already; the warm start reuses them);
* densespace cold: ``--trials`` trials, seed 2;
* densespace warm: the same, with ``warm_start=`` the earlier search's folder: its
  trials are handed to the tuner without training, so the Gaussian process fits
  them from the first trial on;
* keras-tuner cold: the same search written by hand with keras-tuner's
  BayesianOptimization (a Flatten, Rescaling and the Dense layers, ``hp.Int`` loops),
  ``--trials`` trials, seed 2 (keras-tuner has no warm start from another project).

For each, the new trials in creation order give the epochs spent (cumulative) and
the best-so-far validation loss; the warm start's best-so-far starts at the earlier
search's best. The table compares them at every multiple of ``--epochs`` up to
``--trials`` x ``--epochs``, and gives the best score among the new trials alone
(whether the warm-started Gaussian process proposes better models, not only
inherits them). No retraining: the figure is the search's own.

Target: the warm start's best-so-far at least as good as (no higher than) both
cold starts' at every budget. Writes results/warm_start.json and .md; run folders
and the data subset go to WORK/warm_start/.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Any

import _harness

SPEC = _harness.ROOT / "examples" / "seed-depth-width.json"
AHEAD = _harness.Target("budgets where the warm start is behind a cold start", "<=", 0)


def main() -> int:
    """Runs the four searches in fresh processes and writes the results."""
    parser = _harness.parser(__doc__, work=True)
    parser.add_argument("--limit", type=int, default=None, help="images per split at most (default: all)")
    parser.add_argument("--earlier-trials", type=int, default=8)
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    run = _harness.Run("warm_start", "A warm start against cold starts: best-so-far by epochs", args.results)
    work = args.work / "warm_start"
    shutil.rmtree(work, ignore_errors=True)
    sizes = _harness.prepare_data(args.cache, args.limit, work)
    common = {"work": str(work), "epochs": args.epochs}
    sides: dict[str, dict[str, Any]] = {}
    for side, options in (
        ("earlier", {"trials": args.earlier_trials, "seed": 1, "warm_start": None}),
        ("densespace cold", {"trials": args.trials, "seed": 2, "warm_start": None}),
        ("densespace warm", {"trials": args.trials, "seed": 2, "warm_start": str(work / "earlier")}),
        ("keras-tuner cold", {"trials": args.trials, "seed": 2, "warm_start": None}),
    ):
        sides[side] = _harness.fresh(__file__, side=side, **options, **common)
        print(f"{side}: {len(sides[side]['trials'])} trials, {sides[side]['seconds']:.0f} s", file=sys.stderr)
    figures = _figures(args, sizes, sides)
    behind = sum(1 for row in figures["budgets"] if row["warm_behind"])
    return run.finish(figures, _markdown(args, figures), [AHEAD.check(behind)])


def _figures(args: Any, sizes: dict[str, int], sides: dict[str, dict[str, Any]]) -> dict[str, Any]:
    earlier_best = min(t["score"] for t in sides["earlier"]["trials"] if t["score"] is not None)
    curves = {
        side: _best_so_far(sides[side]["trials"], start=earlier_best if side == "densespace warm" else None)
        for side in ("densespace cold", "densespace warm", "keras-tuner cold")
    }
    budgets = []
    for budget in range(args.epochs, args.trials * args.epochs + 1, args.epochs):
        row: dict[str, Any] = {"epochs": budget}
        for side, curve in curves.items():
            row[side] = _at(curve, budget)
        warm, colds = row["densespace warm"], [row["densespace cold"], row["keras-tuner cold"]]
        row["warm_behind"] = warm is None or any(c is not None and c < warm for c in colds)
        budgets.append(row)
    new_best = {
        side: min((t["score"] for t in sides[side]["trials"] if t["score"] is not None), default=None)
        for side in curves
    }
    return {
        "repeats": _repeats(sides),
        "data": sizes,
        "options": {"earlier_trials": args.earlier_trials, "trials": args.trials, "epochs": args.epochs},
        "earlier_best": earlier_best,
        "earlier_epochs": sum(t["epochs"] for t in sides["earlier"]["trials"]),
        "budgets": budgets,
        "best_of_new_trials": new_best,
        "sides": sides,
    }


def _repeats(sides: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The configurations trained in more than one search, with each search's score: how far
    one configuration's score moves between runs (its initial weights differ)."""
    seen: dict[str, list[tuple[str, float]]] = {}
    for side, result in sides.items():
        for trial in result["trials"]:
            if trial["score"] is not None:
                seen.setdefault(_harness.show(_harness.active_units(trial["values"])), []).append(
                    (side, trial["score"])
                )
    return [
        {
            "values": key,
            "scores": dict(scores),
            "spread": max(s for _, s in scores) - min(s for _, s in scores),
        }
        for key, scores in seen.items()
        if len(scores) > 1
    ]


def _best_so_far(trials: list[dict[str, Any]], *, start: float | None) -> list[tuple[int, float | None]]:
    """(cumulative epochs, best score so far) after each trial, from ``(0, start)``."""
    curve, spent, best = [(0, start)], 0, start
    for trial in trials:
        spent += trial["epochs"]
        if trial["score"] is not None and (best is None or trial["score"] < best):
            best = trial["score"]
        curve.append((spent, best))
    return curve


def _at(curve: list[tuple[int, float | None]], budget: int) -> float | None:
    """The best score once no more than ``budget`` epochs were spent."""
    return [best for spent, best in curve if spent <= budget][-1]


def _markdown(args: Any, figures: dict[str, Any]) -> list[str]:
    def score(value: float | None) -> str:
        return "—" if value is None else f"{value:.4f}"

    sizes = figures["data"]
    lines = [
        f"Data: CIFAR-10, {sizes['train']:,} / {sizes['validation']:,} / {sizes['test']:,} images "
        f"(train / validation / test). Space: examples/seed-depth-width.json, BayesianOptimization, "
        f"{args.epochs} epochs per trial. The earlier search ran {args.earlier_trials} trials "
        f"({figures['earlier_epochs']} epochs, seed 1), best val_loss {score(figures['earlier_best'])}; "
        f"each other search runs {args.trials} new trials (seed 2).",
        "",
        "Best-so-far validation loss (lower is better) by epochs spent in the search itself:",
        "",
        "| epochs | densespace warm | densespace cold | keras-tuner cold | warm ahead |",
        "| ---: | ---: | ---: | ---: | --- |",
    ]
    for row in figures["budgets"]:
        lines.append(
            f"| {row['epochs']} | {score(row['densespace warm'])} | {score(row['densespace cold'])} | "
            f"{score(row['keras-tuner cold'])} | {'no' if row['warm_behind'] else 'yes'} |"
        )
    new = figures["best_of_new_trials"]
    repeats = figures["repeats"]
    if repeats:
        lines += [
            "",
            "Training noise: configurations trained in more than one search, with their scores "
            "(differences between the columns above smaller than these spreads are noise):",
            "",
        ]
        for repeat in repeats:
            scores = ", ".join(f"{side} {score(value)}" for side, value in repeat["scores"].items())
            lines.append(f"- {repeat['values']}: {scores} (spread {repeat['spread']:.4f})")
    lines += [
        "",
        "Best validation loss among the new trials alone (what each search's own proposals found): "
        + ", ".join(f"{side} {score(value)}" for side, value in new.items())
        + ".",
        "",
        "Trials (values, epochs, val_loss), in creation order:",
        "",
    ]
    for side, result in figures["sides"].items():
        listed = "; ".join(
            f"{_harness.show(t['values'])} {t['epochs']} ep {score(t['score'])}" for t in result["trials"]
        )
        lines.append(f"- {side}: {listed}")
    return lines


# ------------------------------------------------------------------ worker side


def _worker(
    side: str, work: str, trials: int, seed: int, epochs: int, warm_start: str | None
) -> dict[str, Any]:
    """One search; its new trials as ``{values, epochs, score}`` in creation order."""
    data = _harness.load_prepared(Path(work))
    start = time.monotonic()
    if side == "keras-tuner cold":
        found = _keras_tuner(data, Path(work) / "keras-tuner", trials=trials, seed=seed, epochs=epochs)
    else:
        import densespace

        spec = _harness.apply_overrides(
            densespace.load_spec(SPEC), max_trials=trials, epochs=epochs, seed=seed
        )
        out = Path(work) / side.split()[-1]
        result = densespace.tune(
            spec, data=data, out=out, retrain_top=0, verbose=0, overwrite=True, warm_start=warm_start
        )
        found = [
            {"values": t.values, "epochs": t.epochs, "score": t.score}
            for t in result.trials
            if not t.warm_start
        ]
    return {"trials": found, "seconds": time.monotonic() - start}


def _keras_tuner(data: Any, directory: Path, *, trials: int, seed: int, epochs: int) -> list[dict[str, Any]]:
    """The same search written by hand with keras-tuner."""
    import keras
    import keras_tuner

    def build(hp: Any) -> keras.Model:
        model = keras.Sequential(
            [keras.Input((32, 32, 3)), keras.layers.Rescaling(1 / 255), keras.layers.Flatten()]
        )
        for i in range(hp.Int("layers", 2, 4)):
            model.add(keras.layers.Dense(hp.Int(f"units_{i}", 64, 512, step=64), activation="elu"))
        model.add(keras.layers.Dense(10, activation="softmax"))
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    keras.utils.set_random_seed(seed)
    tuner = keras_tuner.BayesianOptimization(
        build,
        objective="val_loss",
        max_trials=trials,
        num_initial_points=2,
        seed=seed,
        directory=str(directory),
        project_name="search",
        overwrite=True,
    )
    tuner.search(*data.train, epochs=epochs, batch_size=64, validation_data=data.validation, verbose=0)
    ordered = sorted(tuner.oracle.trials.values(), key=lambda t: int(t.trial_id))
    return [
        {
            "values": dict(t.hyperparameters.values),
            "epochs": epochs,
            "score": t.score if t.status == "COMPLETED" else None,
        }
        for t in ordered
    ]


if __name__ == "__main__":
    _harness.run_script(main, worker=_worker)
