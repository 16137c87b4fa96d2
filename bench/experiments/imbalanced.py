"""Imbalanced and small tables: class weights, balanced objectives and cross-validated trials.

    python bench/experiments/imbalanced.py [--results DIR] [--work DIR] [--trials N] [--epochs N]
                                           [--folds K]

(``--cache``, which every script takes, is unused here: the tables ship with statsmodels and
scikit-learn.) Needs statsmodels (``pip install statsmodels``), for its ``fair`` table.

Part 1, imbalanced classes: statsmodels' ``fair`` (6,366 rows, 8 numeric columns), target
``rate_marriage`` (5 classes, 1.6% to 42% of the rows), split 60/20/20 at random (seed 0).
The same random search (``SPEC``: 1 or 2 Dense relu layers of 32 or 64 units, standardized
inputs, Adam 1e-3, batch 64, ``--epochs`` epochs, ``--trials`` trials, seed 1), run twice:
as a user would by default (objective ``val_accuracy``, no class weights) and with
``training.class_weight: "balanced"`` and objective ``val_balanced_accuracy``; each run's best
retrained and tested. Next to them, scikit-learn's ``HistGradientBoostingClassifier``
(random_state 0) fitted on the training split, without and with ``class_weight="balanced"``.
Figures on the test split: accuracy, balanced accuracy, macro F1 (scikit-learn's), and the
classes a model never predicts.

Part 2, small data: scikit-learn's ``wine`` (178 rows, 13 columns, 3 classes), split
60/20/20 (seed 0), so the validation split holds 36 rows. The same search (``--trials``
trials, seed 1, objective val_accuracy) without ``search.cross_validation`` and with
``--folds`` folds: each run's best trial's score, the spread of its fold scores, its test
accuracy, and the epochs trained.

Target: the balanced run predicts every class of ``fair`` at least once on the test split
(the issue's default search never predicted two of them). Writes results/imbalanced.json and
.md; run folders go to WORK/imbalanced/.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for _harness
import _harness as harness

TARGET = harness.Target("classes of fair the balanced run never predicts (test split)", "<=", 0)

SPEC: dict[str, Any] = {
    "version": 1,
    "name": "imbalanced",
    "task": "classification",
    "input": {"preprocessing": "standardize"},
    "hidden": {"layers": {"min": 1, "max": 2}, "units": {"values": [32, 64]}},
    "training": {"batch_size": 64},
    "search": {"tuner": "random", "seed": 1},
}


def split(x: Any, y: Any, names: list[str]) -> SimpleNamespace:
    """A 60/20/20 split at random (seed 0), as densespace's data objects hold it."""
    import numpy as np

    order = np.random.default_rng(0).permutation(len(y))
    cut = [int(len(y) * 0.6), int(len(y) * 0.8)]
    parts = np.split(order, cut)
    train, validation, test = ((x[p].astype(np.float32), y[p].astype(np.int64)) for p in parts)
    return SimpleNamespace(train=train, validation=validation, test=test, source="bench", class_names=names)


def fair() -> SimpleNamespace:
    import statsmodels.api as sm

    frame = sm.datasets.fair.load_pandas().data
    y = frame.pop("rate_marriage").to_numpy().astype(int) - 1
    return split(frame.to_numpy(), y, [str(c + 1) for c in range(5)])


def wine() -> SimpleNamespace:
    from sklearn.datasets import load_wine

    bunch = load_wine()
    return split(bunch.data, bunch.target, [str(n) for n in bunch.target_names])


def scores(truth: Any, guess: Any, classes: int) -> dict[str, Any]:
    """Test accuracy, balanced accuracy, macro F1 and the classes never predicted."""
    import numpy as np
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    return {
        "accuracy": float(accuracy_score(truth, guess)),
        "balanced_accuracy": float(balanced_accuracy_score(truth, guess)),
        "macro_f1": float(f1_score(truth, guess, average="macro")),
        "never_predicted": int(classes - len(np.unique(guess))),
    }


def tune(data: SimpleNamespace, out: Path, patch: dict[str, Any], epochs: int, trials: int) -> Any:
    import densespace

    spec = densespace.validate_spec(
        {
            **SPEC,
            "training": {**SPEC["training"], "epochs": epochs, **patch.get("training", {})},
            "search": {**SPEC["search"], "max_trials": trials, **patch.get("search", {})},
        }
    )
    shutil.rmtree(out, ignore_errors=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return densespace.tune(spec, data=data, out=out, verbose=0)


def imbalanced_part(args: Any) -> dict[str, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    data, found = fair(), {}
    sides = {
        "densespace default (val_accuracy)": {"search": {"objective": "val_accuracy"}},
        "densespace balanced (val_balanced_accuracy)": {
            "training": {"class_weight": "balanced"},
            "search": {"objective": "val_balanced_accuracy"},
        },
    }
    for number, (name, patch) in enumerate(sides.items()):
        result = tune(data, args.work / "imbalanced" / f"fair-{number}", patch, args.epochs, args.trials)
        guess = result.best[0].model.predict(data.test[0], verbose=0).argmax(axis=1)
        found[name] = scores(data.test[1], guess, 5)
    for weight in (None, "balanced"):
        model = HistGradientBoostingClassifier(random_state=0, class_weight=weight)
        model.fit(*data.train)
        found[f"HistGradientBoosting (class_weight={weight})"] = scores(
            data.test[1], model.predict(data.test[0]), 5
        )
    return found


def small_part(args: Any) -> dict[str, Any]:
    data, found = wine(), {}
    for folds in (None, args.folds):
        patch = {"search": {"objective": "val_accuracy", "cross_validation": folds}}
        result = tune(data, args.work / "imbalanced" / f"wine-{folds}", patch, args.epochs, args.trials)
        best = max((t for t in result.trials if t.score is not None), key=lambda t: t.score)
        found[f"cross_validation={folds}"] = {
            "best_score": best.score,
            "fold_scores": best.fold_scores,
            "fold_spread": None if not best.fold_scores else statistics.pstdev(best.fold_scores),
            "distinct_scores": len({round(t.score, 6) for t in result.trials if t.score is not None}),
            "test_accuracy": result.test_metrics[0]["accuracy"],
            "search_epochs": sum(t.epochs or 0 for t in result.trials),
        }
    return found


def main() -> int:
    parser = harness.parser(__doc__, work=True)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    run = harness.Run("imbalanced", "Imbalanced and small tables", args.results)
    figures = {"fair": imbalanced_part(args), "wine": small_part(args)}
    number = harness.number
    body = [
        f"Part 1: statsmodels' `fair`, target `rate_marriage` (5 classes, 1.6% to 42%), 60/20/20 split; "
        f"random search of {args.trials} trials x {args.epochs} epochs; test split:",
        "",
        "| model | accuracy | balanced accuracy | macro F1 | classes never predicted |",
        "| --- | ---: | ---: | ---: | ---: |",
        *(
            f"| {name} | {number(f['accuracy'])} | {number(f['balanced_accuracy'])} | "
            f"{number(f['macro_f1'])} | {f['never_predicted']} |"
            for name, f in figures["fair"].items()
        ),
        "",
        f"Part 2: scikit-learn's `wine` (178 rows; validation split of 36), {args.trials} trials x "
        f"{args.epochs} epochs, objective val_accuracy:",
        "",
        "| search | best trial's score | its fold scores (spread) | distinct trial scores | "
        "test accuracy | search epochs |",
        "| --- | ---: | --- | ---: | ---: | ---: |",
        *(
            f"| {name} | {number(f['best_score'])} | "
            + (
                "—"
                if not f["fold_scores"]
                else ", ".join(number(s, 3) for s in f["fold_scores"]) + f" ({number(f['fold_spread'], 3)})"
            )
            + f" | {f['distinct_scores']} | {number(f['test_accuracy'])} | {f['search_epochs']} |"
            for name, f in figures["wine"].items()
        ),
    ]
    balanced = figures["fair"]["densespace balanced (val_balanced_accuracy)"]
    return run.finish(figures, body, [TARGET.check(balanced["never_predicted"])])


if __name__ == "__main__":
    harness.run_script(main)
