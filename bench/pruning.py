"""Median pruning at an equal epoch budget: densespace's search.pruning vs random searches that train every trial.

    python bench/pruning.py [--cache DIR] [--results DIR] [--work DIR] [--epochs E]
                            [--budget-trials N] [--max-trials M] [--limit N] [--unpruned 0|1]

The space: ``examples/seed-depth-width.json`` (2-4 Dense elu layers of 64-512
units, step 64) with Adam's learning rate tuned too, log-uniform from 1e-5 to
1e-2. The learning rate is there so that trials differ a lot: across three
decades some configurations crawl (1e-5) or learn erratically (1e-2) and are
behind from their first epochs, the case median pruning is meant for; depth and
width alone move val_accuracy by a few points (results/constraints.md). The
recommended ``cifar10-dense`` space is larger (1,024-2,048 units in its first
layer, batch normalization, augmentation), so slower per epoch, and its learning
rates span only 4x.

Every side is a random search, seed 42, objective val_accuracy, ``--epochs`` (E)
epochs per trial, batch 64, on CIFAR-10's default split (45,000 train / 5,000
validation / 10,000 test, seed 0; ``--limit``: at most that many images per
split), each in a fresh process, one after the other. The budget is
B = ``--budget-trials`` x E epochs:

* densespace, pruned: ``search.pruning: {"rule": "median", "warmup_epochs": 1}``,
  ``densespace.tune(spec, data=..., max_trials=M, epochs=E, retrain_top=0)``; its
  trials are counted in creation order while their cumulative epochs (results.json's
  ``trials[].epochs``, pruned or completed) stay within B;
* densespace, unpruned (``--unpruned 1``): the same spec without pruning,
  ``--budget-trials`` trials: the same seed gives the same configurations in the
  same order, so it shows what pruning changed and nothing else;
* hand-written: the same space written the usual keras-tuner way (``for i in
  range(hp.Int("layers", 2, 4)): Dense(hp.Int(f"units_{i}", 64, 512, step=64),
  "elu")`` after Rescaling(1/255) and Flatten, Dense(10, softmax),
  ``Adam(hp.Float("learning_rate", 1e-5, 1e-2, sampling="log"))``) in
  ``keras_tuner.RandomSearch(seed=42, max_trials=--budget-trials)``: keras-tuner
  prunes only inside Hyperband, so every trial trains its E epochs.

Figures per side: the trials evaluated within B, how many completed and were
pruned, the epochs they used, the best val_accuracy within B (of the completed
trials: densespace never ranks a pruned trial; the best of every trial within B
is recorded too) and its configuration.

Targets, for densespace with pruning against each side without pruning: at least
one more trial evaluated within B, and a best val_accuracy within B at least as
high (no tolerance). Writes results/pruning.json and .md; run folders and the
data go to WORK/pruning/.
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
LEARNING_RATE = {"min": 1e-5, "max": 1e-2, "sampling": "log"}
PRUNING = {"rule": "median", "warmup_epochs": 1}
SIDES = {
    "densespace-pruned": "densespace, median pruning",
    "densespace-unpruned": "densespace, no pruning (same configurations)",
    "hand-written": "hand-written keras-tuner RandomSearch",
}
#: The objective of every epoch of every model ``fit`` trained in this process, one list per fit.
#: Module-level: keras-tuner deep-copies callbacks for every model.
HISTORIES: list[list[float]] = []
MORE_TRIALS = _harness.Target("trials evaluated within B, pruned - not pruned", ">=", 1)
NOT_WORSE = _harness.Target("best val_accuracy within B, pruned - not pruned", ">=", 0)


def main() -> int:
    """Prepares the data, runs the searches one after the other and writes the results."""
    parser = _harness.parser(__doc__, work=True)
    parser.add_argument("--epochs", type=int, default=6, help="E: epochs of every unpruned trial")
    parser.add_argument(
        "--budget-trials", type=int, default=8, help="B = this x E epochs; the unpruned sides' trials"
    )
    parser.add_argument(
        "--max-trials",
        type=int,
        default=20,
        help="max_trials of the pruned search (it must be able to use up B; the rest is not counted)",
    )
    parser.add_argument("--limit", type=int, default=None, help="images per split (default: all)")
    parser.add_argument(
        "--unpruned", type=int, choices=(0, 1), default=1, help="1: also densespace without pruning"
    )
    args = parser.parse_args()
    if args.max_trials < args.budget_trials:
        parser.error("--max-trials must be at least --budget-trials")
    run = _harness.Run("pruning", "Median pruning vs no pruning at an equal epoch budget", args.results)
    work = args.work / "pruning"
    sizes = _harness.prepare_data(args.cache, args.limit, work)
    print(f"data: {sizes}", file=sys.stderr)
    budget = args.budget_trials * args.epochs
    sides = {}
    for side in SIDES:
        if side == "densespace-unpruned" and not args.unpruned:
            continue
        run_dir = work / side
        shutil.rmtree(run_dir, ignore_errors=True)
        result = _harness.fresh(
            __file__,
            side=side,
            work=str(work),
            run_dir=str(run_dir),
            trials=args.max_trials if side == "densespace-pruned" else args.budget_trials,
            epochs=args.epochs,
        )
        sides[side] = {**result, **_within(result["trials"], budget, args.epochs)}
        s = sides[side]
        print(
            f"{side}: {len(s['trials'])} trials, {s['epochs_trained']} epochs; within B={budget}: "
            f"{s['within']} trials, best val_accuracy {s['best_score']} ({s['seconds']:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    same = None
    if "densespace-unpruned" in sides:
        pruned, unpruned = (
            [t["values"] for t in sides[s]["trials"]] for s in ("densespace-pruned", "densespace-unpruned")
        )
        same = pruned[: len(unpruned)] == unpruned
    figures = {
        "budget": {
            "epochs_per_trial": args.epochs,
            "budget_trials": args.budget_trials,
            "budget_epochs": budget,
            "max_trials_pruned": args.max_trials,
            "limit": args.limit,
            "data": sizes,
            "batch_size": BATCH_SIZE,
            "seed": SEED,
            "objective": OBJECTIVE,
        },
        "spec": str(SPEC_FILE.relative_to(_harness.ROOT)),
        "learning_rate": LEARNING_RATE,
        "pruning": PRUNING,
        "method": (
            "fresh process per side, one after the other; a side's trials count in creation order "
            "while their cumulative epochs stay within B; best = highest val_accuracy of the "
            "completed trials within B"
        ),
        "same_configurations": same,
        "sides": sides,
    }
    checks = []
    a = sides["densespace-pruned"]
    for side in ("densespace-unpruned", "hand-written"):
        if side not in sides:
            continue
        b = sides[side]
        subject = f"vs {side}"
        checks.append(MORE_TRIALS.check(a["within"] - b["within"], of=subject))
        scores = (a["best_score"], b["best_score"])
        checks.append(NOT_WORSE.check(None if None in scores else scores[0] - scores[1], of=subject))
    return run.finish(figures, _markdown(figures), checks)


def _within(trials: list[dict[str, Any]], budget: int, epochs: int) -> dict[str, Any]:
    """The trials a side evaluated within ``budget`` epochs, counted in creation order, and their best."""
    used, within = 0, []
    for t in trials:
        # a failed trial without a record of its epochs counts as a full trial
        spent = t["epochs"] if t["epochs"] is not None else epochs
        if used + spent > budget:
            break
        used += spent
        within.append(t)
    completed = [t for t in within if t["status"] == "completed" and t["score"] is not None]
    scored = [t for t in within if t["score"] is not None]
    best = max(completed, key=lambda t: t["score"], default=None)
    best_any = max(scored, key=lambda t: t["score"], default=None)
    total = sum(t["epochs"] if t["epochs"] is not None else epochs for t in trials)
    return {
        "within": len(within),
        "within_completed": len(completed),
        "within_pruned": sum(t["status"] == "pruned" for t in within),
        "within_failed": sum(t["status"] == "failed" for t in within),
        "epochs_within": used,
        "epochs_trained": total,
        "used_up_budget": total >= budget,
        "trials_per_epoch": len(within) / used if used else None,
        "best_trial": None if best is None else best["id"],
        "best_score": None if best is None else best["score"],
        "best_values": None if best is None else best["values"],
        "best_score_any": None if best_any is None else best_any["score"],
    }


def _spec(pruning: bool) -> Any:
    """seed-depth-width.json with a log learning rate, as a random search (with median pruning)."""
    import densespace

    data = json.loads(SPEC_FILE.read_text())
    data["optimizer"] = {**data["optimizer"], "learning_rate": LEARNING_RATE}
    data["search"] = {"tuner": "random", "objective": OBJECTIVE, "seed": SEED}
    if pruning:
        data["search"]["pruning"] = PRUNING
    return densespace.validate_spec(data)


# ------------------------------------------------------------------ worker side


def _worker(side: str, work: str, run_dir: str, trials: int, epochs: int) -> dict[str, Any]:
    """Runs one side's search in a fresh process; returns its trials in creation order."""
    import densespace

    _harness.preload_tune()
    data = _harness.load_prepared(Path(work))
    start = time.perf_counter()
    if side == "hand-written":
        records = _hand_written(data, Path(run_dir), trials, epochs)
    else:
        result = densespace.tune(
            _spec(pruning=side == "densespace-pruned"),
            data=data,
            max_trials=trials,
            epochs=epochs,
            retrain_top=0,
            out=run_dir,
            overwrite=True,
            verbose=0,
        )
        # results.json's trials, in creation order
        records = [
            {
                "id": t["id"],
                "values": t["values"],
                "status": t["status"],
                "score": t["score"],
                "epochs": t["epochs"],
                "history": (t.get("history") or {}).get(OBJECTIVE),
            }
            for t in result.results["trials"]
        ]
    return {"side": side, "seconds": time.perf_counter() - start, "trials": records}


def _hand_written(data: Any, run_dir: Path, trials: int, epochs: int) -> list[dict[str, Any]]:
    """The search written directly against keras-tuner; every trial trains ``epochs`` epochs."""
    import keras
    import keras_tuner

    def build(hp: Any) -> Any:
        inputs = keras.Input(shape=(32, 32, 3))
        x = keras.layers.Rescaling(1 / 255)(inputs)
        x = keras.layers.Flatten()(x)
        for i in range(hp.Int("layers", 2, 4)):
            x = keras.layers.Dense(hp.Int(f"units_{i}", 64, 512, step=64), activation="elu")(x)
        outputs = keras.layers.Dense(10, activation="softmax")(x)
        model = keras.Model(inputs, outputs)
        learning_rate = hp.Float(
            "learning_rate", LEARNING_RATE["min"], LEARNING_RATE["max"], sampling=LEARNING_RATE["sampling"]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    class Recorder(keras.callbacks.Callback):
        """Appends every fit's per-epoch objective to ``HISTORIES``."""

        def on_train_begin(self, logs: Any = None) -> None:
            HISTORIES.append([])

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            HISTORIES[-1].append(float((logs or {})[OBJECTIVE]))

    keras.utils.set_random_seed(SEED)
    tuner = keras_tuner.RandomSearch(
        build,
        objective=keras_tuner.Objective(OBJECTIVE, "max"),
        max_trials=trials,
        seed=SEED,
        directory=str(run_dir),
        project_name="search",
        overwrite=True,
    )
    tuner.search(
        *data.train,
        epochs=epochs,
        validation_data=data.validation,
        batch_size=BATCH_SIZE,
        callbacks=[Recorder()],
        verbose=0,
    )
    fits = iter(HISTORIES)  # one fit per completed trial, in creation order
    records = []
    for key in sorted(tuner.oracle.trials):
        trial = tuner.oracle.trials[key]
        values = dict(trial.hyperparameters.values)
        layers = values["layers"]  # the plain space keeps every units_i it has seen, used or not
        active = {
            "layers": layers,
            **{f"units_{i}": values[f"units_{i}"] for i in range(layers)},
            "learning_rate": values["learning_rate"],
        }
        completed = trial.status == "COMPLETED"
        history = next(fits) if completed else None
        records.append(
            {
                "id": trial.trial_id,
                "values": active,
                "status": "completed" if completed else trial.status.lower(),
                "score": trial.score,
                "epochs": None if history is None else len(history),
                "history": history,
            }
        )
    return records


# ------------------------------------------------------------------ report


def _values(values: dict[str, Any] | None) -> str:
    if values is None:
        return "—"
    return " ".join(f"{k}={_harness.show(v)}" for k, v in values.items())


def _contrast(pruned: dict[str, Any], unpruned: dict[str, Any], epochs: int) -> str:
    """What pruning changed within B, against the same configurations unpruned: the epochs it saved
    on them, the extra trials it ran with those, and whether the best trial is the same."""
    n = unpruned["within"]
    first = pruned["trials"][:n]
    spent = sum(t["epochs"] if t["epochs"] is not None else epochs for t in first)
    extra = pruned["trials"][n : pruned["within"]]
    extras = ", ".join(f"{t['id']} ({t['status']} after {t['epochs']} epochs)" for t in extra) or "none"
    same = pruned["best_values"] is not None and pruned["best_values"] == unpruned["best_values"]
    return (
        f"Against the same configurations unpruned: the first {n} trials took {spent} epochs with "
        f"pruning instead of {unpruned['epochs_within']} ({sum(t['status'] == 'pruned' for t in first)} "
        f"pruned); the extra trials within B: {extras}. The best completed trial within B is trial "
        f"{pruned['best_trial']} with pruning and trial {unpruned['best_trial']} without"
        f"{', the same configuration' if same else ''}."
    )


def _markdown(figures: dict[str, Any]) -> list[str]:
    """The budget, the sides' table, each side's trials and what the numbers mean."""
    b, sides = figures["budget"], figures["sides"]
    budget, epochs = b["budget_epochs"], b["epochs_per_trial"]
    limit = "" if b["limit"] is None else f" (`limit={b['limit']}`)"
    lines = [
        f"Space: `{figures['spec']}` with Adam's learning rate log-uniform in "
        f"[{LEARNING_RATE['min']:g}, {LEARNING_RATE['max']:g}]. Every side: a random search, seed "
        f"{b['seed']}, objective {b['objective']}, {epochs} epochs per trial unless pruned, batch "
        f"{b['batch_size']}, on {b['data']['train']:,} train / {b['data']['validation']:,} validation "
        f"images{limit}. Budget B = {b['budget_trials']} x {epochs} = **{budget} epochs**; pruning: "
        f"`{json.dumps(figures['pruning'])}` (a trial may stop after epoch 2 onwards, once 3 earlier "
        f"trials reached that epoch); the pruned search ran up to {b['max_trials_pruned']} trials; "
        f"{figures['method']}.",
        "",
        "| side | trials within B | completed | pruned | epochs used within B | trials per 10 epochs "
        "| best val_accuracy within B | its configuration | best of every trial within B "
        "| trials run (epochs) | seconds |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for side, label in SIDES.items():
        if side not in sides:
            continue
        s = sides[side]
        per_ten = None if s["trials_per_epoch"] is None else 10 * s["trials_per_epoch"]
        lines.append(
            f"| {label} | **{s['within']}** | {s['within_completed']} | {s['within_pruned']} "
            f"| {s['epochs_within']} | {_harness.number(per_ten, 2)} | **{_harness.number(s['best_score'])}** "
            f"| {_values(s['best_values'])} | {_harness.number(s['best_score_any'])} "
            f"| {len(s['trials'])} ({s['epochs_trained']}) | {s['seconds']:.0f} |"
        )
    pruned = sides["densespace-pruned"]
    same = figures["same_configurations"]
    lines += [
        "",
        "Trials within B: counted in creation order while the cumulative epochs stay within B (a "
        "trial that would cross B is not counted, nor its score). Best val_accuracy: of the "
        "completed trials within B, at each trial's best epoch (densespace never ranks or retrains "
        "a pruned trial); the best of every trial within B, pruned ones included, is beside it.",
    ]
    if not pruned["used_up_budget"]:
        lines += [
            "",
            f"**The pruned search's {len(pruned['trials'])} trials used only {pruned['epochs_trained']} "
            f"of the {budget} epochs**: its count within B is a lower bound (rerun with a larger "
            "`--max-trials`).",
        ]
    if "densespace-unpruned" in sides:
        lines += ["", _contrast(pruned, sides["densespace-unpruned"], epochs)]
    late = [
        t["id"]
        for t in pruned["trials"]
        if t["status"] == "pruned" and t["epochs"] is not None and t["epochs"] >= epochs
    ]
    if late:
        lines += [
            "",
            f"Pruned after their last epoch ({epochs}), so without saving any: trial(s) "
            f"{', '.join(late)}: fully trained, yet recorded as pruned and never ranked.",
        ]
    if same is not None:
        lines += [
            "",
            "The unpruned densespace search tried the same configurations as the first trials of the "
            f"pruned one, in the same order: {'yes' if same else 'NO'}. The hand-written search "
            "draws its own configurations (keras-tuner's plain space grows as `units_i` appear, so "
            "the same seed gives other values).",
        ]
    for side, label in SIDES.items():
        if side not in sides:
            continue
        lines += [
            "",
            f"### Trials: {label}",
            "",
            "| trial | configuration | status | epochs | cumulative epochs | within B | val_accuracy by epoch "
            "| best |",
            "| --- | --- | --- | ---: | ---: | --- | --- | ---: |",
        ]
        used, counted = 0, True
        for t in sides[side]["trials"]:
            spent = t["epochs"] if t["epochs"] is not None else epochs
            used += spent
            counted = counted and used <= budget  # as _within counts: none after the first over B
            history = " ".join(f"{v:.3f}" for v in t["history"] or [])
            lines.append(
                f"| {t['id']} | {_values(t['values'])} | {t['status']} | {_harness.number(t['epochs'])} | {used} "
                f"| {'yes' if counted else 'no'} | {history} | {_harness.number(t['score'])} |"
            )
    return lines


if __name__ == "__main__":
    _harness.run_script(main, worker=_worker)
