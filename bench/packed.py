"""Times a packed random search (``search.pack``) against the same configurations in a plain Keras loop.

    python bench/packed.py --dataset {breast_cancer,synthetic} [--results DIR] [--work DIR]
                           [--trials N] [--epochs N] [--pack K] [--pairs N]

(``--cache``, which every script takes, is unused here.)

The datasets: scikit-learn's breast_cancer (569 rows x 30 features, 2 classes; shuffled
with seed 0 and split 455 / 57 / 57 rows, batch 32) and the synthetic table of
``bench/tabular.py`` (10,000 training rows x 20 features, 2,000 validation, 3 classes;
batch 256). The space (``SPEC``, as the prototype of issue 24): 1 to 3 Dense layers of
16 to 256 units (16, 32, 64, 128, 256), each with its own activation (relu, tanh, gelu,
elu) and dropout (0, 0.1, 0.2, 0.3), Adam with learning rate 3e-4, 1e-3 or 3e-3,
standardized inputs, objective val_accuracy, ``--epochs`` epochs, a random search of
``--trials`` trials, seed 1. The sides:

* packed: ``densespace.tune(spec, data=..., out=..., retrain_top=0, verbose=0)`` with
  ``search.pack`` = ``--pack``, everything included (the run folder, the oracle, state
  files, checkpoints, results.json, report.md, the plot);
* plain: the configurations the packed run tried (in its order) in a plain Keras loop:
  ``keras.utils.set_random_seed(seed)``, a Normalization layer adapted once, then per
  configuration ``clear_session``, Input -> Normalization -> the Dense layers (activation,
  Dropout) -> the output Dense, ``compile(Adam, the task's loss, accuracy)`` and
  ``fit(x, y, batch_size, epochs, validation_data, validation_batch_size=1024)``; its score
  is the best epoch's val_accuracy, as densespace scores a trial.

Every run is a fresh process (imports and data untimed); the runs alternate packed, plain,
packed, ... for ``--pairs`` pairs; the plain loop of pair i is seeded 1 + i, so that with
two pairs or more the scores of two plain runs of different seeds give the noise floor of
a configuration's score. Figures: process CPU seconds (``resource.getrusage``: user +
system; the fairer figure on a shared machine) and wall seconds of each side, the ratio
packed / plain of each (median over pairs), and each configuration's score difference
packed - plain (mean and max absolute, and mean signed).

Target: a ratio packed / plain of at most 0.15 in CPU seconds (the issue's goal). Writes
results/packed.json and .md, one part per dataset; run folders go to WORK/packed/.
"""

from __future__ import annotations

import resource
import shutil
import statistics
import sys
import time
from types import SimpleNamespace
from typing import Any

import _harness

UNITS = [16, 32, 64, 128, 256]
SPEC: dict[str, Any] = {
    "version": 1,
    "name": "packed",
    "description": "1-3 Dense layers of varied widths, activations and dropout (bench/packed.py)",
    "task": "classification",
    "input": {"shape": [20], "preprocessing": "standardize"},
    "hidden": {
        "layers": {"min": 1, "max": 3},
        "units": {"values": UNITS},
        "activation": {"values": ["relu", "tanh", "gelu", "elu"]},
        "dropout": {"values": [0.0, 0.1, 0.2, 0.3]},
    },
    "optimizer": {"name": "adam", "learning_rate": {"values": [0.0003, 0.001, 0.003]}},
    "training": {"epochs": 20, "batch_size": 32},
    "search": {"tuner": "random", "objective": "val_accuracy", "max_trials": 64, "seed": 1, "pack": 16},
}
#: Per dataset: its classes, features and batch size.
DATASETS = {
    "breast_cancer": {"classes": 2, "features": 30, "batch_size": 32},
    "synthetic": {"classes": 3, "features": 20, "batch_size": 256},
}
SIDES = ("packed", "plain")
VALIDATION_BATCH_SIZE = 1024  # densespace's validation pipeline
RATIO = _harness.Target("median CPU-seconds ratio packed / plain", "<=", 0.15)


def main() -> int:
    """Alternates the two sides in fresh processes and writes the results."""
    parser = _harness.parser(__doc__, work=True)
    parser.add_argument("--dataset", choices=sorted(DATASETS), required=True)
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--pack", type=int, default=16, help="search.pack of the packed side")
    parser.add_argument("--pairs", type=int, default=2, help="packed / plain pairs")
    args = parser.parse_args()
    run = _harness.Run(
        "packed",
        "Packed trials (search.pack) vs the same configurations in a plain Keras loop",
        args.results,
        part=args.dataset,
    )
    work = args.work / "packed"
    task = {"dataset": args.dataset, "trials": args.trials, "epochs": args.epochs, "pack": args.pack}
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    for pair in range(args.pairs):
        run_dir = work / f"{args.dataset}-{pair}"
        shutil.rmtree(run_dir, ignore_errors=True)
        packed = _harness.fresh(__file__, side="packed", run_dir=str(run_dir), values=None, seed=1, **task)
        runs["packed"].append(packed)
        values = [t["values"] for t in packed["trials"]]
        runs["plain"].append(
            _harness.fresh(__file__, side="plain", run_dir="", values=values, seed=1 + pair, **task)
        )
        for side in SIDES:
            r = runs[side][-1]
            print(
                f"pair {pair + 1}/{args.pairs} {side}: {r['cpu']:.1f} CPU-s, {r['seconds']:.1f} s",
                file=sys.stderr,
                flush=True,
            )
    figures = _figures(args, runs)
    return run.finish(figures, _markdown(figures), [RATIO.check(figures["median_cpu_ratio"])])


# ------------------------------------------------------------------ worker side


def make_data(dataset: str) -> SimpleNamespace:
    """The dataset's splits (see the module's description)."""
    import numpy as np

    if dataset == "synthetic":
        import tabular

        return tabular.make_data(10_000, 20)  # type: ignore[no-any-return]
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order].astype(np.float32), y[order].astype(np.int64)
    cut = (455, 512)
    return SimpleNamespace(
        train=(x[: cut[0]], y[: cut[0]]),
        validation=(x[cut[0] : cut[1]], y[cut[0] : cut[1]]),
        test=(x[cut[1] :], y[cut[1] :]),
        source=dataset,
    )


def spec_of(dataset: str, trials: int, epochs: int, pack: int) -> dict[str, Any]:
    """``SPEC`` for one dataset and budget."""
    d = DATASETS[dataset]
    return {
        **SPEC,
        "input": {**SPEC["input"], "shape": [d["features"]]},
        "output": {"units": d["classes"]},
        "training": {"epochs": epochs, "batch_size": d["batch_size"]},
        "search": {**SPEC["search"], "max_trials": trials, "pack": pack},
    }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _worker(
    side: str,
    dataset: str,
    trials: int,
    epochs: int,
    pack: int,
    run_dir: str,
    values: list[dict[str, Any]] | None,
    seed: int,
) -> dict[str, Any]:
    """Runs one side in a fresh process: its CPU and wall seconds and its trials."""
    import keras

    import densespace

    _harness.preload_tune()  # on both sides, untimed
    data = make_data(dataset)
    spec = densespace.validate_spec(spec_of(dataset, trials, epochs, pack))
    cpu, start = _cpu(), time.perf_counter()
    if side == "packed":
        result = densespace.tune(spec, data=data, out=run_dir, overwrite=True, retrain_top=0, verbose=0)
        tried = [{"values": t.values, "score": t.score, "status": t.status} for t in result.trials]
    else:
        assert values is not None
        tried = _plain(values, data, spec, seed, keras)
    return {"side": side, "seconds": time.perf_counter() - start, "cpu": _cpu() - cpu, "trials": tried}


def _plain(values: list[dict[str, Any]], data: Any, spec: Any, seed: int, keras: Any) -> list[dict[str, Any]]:
    """The configurations trained in a plain Keras loop; each one's best val_accuracy."""
    import numpy as np

    keras.utils.set_random_seed(seed)
    (x, y), validation = data.train, data.validation
    adapted = keras.layers.Normalization(axis=-1)
    adapted.adapt(x)
    mean, variance = np.asarray(adapted.mean).reshape(-1), np.asarray(adapted.variance).reshape(-1)
    tried = []
    for v in values:
        keras.backend.clear_session()
        inputs = keras.Input(shape=x.shape[1:])
        h = keras.layers.Normalization(axis=-1, mean=mean, variance=variance)(inputs)
        for i in range(v["layers"]):
            h = keras.layers.Dense(v[f"units_{i}"], activation=v[f"activation_{i}"])(h)
            if v[f"dropout_{i}"]:
                h = keras.layers.Dropout(v[f"dropout_{i}"])(h)
        outputs = keras.layers.Dense(spec.output_units, activation="softmax")(h)
        model = keras.Model(inputs, outputs)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=v["learning_rate"]),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        history = model.fit(
            x,
            y,
            batch_size=spec.training.batch_size,
            epochs=spec.training.epochs,
            validation_data=validation,
            validation_batch_size=VALIDATION_BATCH_SIZE,
            verbose=0,
        )
        tried.append({"values": v, "score": max(history.history["val_accuracy"])})
    return tried


# ------------------------------------------------------------------ report


def _differences(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> dict[str, float | None]:
    """Mean and max absolute, and mean signed, score difference a - b per configuration."""
    pairs = [(x["score"], y["score"]) for x, y in zip(a, b, strict=True)]
    diffs = [x - y for x, y in pairs if x is not None and y is not None]
    if not diffs:
        return {"mean_abs": None, "max_abs": None, "mean": None}
    return {
        "mean_abs": round(statistics.mean(map(abs, diffs)), 4),
        "max_abs": round(max(map(abs, diffs)), 4),
        "mean": round(statistics.mean(diffs), 4),
    }


def _figures(args: Any, runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The pairs summarized: CPU and wall totals, ratios, score differences."""
    packed, plain = runs["packed"], runs["plain"]
    cpu_ratios = [p["cpu"] / q["cpu"] for p, q in zip(packed, plain, strict=True)]
    wall_ratios = [p["seconds"] / q["seconds"] for p, q in zip(packed, plain, strict=True)]
    figures: dict[str, Any] = {
        "budget": {
            "dataset": args.dataset,
            **DATASETS[args.dataset],
            "trials": args.trials,
            "epochs": args.epochs,
            "pack": args.pack,
            "pairs": args.pairs,
        },
        "spec": spec_of(args.dataset, args.trials, args.epochs, args.pack),
        "method": "fresh process per run, imports and data untimed; runs alternate packed, plain, ...; "
        "CPU = user + system seconds of the process (resource.getrusage); ratio = median of the per-pair ratios",
        "median_cpu_ratio": round(statistics.median(cpu_ratios), 4),
        "median_wall_ratio": round(statistics.median(wall_ratios), 4),
        "cpu_ratios": [round(r, 4) for r in cpu_ratios],
        "wall_ratios": [round(r, 4) for r in wall_ratios],
        "median_cpu_seconds": {
            s: round(statistics.median(r["cpu"] for r in rows), 2) for s, rows in runs.items()
        },
        "median_wall_seconds": {
            s: round(statistics.median(r["seconds"] for r in rows), 2) for s, rows in runs.items()
        },
        "completed": [sum(t["status"] == "completed" for t in p["trials"]) for p in packed],
        "score_difference_packed_minus_plain": _differences(packed[0]["trials"], plain[0]["trials"]),
        "score_difference_plain_seeds": _differences(plain[0]["trials"], plain[1]["trials"])
        if len(plain) > 1
        else None,
        "mean_score": {
            s: round(statistics.mean(t["score"] for t in rows[0]["trials"] if t["score"] is not None), 4)
            for s, rows in runs.items()
        },
        "runs": runs,
    }
    return figures


def _markdown(figures: dict[str, Any]) -> list[str]:
    """The budget, the totals, the ratios and the score differences, as Markdown."""
    b, cpu, wall = figures["budget"], figures["median_cpu_seconds"], figures["median_wall_seconds"]
    trials = b["trials"]
    lines = [
        f"Task: {b['dataset']}, {b['features']} features, {b['classes']} classes; {trials} trials "
        f"(random search, seed 1) x {b['epochs']} epochs, batch {b['batch_size']}; search.pack = "
        f"{b['pack']}; {b['pairs']} interleaved pairs; {figures['method']}.",
        "",
        "| side | median CPU s | per trial | median wall s | per trial |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for side in SIDES:
        lines.append(
            f"| {side} | {cpu[side]:.1f} | {cpu[side] / trials:.3f} | {wall[side]:.1f} | {wall[side] / trials:.3f} |"
        )
    d, noise = figures["score_difference_packed_minus_plain"], figures["score_difference_plain_seeds"]
    lines += [
        "",
        f"**Ratio packed / plain: {figures['median_cpu_ratio']:.3f} in CPU seconds** (per pair: "
        f"{', '.join(f'{r:.3f}' for r in figures['cpu_ratios'])}), **{figures['median_wall_ratio']:.3f} "
        f"in wall seconds** (per pair: {', '.join(f'{r:.3f}' for r in figures['wall_ratios'])}).",
        "",
        f"Best-epoch val_accuracy per configuration, packed - plain (first pair): mean absolute "
        f"{d['mean_abs']}, max absolute {d['max_abs']}, mean {d['mean']}; mean score packed "
        f"{figures['mean_score']['packed']}, plain {figures['mean_score']['plain']}.",
    ]
    if noise is not None:
        lines.append(
            f"Noise floor, plain seed 1 - plain seed 2 per configuration: mean absolute {noise['mean_abs']}, "
            f"max absolute {noise['max_abs']}, mean {noise['mean']}."
        )
    lines.append(f"Completed packed trials per run: {', '.join(str(n) for n in figures['completed'])}.")
    return lines


if __name__ == "__main__":
    _harness.run_script(main, worker=_worker)
