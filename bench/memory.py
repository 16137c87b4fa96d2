"""Measures how a process's memory grows over a long search: densespace vs plain keras-tuner.

    python bench/memory.py [--cache DIR] [--trials N] [--epochs N] [--limit N]
                           [--early N] [--late N] [--sides NAME ...]

Runs the same search of examples/seed-baseline.json (its BayesianOptimization
and seed; ``--trials`` trials of ``--epochs`` epochs, no retraining) on a small
stratified CIFAR-10 subset (``--limit`` images per split, split seed 0), each
side in a fresh process, one after the other:

* densespace: ``densespace.tune(..., retrain_top=0, on_trial_end=callback)``;
  the Keras session is cleared before every trial (by keras-tuner, which
  densespace's tuners inherit from), and the HyperModel's ``fit`` unregisters
  the gradient functions TensorFlow registered while tracing the train step,
  which otherwise keep each trial's graph and variables alive
  (``densespace._keras.released_graphs``; tensorflow/tensorflow#61791);
* keras-tuner: a plain ``keras_tuner.BayesianOptimization`` over a hand-written
  ``build(hp)`` of the same model; keras-tuner's own ``run_trial`` also clears
  the session (in ``Tuner._try_build``) before building each model;
* keras-tuner-no-clear: the same, with ``run_trial`` overridden the way
  keras-tuner's documentation shows (``build`` then ``fit``), which never clears
  the session: the contrast;
* keras-loop: no keras-tuner at all: a Python loop that clears the session,
  collects garbage, builds the same model with values drawn at random from the
  same space and fits it, to tell Keras' and TensorFlow's own growth from
  the tuners'.

After each trial (densespace's ``on_trial_end`` callback; ``Tuner.on_trial_end``
on the keras-tuner sides) the worker records the peak RSS,
``resource.getrusage(RUSAGE_SELF).ru_maxrss``, and the current RSS (VmRSS in
/proc/self/status). The data is read from a small .npz written beforehand, so
loading full CIFAR-10 never sets the peak. The result per side is the peak
after trial ``--late`` over the peak after trial ``--early`` (target <= 1.10).

Writes bench/results/memory.json and .md; scratch folders go to bench/work/memory/.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _common

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "bench" / "work" / "memory"
SPEC = "examples/seed-baseline.json"
SIDES = ("densespace", "keras-tuner", "keras-tuner-no-clear", "keras-loop")
TARGET = 1.10


def main() -> None:
    """Prepares the data, runs each side in a fresh process and writes the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("~/.cache/densespace-bench/cifar10"))
    parser.add_argument("--trials", type=int, default=22)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=1000, help="images per split")
    parser.add_argument("--early", type=int, default=5, help="the trial whose peak is the baseline")
    parser.add_argument("--late", type=int, default=20, help="the trial compared with --early")
    parser.add_argument("--sides", nargs="+", choices=SIDES, default=list(SIDES))
    parser.add_argument("--worker", choices=SIDES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(args)))
        return
    if not 1 <= args.early < args.late <= args.trials:
        parser.error("need 1 <= --early < --late <= --trials")
    _common.STARTED_AT.append(_common.revision())
    cache = args.cache.expanduser()
    _common.build(cache)
    sizes = _common.prepare_data(cache, args.limit, WORK)
    print(f"data: {sizes}", file=sys.stderr)
    runs = {}
    for side in args.sides:
        print(f"{side}: {args.trials} trials x {args.epochs} epochs", file=sys.stderr, flush=True)
        runs[side] = _run_worker(side, args)
        print(
            f"{side}: {_summary(runs[side], args)['peak_ratio']:.3f} ({runs[side]['seconds']:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    command = "python bench/memory.py" + "".join(f" {a}" for a in sys.argv[1:])
    report = {
        "command": command,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _common.machine_and_versions(),
        "budget": {
            "spec": SPEC,
            "trials": args.trials,
            "epochs": args.epochs,
            "limit": args.limit,
            "data": sizes,
            "early": args.early,
            "late": args.late,
            "retrain": False,
        },
        "target": TARGET,
        "summary": {side: _summary(run, args) for side, run in runs.items()},
        "runs": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "memory.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "memory.md").write_text(_markdown(report))
    print(_markdown(report))


def _run_worker(side: str, args: argparse.Namespace) -> dict[str, Any]:
    """One side's search in a fresh interpreter; its per-trial memory readings."""
    shutil.rmtree(WORK / side, ignore_errors=True)
    command = [
        sys.executable,
        __file__,
        "--worker",
        side,
        "--trials",
        str(args.trials),
        "--epochs",
        str(args.epochs),
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run(command, capture_output=True, text=True, env=env)
    if run.returncode:
        sys.exit(f"{side} worker failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.splitlines()[-1])


# ------------------------------------------------------------------ worker side


def _reading() -> dict[str, float]:
    """Peak (ru_maxrss) and current (VmRSS) resident memory of this process, in MiB."""
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    status = Path("/proc/self/status").read_text().splitlines()
    current_kib = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return {"peak_mib": round(peak_kib / 1024, 1), "rss_mib": round(current_kib / 1024, 1)}


def _worker(args: argparse.Namespace) -> dict[str, Any]:
    """Runs one side's search, reading the memory after every trial."""
    import keras
    import keras_tuner

    import densespace

    data = _common.load_prepared(WORK)
    spec = densespace.load_spec(ROOT / SPEC)
    readings: list[dict[str, float]] = []
    before = _reading()
    start = time.monotonic()

    def record(_: Any = None) -> None:
        readings.append(_reading())
        print(
            f"  trial {len(readings)}: peak {readings[-1]['peak_mib']:.0f} MiB, "
            f"current {readings[-1]['rss_mib']:.0f} MiB",
            file=sys.stderr,
            flush=True,
        )

    if args.worker == "keras-loop":
        _keras_loop(args, spec, data, record, keras)
    elif args.worker == "densespace":
        densespace.tune(
            spec,
            data=data,
            max_trials=args.trials,
            epochs=args.epochs,
            retrain_top=0,
            out=WORK / args.worker,
            overwrite=True,
            verbose=0,
            on_trial_end=record,
        )
    else:
        _keras_tuner(args, spec, data, record, keras, keras_tuner)
    return {
        "side": args.worker,
        "before_search": before,
        "after_trial": readings,
        "seconds": round(time.monotonic() - start, 1),
    }


def _build_model(keras: Any, values: dict[str, Any]) -> Any:
    """The model of seed-baseline's space for ``values`` (``units_i``, ``activation_i``)."""
    inputs = keras.Input(shape=(32, 32, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Flatten()(x)
    for i in range(3):
        x = keras.layers.Dense(values[f"units_{i}"], activation=values[f"activation_{i}"])(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def _keras_loop(args: argparse.Namespace, spec: Any, data: Any, record: Any, keras: Any) -> None:
    """Plain Keras, no tuner: clear the session, collect, build, fit; values drawn at random."""
    import gc

    import numpy as np

    rng = np.random.default_rng(spec.search.seed)
    activations = ["relu", "tanh", "elu", "selu", "swish"]
    keras.utils.set_random_seed(spec.search.seed)
    for _ in range(args.trials):
        keras.backend.clear_session()
        gc.collect()
        values: dict[str, Any] = {}
        for i in range(3):
            values[f"units_{i}"] = int(rng.integers(1, 17)) * 16
            values[f"activation_{i}"] = activations[int(rng.integers(len(activations)))]
        model = _build_model(keras, values)
        model.fit(
            *data.train,
            epochs=args.epochs,
            validation_data=data.validation,
            batch_size=spec.training.batch_size,
            verbose=0,
        )
        del model
        record()


def _keras_tuner(
    args: argparse.Namespace, spec: Any, data: Any, record: Any, keras: Any, keras_tuner: Any
) -> None:
    """The search written directly against keras-tuner, with or without its session clearing."""
    search = spec.search

    def build(hp: Any) -> Any:
        return _build_model(
            keras,
            {
                name: hp.Int(name, 16, 256, step=16)
                if name.startswith("units")
                else hp.Choice(name, ["relu", "tanh", "elu", "selu", "swish"])
                for i in range(3)
                for name in (f"units_{i}", f"activation_{i}")
            },
        )

    class Recording(keras_tuner.BayesianOptimization):  # type: ignore[misc]
        def on_trial_end(self, trial: Any) -> None:
            super().on_trial_end(trial)
            record()

    class NoClear(Recording):
        def run_trial(self, trial: Any, *fit_args: Any, **fit_kwargs: Any) -> Any:
            hp = trial.hyperparameters  # keras-tuner's documented override: no clear_session
            model = self.hypermodel.build(hp)
            return self.hypermodel.fit(hp, model, *fit_args, **fit_kwargs)

    keras.utils.set_random_seed(search.seed)
    tuner_class = NoClear if args.worker == "keras-tuner-no-clear" else Recording
    tuner = tuner_class(
        build,
        objective="val_loss",
        max_trials=args.trials,
        num_initial_points=search.num_initial_points,
        seed=search.seed,
        directory=str(WORK / args.worker),
        project_name="search",
        overwrite=True,
    )
    tuner.search(
        *data.train,
        epochs=args.epochs,
        validation_data=data.validation,
        batch_size=spec.training.batch_size,
        verbose=0,
    )


# ------------------------------------------------------------------ report


def _summary(run: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Peak and current RSS after the early and late trials, and their ratios."""
    after = run["after_trial"]
    early, late = after[args.early - 1], after[args.late - 1]
    return {
        "trials": len(after),
        "peak_early_mib": early["peak_mib"],
        "peak_late_mib": late["peak_mib"],
        "peak_ratio": round(late["peak_mib"] / early["peak_mib"], 4),
        "rss_early_mib": early["rss_mib"],
        "rss_late_mib": late["rss_mib"],
        "rss_ratio": round(late["rss_mib"] / early["rss_mib"], 4),
        "peak_last_mib": after[-1]["peak_mib"],
        "peak_before_search_mib": run["before_search"]["peak_mib"],
        "growth_per_trial_mib": round((late["rss_mib"] - early["rss_mib"]) / (args.late - args.early), 2),
        "seconds": run["seconds"],
    }


def _markdown(report: dict[str, Any]) -> str:
    """The results as a Markdown table with the command, machine and budget above it."""
    m, b = report["machine"], report["budget"]
    e, la = b["early"], b["late"]
    lines = [
        "# Memory over a long search: densespace vs plain keras-tuner",
        "",
        f"Command: `{report['command']}` ({report['date']})",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, no GPU, {m['platform']}; Python {m['python']}, "
        f"TensorFlow {m['tensorflow']}, keras {m['keras']}, keras-tuner {m['keras_tuner']}; "
        f"densespace at {m['densespace']}.",
        "",
        f"Budget: `{b['spec']}` (BayesianOptimization, seed 42), {b['trials']} trials x "
        f"{b['epochs']} epochs, no retraining, on {b['data']['train']:,} train / "
        f"{b['data']['validation']:,} validation images (`limit={b['limit']}`), each side in a "
        "fresh process reading a prepared .npz. Peak = ru_maxrss, current = VmRSS, read after "
        "each trial; MiB.",
        "",
        f"| side | clears the session | peak after trial {e} | peak after trial {la} "
        f"| peak ratio {la}/{e} | current after {e} | current after {la} | current ratio "
        f"| growth per trial | target <= {report['target']:.2f} |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    clears = {
        "densespace": "yes (keras-tuner's, inherited), and releases traced graphs",
        "keras-tuner": "yes (keras-tuner's)",
        "keras-tuner-no-clear": "no",
        "keras-loop": "yes (clear_session + gc.collect)",
    }
    for side, s in report["summary"].items():
        verdict = "met" if s["peak_ratio"] <= report["target"] else "NOT met"
        lines.append(
            f"| {side} | {clears[side]} | {s['peak_early_mib']:.0f} | {s['peak_late_mib']:.0f} | "
            f"{s['peak_ratio']:.3f} | {s['rss_early_mib']:.0f} | {s['rss_late_mib']:.0f} | "
            f"{s['rss_ratio']:.3f} | {s['growth_per_trial_mib']:+.1f} | {verdict} |"
        )
    lines += [
        "",
        f"Growth per trial: (current after trial {la} - current after trial {e}) / {la - e}. "
        "Peak before the search (after imports and reading the data): "
        + ", ".join(f"{side} {s['peak_before_search_mib']:.0f}" for side, s in report["summary"].items())
        + " MiB.",
    ]
    summary = report["summary"]
    if "densespace" in summary and "keras-tuner" in summary:
        extra = summary["densespace"]["growth_per_trial_mib"] - summary["keras-tuner"]["growth_per_trial_mib"]
        lines.append(f"densespace's growth per trial minus plain keras-tuner's: {extra:+.1f} MiB.")
    lines.append(
        "The growth on the other sides is each trial's model and optimizer state, kept alive by "
        "the gradient function TensorFlow registers for every traced train step "
        "(tensorflow/tensorflow#61791); clearing the session does not release it."
    )
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
