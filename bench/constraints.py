"""A parameter budget: densespace's search.constraints vs a hand-written keras-tuner search that fails oversized trials.

    python bench/constraints.py [--cache DIR] [--results DIR] [--work DIR]
                                [--trials N] [--epochs N] [--limit N] [--max-parameters N]

The space is ``examples/seed-depth-width.json`` (2-4 Dense elu layers of 64-512
units, step 64; 201,482 to 2,366,474 trainable parameters on 32x32x3 inputs) under
a budget of ``--max-parameters`` trainable parameters (default 500,000: 653 of its
4,672 configurations). Every side is a random search of ``--trials`` trials of
``--epochs`` epochs, seed 42, objective val_accuracy, batch 64, on CIFAR-10's
default split (45,000 train / 5,000 validation / 10,000 test, seed 0; ``--limit``:
at most that many images per split), each side in a fresh process:

* densespace: the spec with ``search: {"tuner": "random", "objective":
  "val_accuracy", "seed": 42, "constraints": {"max_parameters": BUDGET}}``
  (``densespace.validate_spec`` on the modified JSON), then ``densespace.tune(spec,
  data=..., max_trials=TRIALS, epochs=EPOCHS, retrain_top=0)``;
* hand-written: the same space written the usual keras-tuner way (``for i in
  range(hp.Int("layers", 2, 4)): Dense(hp.Int(f"units_{i}", 64, 512, step=64),
  "elu")`` after Rescaling(1/255) and Flatten, Dense(10, softmax), Adam 1e-3) in
  ``keras_tuner.RandomSearch(seed=42, max_trials=TRIALS)``, whose ``build`` raises
  ``keras_tuner.errors.FailedTrialError`` once the model has more trainable
  parameters than the budget (keras-tuner's own ``max_model_size`` does the same);
  run twice: with keras-tuner's default ``max_consecutive_failed_trials`` (3: the
  search raises RuntimeError after 3 failed trials in a row; the script records
  where) and with it raised to ``--trials`` (never aborts).

A callback on every side records each model ``fit`` trains (its trainable
parameters, counted from its weights, and its epochs), so the epochs spent on
models over the budget are measured, not taken from either side's records. Each
side's best trial (highest val_accuracy) is then retrained from scratch the same
way for all sides (densespace's retraining: fresh weights, seed 43, the training
split shuffled with that seed, ``--epochs`` epochs) and tested once, so the test
accuracies differ only by the configuration each search chose.

Targets: densespace trains no epoch on a model over the budget, its retrained best
has at most BUDGET trainable parameters, and its test accuracy is at least each
hand-written search's (no tolerance). Writes results/constraints.json and .md;
run folders and the data go to WORK/constraints/.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import _harness

SPEC_FILE = _harness.ROOT / "examples" / "seed-depth-width.json"
SEED = 42
OBJECTIVE = "val_accuracy"
BATCH_SIZE = 64
SIDES = {
    "densespace": "densespace (`search.constraints`)",
    "hand-written-default": "hand-written, keras-tuner's default `max_consecutive_failed_trials` (3)",
    "hand-written-raised": "hand-written, `max_consecutive_failed_trials` = trials",
}
NO_INFEASIBLE = _harness.Target("epochs trained on models over the budget", "<=", 0)
NOT_WORSE = _harness.Target("test accuracy densespace - hand-written (retrained bests)", ">=", 0)

#: Every model ``fit`` trained in this process: {"parameters": trainable, "epochs": trained}.
#: Module-level: keras-tuner and densespace deep-copy callbacks for every model.
FITS: list[dict[str, int]] = []
#: The hand-written side's trainable parameters of each configuration it built, by its active values.
BUILT: dict[str, int] = {}


def main() -> int:
    """Prepares the data, runs the three searches one after the other and writes the results."""
    parser = _harness.parser(__doc__, work=True)
    parser.add_argument("--trials", type=int, default=12, help="max_trials of every search")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per trial and for retraining")
    parser.add_argument("--limit", type=int, default=None, help="images per split (default: all)")
    parser.add_argument("--max-parameters", type=int, default=500_000, help="the parameter budget")
    args = parser.parse_args()
    run = _harness.Run(
        "constraints",
        "A parameter budget: search.constraints vs failing oversized trials in keras-tuner",
        args.results,
    )
    work = args.work / "constraints"
    sizes = _harness.prepare_data(args.cache, args.limit, work)
    print(f"data: {sizes}", file=sys.stderr)
    sides = {}
    for side in SIDES:
        run_dir = work / side
        shutil.rmtree(run_dir, ignore_errors=True)
        sides[side] = _harness.fresh(
            __file__,
            side=side,
            work=str(work),
            run_dir=str(run_dir),
            trials=args.trials,
            epochs=args.epochs,
            budget=args.max_parameters,
        )
        s = sides[side]
        print(
            f"{side}: {s['proposed']} trials, {s['failed']} failed, {s['models_trained']} models trained, "
            f"best val_accuracy {s['best_val_accuracy']}, test accuracy {s['test_accuracy']} "
            f"({s['seconds']:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    figures = {
        "budget": {
            "max_parameters": args.max_parameters,
            "trials": args.trials,
            "epochs": args.epochs,
            "limit": args.limit,
            "data": sizes,
            "batch_size": BATCH_SIZE,
            "seed": SEED,
            "objective": OBJECTIVE,
        },
        "spec": str(SPEC_FILE.relative_to(_harness.ROOT)),
        "space": _space(args.max_parameters),
        "method": (
            "fresh process per side, one after the other; every fit recorded by a callback "
            "(trainable parameters from the model's weights, epochs); each side's best trial "
            "retrained the same way (densespace's retraining, seed 43) and tested once"
        ),
        "sides": sides,
    }
    dense = sides["densespace"]
    checks = [
        NO_INFEASIBLE.check(dense["epochs_on_infeasible"], of="densespace"),
        _harness.Target("trainable parameters of the retrained best", "<=", args.max_parameters).check(
            dense["best_parameters"], of="densespace"
        ),
    ]
    for side in ("hand-written-default", "hand-written-raised"):
        a, b = dense["test_accuracy"], sides[side]["test_accuracy"]
        checks.append(NOT_WORSE.check(None if a is None or b is None else a - b, of=f"vs {side}"))
    return run.finish(figures, _markdown(figures), checks)


def _space(budget: int) -> dict[str, Any]:
    """The space's configurations and parameter range, with and without the budget (densespace's count)."""
    import densespace

    spec = _spec(budget)
    plain = densespace.load_spec(SPEC_FILE)
    return {
        "configurations": densespace.configurations(plain),
        "parameters": list(densespace.parameter_bounds(plain)),
        "feasible_configurations": densespace.feasible_configurations(spec),
        "feasible_parameters": list(densespace.feasible_parameter_bounds(spec) or ()),
    }


def _spec(budget: int) -> Any:
    """seed-depth-width.json as a constrained random search (validate_spec on the modified JSON)."""
    import densespace

    data = json.loads(SPEC_FILE.read_text())
    data["search"] = {
        "tuner": "random",
        "objective": OBJECTIVE,
        "seed": SEED,
        "constraints": {"max_parameters": budget},
    }
    return densespace.validate_spec(data)


# ------------------------------------------------------------------ worker side


def _worker(side: str, work: str, run_dir: str, trials: int, epochs: int, budget: int) -> dict[str, Any]:
    """Runs one side's search in a fresh process, then retrains and tests its best trial."""
    import keras

    import densespace

    _harness.preload_tune()
    data = _harness.load_prepared(Path(work))
    spec = _spec(budget)

    class Recorder(keras.callbacks.Callback):
        """Appends every fit to ``FITS``: the model's trainable parameters and its epochs."""

        def on_train_begin(self, logs: Any = None) -> None:
            FITS.append({"parameters": _trainable(self.model), "epochs": 0})

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            FITS[-1]["epochs"] += 1

    start = time.perf_counter()
    if side == "densespace":
        result = densespace.tune(
            spec,
            data=data,
            max_trials=trials,
            epochs=epochs,
            retrain_top=0,
            out=run_dir,
            overwrite=True,
            verbose=0,
            callbacks=[Recorder()],
        )
        records: list[dict[str, Any]] = [
            {
                "id": t.id,
                "values": t.values,
                "status": t.status,
                "score": t.score,
                "epochs": t.epochs,
                "parameters": t.parameters,
            }
            for t in result.trials
        ]
        ranked = _harness.ranked([t.model_dump() for t in result.trials], OBJECTIVE)
        best = ranked[0] if ranked else None
        aborted = None
    else:
        limit = 3 if side == "hand-written-default" else trials
        records, best, aborted = _hand_written(data, Path(run_dir), trials, epochs, budget, limit, Recorder)
    search_seconds = time.perf_counter() - start
    trained = [r for r in records if r["status"] == "completed"]
    matched = len(FITS) == len(trained)  # one fit per completed trial, in creation order
    if matched:
        for fit, record in zip(FITS, trained, strict=True):
            record["fit"] = dict(fit)  # the trial's model as trained: its parameters and epochs
            record["epochs"] = fit["epochs"] if record["epochs"] is None else record["epochs"]
    tested: dict[str, Any] = {"test_accuracy": None, "test_loss": None, "best_parameters": None}
    if best is not None:
        hypermodel = densespace.build_hypermodel(spec)
        model, metrics, _ = _harness.retrain(hypermodel, best["values"], data, epochs=epochs, seed=SEED + 1)
        tested = {
            "test_accuracy": metrics["accuracy"],
            "test_loss": metrics["loss"],
            "best_parameters": _trainable(model),
        }
    fits = FITS
    return {
        "side": side,
        "seconds": time.perf_counter() - start,
        "search_seconds": search_seconds,
        "proposed": len(records),
        "failed": sum(r["status"] == "failed" for r in records),
        "over_budget_proposals": sum((r["parameters"] or 0) > budget for r in records),
        "fits_match_trials": matched,
        "models_trained": len(fits),
        "epochs_trained": sum(f["epochs"] for f in fits),
        "epochs_on_infeasible": sum(f["epochs"] for f in fits if f["parameters"] > budget),
        "largest_model_trained": max((f["parameters"] for f in fits), default=None),
        "aborted": aborted,
        "best_trial": None if best is None else best["id"],
        "best_values": None if best is None else best["values"],
        "best_val_accuracy": None if best is None else best["score"],
        **tested,
        "trials": records,
    }


def _trainable(model: Any) -> int:
    """A built model's trainable parameters, counted from its weights."""
    import math

    return int(sum(math.prod(w.shape) for w in model.trainable_weights))


def _hand_written(
    data: Any, run_dir: Path, trials: int, epochs: int, budget: int, max_failures: int, recorder: Any
) -> tuple[list[dict[str, Any]], dict[str, Any] | None, dict[str, Any] | None]:
    """The constrained search written directly against keras-tuner; returns the trial records,
    the best completed trial (None: none) and, when keras-tuner aborted the search, where."""
    import keras
    import keras_tuner

    def build(hp: Any) -> Any:
        inputs = keras.Input(shape=(32, 32, 3))
        x = keras.layers.Rescaling(1 / 255)(inputs)
        x = keras.layers.Flatten()(x)
        layers = hp.Int("layers", 2, 4)
        for i in range(layers):
            x = keras.layers.Dense(hp.Int(f"units_{i}", 64, 512, step=64), activation="elu")(x)
        outputs = keras.layers.Dense(10, activation="softmax")(x)
        model = keras.Model(inputs, outputs)
        parameters = _trainable(model)
        BUILT[json.dumps(_harness.active_units(hp.values), sort_keys=True)] = parameters
        if parameters > budget:
            raise keras_tuner.errors.FailedTrialError(
                f"{parameters:,} trainable parameters, over the budget of {budget:,}"
            )
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=1e-3),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    keras.utils.set_random_seed(SEED)
    tuner = keras_tuner.RandomSearch(
        build,
        objective=keras_tuner.Objective(OBJECTIVE, "max"),
        max_trials=trials,
        seed=SEED,
        max_consecutive_failed_trials=max_failures,
        directory=str(run_dir),
        project_name="search",
        overwrite=True,
    )
    aborted = None
    try:
        tuner.search(
            *data.train,
            epochs=epochs,
            validation_data=data.validation,
            batch_size=BATCH_SIZE,
            callbacks=[recorder()],
            verbose=0,
        )
    except RuntimeError as exc:
        if "consecutive failures" not in str(exc):
            raise
        aborted = {"after_trials": len(tuner.oracle.trials), "message": str(exc).splitlines()[0]}
    records = []
    for key in sorted(tuner.oracle.trials):
        trial = tuner.oracle.trials[key]
        values = _harness.active_units(trial.hyperparameters.values)
        status = {"COMPLETED": "completed", "FAILED": "failed"}.get(trial.status, trial.status.lower())
        records.append(
            {
                "id": trial.trial_id,
                "values": values,
                "status": status,
                "score": trial.score,
                "epochs": None,
                "parameters": BUILT.get(json.dumps(values, sort_keys=True)),
                "message": (trial.message or "").strip().splitlines()[-1] if trial.message else None,
            }
        )
    best_trials = tuner.oracle.get_best_trials(1)
    best = next((r for r in records if best_trials and r["id"] == best_trials[0].trial_id), None)
    return records, best, aborted


# ------------------------------------------------------------------ report


def _shared_configurations(sides: dict[str, Any]) -> list[str]:
    """Lines saying where one side's best configuration was also tried by another side, with both
    val_accuracies (the sides train and validate alike but shuffle differently)."""
    lines = []
    pairs = [
        (a, b)
        for side in SIDES
        if side != "densespace"
        for a, b in (("densespace", side), (side, "densespace"))
    ]
    for chooser, other in pairs:
        best = sides[chooser]["best_values"]
        mine = sides[chooser]["best_val_accuracy"]
        same = [t for t in sides[other]["trials"] if t["values"] == best and t["score"] is not None]
        if best is not None and same:
            lines.append(
                f"- {chooser}'s best ({_values(best)}, val_accuracy {_harness.number(mine)}) was {other}'s "
                f"trial {same[0]['id']} too, at val_accuracy {_harness.number(same[0]['score'])}"
            )
    if not lines:
        return []
    return [
        "",
        "Configurations both searches trained (the same model and data; densespace trains from a "
        "seeded tf.data pipeline and validates in batches of 1,024, keras-tuner from numpy arrays "
        "with Keras' shuffling, so one configuration scores differently on the two sides):",
        "",
        *lines,
    ]


def _limit(limit: int | None) -> str:
    return "" if limit is None else f" (`limit={limit}`)"


def _values(values: dict[str, Any] | None) -> str:
    return "—" if values is None else " ".join(f"{k}={v}" for k, v in values.items())


def _markdown(figures: dict[str, Any]) -> list[str]:
    """The budget, the sides' table, each side's trials and what the numbers mean."""
    b, space, sides = figures["budget"], figures["space"], figures["sides"]
    budget = b["max_parameters"]
    lines = [
        f"Space: `{figures['spec']}` ({space['configurations']:,} configurations, "
        f"{space['parameters'][0]:,} to {space['parameters'][1]:,} trainable parameters); budget: at most "
        f"{budget:,} trainable parameters ({space['feasible_configurations']:,} configurations, "
        f"{space['feasible_parameters'][0]:,} to {space['feasible_parameters'][1]:,} parameters). "
        f"Every side: a random search of {b['trials']} trials x {b['epochs']} epochs, seed {b['seed']}, "
        f"objective {b['objective']}, batch {b['batch_size']}, on {b['data']['train']:,} train / "
        f"{b['data']['validation']:,} validation / {b['data']['test']:,} test images"
        f"{_limit(b['limit'])}; {figures['method']}.",
        "",
        "| side | trials proposed | infeasible proposals (failed trials) | models trained | epochs trained "
        "| epochs on infeasible models | aborted | best val_accuracy | best configuration "
        "| its parameters | test accuracy (retrained) | test loss | seconds |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for side, label in SIDES.items():
        s = sides[side]
        aborted = "no" if s["aborted"] is None else f"after trial {s['aborted']['after_trials']}"
        infeasible = f"{s['over_budget_proposals']} ({s['failed']})"
        lines.append(
            f"| {label} | {s['proposed']} | {infeasible} | {s['models_trained']} | {s['epochs_trained']} "
            f"| **{s['epochs_on_infeasible']}** | {aborted} | {_harness.number(s['best_val_accuracy'])} "
            f"| {_values(s['best_values'])} | {_harness.number(s['best_parameters'])} "
            f"| **{_harness.number(s['test_accuracy'])}** | {_harness.number(s['test_loss'])} | {s['seconds']:.0f} |"
        )
    dense = sides["densespace"]
    lines += [
        "",
        "Infeasible proposals: trials whose configuration has more trainable parameters than the "
        "budget (for keras-tuner: the failed trials, each failed by `build` before any epoch). "
        "densespace draws again, inside the oracle, until a draw is feasible, so none of its trials "
        "is over the budget and each of its trials trains a model; keras-tuner counts every failed "
        f"trial against `max_trials`, so its {b['trials']} trials train only the feasible ones, and with "
        "its default of 3 failed trials in a row the search stops with a RuntimeError. Epochs on "
        "infeasible models are counted from the models `fit` trained (a callback on every side), not "
        "from either side's records: the hand-written `build` also fails oversized models before "
        "they train, so both sides spend 0 epochs on them; what the hand-written side loses is trials "
        "(and, with the default limit, the rest of the search).",
        "",
        "Test accuracy: each side's best trial (highest val_accuracy) retrained from scratch the same "
        f"way (densespace's retraining: fresh weights, seed {b['seed'] + 1}, {b['epochs']} epochs) and "
        "tested once, so the sides differ only by the configuration their search chose. The target "
        "has no tolerance: the numbers are reported as measured. At "
        f"{b['epochs']} epoch(s) a retrained model's test accuracy also moves with the seed (not "
        "measured here), so a small difference either way says little about which search is better; "
        "what the budget changes is how many of the trials train a model at all.",
        "",
        f"densespace's retrained best: {_harness.number(dense['best_parameters'])} trainable parameters "
        f"(budget {budget:,}); largest model any densespace trial trained: "
        f"{_harness.number(dense['largest_model_trained'])}.",
    ]
    lines += _shared_configurations(sides)
    for side, label in SIDES.items():
        s = sides[side]
        lines += [
            "",
            f"### Trials: {label}",
            "",
            "| trial | configuration | parameters | status | epochs | val_accuracy |",
            "| --- | --- | ---: | --- | ---: | ---: |",
        ]
        for t in s["trials"]:
            lines.append(
                f"| {t['id']} | {_values(t['values'])} | {_harness.number(t['parameters'])} | {t['status']} "
                f"| {t['epochs'] or 0} | {_harness.number(t['score'])} |"
            )
        if s["aborted"] is not None:
            lines += ["", f"keras-tuner stopped the search: `{s['aborted']['message']}`"]
    return lines


if __name__ == "__main__":
    _harness.run_script(main, worker=_worker)
