"""Beyond the blog post: dense-only CIFAR-10 with the recommended space.

    python bench/beyond.py quality      [--data PATH] [--seeds 3]
    python bench/beyond.py efficiency   [--data PATH] [--retrain-epochs 10]
    python bench/beyond.py side-by-side [--data PATH] [--budget 60] [--limit N]
    python bench/beyond.py ablation     [--data PATH] [--limit N] [--retrain-epochs 10]

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

Each part appends its table to bench/results/beyond.md (and its figures to
beyond.json) with the command that made it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import _common

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import densespace
from densespace.datasets import load_cifar10

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
RECOMMENDED = ROOT / "examples" / "cifar10-dense.json"
POST = {"seed-baseline": 0.480, "seed-depth-width": 0.481, "seed-depth": 0.501}
TARGET = 0.501


def _quality(args: argparse.Namespace) -> tuple[dict, list[str]]:
    data = load_cifar10(args.data, limit=args.limit, seed=0)
    spec = densespace.load_spec(RECOMMENDED)
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as out:
        search = densespace.tune(spec, data=data, out=out, retrain_top=1, verbose=1)
    best = search.best[0]
    accuracies = [best.test_metrics["accuracy"]]
    epochs = search.results["cost"]["search_epochs"] + best.epochs
    hypermodel = densespace.build_hypermodel(spec, train_images=data.train[0])
    for seed in range(2, args.seeds + 1):  # tune retrained with seed 1 (search.seed + rank)
        _, metrics, trained = _retrain(hypermodel, best.values, data, epochs=spec.training.epochs, seed=seed)
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
    return figures, table


def _efficiency(args: argparse.Namespace) -> tuple[dict, list[str]]:
    import keras

    from densespace import _keras

    data = load_cifar10(args.data, limit=args.limit, seed=0)
    spec = densespace._tuning.apply_overrides(densespace.load_spec(RECOMMENDED), epochs=args.retrain_epochs)
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
    best = densespace._results.ranked(
        [t for t in search.results["trials"] if t["status"] == "completed"], "val_accuracy"
    )[0]

    class TestAccuracy(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.reached = None
            self.history = []

        def on_epoch_end(self, epoch, logs=None):
            model = _keras.for_evaluation(keras.models.clone_model(self.model))
            model.set_weights(self.model.get_weights())
            accuracy = model.evaluate(*data.test, batch_size=1024, verbose=0, return_dict=True)["accuracy"]
            self.history.append((epoch + 1, time.monotonic() - start, accuracy))
            if self.reached is None and accuracy >= TARGET:
                self.reached = self.history[-1]

    probe = TestAccuracy()
    plain = _keras._callbacks
    _keras._callbacks = lambda spec: [*plain(spec), probe]
    hypermodel = densespace.build_hypermodel(spec, train_images=data.train[0])
    _retrain(hypermodel, best["values"], data, epochs=args.retrain_epochs, seed=1)
    _keras._callbacks = plain
    figures = {
        "values": best["values"],
        "search_epochs": search_epochs,
        "search_seconds": searched,
        "retrain": probe.history,
        "reached": probe.reached,
    }
    reached = probe.reached
    table = [
        "| search (Hyperband, max_epochs 3) | retrained configuration | test accuracy after each retraining epoch | "
        f"first >= {TARGET} |",
        "| --- | --- | --- | --- |",
        f"| {search_epochs} epochs, {searched:.0f} s | {_values(best['values'])} | "
        + ", ".join(f"{a:.3f}" for _, _, a in probe.history)
        + " | "
        + (
            "not reached"
            if reached is None
            else f"**{search_epochs + reached[0]} epochs in all ({search_epochs} search + {reached[0]} retraining), "
            f"{reached[1]:.0f} s**"
        )
        + " |",
    ]
    return figures, table


def _side_by_side(args: argparse.Namespace) -> tuple[dict, list[str]]:
    rows, figures = [], {}
    for name, post_accuracy in POST.items():
        data = load_cifar10(args.data, validation="test", limit=args.limit, seed=0)
        spec = densespace.load_spec(ROOT / "examples" / f"{name}.json")
        epochs = max(1, args.budget // (args.trials + 1))
        figures[name] = _run(spec, data, max_trials=args.trials, epochs=epochs)
        rows.append(
            (f"`{name}` the post's way (bayesian, val_loss, validation = test)", post_accuracy, figures[name])
        )
    data = load_cifar10(args.data, limit=args.limit, seed=0)
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
    for title, post_accuracy, f in rows:
        table.append(
            f"| {title} | {'—' if post_accuracy is None else post_accuracy} | {f['accuracy']:.4f} | "
            f"{f['loss']:.4f} | {f['epochs']} | {f['seconds']:.0f} |"
        )
    return figures, table


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


def _blocks(change):
    """Sets the fields ``change(block)`` returns on every hidden block of the ablation's base."""

    def apply(spec):
        for block in spec["hidden"]:
            block.update(change(block))

    return apply


ABLATIONS = {
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


def _ablation(args: argparse.Namespace) -> tuple[dict, list[str]]:
    data = load_cifar10(args.data, limit=args.limit, seed=0)
    base = densespace.freeze(densespace.load_spec(RECOMMENDED), ABLATION_BASE).model_dump()
    figures, rows = {}, []
    for change, apply in ABLATIONS.items():
        variant = json.loads(json.dumps(base))
        apply(variant)
        spec = densespace.validate_spec(variant)
        hypermodel = densespace.build_hypermodel(spec, train_images=data.train[0])
        start = time.monotonic()
        _, metrics, _ = _retrain(hypermodel, {}, data, epochs=args.retrain_epochs, seed=1)
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
    return figures, table


def _retrain(hypermodel, values: dict, data, *, epochs: int, seed: int):
    """One configuration retrained from scratch on the training split (shuffled with ``seed``)
    and tested once: ``_keras.retrain``'s model, test metrics and epochs."""
    from densespace import _keras

    return _keras.retrain(
        hypermodel,
        values,
        _keras.Batches(*data.train, seed=seed),
        _keras.Batches(*data.validation),
        data.test,
        epochs=epochs,
        seed=seed,
        verbose=0,
    )


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


def _run(spec: densespace.Spec, data, **options) -> dict:
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


def _values(values: dict) -> str:
    return " ".join(f"{k}={densespace._results.show(v)}" for k, v in values.items())


def main() -> None:
    """Runs one part and appends its table to bench/results/beyond.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["quality", "efficiency", "side-by-side", "ablation"])
    parser.add_argument(
        "--data", default=str(Path("~/.cache/densespace-bench/cifar10/cifar-10-batches-bin").expanduser())
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--retrain-epochs", type=int, default=10)
    parser.add_argument("--budget", type=int, default=60, help="training epochs per run (side-by-side)")
    parser.add_argument("--trials", type=int, default=5, help="trials of the post's searches (side-by-side)")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    run = {
        "quality": _quality,
        "efficiency": _efficiency,
        "side-by-side": _side_by_side,
        "ablation": _ablation,
    }[args.part]
    figures, table = run(args)
    command, machine = _common.command(), _common.machine()
    date = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    RESULTS.mkdir(parents=True, exist_ok=True)
    store = RESULTS / "beyond.json"
    everything = json.loads(store.read_text()) if store.exists() else {}
    everything[args.part] = {"command": command, "machine": machine, "date": date, "figures": figures}
    store.write_text(json.dumps(everything, indent=2, default=float) + "\n")
    section = [f"## {args.part}", "", f"Command: `{command}` ({date}); machine: {machine}.", "", *table, ""]
    report = RESULTS / "beyond.md"
    text = report.read_text() if report.exists() else "# Beyond the post: dense-only CIFAR-10\n\n"
    start = text.find(f"## {args.part}\n")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + text[end + 1 :] if end >= 0 else text[:start]
    report.write_text(text.rstrip("\n") + "\n\n" + "\n".join(section))
    print("\n".join(section))


if __name__ == "__main__":
    main()
