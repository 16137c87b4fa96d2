"""Epoch time inside a densespace trial against a bare ``model.fit`` of the same model on the same data.

    python bench/pipeline.py [--data PATH] [--epochs 3] [--pairs 2] [--limit N]

The model is the issue's untuned recipe: standardized inputs, Dense 1024 -> 512 -> 256
(no bias) -> BatchNormalization -> relu -> Dropout 0.3, Adam with cosine decay
from 1e-3, batch 256, on the default split of CIFAR-10 (45,000 / 5,000 / 10,000).

* densespace: one trial of ``densespace.tune`` with that frozen spec (images kept
  once as uint8 tensors, one ``tf.data`` pipeline of gathered batches,
  preprocessing in the model);
* bare: the same compiled model (``densespace._keras.build_model``) trained with
  ``model.fit(x_uint8, y, batch_size=256, shuffle=True, validation_data=...)``.

Each epoch is timed by a Keras callback (training and validation); the first
epoch of each run (tracing) is left out. Runs alternate densespace, bare, ...,
each in a fresh process. Writes bench/results/pipeline.json and .md: the
median epoch seconds of each side and their ratio (target <= 1.10).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import _common

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"

SPEC = {
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

RUN = """
import json, sys, tempfile, time
import keras
import densespace
from densespace import _keras, _space
from densespace.datasets import load_cifar10

SECONDS = []  # module-level: keras-tuner deep-copies the callbacks it is given

class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None):
        SECONDS.append(time.perf_counter() - self.start)

data = load_cifar10({data!r}, limit={limit}, seed=0)
spec = densespace.validate_spec(json.loads({spec!r}))
spec = densespace._tuning.apply_overrides(spec, epochs={epochs})
timer = EpochTimer()
if {side!r} == "densespace":
    plain = _keras._callbacks
    _keras._callbacks = lambda spec: plain(spec) + [timer]
    with tempfile.TemporaryDirectory() as out:
        densespace.tune(spec, data=data, out=out, retrain_top=0, verbose=0)
else:
    hypermodel = densespace.build_hypermodel(spec, train_images=data.train[0])
    model = _keras.build_model(spec, _space.resolve(spec, {{}}), stats=hypermodel._stats,
                               decay_steps=hypermodel.epochs * -(-len(data.train[1]) // 256))
    model.fit(*data.train, batch_size=256, epochs={epochs}, shuffle=True, validation_data=data.validation,
              callbacks=[keras.callbacks.TerminateOnNaN(), timer], verbose=0)
print("EPOCHS " + json.dumps(SECONDS))
"""


def _run(side: str, args: argparse.Namespace) -> list[float]:
    script = RUN.format(
        data=args.data, limit=args.limit, spec=json.dumps(SPEC), epochs=args.epochs, side=side
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    if result.returncode:
        raise SystemExit(result.stderr[-3000:])
    return json.loads(next(line for line in result.stdout.splitlines() if line.startswith("EPOCHS "))[7:])


def main() -> None:
    """Runs the pairs and writes the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", default=str(Path("~/.cache/densespace-bench/cifar10/cifar-10-batches-bin").expanduser())
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    epochs: dict[str, list[float]] = {"densespace": [], "bare": []}
    for pair in range(args.pairs):
        for side in epochs:
            seconds = _run(side, args)
            epochs[side] += seconds[1:]
            print(f"pair {pair + 1} {side}: " + " ".join(f"{s:.2f}" for s in seconds), file=sys.stderr)
    medians = {side: statistics.median(values) for side, values in epochs.items()}
    ratio = medians["densespace"] / medians["bare"]
    command, machine = _common.command(), _common.machine()
    report = {
        "command": command,
        "machine": machine,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "spec": SPEC,
        "epochs": epochs,
        "median_epoch_seconds": medians,
        "ratio": ratio,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pipeline.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# Epoch time inside a trial vs a bare model.fit",
        "",
        f"Command: `{command}` ({report['date']})",
        "",
        f"Machine: {machine}. Other work may have shared it.",
        "",
        f"Model: Dense 1024-512-256 with batch norm and dropout 0.3, standardized, Adam + cosine, batch 256, "
        f"on CIFAR-10's default split{'' if args.limit is None else f' (limit {args.limit})'}; {args.epochs} "
        f"epochs per run, first epoch left out, {args.pairs} interleaved pairs.",
        "",
        "| side | median epoch s | epochs timed |",
        "| --- | ---: | ---: |",
        *(f"| {side} | {medians[side]:.2f} | {len(epochs[side])} |" for side in epochs),
        "",
        f"**Ratio densespace / bare: {ratio:.3f}** (target <= 1.10).",
        "",
    ]
    (RESULTS / "pipeline.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
