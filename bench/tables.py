"""Public tables, raw CSV in: densespace.tune against scikit-learn's HistGradientBoosting; and load_csv's cost.

    python bench/tables.py [--results DIR] [--work DIR] [--trials N] [--epochs N] [--ensemble K]
                           [--blocks dense|residual] [--mb N]

(``--cache``, which every script takes, is unused here.)

Part 1, accuracy. Tables that installed packages ship: scikit-learn's bundled
iris, wine, breast_cancer (classification) and diabetes (regression);
palmerpenguins' penguins (species, with text columns and gaps) and statsmodels'
``fair`` (rate_marriage, 5 classes, with an ID column added: ``respondent_id``)
and ``randhie`` (``mdvis``, whole-number counts, as a regression) when those
packages are installed (``pip install palmerpenguins statsmodels``). Each table
is written to CSV with pandas (``to_csv(index=False)``) in a temporary folder and
loaded with ``densespace.datasets.load_csv`` (seed 0: 20% test, 10% of the rest
validation), no preprocessing by hand. densespace: a random search of
``--trials`` trials (1-2 Dense relu layers of 32-256 units, dropout 0-0.3,
Adam 1e-3 or 3e-3, batch 32 (256 for tables of 2,000 rows or more), ``--epochs``
epochs with early stopping on val_loss,
patience 10), the best retrained, its test accuracy (RMSE for regression); with
``--ensemble K`` (default 3) the best K retrained and ``ensemble.keras`` of them
(``tune(ensemble=K)``), whose score is densespace's, the best single model's beside it.
``--blocks residual`` searches residual blocks (``kind: residual``, expansion 2, layer norm,
gelu) of the same layers, widths and dropouts instead, into results/tables-residual.md.
scikit-learn: ``HistGradientBoostingClassifier/Regressor(categorical_features=
"from_dtype", random_state=0)`` fitted on the same training and validation rows
(text columns as pandas ``category``, the same ID column dropped), scored on the
same test rows. Figures: both scores and the difference per table.

Part 2, reading. ``load_csv`` on a synthetic CSV of about ``--mb`` MB (float,
integer and text columns), against ``pandas.read_csv`` alone; each in a fresh
process: wall time and peak resident memory (``ru_maxrss``) over the memory the
process holds after its imports (``/proc/self/statm``). Target: both at most 1.3x pandas'.
"""

from __future__ import annotations

import ast
import resource
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import _harness

READ_TARGETS = (
    _harness.Target("load_csv time / pandas.read_csv time", "<=", 1.3),
    _harness.Target("load_csv peak memory / pandas.read_csv peak memory", "<=", 1.3),
)


def tables() -> dict[str, tuple[Any, str, str]]:
    """Each table as a DataFrame, its target and the task."""
    import pandas as pd
    from sklearn import datasets

    found: dict[str, tuple[Any, str, str]] = {}
    for name, task in (
        ("iris", "classification"),
        ("wine", "classification"),
        ("breast_cancer", "binary"),
        ("diabetes", "regression"),
    ):
        bunch = getattr(datasets, f"load_{name}")(as_frame=True)
        frame = bunch.frame.rename(columns={"target": "label"})
        found[name] = (frame, "label", task)
    try:
        import palmerpenguins

        found["penguins"] = (palmerpenguins.load_penguins(), "species", "classification")
    except ImportError:
        pass
    try:
        import statsmodels.api as sm

        fair = sm.datasets.fair.load_pandas().data
        fair["rate_marriage"] = fair["rate_marriage"].astype(int)
        fair.insert(0, "respondent_id", range(100000, 100000 + len(fair)))
        found["fair"] = (fair, "rate_marriage", "classification")
        randhie = sm.datasets.randhie.load_pandas().data
        found["randhie"] = (pd.DataFrame(randhie), "mdvis", "regression")
    except ImportError:
        pass
    return found


#: ``--blocks``: the hidden block searched, Dense layers or residual ones (issue 25), alike otherwise.
BLOCKS: dict[str, dict[str, Any]] = {
    "dense": {},
    "residual": {"kind": "residual", "expansion": 2, "norm": "layer", "activation": "gelu"},
}


def spec(task: str, trials: int, epochs: int, rows: int, blocks: str = "dense") -> Any:
    import densespace

    objective = {"classification": "val_loss", "binary": "val_loss", "regression": "val_loss"}[task]
    return densespace.validate_spec(
        {
            "version": 1,
            "name": "tables",
            "task": task,
            "hidden": {
                **BLOCKS[blocks],
                "layers": {"min": 1, "max": 2},
                "units": {"values": [32, 64, 128, 256]},
                "dropout": {"values": [0.0, 0.1, 0.3]},
            },
            "optimizer": {"learning_rate": {"values": [0.001, 0.003]}},
            "training": {
                "epochs": epochs,
                "batch_size": 32 if rows < 2000 else 256,
                "early_stopping": {"monitor": "val_loss", "patience": 10},
            },
            "search": {"tuner": "random", "max_trials": trials, "seed": 1, "objective": objective},
        }
    )


def score_table(
    name: str,
    frame: Any,
    target: str,
    task: str,
    trials: int,
    epochs: int,
    ensemble: int,
    work: Path,
    blocks: str,
) -> dict[str, Any]:
    """Both sides on one table."""
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    import densespace
    from densespace.datasets import load_csv

    path = work / f"{name}.csv"
    frame.to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = load_csv(path, target=target, numbers=task == "regression")
        started = time.perf_counter()
        result = densespace.tune(
            spec(task, trials, epochs, len(frame), blocks),
            data=data,
            out=work / f"run-{name}",
            overwrite=True,
            verbose=0,
            retrain_top=max(1, ensemble),
            ensemble=ensemble,
        )
    seconds = time.perf_counter() - started
    metric = "rmse" if task == "regression" else "accuracy"
    single = result.test_metrics[0][metric]
    ensemble_record = None if result.record is None else result.record.ensemble
    ours = single if ensemble_record is None else ensemble_record.test_metrics[metric]
    columns = dict(densespace.load_spec(work / f"run-{name}" / "best-1.spec.json").input.columns or {})
    kept = [c for c, kind in columns.items() if kind != "ignore"]

    def prepared(x: pd.DataFrame) -> pd.DataFrame:
        x = x[kept].copy()
        for column in x.columns:
            if x[column].dtype == object or str(x[column].dtype) in ("str", "string"):
                x[column] = x[column].astype(
                    pd.CategoricalDtype(sorted(frame[column].dropna().astype(str).unique()))
                )
        return x

    x_fit = pd.concat([prepared(data.train[0]), prepared(data.validation[0])])
    y_fit = np.concatenate([data.train[1], data.validation[1]])
    model = (HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier)(
        categorical_features="from_dtype", random_state=0
    )
    model.fit(x_fit, y_fit)
    predicted = model.predict(prepared(data.test[0]))
    y_test = data.test[1]
    theirs = (
        float(np.sqrt(np.mean((predicted - y_test) ** 2)))
        if task == "regression"
        else float(np.mean(predicted == y_test))
    )
    return {
        "table": name,
        "task": task,
        "rows": len(frame),
        "metric": "rmse" if task == "regression" else "accuracy",
        "densespace": float(ours),
        "single": float(single),
        "ensemble": ensemble_record is not None,
        "hgb": theirs,
        "difference": float(ours - theirs),
        "relative": float(ours / theirs) if task == "regression" else None,
        "columns": densespace.datasets._table.describe(columns),
        "seconds": seconds,
    }


def reading(mb: int, work: Path) -> dict[str, Any]:
    """load_csv and pandas.read_csv on a synthetic CSV, each in a fresh process."""
    import numpy as np
    import pandas as pd

    path = work / "big.csv"
    rows = int(mb * 1e6 / 29)  # about 29 bytes a row
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=rows),
            "b": rng.normal(size=rows) * 1000,
            "c": rng.integers(0, 100, rows),
            "d": rng.choice(["red", "green", "blue"], rows),
            "y": rng.choice(["yes", "no"], rows),
        }
    )
    frame.to_csv(path, index=False, float_format="%.6g")
    size = path.stat().st_size
    sides = {}
    for side in ("pandas", "load_csv", "pandas", "load_csv"):
        got = _harness.fresh(__file__, side=side, path=str(path))
        best = sides.get(side)
        sides[side] = got if best is None or got["seconds"] < best["seconds"] else best
    return {
        "bytes": size,
        "rows": rows,
        "pandas": sides["pandas"],
        "load_csv": sides["load_csv"],
        "time_ratio": sides["load_csv"]["seconds"] / sides["pandas"]["seconds"],
        "memory_ratio": sides["load_csv"]["peak_mb"] / sides["pandas"]["peak_mb"],
    }


def worker(side: str, path: str) -> dict[str, float]:
    """One read in this fresh process: seconds and peak resident MB above the baseline."""
    import pandas as pd

    from densespace.datasets import load_csv

    base = _resident_mb()
    started = time.perf_counter()
    if side == "pandas":
        pd.read_csv(path)
    else:
        load_csv(path, target="y")
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mb": peak - base, "baseline_mb": base, "peak_total_mb": peak}


def _resident_mb() -> float:
    """The resident memory now (not the peak, which imports may have set higher), in MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def _quality(score: dict[str, Any]) -> Any:
    """The issue's goal on one table: within 1 point of HGB's accuracy, or 3% of its RMSE."""
    if score["metric"] == "rmse":
        return _harness.Target(f"{score['table']}: RMSE / HGB's", "<=", 1.03).check(score["relative"])
    return _harness.Target(f"{score['table']}: accuracy - HGB's", ">=", -0.01).check(score["difference"])


def _ahead(score: dict[str, Any]) -> bool:
    return score["difference"] < 0 if score["metric"] == "rmse" else score["difference"] > 0


def _relative(score: dict[str, Any]) -> str:
    return "" if score["relative"] is None else f" ({score['relative']:.3f}x)"


def main() -> int:
    parser = _harness.parser(__doc__ or "", work=True)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--ensemble", type=int, default=3, help="ensemble.keras of the best K (0: none)")
    parser.add_argument("--blocks", choices=BLOCKS, default="dense", help="the hidden block searched")
    parser.add_argument("--mb", type=int, default=40)
    parser.add_argument(
        "--scores",
        type=Path,
        help="a file of part 1's scores, one per line as a run prints them, to report instead of "
        "measuring them again (part 2 runs)",
    )
    args = parser.parse_args()
    run = _harness.Run(
        "tables" if args.blocks == "dense" else f"tables-{args.blocks}",
        f"Public tables: densespace ({args.blocks} blocks) against HistGradientBoosting; load_csv's cost",
        args.results,
    )
    args.work.mkdir(parents=True, exist_ok=True)
    scores = []
    with tempfile.TemporaryDirectory(dir=args.work) as folder:
        if args.scores is not None:
            scores = [ast.literal_eval(line) for line in args.scores.read_text().splitlines() if line.strip()]
        for name, (frame, target, task) in tables().items() if args.scores is None else ():
            scores.append(
                score_table(
                    name,
                    frame,
                    target,
                    task,
                    args.trials,
                    args.epochs,
                    args.ensemble,
                    Path(folder),
                    args.blocks,
                )
            )
            print(scores[-1], flush=True)
        read = reading(args.mb, Path(folder))
    source = (
        []
        if args.scores is None
        else [
            f"Part 1 read back from `{args.scores.resolve().relative_to(_harness.ROOT)}` (the lines an earlier run "
            "printed on this machine, at an earlier revision of this branch), not measured in this run.",
            "",
        ]
    )
    body = [
        *source,
        f"densespace: `ensemble.keras` of the best {args.ensemble} retrained (the best single model beside it)."
        if args.ensemble
        else "densespace: the best retrained model.",
        "",
        "| table | rows | task | metric | densespace | best single | HGB | difference | columns |",
        "|---|---|---|---|---|---|---|---|---|",
        *(
            f"| {s['table']} | {s['rows']:,} | {s['task']} | {s['metric']} | {s['densespace']:.4f}"
            f"{'' if s.get('ensemble', True) else ' (no ensemble)'} | "
            f"{s.get('single', s['densespace']):.4f} | {s['hgb']:.4f} | {s['difference']:+.4f}{_relative(s)} | "
            f"{s['columns']} |"
            for s in scores
        ),
        "",
        f"Reading a {read['bytes'] / 1e6:.1f} MB CSV ({read['rows']:,} rows, 5 columns), best of 2 fresh processes each:",
        "",
        "| side | seconds | peak MB over baseline |",
        "|---|---|---|",
        *(
            f"| {side} | {read[side]['seconds']:.2f} | {read[side]['peak_mb']:.0f} |"
            for side in ("pandas", "load_csv")
        ),
        "",
        f"Ratios load_csv / pandas: time {read['time_ratio']:.2f}x, memory {read['memory_ratio']:.2f}x.",
    ]
    checks = [
        *(_quality(s) for s in scores),
        _harness.Target("tables where densespace is ahead of HGB, of all", ">=", 0.5).check(
            sum(_ahead(s) for s in scores) / max(1, len(scores))
        ),
        READ_TARGETS[0].check(read["time_ratio"]),
        READ_TARGETS[1].check(read["memory_ratio"]),
    ]
    return run.finish({"tables": scores, "reading": read}, body, checks)


if __name__ == "__main__":
    _harness.run_script(main, worker)
