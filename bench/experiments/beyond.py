"""Beyond the blog post: dense-only CIFAR-10 with the recommended space.

    python bench/experiments/beyond.py quality      [--seeds 3]
    python bench/experiments/beyond.py efficiency   [--retrain-epochs 10]
    python bench/experiments/beyond.py side-by-side [--budget 60] [--trials 5]
    python bench/experiments/beyond.py ablation     [--retrain-epochs 10]

(each also takes ``--cache DIR``, ``--results DIR`` and ``--limit N``)

* quality: ``examples/cifar10-dense.json`` searched with its Hyperband budget,
  then the chosen configuration retrained with ``--seeds`` seeds; the median
  test accuracy and every epoch spent (search + retraining).
* efficiency: epochs and wall seconds until a retrained model first reaches the
  post's best test accuracy (0.501), search included: a small Hyperband search
  of the recommended space (``max_epochs`` 3), then the best configuration
  retrained for ``--retrain-epochs`` epochs while the test accuracy is read after
  every epoch (for this measurement only; nothing is selected on it).
* side-by-side: at the same training-epoch budget, the post's three spaces run
  the post's way (BayesianOptimization, objective val_loss, validating on the
  test set) against the recommended space with Hyperband (default validation split).
* ablation: the recommended space fixed at one plain configuration (1024-512-256,
  dropout 0.3, no translation, learning rate 1e-3, no label smoothing), then
  that configuration with one choice of the recipe changed at a time, each
  trained ``--retrain-epochs`` epochs on a ``--limit`` subset with the same seed
  and tested once: what each choice is worth (docs/recipes.md quotes it).

Targets: quality, a median test accuracy of at least 0.62 in at most 400 epochs;
efficiency, reaching the post's 0.501 at all. Each part replaces its own section of
results/beyond.md (and its entry of beyond.json) with the command that made it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for _harness
import _harness

import densespace
from densespace.datasets import load_cifar10

RECOMMENDED = _harness.ROOT / "examples" / "cifar10-dense.json"
POST = {"seed-baseline": 0.480, "seed-depth-width": 0.481, "seed-depth": 0.501}
POST_BEST = 0.501
QUALITY = (
    _harness.Target("median test accuracy over the seeds", ">=", 0.62),
    _harness.Target("epochs, search and retraining", "<=", 400),
)
EFFICIENCY = _harness.Target("best test accuracy while retraining", ">=", POST_BEST)


Figures = dict[str, Any]
Part = Callable[[argparse.Namespace, Path], tuple[Figures, list[str], list[_harness.Check]]]


def _quality(args: argparse.Namespace, source: Path) -> tuple[Figures, list[str], list[_harness.Check]]:
    data = load_cifar10(source, limit=args.limit, seed=0)
    spec = densespace.load_spec(RECOMMENDED)
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as out:
        search = densespace.tune(spec, data=data, out=out, retrain_top=1, verbose=1)
    best = search.best[0]
    accuracies = [best.test_metrics["accuracy"]]
    epochs = search.results["cost"]["search_epochs"] + best.epochs
    hypermodel = densespace.build_hypermodel(spec, train_images=data.train[0])
    for seed in range(2, args.seeds + 1):  # tune retrained with seed 1 (search.seed + rank)
        _, metrics, trained = _harness.retrain(
            hypermodel, best.values, data, epochs=spec.training.epochs, seed=seed
        )
        accuracies.append(metrics["accuracy"])
        epochs += trained
    figures = {
        "values": best.values,
        "accuracies": accuracies,
        "median": statistics.median(accuracies),
        "epochs": epochs,
        "seconds": time.monotonic() - start,
        "parameters": best.parameters,
        "trials": [{k: t[k] for k in ("id", "values", "score", "epochs")} for t in search.results["trials"]],
    }
    table = [
        "| configuration | parameters | test accuracy per seed | median | epochs (search + retraining) | seconds |",
        "| --- | ---: | --- | ---: | ---: | ---: |",
        f"| {_values(best.values)} | {best.parameters:,} | {', '.join(f'{a:.4f}' for a in accuracies)} | "
        f"{figures['median']:.4f} | {epochs} | {figures['seconds']:.0f} |",
    ]
    accuracy, spent = QUALITY
    return figures, table, [accuracy.check(figures["median"]), spent.check(epochs)]


def _efficiency(args: argparse.Namespace, source: Path) -> tuple[Figures, list[str], list[_harness.Check]]:
    import keras

    data = load_cifar10(source, limit=args.limit, seed=0)
    spec = _harness.apply_overrides(densespace.load_spec(RECOMMENDED), epochs=args.retrain_epochs)
    search_spec = densespace.validate_spec(
        {
            **spec.model_dump(),
            "search": {
                "tuner": "hyperband",
                "objective": "val_accuracy",
                "max_epochs": 3,
                "factor": 3,
                "seed": 1,
            },
        }
    )
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as out:
        search = densespace.tune(search_spec, data=data, out=out, retrain_top=0, verbose=1)
    searched = time.monotonic() - start
    search_epochs = search.results["cost"]["search_epochs"]
    best = _harness.ranked(
        [t for t in search.results["trials"] if t["status"] == "completed"], "val_accuracy"
    )[0]
    history: list[tuple[int, float, float]] = []  # (retraining epoch, seconds since the start, test accuracy)

    class TestAccuracy(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            model = _harness.for_evaluation(keras.models.clone_model(self.model), spec, best["values"])
            model.set_weights(self.model.get_weights())
            accuracy = model.evaluate(*data.test, batch_size=1024, verbose=0, return_dict=True)["accuracy"]
            history.append((epoch + 1, time.monotonic() - start, accuracy))

    hypermodel = densespace.build_hypermodel(spec, train_images=data.train[0])
    # TestAccuracy records into ``history``: the copy retraining makes records there too
    _harness.retrain(
        hypermodel, best["values"], data, epochs=args.retrain_epochs, seed=1, callbacks=[TestAccuracy()]
    )
    reached = next((h for h in history if h[2] >= POST_BEST), None)
    figures = {
        "values": best["values"],
        "search_epochs": search_epochs,
        "search_seconds": searched,
        "retrain": history,
        "reached": reached,
    }
    table = [
        "| search (Hyperband, max_epochs 3) | retrained configuration | test accuracy after each retraining epoch | "
        f"first >= {POST_BEST} |",
        "| --- | --- | --- | --- |",
        f"| {search_epochs} epochs, {searched:.0f} s | {_values(best['values'])} | "
        + ", ".join(f"{a:.3f}" for _, _, a in history)
        + " | "
        + (
            "not reached"
            if reached is None
            else f"**{search_epochs + reached[0]} epochs in all ({search_epochs} search + {reached[0]} retraining), "
            f"{reached[1]:.0f} s**"
        )
        + " |",
    ]
    return figures, table, [EFFICIENCY.check(max((a for _, _, a in history), default=None))]


def _side_by_side(args: argparse.Namespace, source: Path) -> tuple[Figures, list[str], list[_harness.Check]]:
    rows: list[tuple[str, float | None, Figures]] = []
    figures: dict[str, Figures] = {}
    for name, post_accuracy in POST.items():
        data = load_cifar10(source, validation="test", limit=args.limit, seed=0)
        spec = densespace.load_spec(_harness.ROOT / "examples" / f"{name}.json")
        epochs = max(1, args.budget // (args.trials + 1))
        figures[name] = _run(spec, data, max_trials=args.trials, epochs=epochs)
        rows.append(
            (f"`{name}` the post's way (bayesian, val_loss, validation = test)", post_accuracy, figures[name])
        )
    data = load_cifar10(source, limit=args.limit, seed=0)
    spec = densespace.load_spec(RECOMMENDED)
    max_epochs = _hyperband_max_epochs(spec, args.budget)
    spec = densespace.validate_spec(
        {
            **spec.model_dump(),
            "search": {**spec.search.model_dump(), "max_epochs": max_epochs},
            "training": {**spec.training.model_dump(), "epochs": max_epochs},
        }
    )
    figures["cifar10-dense"] = _run(spec, data)
    rows.append((f"`cifar10-dense` with Hyperband (max_epochs {max_epochs})", None, figures["cifar10-dense"]))
    table = [
        "| run | the post's test accuracy | test accuracy | test loss | epochs (search + retraining) | seconds |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for title, post, f in rows:
        table.append(
            f"| {title} | {'—' if post is None else post} | {f['accuracy']:.4f} | "
            f"{f['loss']:.4f} | {f['epochs']} | {f['seconds']:.0f} |"
        )
    return figures, table, []


ABLATION_BASE = {
    "block0_units": 1024,
    "block0_dropout": 0.3,
    "block1_units": 512,
    "block1_dropout": 0.3,
    "block2_units": 256,
    "block2_dropout": 0.3,
    "translate": 0.0,
    "learning_rate": 0.001,
    "label_smoothing": 0.0,
}
Change = Callable[[dict[str, Any]], None]


def _blocks(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Change:
    """Sets the fields ``change(block)`` returns on every hidden block of the ablation's base."""

    def apply(spec: dict[str, Any]) -> None:
        for block in spec["hidden"]:
            block.update(change(block))

    return apply


ABLATIONS: dict[str, Change] = {
    "the base configuration": lambda d: None,
    "inputs rescaled to [0, 1] instead of standardized": lambda d: d["input"].update(preprocessing="rescale"),
    "no batch normalization": _blocks(lambda b: {"batch_norm": False}),
    "no dropout": _blocks(lambda b: {"dropout": 0.0}),
    "constant learning rate instead of cosine decay": lambda d: d["optimizer"].update(schedule="constant"),
    "no horizontal flip": lambda d: d["input"]["augmentation"].update(flip=False),
    "random translation 0.1": lambda d: d["input"]["augmentation"].update(translate=0.1),
    "label smoothing 0.1": lambda d: d["training"].update(label_smoothing=0.1),
    "twice as wide (2048-1024-512)": _blocks(lambda b: {"units": 2 * b["units"]}),
}


def _ablation(args: argparse.Namespace, source: Path) -> tuple[Figures, list[str], list[_harness.Check]]:
    data = load_cifar10(source, limit=args.limit, seed=0)
    base = densespace.freeze(densespace.load_spec(RECOMMENDED), ABLATION_BASE).model_dump()
    figures, rows = {}, []
    for change, apply in ABLATIONS.items():
        variant = json.loads(json.dumps(base))
        apply(variant)
        spec = densespace.validate_spec(variant)
        hypermodel = densespace.build_hypermodel(spec, train_images=data.train[0])
        start = time.monotonic()
        _, metrics, _ = _harness.retrain(hypermodel, {}, data, epochs=args.retrain_epochs, seed=1)
        figures[change] = {**metrics, "seconds": time.monotonic() - start}
        print(f"{change}: {metrics['accuracy']:.4f}", flush=True)
    reference = figures["the base configuration"]["accuracy"]
    for change, f in figures.items():
        rows.append(
            f"| {change} | {f['accuracy']:.4f} | {f['accuracy'] - reference:+.4f} | {f['loss']:.4f} | "
            f"{f['seconds']:.0f} |"
        )
    sizes = f"{len(data.train[0]):,} train / {len(data.test[0]):,} test images"
    table = [
        f"Each row: {args.retrain_epochs} epochs on {sizes} (`limit={args.limit}`), seed 1, tested once.",
        "",
        "| change from the base configuration | test accuracy | difference | test loss | seconds |",
        "| --- | ---: | ---: | ---: | ---: |",
        *rows,
    ]
    return figures, table, []


def _hyperband_max_epochs(spec: densespace.Spec, budget: int) -> int:
    """The largest Hyperband max_epochs whose search plus one retraining fits the budget."""
    best = 2
    for max_epochs in range(2, budget):
        trial = densespace.validate_spec(
            {**spec.model_dump(), "search": {**spec.search.model_dump(), "max_epochs": max_epochs}}
        )
        if densespace.planned_budget(trial)[1] + max_epochs > budget:
            break
        best = max_epochs
    return best


def _run(spec: densespace.Spec, data: Any, **options: Any) -> Figures:
    """One search with the best configuration retrained and tested: its figures."""
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as out:
        result = densespace.tune(spec, data=data, out=out, retrain_top=1, verbose=1, **options)
    cost = result.results["cost"]
    return {
        "values": result.best_hyperparameters[0],
        "accuracy": result.test_metrics[0]["accuracy"],
        "loss": result.test_metrics[0]["loss"],
        "epochs": cost["search_epochs"] + cost["retrain_epochs"],
        "seconds": time.monotonic() - start,
    }


def _values(values: dict[str, Any]) -> str:
    return " ".join(f"{k}={_harness.show(v)}" for k, v in values.items())


PARTS: dict[str, Part] = {
    "quality": _quality,
    "efficiency": _efficiency,
    "side-by-side": _side_by_side,
    "ablation": _ablation,
}


def main() -> int:
    """Runs one part and replaces its section of results/beyond.md and .json."""
    parser = _harness.parser(__doc__)
    parser.add_argument("part", choices=PARTS)
    parser.add_argument("--seeds", type=int, default=3, help="retraining seeds (quality)")
    parser.add_argument(
        "--retrain-epochs", type=int, default=10, help="epochs of each retraining (efficiency, ablation)"
    )
    parser.add_argument("--budget", type=int, default=60, help="training epochs per run (side-by-side)")
    parser.add_argument("--trials", type=int, default=5, help="trials of the post's searches (side-by-side)")
    parser.add_argument("--limit", type=int, default=None, help="images per split (default: all)")
    args = parser.parse_args()
    run = _harness.Run("beyond", "Beyond the post: dense-only CIFAR-10", args.results, part=args.part)
    figures, table, checks = PARTS[args.part](args, _harness.cifar10(args.cache) / _harness.BINARY)
    return run.finish(figures, table, checks)


if __name__ == "__main__":
    _harness.run_script(main)
