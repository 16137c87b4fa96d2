"""Times a small tabular search with densespace.tune against the same models in a plain Keras loop.

    python bench/tabular.py [--results DIR] [--work DIR] [--rows N] [--features N]
                            [--trials N] [--epochs N] [--pairs N]

(``--cache``, which every script takes, is unused here: the data is generated.)

On small data Keras' per-model costs (tracing, building) and the tuner's
bookkeeping, not the arithmetic, take most of a search's time. The task is
synthetic, seed 0: ``--rows`` training rows (and a fifth as many for each of
validation and test) of ``--features`` float32 features on scales from 0.1 to
100 with offsets; the label is one of 3 classes, the terciles (on the training
rows) of a fixed linear combination of the standardized features plus noise
(sd 0.3 against 1). The space (``SPEC``): 1 to 3 Dense relu layers of 32, 64,
128 or 256 units each, Adam with learning rate 3e-4, 1e-3 or 3e-3, standardized
inputs, batch 256, ``--epochs`` epochs, a random search of ``--trials`` trials,
seed 1, objective val_loss. The sides:

* densespace: ``densespace.tune(spec, data=..., out=..., retrain_top=0,
  verbose=0)``, everything included: the spec checked against the data, the
  run folder, keras-tuner's RandomSearch and its state files and checkpoints,
  results.json, trials.csv, report.md and the score plot;
* plain: the configurations that densespace's run tried (``t.values`` of its
  trials, in its order) in a plain loop written with Keras alone:
  ``keras.utils.set_random_seed(1)`` (as densespace seeds the search) and a
  ``Normalization`` layer adapted on the training rows once (its mean and
  variance reused by every model, as densespace computes them once), then per
  configuration
  ``keras.backend.clear_session()``, Input -> Normalization -> the Dense layers ->
  Dense(3, softmax), ``compile(Adam(learning_rate), sparse categorical
  cross-entropy, accuracy)`` and ``fit(x, y, batch_size=256, epochs=...,
  validation_data=..., validation_batch_size=1024)`` (densespace validates in
  batches of 1,024: both sides run the same training and validation steps).

Every run is a fresh process (imports and building the data are not timed); the
runs alternate densespace, plain, densespace, ... for ``--pairs`` pairs, each
plain run training the configurations of the densespace run before it. Figures:
the median totals, the median of the per-pair ratios densespace / plain, and the
per-trial overhead (median densespace total - median plain total) / trials. Each
worker also times, exclusively (a nested call counts once, in the innermost),
keras.Model.fit (with its validation passes), .save_weights (keras-tuner's
best-epoch checkpoints), keras.backend.clear_session and gc.collect, and
densespace's side splits its total into its trials (keras-tuner's run_trial:
clearing, building, fitting) and the rest (setting up, the oracle, state and
results files).

Target: a median ratio densespace / plain of at most 1.10. Writes
results/tabular.json and .md; run folders go to WORK/tabular/.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import time
from types import SimpleNamespace
from typing import Any

import _harness

SPEC: dict[str, Any] = {
    "version": 1,
    "name": "tabular",
    "description": "3 classes from thresholds of a linear combination of 20 features (bench/tabular.py)",
    "task": "classification",
    "input": {"shape": [20], "preprocessing": "standardize"},
    "hidden": {"layers": {"min": 1, "max": 3}, "units": {"values": [32, 64, 128, 256]}},
    "optimizer": {"name": "adam", "learning_rate": {"values": [0.0003, 0.001, 0.003]}},
    "training": {"epochs": 5, "batch_size": 256},
    # seed 1: keras-tuner's oracle takes a seed of 0 for none (``seed or random.randint(1, 10000)``)
    "search": {"tuner": "random", "objective": "val_loss", "max_trials": 20, "seed": 1},
}
SIDES = ("densespace", "plain")
CLASSES = 3
BATCH_SIZE = 256
VALIDATION_BATCH_SIZE = 1024  # densespace's validation pipeline
PROFILED = ("fit", "save_weights", "clear_session", "gc.collect")
RATIO = _harness.Target("median ratio densespace / plain", "<=", 1.10)


def main() -> int:
    """Alternates the two sides in fresh processes and writes the results."""
    parser = _harness.parser(__doc__, work=True)
    parser.add_argument("--rows", type=int, default=10_000, help="training rows")
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=3, help="densespace / plain pairs (at least 3)")
    args = parser.parse_args()
    if args.pairs < 3:
        parser.error("--pairs must be at least 3")
    run = _harness.Run(
        "tabular",
        "A small tabular search: densespace.tune vs the same models in a plain Keras loop",
        args.results,
    )
    work = args.work / "tabular"
    task = {"rows": args.rows, "features": args.features, "trials": args.trials, "epochs": args.epochs}
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    for pair in range(args.pairs):
        run_dir = work / f"densespace-{pair}"
        shutil.rmtree(run_dir, ignore_errors=True)
        dense = _harness.fresh(__file__, side="densespace", run_dir=str(run_dir), values=None, **task)
        runs["densespace"].append(dense)
        values = [t["values"] for t in dense["trials"]]
        runs["plain"].append(_harness.fresh(__file__, side="plain", run_dir="", values=values, **task))
        for side in SIDES:
            print(
                f"pair {pair + 1}/{args.pairs} {side}: {runs[side][-1]['seconds']:.1f} s",
                file=sys.stderr,
                flush=True,
            )
    figures = _figures(args, runs)
    return run.finish(figures, _markdown(figures), [RATIO.check(figures["median_ratio"])])


# ------------------------------------------------------------------ worker side


def make_data(rows: int, features: int, seed: int = 0) -> SimpleNamespace:
    """The synthetic task: ``rows`` training rows, a fifth as many for validation and for
    test; 3 classes from the training terciles of a linear combination plus noise."""
    import numpy as np

    rng = np.random.default_rng(seed)
    held_out = rows // 5
    total = rows + 2 * held_out
    z = rng.standard_normal((total, features))  # the standardized features
    weights = rng.standard_normal(features)
    score = z @ weights / np.linalg.norm(weights) + 0.3 * rng.standard_normal(total)
    labels = np.digitize(score, np.quantile(score[:rows], [1 / 3, 2 / 3])).astype(np.int64)
    scales = 10.0 ** rng.uniform(-1, 2, features)  # 0.1 to 100: standardizing matters
    x = (z * scales + rng.normal(0, 10, features)).astype(np.float32)
    cut = (rows, rows + held_out)
    return SimpleNamespace(
        train=(x[: cut[0]], labels[: cut[0]]),
        validation=(x[cut[0] : cut[1]], labels[cut[0] : cut[1]]),
        test=(x[cut[1] :], labels[cut[1] :]),
        source="synthetic",
    )


def _worker(
    side: str,
    rows: int,
    features: int,
    trials: int,
    epochs: int,
    run_dir: str,
    values: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    """Runs one side in a fresh process: its wall seconds, its trials and the profile."""
    import gc

    import keras

    import densespace

    _harness.preload_tune()  # on both sides, untimed
    data = make_data(rows, features)
    spec = densespace.validate_spec(
        {
            **SPEC,
            "input": {**SPEC["input"], "shape": [features]},
            "training": {**SPEC["training"], "epochs": epochs},
            "search": {**SPEC["search"], "max_trials": trials},
        }
    )
    profile = _harness.Profile(PROFILED)
    for attribute in ("fit", "save_weights"):
        profile.patch(keras.Model, attribute, attribute)
    profile.patch(keras.backend, "clear_session", "clear_session")
    profile.patch(gc, "collect", "gc.collect")
    if side == "densespace":
        start = time.perf_counter()
        result = densespace.tune(spec, data=data, out=run_dir, overwrite=True, retrain_top=0, verbose=0)
        seconds = time.perf_counter() - start
        tried = [
            {"values": t.values, "seconds": t.seconds, "score": t.score, "status": t.status}
            for t in result.trials
        ]
    else:
        assert values is not None
        start = time.perf_counter()
        tried = _plain(values, data, epochs, keras)
        seconds = time.perf_counter() - start
    return {"side": side, "seconds": seconds, "trials": tried, "profile": profile.record()}


def _plain(values: list[dict[str, Any]], data: Any, epochs: int, keras: Any) -> list[dict[str, Any]]:
    """The configurations trained in a plain Keras loop; each one's seconds and best val_loss."""
    import numpy as np

    keras.utils.set_random_seed(SPEC["search"]["seed"])
    (x, y), validation = data.train, data.validation
    adapted = keras.layers.Normalization(axis=-1)
    adapted.adapt(x)
    mean, variance = np.asarray(adapted.mean).reshape(-1), np.asarray(adapted.variance).reshape(-1)
    tried = []
    for v in values:
        start = time.perf_counter()
        keras.backend.clear_session()
        inputs = keras.Input(shape=x.shape[1:])
        h = keras.layers.Normalization(axis=-1, mean=mean, variance=variance)(inputs)
        for i in range(v["layers"]):
            h = keras.layers.Dense(v[f"units_{i}"], activation="relu")(h)
        outputs = keras.layers.Dense(CLASSES, activation="softmax")(h)
        model = keras.Model(inputs, outputs)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=v["learning_rate"]),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        history = model.fit(
            x,
            y,
            batch_size=BATCH_SIZE,
            epochs=epochs,
            validation_data=validation,
            validation_batch_size=VALIDATION_BATCH_SIZE,
            verbose=0,
        )
        seconds = time.perf_counter() - start
        tried.append({"values": v, "seconds": seconds, "score": min(history.history["val_loss"])})
    return tried


# ------------------------------------------------------------------ report


def _figures(args: Any, runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The pairs summarized: totals, ratios, per-trial overhead, where the time goes."""
    trials = args.trials
    dense, plain = runs["densespace"], runs["plain"]
    ratios = [d["seconds"] / p["seconds"] for d, p in zip(dense, plain, strict=True)]
    totals = {side: statistics.median(r["seconds"] for r in rows) for side, rows in runs.items()}
    inside = {
        side: statistics.median(sum(t["seconds"] for t in r["trials"]) for r in rows)
        for side, rows in runs.items()
    }
    profile = {
        side: {
            name: {
                "seconds": round(statistics.median(r["profile"][name]["seconds"] for r in rows), 3),
                "calls": rows[0]["profile"][name]["calls"],
            }
            for name in PROFILED
        }
        for side, rows in runs.items()
    }
    first = [t["values"] for t in dense[0]["trials"]]
    scores = {side: [t["score"] for t in rows[0]["trials"]] for side, rows in runs.items()}
    return {
        "budget": {
            "rows": {"train": args.rows, "validation": args.rows // 5, "test": args.rows // 5},
            "features": args.features,
            "classes": CLASSES,
            "trials": trials,
            "epochs": args.epochs,
            "batch_size": BATCH_SIZE,
            "validation_batch_size": VALIDATION_BATCH_SIZE,
            "pairs": args.pairs,
        },
        "spec": SPEC,
        "method": (
            "fresh process per run, imports and data untimed; runs alternate densespace, plain, ...; "
            "ratio = median of the per-pair ratios"
        ),
        "median_ratio": round(statistics.median(ratios), 4),
        "ratios": [round(r, 4) for r in ratios],
        "ratio_of_medians": round(totals["densespace"] / totals["plain"], 4),
        "median_seconds": {side: round(s, 2) for side, s in totals.items()},
        "overhead_per_trial_seconds": round((totals["densespace"] - totals["plain"]) / trials, 3),
        "median_trial_seconds": {side: round(s, 2) for side, s in inside.items()},
        "profile_median": profile,
        "same_values_every_run": all([t["values"] for t in d["trials"]] == first for d in dense)
        and all([t["values"] for t in p["trials"]] == first for p in plain),
        "completed": [sum(t["status"] == "completed" for t in d["trials"]) for d in dense],
        "best_val_loss": {side: round(min(s), 4) for side, s in scores.items()},
        "runs": runs,
    }


def _markdown(figures: dict[str, Any]) -> list[str]:
    """The budget, the totals and the ratio, then where the time goes, as Markdown."""
    b, totals, inside = figures["budget"], figures["median_seconds"], figures["median_trial_seconds"]
    trials, dense, plain = b["trials"], figures["runs"]["densespace"], figures["runs"]["plain"]
    rows = b["rows"]
    lines = [
        f"Task: synthetic, {rows['train']:,} train / {rows['validation']:,} validation rows x "
        f"{b['features']} features, {b['classes']} classes (terciles of a linear combination plus noise); "
        f"{trials} trials (random search, seed 1: 1-3 Dense layers of 32-256 units, 3 learning rates) x "
        f"{b['epochs']} epochs, batch {b['batch_size']}, validation batch {b['validation_batch_size']}; "
        f"{b['pairs']} interleaved pairs; {figures['method']}.",
        "",
        "| side | median total s | per-pair totals s | median s inside trials | median s per trial |",
        "| --- | ---: | --- | ---: | ---: |",
    ]
    for side, runs in (("densespace", dense), ("plain", plain)):
        per_pair = ", ".join(f"{r['seconds']:.2f}" for r in runs)
        lines.append(
            f"| {side} | {totals[side]:.2f} | {per_pair} | {inside[side]:.2f} | {totals[side] / trials:.3f} |"
        )
    lines += [
        "",
        f"**Median ratio densespace / plain: {figures['median_ratio']:.3f}** (per pair: "
        f"{', '.join(f'{r:.3f}' for r in figures['ratios'])}; ratio of the medians "
        f"{figures['ratio_of_medians']:.3f}). **Per-trial overhead: "
        f"{figures['overhead_per_trial_seconds']:+.3f} s** ((median densespace total - median plain "
        f"total) / {trials}).",
        "",
        "Where the time goes (median seconds; parts exclusive: fit without the checkpoints it "
        "writes, clear_session without its gc.collect):",
        "",
        "| median seconds | densespace | calls | plain | calls | difference |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        f"| total | {totals['densespace']:.2f} | | {totals['plain']:.2f} | | "
        f"{totals['densespace'] - totals['plain']:+.2f} |",
    ]
    pd, pp = figures["profile_median"]["densespace"], figures["profile_median"]["plain"]
    for name in PROFILED:
        x, y = pd[name]["seconds"], pp[name]["seconds"]
        lines.append(
            f"| - {name} | {x:.2f} | {pd[name]['calls']} | {y:.2f} | {pp[name]['calls']} | {x - y:+.2f} |"
        )
    other = {
        side: totals[side] - sum(p[n]["seconds"] for n in PROFILED)
        for side, p in (("densespace", pd), ("plain", pp))
    }
    lines += [
        f"| - other | {other['densespace']:.2f} | | {other['plain']:.2f} | | "
        f"{other['densespace'] - other['plain']:+.2f} |",
        f"| inside trials | {inside['densespace']:.2f} | | {inside['plain']:.2f} | | "
        f"{inside['densespace'] - inside['plain']:+.2f} |",
        f"| outside trials | {totals['densespace'] - inside['densespace']:.2f} | | "
        f"{totals['plain'] - inside['plain']:.2f} | | "
        f"{(totals['densespace'] - inside['densespace']) - (totals['plain'] - inside['plain']):+.2f} |",
        "",
        "Other: building and compiling the models, densespace's and keras-tuner's own code. Inside "
        "trials: densespace's keras-tuner run_trial (clear_session, gc.collect, build, fit with its "
        "checkpoints), the plain loop's clear_session, build and fit; outside: the rest (densespace: "
        "checking the spec against the data, the run folder, the oracle, keras-tuner's state files, "
        "results.json, trials.csv, report.md, the plot; plain: adapting the Normalization layer once).",
        "",
        f"Both sides trained the same {trials} configurations in the same order in every run: "
        f"{'yes' if figures['same_values_every_run'] else 'NO'}; completed densespace trials per run: "
        f"{', '.join(str(n) for n in figures['completed'])}; best val_loss in the first pair: densespace "
        f"{figures['best_val_loss']['densespace']:.4f}, plain {figures['best_val_loss']['plain']:.4f} "
        "(the sides shuffle differently: densespace from a seeded tf.data pipeline, the plain loop "
        "with Keras' own shuffling).",
    ]
    return lines


if __name__ == "__main__":
    _harness.run_script(main, worker=_worker)
