"""Measures how a process's memory grows over a long search: densespace vs plain keras-tuner.

    python bench/memory.py [--cache DIR] [--results DIR] [--work DIR] [--trials N] [--epochs N]
                           [--limit N] [--early N] [--late N] [--sides NAME ...]

Runs the same search of examples/seed-baseline.json (its BayesianOptimization
and seed; ``--trials`` trials of ``--epochs`` epochs, no retraining) on a small
stratified CIFAR-10 subset (``--limit`` images per split, split seed 0), each
side in a fresh process, one after the other:

* densespace: ``densespace.tune(..., retrain_top=0, on_trial_end=callback)``;
  the Keras session is cleared before every trial (by keras-tuner, which
  densespace's tuners inherit from), and the HyperModel's ``fit`` unregisters
  the gradient functions TensorFlow registered while tracing the train step,
  which otherwise keep each trial's graph and variables alive
  (tensorflow/tensorflow#61791);
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
after trial ``--late`` over the peak after trial ``--early``.

Target: densespace's peak ratio at most 1.10 (the other sides are contrasts).
Writes results/memory.json and .md; scratch folders go to WORK/memory/.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import _harness

SPEC = "examples/seed-baseline.json"
SIDES = ("densespace", "keras-tuner", "keras-tuner-no-clear", "keras-loop")
PEAK = _harness.Target("peak RSS after the late trial / after the early trial", "<=", 1.10)


def main() -> int:
    """Prepares the data, runs each side in a fresh process and writes the results."""
    parser = _harness.parser(__doc__, work=True)
    parser.add_argument("--trials", type=int, default=22)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=1000, help="images per split")
    parser.add_argument("--early", type=int, default=5, help="the trial whose peak is the baseline")
    parser.add_argument("--late", type=int, default=20, help="the trial compared with --early")
    parser.add_argument("--sides", nargs="+", choices=SIDES, default=list(SIDES))
    args = parser.parse_args()
    if not 1 <= args.early < args.late <= args.trials:
        parser.error("need 1 <= --early < --late <= --trials")
    run = _harness.Run("memory", "Memory over a long search: densespace vs plain keras-tuner", args.results)
    work = args.work / "memory"
    sizes = _harness.prepare_data(args.cache, args.limit, work)
    print(f"data: {sizes}", file=sys.stderr)
    runs = {}
    for side in args.sides:
        print(f"{side}: {args.trials} trials x {args.epochs} epochs", file=sys.stderr, flush=True)
        shutil.rmtree(work / side, ignore_errors=True)
        runs[side] = _harness.fresh(
            __file__, side=side, trials=args.trials, epochs=args.epochs, work=str(work)
        )
        print(
            f"{side}: {_summary(runs[side], args)['peak_ratio']:.3f} ({runs[side]['seconds']:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    summary = {side: _summary(result, args) for side, result in runs.items()}
    figures = {
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
        "summary": summary,
        "runs": runs,
    }
    checks = (
        [PEAK.check(summary["densespace"]["peak_ratio"], of="densespace")] if "densespace" in summary else []
    )
    return run.finish(figures, _markdown(figures), checks)


# ------------------------------------------------------------------ worker side


def _reading() -> dict[str, float]:
    """Peak (ru_maxrss) and current (VmRSS) resident memory of this process, in MiB."""
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    status = Path("/proc/self/status").read_text().splitlines()
    current_kib = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return {"peak_mib": round(peak_kib / 1024, 1), "rss_mib": round(current_kib / 1024, 1)}


def _worker(side: str, trials: int, epochs: int, work: str) -> dict[str, Any]:
    """Runs one side's search in a fresh process, reading the memory after every trial."""
    import keras
    import keras_tuner

    import densespace

    data = _harness.load_prepared(Path(work))
    spec = densespace.load_spec(_harness.ROOT / SPEC)
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

    out = Path(work) / side
    if side == "keras-loop":
        _keras_loop(trials, epochs, spec, data, record, keras)
    elif side == "densespace":
        densespace.tune(
            spec,
            data=data,
            max_trials=trials,
            epochs=epochs,
            retrain_top=0,
            out=out,
            overwrite=True,
            verbose=0,
            on_trial_end=record,
        )
    else:
        _keras_tuner(side == "keras-tuner", out, trials, epochs, spec, data, record, keras, keras_tuner)
    return {
        "side": side,
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


def _keras_loop(trials: int, epochs: int, spec: Any, data: Any, record: Any, keras: Any) -> None:
    """Plain Keras, no tuner: clear the session, collect, build, fit; values drawn at random."""
    import gc

    import numpy as np

    rng = np.random.default_rng(spec.search.seed)
    activations = ["relu", "tanh", "elu", "selu", "swish"]
    keras.utils.set_random_seed(spec.search.seed)
    for _ in range(trials):
        keras.backend.clear_session()
        gc.collect()
        values: dict[str, Any] = {}
        for i in range(3):
            values[f"units_{i}"] = int(rng.integers(1, 17)) * 16
            values[f"activation_{i}"] = activations[int(rng.integers(len(activations)))]
        model = _build_model(keras, values)
        model.fit(
            *data.train,
            epochs=epochs,
            validation_data=data.validation,
            batch_size=spec.training.batch_size,
            verbose=0,
        )
        del model
        record()


def _keras_tuner(
    clears: bool,
    out: Path,
    trials: int,
    epochs: int,
    spec: Any,
    data: Any,
    record: Any,
    keras: Any,
    keras_tuner: Any,
) -> None:
    """The search written directly against keras-tuner, with or without (``clears``) its
    session clearing."""
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

    class Recording(keras_tuner.BayesianOptimization):
        def on_trial_end(self, trial: Any) -> None:
            super().on_trial_end(trial)
            record()

    class NoClear(Recording):
        def run_trial(self, trial: Any, *fit_args: Any, **fit_kwargs: Any) -> Any:
            hp = trial.hyperparameters  # keras-tuner's documented override: no clear_session
            model = self.hypermodel.build(hp)
            return self.hypermodel.fit(hp, model, *fit_args, **fit_kwargs)

    keras.utils.set_random_seed(search.seed)
    tuner_class = Recording if clears else NoClear
    tuner = tuner_class(
        build,
        objective="val_loss",
        max_trials=trials,
        num_initial_points=search.num_initial_points,
        seed=search.seed,
        directory=str(out),
        project_name="search",
        overwrite=True,
    )
    tuner.search(
        *data.train,
        epochs=epochs,
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


def _markdown(figures: dict[str, Any]) -> list[str]:
    """The budget, then the readings as a Markdown table."""
    b, summary = figures["budget"], figures["summary"]
    e, la = b["early"], b["late"]
    lines = [
        f"Budget: `{b['spec']}` (BayesianOptimization, seed 42), {b['trials']} trials x "
        f"{b['epochs']} epochs, no retraining, on {b['data']['train']:,} train / "
        f"{b['data']['validation']:,} validation images (`limit={b['limit']}`), each side in a "
        "fresh process reading a prepared .npz. Peak = ru_maxrss, current = VmRSS, read after "
        "each trial; MiB.",
        "",
        f"| side | clears the session | peak after trial {e} | peak after trial {la} "
        f"| peak ratio {la}/{e} | current after {e} | current after {la} | current ratio "
        "| growth per trial |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    clears = {
        "densespace": "yes (keras-tuner's, inherited), and releases traced graphs",
        "keras-tuner": "yes (keras-tuner's)",
        "keras-tuner-no-clear": "no",
        "keras-loop": "yes (clear_session + gc.collect)",
    }
    for side, s in summary.items():
        lines.append(
            f"| {side} | {clears[side]} | {s['peak_early_mib']:.0f} | {s['peak_late_mib']:.0f} | "
            f"{s['peak_ratio']:.3f} | {s['rss_early_mib']:.0f} | {s['rss_late_mib']:.0f} | "
            f"{s['rss_ratio']:.3f} | {s['growth_per_trial_mib']:+.1f} |"
        )
    lines += [
        "",
        f"Growth per trial: (current after trial {la} - current after trial {e}) / {la - e}. "
        "Peak before the search (after imports and reading the data): "
        + ", ".join(f"{side} {s['peak_before_search_mib']:.0f}" for side, s in summary.items())
        + " MiB.",
    ]
    if "densespace" in summary and "keras-tuner" in summary:
        extra = summary["densespace"]["growth_per_trial_mib"] - summary["keras-tuner"]["growth_per_trial_mib"]
        lines.append(f"densespace's growth per trial minus plain keras-tuner's: {extra:+.1f} MiB.")
    lines.append(
        "The growth on the other sides is each trial's model and optimizer state, kept alive by "
        "the gradient function TensorFlow registers for every traced train step "
        "(tensorflow/tensorflow#61791); clearing the session does not release it."
    )
    return lines


if __name__ == "__main__":
    _harness.run_script(main, worker=_worker)
