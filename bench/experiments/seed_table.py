"""Reruns the blog post's experiments from their spec files at a budget this machine can afford.

    python bench/experiments/seed_table.py [--cache DIR] [--results DIR] [--work DIR]
                                           [--trials N] [--epochs N] [--limit N] [--only NAME ...]

Runs ``densespace.tune(spec, data=..., max_trials=--trials, epochs=--epochs,
retrain_top=1)`` on each of the post's spec files, one after the other, in this
process:

* examples/seed-random.json: part 1, RandomSearch over 3 Dense layers (units, activation);
* examples/seed-baseline.json: part 2's baseline, the same space with BayesianOptimization;
* examples/seed-depth-width.json: 2-4 layers of 64-512 units, elu;
* examples/seed-depth.json: 2-20 layers of 128 units, elu.

The data is full CIFAR-10 split 45,000 train / 5,000 validation (stratified,
``seed=0``) / 10,000 test: the search scores on the validation split and the
best configuration, retrained from scratch, is tested once on the test split.
The post used 25 trials x 200 epochs and validated on the test split itself, so
its numbers are an optimistic ceiling for ours, not a target: this experiment has
none. ``tune`` trains the retrained model for the same ``--epochs`` as each trial.

Writes results/seed_table.json and .md; the tuning folders go to WORK/seed_table/.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for _harness
import _harness

# name: (spec file, the post's test accuracy, the post's test loss); None: not in part 2's post.
EXPERIMENTS: dict[str, tuple[str, float | None, float | None]] = {
    "seed-random": ("examples/seed-random.json", None, None),
    "seed-baseline": ("examples/seed-baseline.json", 0.480, 1.98),
    "seed-depth-width": ("examples/seed-depth-width.json", 0.481, 1.98),
    "seed-depth": ("examples/seed-depth.json", 0.501, 1.96),
}


def main() -> int:
    """Loads the data once, tunes each experiment and writes the results."""
    parser = _harness.parser(__doc__, work=True)
    parser.add_argument("--trials", type=int, default=8, help="max_trials of each search")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per trial and for the retraining")
    parser.add_argument(
        "--limit", type=int, default=None, help="keep at most this many images per split (default: all)"
    )
    parser.add_argument("--only", nargs="+", choices=EXPERIMENTS, help="run only these experiments")
    args = parser.parse_args()
    run = _harness.Run("seed_table", "The blog post's experiments, rerun from their spec files", args.results)
    source = _harness.cifar10(args.cache) / _harness.BINARY

    import densespace
    from densespace.datasets import load_cifar10

    data = load_cifar10(source, validation=0.1, limit=args.limit, seed=0)
    sizes = {
        name: len(split[1])
        for name, split in (("train", data.train), ("validation", data.validation), ("test", data.test))
    }
    print(f"data: {sizes}", file=sys.stderr)
    rows = []
    for name in args.only or EXPERIMENTS:
        path, post_accuracy, post_loss = EXPERIMENTS[name]
        spec = densespace.load_spec(_harness.ROOT / path)
        rows.append(_run(densespace, name, path, spec, data, args))
        rows[-1].update(post_accuracy=post_accuracy, post_loss=post_loss)
    figures = {
        "data": {"source": str(source), "split_seed": 0, **sizes},
        "budget": {
            "trials": args.trials,
            "epochs": args.epochs,
            "retrain_top": 1,
            "retrain_epochs": args.epochs,
        },
        "post_budget": {"trials": 25, "epochs": 200, "validation": "the test split"},
        "results": rows,
    }
    return run.finish(figures, _markdown(figures))


def _run(
    densespace: Any, name: str, path: str, spec: Any, data: Any, args: argparse.Namespace
) -> dict[str, Any]:
    """Tunes one experiment; returns its row of the table."""
    finished: list[float] = []
    start = time.monotonic()

    def on_trial_end(trial: Any) -> None:
        finished.append(time.monotonic())
        score = "failed" if trial.score is None else f"{trial.score:.4f}"
        print(
            f"  {name} trial {len(finished)}/{args.trials}: {score} ({finished[-1] - start:.0f} s)",
            file=sys.stderr,
            flush=True,
        )

    print(
        f"{name}: {args.trials} trials x {args.epochs} epochs, then retraining the best",
        file=sys.stderr,
        flush=True,
    )
    result = densespace.tune(
        spec,
        data=data,
        max_trials=args.trials,
        epochs=args.epochs,
        retrain_top=1,
        out=args.work / "seed_table" / name,
        overwrite=True,
        verbose=0,
        on_trial_end=on_trial_end,
    )
    end = time.monotonic()
    best = result.best[0]
    cost = result.results["cost"]
    trials = result.results["trials"]
    counted = sum(_size(w.shape) for w in best.model.trainable_weights)
    row = {
        "experiment": name,
        "spec": path,
        "tuner": result.results["tuner"],
        "trials": len(trials),
        "completed": sum(t["status"] == "completed" for t in trials),
        "best_trial": best.trial_id,
        "best_values": best.values,
        "best_val_loss": min(t["score"] for t in trials if t["score"] is not None),
        "parameters": best.parameters,
        "parameters_counted": counted,
        "test_loss": best.test_metrics["loss"],
        "test_accuracy": best.test_metrics["accuracy"],
        "search_epochs": cost["search_epochs"],
        "retrain_epochs": cost["retrain_epochs"],
        "search_seconds": round(finished[-1] - start, 1),
        "retrain_seconds": round(end - finished[-1], 1),
        "total_seconds": round(end - start, 1),
        "out": str(result.out),
    }
    print(
        f"{name}: test accuracy {row['test_accuracy']:.4f}, loss {row['test_loss']:.4f}, "
        f"{row['total_seconds']:.0f} s",
        file=sys.stderr,
        flush=True,
    )
    return row


def _size(shape: Any) -> int:
    total = 1
    for dim in shape:
        total *= int(dim)
    return total


def _values(values: dict[str, Any]) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


def _post(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _markdown(figures: dict[str, Any]) -> list[str]:
    """The budget and data, then the results as a Markdown table."""
    d, b = figures["data"], figures["budget"]
    lines = [
        f"Budget: {b['trials']} trials x {b['epochs']} epochs per search, then the best "
        f"configuration retrained from scratch for {b['retrain_epochs']} epochs and tested once. "
        f"Data: {d['source']}, {d['train']:,} train / {d['validation']:,} validation "
        f"(stratified, seed {d['split_seed']}) / {d['test']:,} test; the search scores val_loss "
        "on the validation split.",
        "The post: 25 trials x 200 epochs, validating on the test split (so its test numbers are "
        "optimistic); part 1's RandomSearch has no number in part 2's post.",
        "",
        "| experiment | tuner | best values | parameters | test loss | test accuracy "
        "| post loss | post accuracy | epochs (search + retrain) | seconds (search + retrain) |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in figures["results"]:
        lines.append(
            f"| {r['experiment']} | {r['tuner']} | {_values(r['best_values'])} | "
            f"{r['parameters']:,} | {r['test_loss']:.3f} | {r['test_accuracy']:.3f} | "
            f"{_post(r['post_loss'], 2)} | {_post(r['post_accuracy'], 3)} | "
            f"{r['search_epochs']} + {r['retrain_epochs']} | "
            f"{r['search_seconds']:.0f} + {r['retrain_seconds']:.0f} |"
        )
    lines += [
        "",
        "Parameters: trainable parameters of the retrained model (densespace's count; "
        + (
            "it matches the model's own weights for every row)."
            if all(r["parameters"] == r["parameters_counted"] for r in figures["results"])
            else "MISMATCH with the model's own weights in some row, see the JSON)."
        ),
        "Seconds: search = start of `tune` to the last trial's end; retrain = the rest "
        "(retraining, test evaluation, saving the model and the results files).",
    ]
    return lines


if __name__ == "__main__":
    _harness.run_script(main)
