"""Better dense networks: what each new choice of the spec is worth on CIFAR-10 (issue 25).

    python bench/experiments/modern.py ablation [--limit 10000] [--retrain-epochs 10] [--only NAME ...]
    python bench/experiments/modern.py ensemble [--limit 10000] [--retrain-epochs 10]
    python bench/experiments/modern.py longer   [--limit 10000] [--retrain-epochs 30]
    python bench/experiments/modern.py long RECIPE --limit 0 --retrain-epochs 140 [--seed 1] [--save DIR]
    python bench/experiments/modern.py combine --limit 0 [--save DIR]

(also takes ``--cache DIR`` and ``--results DIR``; ``--limit`` is 10,000 and ``--retrain-epochs`` 10
unless given, so the runs on all the data name both)

* ablation: the plain configuration of ``beyond.py ablation`` (the recommended space fixed at
  1024-512-256, batch norm, dropout 0.3, Adam 1e-3 with cosine decay, flips), then that
  configuration with one new choice changed at a time: the activations ``gelu``, ``silu`` and
  ``mish``, a random crop, MixUp, CutMix, AdamW, Lion, a warmup, and residual blocks in place of
  the Dense ones. Each is trained ``--retrain-epochs`` epochs on a ``--limit`` subset with the
  same seed and tested once, the base included (rerun here, so that every row comes from the
  same machine under the same load). ``--only`` runs the named rows (and the base) alone.

* ensemble: three rows of the ablation trained alike (the base, gelu, the residual blocks), and
  the ensembles of the first two and of all three, tested once: what averaging buys.

* longer: the base against the residual recipe of the issue (6 residual layers, crop, MixUp,
  AdamW with warmup), each trained ``--retrain-epochs`` epochs: whether the residual recipe
  needs the longer schedule it is said to.

* long: one recipe of ``longer`` (``base`` or ``residual``) trained ``--retrain-epochs`` epochs
  with ``--seed`` (``--limit 0``: the whole 45,000 / 5,000 / 10,000 split), tested once and
  saved as ``--save``/``RECIPE-SEED.keras``, with its epochs logged beside it
  (``RECIPE-SEED.csv``): the long schedules, one per process, run in the background.

* combine: every model ``long`` saved in ``--save``, tested once each, and the ensembles of
  the first 2, 3, ... of them, best validation accuracy first (the choice never looks at the
  test split), averaged as ``--ensemble K`` averages the retrained models.

The section of results/modern.md (and the entry of modern.json) is replaced with the command
that made it.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for _harness
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/experiments/, for beyond
import _harness
from beyond import ABLATION_BASE, RECOMMENDED, _blocks

import densespace
from densespace.datasets import load_cifar10

Figures = dict[str, Any]
Change = Callable[[dict[str, Any]], None]


def _residual(layers: int, units: int, **fields: Any) -> Change:
    """Replaces the Dense blocks with one residual block of ``layers`` layers of ``units``."""
    block = {"kind": "residual", "layers": layers, "units": units, "expansion": 2, "dropout": 0.1, **fields}

    def apply(spec: dict[str, Any]) -> None:
        spec["hidden"] = [block]

    return apply


ABLATIONS: dict[str, Change] = {
    "the base configuration": lambda d: None,
    "gelu instead of relu": _blocks(lambda b: {"activation": "gelu"}),
    "silu instead of relu": _blocks(lambda b: {"activation": "silu"}),
    "mish instead of relu": _blocks(lambda b: {"activation": "mish"}),
    "random crop 4 (pad 4, crop back)": lambda d: d["input"]["augmentation"].update(crop=4),
    "MixUp 0.2": lambda d: d["input"]["augmentation"].update(mixup=0.2),
    "CutMix 1.0": lambda d: d["input"]["augmentation"].update(cutmix=1.0),
    "AdamW, weight decay 0.05": lambda d: d["optimizer"].update(name="adamw", weight_decay=0.05),
    "Lion, learning rate 0.0002, weight decay 0.5": lambda d: d["optimizer"].update(
        name="lion", learning_rate=0.0002, weight_decay=0.5
    ),
    "warmup 0.05 before the cosine decay": lambda d: d["optimizer"].update(warmup=0.05),
    "residual: 3 layers of 512, expansion 2, layer norm, gelu, dropout 0.1": _residual(3, 512),
    "residual as above, batch norm": _residual(3, 512, norm="batch"),
    "residual as above, no norm": _residual(3, 512, norm="none"),
    "residual as above, expansion 4": _residual(3, 512, expansion=4),
    "residual as above, 6 layers of 256": _residual(6, 256),
}


def _variant(change: Change, data: Any, epochs: int) -> tuple[Any, Any]:
    """The ablation's base with ``change`` applied, trained ``epochs`` epochs (the cosine decay spans
    them): its spec and its hypermodel."""
    variant = densespace.freeze(densespace.load_spec(RECOMMENDED), ABLATION_BASE).model_dump()
    change(variant)
    variant["training"]["epochs"] = epochs
    spec = densespace.validate_spec(variant)
    return spec, densespace.build_hypermodel(spec, train_images=data.train[0])


def _ablation(args: argparse.Namespace, source: Path) -> tuple[Figures, list[str], list[_harness.Check]]:
    data = load_cifar10(source, limit=args.limit, seed=0)
    chosen = [
        name for name in ABLATIONS if not args.only or name == "the base configuration" or name in args.only
    ]
    figures, rows = {}, []
    for change in chosen:
        spec, hypermodel = _variant(ABLATIONS[change], data, args.retrain_epochs)
        start = time.monotonic()
        _, metrics, _ = _harness.retrain(hypermodel, {}, data, epochs=args.retrain_epochs, seed=1)
        parameters = densespace.parameter_bounds(spec)[0]
        figures[change] = {**metrics, "seconds": time.monotonic() - start, "parameters": parameters}
        print(f"{change}: {metrics['accuracy']:.4f} ({time.monotonic() - start:.0f} s)", flush=True)
    reference = figures["the base configuration"]["accuracy"]
    for change, f in figures.items():
        rows.append(
            f"| {change} | {f['parameters']:,} | {f['accuracy']:.4f} | {f['accuracy'] - reference:+.4f} | "
            f"{f['loss']:.4f} | {f['seconds']:.0f} |"
        )
    sizes = f"{len(data.train[0]):,} train / {len(data.test[0]):,} test images"
    table = [
        f"Each row: {args.retrain_epochs} epochs on {sizes} (`limit={args.limit}`), seed 1, tested once; "
        "the machine's 2 cores were shared with other work, so seconds compare only roughly.",
        "",
        "| change from the base configuration | parameters | test accuracy | difference | test loss | seconds |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        *rows,
    ]
    return figures, table, []


def _recipe(spec: dict[str, Any]) -> None:
    """The residual recipe of issue 25: 6 residual layers of 256, crop, MixUp, AdamW with warmup."""
    _residual(6, 256)(spec)
    spec["input"]["augmentation"].update(crop=4, mixup=0.2)
    spec["optimizer"].update(name="adamw", learning_rate=0.0005, weight_decay=0.05, warmup=0.05)


#: ``long``'s names of the two ``RECIPES``.
LONG = {"base": "the base configuration"}

RECIPES: dict[str, Change] = {
    "the base configuration": lambda d: None,
    "residual recipe: 6 residual layers of 256 (expansion 2, layer norm, gelu, dropout 0.1), crop 4, "
    "MixUp 0.2, AdamW 5e-4 with weight decay 0.05 and warmup 0.05": _recipe,
}


def _longer(args: argparse.Namespace, source: Path) -> tuple[Figures, list[str], list[_harness.Check]]:
    data = load_cifar10(source, limit=args.limit, seed=0)
    figures, rows = {}, []
    for name, change in RECIPES.items():
        spec, hypermodel = _variant(change, data, args.retrain_epochs)
        start = time.monotonic()
        _, metrics, _ = _harness.retrain(hypermodel, {}, data, epochs=args.retrain_epochs, seed=1)
        parameters = densespace.parameter_bounds(spec)[0]
        figures[name] = {**metrics, "seconds": time.monotonic() - start, "parameters": parameters}
        rows.append(
            f"| {name} | {parameters:,} | {metrics['accuracy']:.4f} | {metrics['loss']:.4f} | "
            f"{figures[name]['seconds']:.0f} |"
        )
        print(f"{name}: {metrics['accuracy']:.4f}", flush=True)
    table = [
        f"Each row: {args.retrain_epochs} epochs on the `limit={args.limit}` subset, seed 1, tested once.",
        "",
        "| configuration | parameters | test accuracy | test loss | seconds |",
        "| --- | ---: | ---: | ---: | ---: |",
        *rows,
    ]
    return figures, table, []


#: The members of the ensemble part: rows of the ablation.
MEMBERS = (
    "the base configuration",
    "gelu instead of relu",
    "residual: 3 layers of 512, expansion 2, layer norm, gelu, dropout 0.1",
)


def _ensemble(args: argparse.Namespace, source: Path) -> tuple[Figures, list[str], list[_harness.Check]]:
    from densespace._keras.ensemble import ensemble

    data = load_cifar10(source, limit=args.limit, seed=0)
    figures: Figures = {}
    members = []
    for rank, name in enumerate(MEMBERS, 1):
        spec, hypermodel = _variant(ABLATIONS[name], data, args.retrain_epochs)
        model, metrics, _ = _harness.retrain(hypermodel, {}, data, epochs=args.retrain_epochs, seed=rank)
        members.append(model)
        figures[name] = {**metrics, "parameters": densespace.parameter_bounds(spec)[0]}
        print(f"{name}: {metrics['accuracy']:.4f}", flush=True)
    rows = [
        f"| {name} | {f['parameters']:,} | {f['accuracy']:.4f} | {f['loss']:.4f} |"
        for name, f in figures.items()
    ]
    predictions = [m.predict(data.test[0], batch_size=1024, verbose=0).argmax(axis=1) for m in members]
    for size in range(2, len(members) + 1):
        _, metrics = ensemble(members[:size], spec, data.test)
        figures[f"ensemble of the first {size}"] = metrics
        parameters = sum(figures[name]["parameters"] for name in MEMBERS[:size])
        rows.append(
            f"| ensemble.keras of the first {size} | {parameters:,} | {metrics['accuracy']:.4f} | {metrics['loss']:.4f} |"
        )
    agree = float((predictions[0] == predictions[2]).mean())
    figures["agreement of the first and the last"] = agree
    table = [
        f"Each member: {args.retrain_epochs} epochs on the `limit={args.limit}` subset (seed = its row), tested "
        f"once; the ensembles average the members' probabilities (`densespace._keras.ensemble`, what "
        f"`--ensemble K` writes). The first and the last member agree on {agree:.1%} of the test images.",
        "",
        "| model | parameters | test accuracy | test loss |",
        "| --- | ---: | ---: | ---: |",
        *rows,
    ]
    return figures, table, []


def _full(args: argparse.Namespace, source: Path) -> Any:
    """The split ``--limit`` asks for: the whole 45,000 / 5,000 / 10,000 split when 0."""
    return load_cifar10(source, limit=args.limit or None, seed=0)


def _long(args: argparse.Namespace, source: Path) -> tuple[Figures, list[str], list[_harness.Check]]:
    import keras

    data = _full(args, source)
    name = LONG.get(args.recipe) or next(n for n in RECIPES if n.startswith(args.recipe))
    spec, hypermodel = _variant(RECIPES[name], data, args.retrain_epochs)
    args.save.mkdir(parents=True, exist_ok=True)
    stem = args.save / f"{args.recipe}-{args.seed}"
    start = time.monotonic()
    log = keras.callbacks.CSVLogger(str(stem.with_suffix(".csv")))
    model, metrics, epochs = _harness.retrain(
        hypermodel, {}, data, epochs=args.retrain_epochs, seed=args.seed, callbacks=[log]
    )
    seconds = time.monotonic() - start
    model.save(stem.with_suffix(".keras"))
    parameters = densespace.parameter_bounds(spec)[0]
    figures = {**metrics, "seconds": seconds, "parameters": parameters, "epochs": epochs, "recipe": name}
    table = [
        f"{name}: {epochs} epochs on {len(data.train[0]):,} train images (seed {args.seed}), tested once on "
        f"{len(data.test[0]):,}: **{metrics['accuracy']:.4f}** test accuracy (loss {metrics['loss']:.4f}), "
        f"{parameters:,} parameters, {seconds / 60:.0f} minutes. Saved as `{stem.name}.keras`; its epochs "
        f"in `{stem.name}.csv`.",
    ]
    return figures, table, []


def _combine(args: argparse.Namespace, source: Path) -> tuple[Figures, list[str], list[_harness.Check]]:
    import keras

    from densespace._keras.ensemble import ensemble

    data = _full(args, source)
    spec = densespace.freeze(densespace.load_spec(RECOMMENDED), ABLATION_BASE)
    scored = []
    for path in sorted(args.save.glob("*.keras")):
        model = keras.models.load_model(path)
        validation = model.evaluate(*data.validation, batch_size=1024, return_dict=True, verbose=0)
        test = model.evaluate(*data.test, batch_size=1024, return_dict=True, verbose=0)
        scored.append((validation["accuracy"], path.stem, model, test))
        print(
            f"{path.stem}: validation {validation['accuracy']:.4f}, test {test['accuracy']:.4f}", flush=True
        )
    scored.sort(key=lambda row: -row[0])
    figures: Figures = {stem: {"validation_accuracy": v, **test} for v, stem, _, test in scored}
    rows = [
        f"| {stem} | {v:.4f} | {test['accuracy']:.4f} | {test['loss']:.4f} |" for v, stem, _, test in scored
    ]
    for size in range(2, len(scored) + 1):
        _, metrics = ensemble([row[2] for row in scored[:size]], spec, data.test)
        figures[f"ensemble of the first {size}"] = metrics
        rows.append(
            f"| ensemble.keras of the first {size} | | {metrics['accuracy']:.4f} | {metrics['loss']:.4f} |"
        )
    table = [
        f"The models `long` saved in `{args.save.name}/`, best validation accuracy first, tested once on "
        f"{len(data.test[0]):,} images; each ensemble averages the probabilities of the first K "
        "(`densespace._keras.ensemble`, what `--ensemble K` writes).",
        "",
        "| model | validation accuracy | test accuracy | test loss |",
        "| --- | ---: | ---: | ---: |",
        *rows,
    ]
    return figures, table, []


PARTS = {"ablation": _ablation, "ensemble": _ensemble, "longer": _longer, "long": _long, "combine": _combine}


def main() -> int:
    """Runs one part and replaces its section of results/modern.md and .json."""
    parser = _harness.parser(__doc__)
    parser.add_argument("part", choices=PARTS)
    parser.add_argument("--retrain-epochs", type=int, default=10, help="epochs of each retraining")
    parser.add_argument("--limit", type=int, default=10000, help="images per split")
    parser.add_argument("--only", nargs="*", default=[], choices=list(ABLATIONS), help="rows to run")
    parser.add_argument("recipe", nargs="?", choices=["base", "residual"], help="long: the recipe")
    parser.add_argument("--seed", type=int, default=1, help="long: the seed of the training")
    parser.add_argument(
        "--save", type=Path, default=_harness.ROOT / "bench" / "work" / "long", help="long, combine: models"
    )
    args = parser.parse_args()
    if args.part == "long" and args.recipe is None:
        parser.error("long takes a RECIPE: base or residual")
    part = f"long {args.recipe} {args.seed}" if args.part == "long" else args.part
    run = _harness.Run("modern", "Better dense networks: CIFAR-10 ablations", args.results, part=part)
    figures, table, checks = PARTS[args.part](args, _harness.cifar10(args.cache) / _harness.BINARY)
    return run.finish(figures, table, checks)


if __name__ == "__main__":
    _harness.run_script(main)
