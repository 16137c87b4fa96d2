"""Epoch time inside a densespace trial against a bare ``model.fit`` of the same model on the same data.

    python bench/pipeline.py [--cache DIR] [--results DIR] [--work DIR] [--epochs 3] [--pairs 2] [--limit N]

The model is the issue's untuned recipe: standardized inputs, Dense 1024 -> 512 -> 256
(no bias) -> BatchNormalization -> relu -> Dropout 0.3, Adam with cosine decay
from 1e-3, batch 256, on the default split of CIFAR-10 (45,000 / 5,000 / 10,000;
``--limit`` images per split at most).

* densespace: one trial of ``densespace.tune`` with that frozen spec (images kept
  once as uint8 tensors, one ``tf.data`` pipeline of gathered batches,
  preprocessing in the model);
* bare: the same compiled model (``build_hypermodel(spec, ...).build(hp)``) trained with
  ``model.fit(x_uint8, y, batch_size=256, shuffle=True, validation_data=...)``.

Each epoch is timed by a Keras callback (training and validation); the first
epoch of each run (tracing) is left out. Runs alternate densespace, bare, ...,
each in a fresh process. Target: the median epoch seconds densespace / bare at
most 1.10. Writes results/pipeline.json and .md.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _harness

SPEC: dict[str, Any] = {
    "version": 1,
    "name": "recipe",
    "input": {"shape": [32, 32, 3], "preprocessing": "standardize"},
    "hidden": [
        {"units": 1024, "batch_norm": True, "dropout": 0.3},
        {"units": 512, "batch_norm": True, "dropout": 0.3},
        {"units": 256, "batch_norm": True, "dropout": 0.3},
    ],
    "optimizer": {"name": "adam", "learning_rate": 0.001, "schedule": "cosine"},
    "training": {"epochs": 3, "batch_size": 256},
    "search": {"tuner": "random", "max_trials": 1, "seed": 0},
}
RATIO = _harness.Target("median epoch seconds, densespace / bare", "<=", 1.10)
SECONDS: list[float] = []  # module-level: keras-tuner deep-copies the callbacks it is given


def main() -> int:
    """Runs the pairs and writes the results."""
    parser = _harness.parser(__doc__, work=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="images per split (default: all)")
    args = parser.parse_args()
    run = _harness.Run("pipeline", "Epoch time inside a trial vs a bare model.fit", args.results)
    work = args.work / "pipeline"
    _harness.prepare_data(args.cache, args.limit, work)
    epochs: dict[str, list[float]] = {"densespace": [], "bare": []}
    for pair in range(args.pairs):
        for side in epochs:
            seconds = _harness.fresh(__file__, side=side, epochs=args.epochs, work=str(work))
            epochs[side] += seconds[1:]
            print(f"pair {pair + 1} {side}: " + " ".join(f"{s:.2f}" for s in seconds), file=sys.stderr)
    medians = {side: statistics.median(values) for side, values in epochs.items()}
    ratio = medians["densespace"] / medians["bare"]
    figures = {"spec": SPEC, "epochs": epochs, "median_epoch_seconds": medians, "ratio": ratio}
    body = [
        f"Model: Dense 1024-512-256 with batch norm and dropout 0.3, standardized, Adam + cosine, batch 256, "
        f"on CIFAR-10's default split{'' if args.limit is None else f' (limit {args.limit})'}; {args.epochs} "
        f"epochs per run, first epoch left out, {args.pairs} interleaved pairs.",
        "",
        "| side | median epoch s | epochs timed |",
        "| --- | ---: | ---: |",
        *(f"| {side} | {medians[side]:.2f} | {len(epochs[side])} |" for side in epochs),
        "",
        f"**Ratio densespace / bare: {ratio:.3f}**.",
    ]
    return run.finish(figures, body, [RATIO.check(ratio)])


def _worker(side: str, epochs: int, work: str) -> list[float]:
    """Trains one side in a fresh process; the seconds of each epoch."""
    import keras
    import keras_tuner

    import densespace

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            SECONDS.append(time.perf_counter() - self.start)

    data = _harness.load_prepared(Path(work))
    spec = densespace.validate_spec({**SPEC, "training": {**SPEC["training"], "epochs": epochs}})
    timer = EpochTimer()
    if side == "densespace":
        with tempfile.TemporaryDirectory() as out:  # the timer records into SECONDS: copies may run it
            densespace.tune(spec, data=data, out=out, retrain_top=0, verbose=0, callbacks=[timer])
    else:
        hypermodel = densespace.build_hypermodel(spec, train_images=data.train[0])
        model = hypermodel.build(keras_tuner.HyperParameters())
        model.fit(
            *data.train,
            batch_size=256,
            epochs=epochs,
            shuffle=True,
            validation_data=data.validation,
            callbacks=[keras.callbacks.TerminateOnNaN(), timer],
            verbose=0,
        )
    return SECONDS


if __name__ == "__main__":
    _harness.run_script(main, worker=_worker)
