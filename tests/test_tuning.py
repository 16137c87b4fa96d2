"""Tuning: searching, retraining, results on disk, failures, resuming."""

from __future__ import annotations

import csv
import gc
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
import weakref
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import ROOT, merge, spec_dict, synthetic_data

import densespace
from densespace import DensespaceError, SpecError, TuningError, planned_budget, validate_spec
from densespace._cli import inspect_report
from densespace._report import summary
from densespace._results import ranked
from densespace._run import progress as progress_module
from densespace._run.heap import frozen_heap
from densespace._run.options import apply_overrides

TINY = spec_dict(
    input={"shape": [4, 4, 3]},
    hidden={"layers": {"min": 1, "max": 2}, "units": {"values": [4, 8]}},
    training={"epochs": 2, "batch_size": {"values": [16, 32]}},
    search={"tuner": "random", "max_trials": 3, "seed": 7},
)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One finished search with two retrained models and their ensemble, shared by the result tests."""
    out = tmp_path_factory.mktemp("run")
    data = synthetic_data()
    result = densespace.tune(validate_spec(TINY), data=data, out=out, ensemble=2, verbose=0)
    return result, data


@pytest.mark.slow
def test_results_json_has_the_documented_fields(finished):
    """results.json holds trials, best models and data under the documented names."""
    result, _ = finished
    results = json.loads((result.out / "results.json").read_text())
    assert results == result.results
    assert [t["id"] for t in results["trials"]] == ["0", "1", "2"]
    for trial in results["trials"]:
        assert set(trial) >= {"id", "values", "status", "score", "seconds"}
        assert trial["status"] == "completed" and trial["epochs"] == 2
    assert [b["rank"] for b in results["best"]] == [1, 2]
    assert [(b["model"], b["frozen_spec"]) for b in results["best"]] == [
        ("best-1.keras", "best-1.spec.json"),
        ("best-2.keras", "best-2.spec.json"),
    ]
    assert results["data"] == {
        "source": "synthetic",
        "train": 120,
        "validation": 40,
        "test": 40,
        "digest": densespace.datasets.digest(finished[1]),
        "kind": None,
        "class_names": None,
        "feature_names": None,
        "target_names": None,
    }
    assert set(results["versions"]) == {"python", "keras", "tensorflow", "keras_tuner", "numpy"}
    assert results["backend"] == "tensorflow"
    # the spec as fitted to the data: its output units, and the preprocessing 'auto' chose for uint8 images
    fitted = merge(TINY, {"output": {"units": 10}, "input": {"preprocessing": "rescale"}})
    assert results["spec"] == validate_spec(fitted).model_dump(mode="json")
    assert results["task"] == "classification"
    assert results["cost"]["search_epochs"] == 6 and results["cost"]["retrain_epochs"] == 4
    assert results["cost"]["images_trained"] == 10 * 120


@pytest.mark.slow
def test_best_models_are_the_best_trials_retrained(finished):
    """The best models are the top trials by score, with test metrics and their values."""
    result, _ = finished
    trials = sorted(result.results["trials"], key=lambda t: t["score"])
    assert result.best_hyperparameters == [trials[0]["values"], trials[1]["values"]]
    assert [set(m) for m in result.test_metrics] == [
        {"loss", "accuracy", "balanced_accuracy", "macro_f1"}
    ] * 2
    assert len(result.best_models) == 2


@pytest.mark.slow
def test_saved_models_reload_safely_with_the_recorded_metrics(finished):
    """Each .keras file loads in safe mode and scores the recorded test metrics."""
    result, data = finished
    for best in result.results["best"]:
        model = densespace.load_model(str(result.out / best["model"]))
        metrics = model.evaluate(*data.test, return_dict=True, verbose=0)
        assert metrics["accuracy"] == pytest.approx(best["test_metrics"]["accuracy"])
        assert metrics["loss"] == pytest.approx(best["test_metrics"]["loss"], rel=1e-5)


@pytest.mark.slow
def test_frozen_specs_are_one_configuration_of_the_model(finished):
    """Each frozen spec inspects as one configuration with the model's parameter count."""
    result, _ = finished
    for best, model in zip(result.results["best"], result.best_models, strict=False):
        report = inspect_report(densespace.load_spec(result.out / best["frozen_spec"]))
        count = int(sum(np.prod(w.shape) for w in model.trainable_weights))
        assert report["configurations"] == 1
        assert (
            report["parameters"]
            == {"min": count, "max": count}
            == {"min": best["parameters"], "max": best["parameters"]}
        )


@pytest.mark.slow
def test_trials_csv_and_report(finished):
    """trials.csv has a row per trial and report.md shows the plot and every trial."""
    result, _ = finished
    rows = list(csv.DictReader((result.out / "trials.csv").open()))
    assert [r["id"] for r in rows] == ["0", "1", "2"]
    assert {"layers", "units_0", "batch_size"} <= set(rows[0])
    report = (result.out / "report.md").read_text()
    assert "![score per trial](scores.png)" in report and report.count("| completed |") == 3
    assert (result.out / "scores.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_same_seed_same_trials(finished, tmp_path):
    """The spec's seed makes the sequence of trials reproducible."""
    result, data = finished
    again = densespace.tune(validate_spec(TINY), data=data, out=tmp_path, retrain_top=0, verbose=0)
    assert [t["values"] for t in again.results["trials"]] == [t["values"] for t in result.results["trials"]]
    assert again.best == []


NO_CONSTRAINTS = {"max_parameters": None, "min_parameters": None, "funnel": False}
OVERRIDES = [
    (
        {"tuner": "bayesian"},
        {
            "tuner": "bayesian",
            "objective": "val_loss",
            "seed": 7,
            "executions_per_trial": 1,
            "constraints": NO_CONSTRAINTS,
            "pruning": None,
            "initial_points": [],
            "cross_validation": None,
            "pack": "off",
            "max_trials": 10,
            "num_initial_points": None,
        },
    ),
    (
        {"tuner": "hyperband"},
        {
            "tuner": "hyperband",
            "objective": "val_loss",
            "seed": 7,
            "executions_per_trial": 1,
            "constraints": NO_CONSTRAINTS,
            "pruning": None,
            "initial_points": [],
            "cross_validation": None,
            "pack": "off",
            "max_epochs": 100,
            "factor": 3,
            "hyperband_iterations": 1,
        },
    ),
    (
        {"max_trials": 5, "seed": 1},
        {
            "tuner": "random",
            "objective": "val_loss",
            "seed": 1,
            "executions_per_trial": 1,
            "constraints": NO_CONSTRAINTS,
            "pruning": None,
            "initial_points": [],
            "cross_validation": None,
            "pack": "off",
            "max_trials": 5,
        },
    ),
]


@pytest.mark.parametrize(("options", "search"), OVERRIDES)
def test_overrides_replace_search_options(options, search):
    """Overrides replace the search section, keeping shared options when the tuner changes."""
    spec = validate_spec(TINY)
    assert apply_overrides(spec, **options).search.model_dump() == search
    assert spec == validate_spec(TINY)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"max_trials": 0}, "overrides: search.max_trials: must be >= 1 (received 0)"),
        ({"epochs": 0}, "overrides: training.epochs: must be >= 1 (received 0)"),
        (
            {"tuner": "hyperband", "max_trials": 3},
            "overrides: search.max_trials: unknown key: an option of tuners 'random', 'bayesian', "
            "'grid' and 'tpe'; this search's tuner is 'hyperband'",
        ),
    ],
)
def test_invalid_overrides(options, problem):
    """Invalid overrides are spec errors located like the spec field they change."""
    with pytest.raises(SpecError) as info:
        apply_overrides(validate_spec(TINY), **options)
    assert str(info.value) == problem


@pytest.mark.parametrize("before", [False, True])
def test_the_heap_is_frozen_inside_the_block_and_as_found_after(before):
    """frozen_heap freezes what is alive for the block and unfreezes it after, unless the caller had frozen it."""
    if before:
        gc.freeze()
    try:
        outside = gc.get_freeze_count()
        with frozen_heap():
            inside = gc.get_freeze_count()
        after = gc.get_freeze_count()
    finally:
        gc.unfreeze()
    assert inside > 0 and after == outside and (outside > 0) == before


def test_garbage_from_before_the_block_is_freed_not_frozen():
    """Cycles already unreachable when the block starts are collected, not kept alive through it."""

    class Node:
        pass

    gc.disable()  # no automatic collection between the cycle's last reference and the block
    try:
        node = Node()
        node.self = node  # a cycle: only the collector frees it
        alive = weakref.ref(node)
        del node
        with frozen_heap():
            freed = alive() is None
    finally:
        gc.enable()
    assert freed


@pytest.mark.slow
def test_a_search_runs_with_the_heap_frozen(tmp_path):
    """Every trial of a search runs with the objects from before it frozen, and none stay frozen after."""
    counts = []
    spec = validate_spec(merge(TINY, {"search": {"max_trials": 2}}))
    densespace.tune(
        spec,
        data=synthetic_data(),
        out=tmp_path,
        verbose=0,
        on_trial_end=lambda _: counts.append(gc.get_freeze_count()),
    )
    assert len(counts) == 2 and min(counts) > 0 and gc.get_freeze_count() == 0


@pytest.mark.slow
def test_diverging_trials_fail_and_the_search_goes_on(tmp_path):
    """A trial whose loss turns NaN is recorded as failed; the others complete."""
    spec = validate_spec(
        spec_dict(
            input={"shape": [4, 4, 3], "preprocessing": "none"},
            hidden={"units": 64, "layers": 3},
            optimizer={"name": "sgd", "learning_rate": {"values": [1e-3, 10.0]}},
            training={"epochs": 3, "batch_size": 8},
            search={"max_trials": 2, "seed": 0},
        )
    )
    result = densespace.tune(spec, data=synthetic_data(), out=tmp_path, verbose=0)
    statuses = {t["values"]["learning_rate"]: (t["status"], t["message"]) for t in result.results["trials"]}
    assert statuses[0.001] == ("completed", None)
    assert statuses[10.0][0] == "failed"
    assert statuses[10.0][1].startswith("keras_tuner.src.errors.FailedTrialError: loss became nan in epoch")
    assert result.best_hyperparameters == [{"learning_rate": 0.001}]


@pytest.mark.slow
def test_a_search_where_every_trial_fails_is_an_error(tmp_path):
    """When no trial completes, tune raises TuningError naming the reason."""
    spec = validate_spec(
        spec_dict(
            input={"shape": [4, 4, 3], "preprocessing": "none"},
            hidden={"units": 64, "layers": 3},
            optimizer={"name": "sgd", "learning_rate": 10.0},
            training={"epochs": 3, "batch_size": 8},
            search={"max_trials": 1},
        )
    )
    with pytest.raises(
        TuningError, match=r"^all 1 trials failed: keras_tuner.src.errors.FailedTrialError: loss became nan"
    ):
        densespace.tune(spec, data=synthetic_data(), out=tmp_path, verbose=0)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("change", "what"),
    [
        (
            {"optimizer": {"learning_rate": {"min": 0.0001, "max": 0.01, "sampling": "log"}}},
            'spec.optimizer.learning_rate: 0.001 -> {"min": 0.0001, "max": 0.01, "step": null, "sampling": "log"}',
        ),
        ({"search": {"max_trials": 2}}, "spec.search.max_trials: 3 -> 2"),
        (
            {"search": {"max_trials": 4, "seed": 8}},
            "spec.search.max_trials: 3 -> 4; spec.search.seed: 7 -> 8",
        ),
    ],
)
def test_a_changed_spec_is_refused_unless_overwriting(finished, change, what):
    """Rerunning on an --out made by another spec (fewer trials, or more with another change
    too) is refused, naming what changed and the ways on."""
    result, data = finished
    with pytest.raises(DensespaceError) as info:
        densespace.tune(validate_spec(merge(TINY, change)), data=data, out=result.out, verbose=0)
    assert str(info.value) == (
        f"{result.out} holds a search of a different spec or data ({what}); only a larger "
        "search.max_trials goes on with it: pass --overwrite (overwrite=True) to start over, "
        f"or choose another --out (--warm-start {result.out} starts from its trials)"
    )


@pytest.mark.slow
# tpe goes on as a resumed TPE search does (its study rebuilt from the ended trials): not run here
@pytest.mark.parametrize(("tuner", "more"), [("random", 3), ("bayesian", 3), ("grid", 9)])
def test_a_larger_max_trials_goes_on_training_only_the_new_trials(tmp_path, tuner, more):
    """A finished search run again with a larger max_trials trains only the new trials, then
    retrains and reports all of them (a grid stops at its last configuration)."""
    spec = validate_spec(
        spec_dict(
            input={"shape": [4, 4, 3]},
            hidden={"units": {"values": [4, 8, 16]}},
            training={"epochs": 1, "batch_size": 32},
            search={"tuner": tuner, "max_trials": 2, "seed": 1},
        )
    )
    data = synthetic_data(train=40, validation=20, test=20)
    with warnings.catch_warnings():  # bayesian: mostly random
        warnings.simplefilter("ignore", densespace.SearchWarning)
        first = densespace.tune(spec, data=data, out=tmp_path, verbose=0)
        seen: list[densespace.TrialRecord] = []
        result = densespace.tune(
            spec, data=data, out=tmp_path, max_trials=more, verbose=0, on_trial_end=seen.append
        )
    assert [t.id for t in seen] == ["2"]
    assert [t["id"] for t in result.results["trials"]] == ["0", "1", "2"]
    assert result.results["trials"][:2] == first.results["trials"]
    assert result.results["spec"]["search"]["max_trials"] == more
    assert json.loads((tmp_path / "run.json").read_text())["spec"]["search"]["max_trials"] == more
    best = min(result.results["trials"], key=lambda t: t["score"])
    assert [b["trial"] for b in result.results["best"]] == [best["id"]]
    assert (tmp_path / "best-1.keras").is_file()


@pytest.mark.slow
def test_overwrite_starts_over(tmp_path):
    """overwrite=True clears the folder and runs the new search."""
    data = synthetic_data()
    densespace.tune(validate_spec(TINY), data=data, out=tmp_path, retrain_top=0, verbose=0)
    changed = apply_overrides(validate_spec(TINY), max_trials=1)
    result = densespace.tune(changed, data=data, out=tmp_path, retrain_top=0, overwrite=True, verbose=0)
    assert len(result.results["trials"]) == 1


QUIET = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    import densespace
    from helpers import synthetic_data
    assert "tensorflow" not in sys.modules
    spec = densespace.validate_spec({spec!r})
    densespace.tune(spec, data=synthetic_data(train=20, validation=100, test=10), out={out!r}, verbose=1)
""")


@pytest.mark.slow
def test_the_python_api_prints_no_tensorflow_logs(tmp_path):
    """tune() (verbose=1) loads TensorFlow without its C++ and absl logs: standard error holds
    densespace's own lines only."""
    spec = spec_dict(input={"shape": [4, 4, 3]}, training={"epochs": 1}, search={"max_trials": 1})
    code = QUIET.format(tests=str(ROOT / "tests"), spec=spec, out=str(tmp_path))
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert [line.split(" ")[0] for line in lines] == ["planned:", "[1/1]", "retraining"], done.stderr


KILLED = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    import densespace
    from helpers import synthetic_data
    spec = densespace.validate_spec({spec!r})
    densespace.tune(spec, data=synthetic_data(train=400), out={out!r}, retrain_top=0, verbose=0)
""")


def _trial_statuses(out):
    statuses = {}
    for path in (out / "search").glob("trial_*/trial.json"):
        try:
            trial = json.loads(path.read_text())
        except json.JSONDecodeError:  # being written right now
            continue
        statuses[trial["trial_id"]] = (trial["status"], trial["score"])
    return statuses


@pytest.mark.slow
def test_a_search_killed_mid_trial_resumes_without_losing_finished_trials(tmp_path, capsys):
    """SIGKILL during a trial, then the same call again: finished trials are kept, the rest run,
    and the progress numbering goes on from them."""
    spec = dict(
        TINY,
        training={"epochs": 40, "batch_size": 16},
        search={"tuner": "random", "max_trials": 4, "seed": 3},
    )
    script = KILLED.format(tests=str(ROOT / "tests"), spec=spec, out=str(tmp_path))
    process = subprocess.Popen(
        [sys.executable, "-c", script], env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        done = [s for s, _ in _trial_statuses(tmp_path).values() if s == "COMPLETED"]
        if len(done) >= 2 and len(_trial_statuses(tmp_path)) >= 3:
            break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = {k: v for k, v in _trial_statuses(tmp_path).items() if v[0] == "COMPLETED"}
    assert 2 <= len(before) < 4, "the kill must land inside the search"

    capsys.readouterr()
    result = densespace.tune(
        validate_spec(spec), data=synthetic_data(train=400), out=tmp_path, retrain_top=0, verbose=1
    )
    after = {t["id"]: (t["status"].upper(), t["score"]) for t in result.results["trials"]}
    assert {k: after[k] for k in before} == before
    assert [s for s, _ in after.values()] == ["COMPLETED"] * 4
    progress = [line.split()[0] for line in capsys.readouterr().err.splitlines() if line.startswith("[")]
    assert progress == [f"[{n}/4]" for n in range(len(before) + 1, 5)]


@pytest.mark.slow
@pytest.mark.parametrize(("max_epochs", "factor"), [(3, 3), (3, 2)])
def test_hyperband_budget_matches_keras_tuner(tmp_path, max_epochs, factor):
    """The planned Hyperband trials and epochs are what keras-tuner then runs."""
    spec = validate_spec(
        spec_dict(
            input={"shape": [4, 4, 3]},
            hidden={"units": {"min": 1, "max": 512}, "layers": {"min": 1, "max": 3}},
            training={"batch_size": 32},
            search={"tuner": "hyperband", "max_epochs": max_epochs, "factor": factor, "seed": 0},
        )
    )
    result = densespace.tune(
        spec, data=synthetic_data(train=40, validation=20, test=20), out=tmp_path, retrain_top=0, verbose=0
    )
    trials = result.results["trials"]
    assert (len(trials), sum(t["epochs"] for t in trials)) == planned_budget(spec)


@pytest.mark.slow
def test_every_training_feature_tunes_and_reloads(tmp_path):
    """Standardization, augmentation, batch norm, dropout, l2, cosine decay and label smoothing
    tune end to end, and the saved model reloads safely with its recorded metrics."""
    spec = validate_spec(
        spec_dict(
            input={
                "shape": [4, 4, 3],
                "preprocessing": "standardize",
                "augmentation": {"flip": {"values": [False, True]}, "translate": 0.1},
            },
            hidden={"layers": 2, "units": 8, "batch_norm": True, "dropout": 0.1, "l2": 1e-4, "shared": True},
            optimizer={"schedule": "cosine", "learning_rate": {"min": 1e-3, "max": 1e-2, "sampling": "log"}},
            training={"epochs": 2, "batch_size": 16, "label_smoothing": 0.1},
            search={"tuner": "bayesian", "max_trials": 2, "num_initial_points": 1, "seed": 0},
        )
    )
    data = synthetic_data()
    result = densespace.tune(spec, data=data, out=tmp_path, verbose=0)
    assert [t["status"] for t in result.results["trials"]] == ["completed"] * 2
    model = densespace.load_model(str(tmp_path / "best-1.keras"))
    metrics = model.evaluate(*data.test, return_dict=True, verbose=0)
    assert metrics["loss"] == pytest.approx(result.test_metrics[0]["loss"], rel=1e-5)
    flip = ["flip"] if result.best_hyperparameters[0]["flip"] else []
    assert [layer.name for layer in model.layers][:5] == [
        "image",
        "standardize",
        *flip,
        "translate",
        "flatten",
        "dense_0",
    ][:5]


MOSTLY_RANDOM = [
    (
        {"tuner": "bayesian", "max_trials": 10},
        "keras-tuner's default num_initial_points (3 x 4 hyperparameters) = 12 "
        "random trials leave 0 of max_trials = 10 to the Gaussian process: this search is mostly random",
    ),
    (
        {"tuner": "bayesian", "max_trials": 10, "num_initial_points": 6},
        "search.num_initial_points = 6 random trials "
        "leave 4 of max_trials = 10 to the Gaussian process: this search is mostly random",
    ),
    ({"tuner": "bayesian", "max_trials": 10, "num_initial_points": 5}, None),
    ({"tuner": "bayesian", "max_trials": 30}, None),
    ({"tuner": "random", "max_trials": 2}, None),
]


@pytest.mark.parametrize(("search", "message"), MOSTLY_RANDOM)
def test_mostly_random_bayesian_searches_are_named(search, message):
    """A BayesianOptimization search that leaves under half its trials to the Gaussian process is named."""
    spec = validate_spec(dict(TINY, search=search))
    assert spec.search.warning(len(densespace.hyperparameters(spec))) == message


@pytest.mark.slow
def test_tune_warns_about_a_mostly_random_search(tmp_path):
    """tune warns with SearchWarning before a mostly random BayesianOptimization search."""
    spec = validate_spec(
        dict(TINY, training={"epochs": 1, "batch_size": 16}, search={"tuner": "bayesian", "max_trials": 1})
    )
    with pytest.warns(densespace.SearchWarning, match="this search is mostly random"):
        densespace.tune(spec, data=synthetic_data(), out=tmp_path, retrain_top=0, verbose=0)


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_folder_that_is_not_a_search_is_never_touched(tmp_path, overwrite):
    """A non-empty --out without run.json is refused, with or without overwrite, and its files survive."""
    (tmp_path / "thesis.tex").write_text("precious")
    with pytest.raises(DensespaceError) as info:
        densespace.tune(
            validate_spec(TINY), data=synthetic_data(), out=tmp_path, overwrite=overwrite, verbose=0
        )
    assert str(info.value) == (
        f"{tmp_path} is not empty and holds no densespace search (run.json); choose a new or empty --out"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["thesis.tex"]


def test_ranking_keeps_one_trial_per_configuration():
    """Trials continuing a configuration (Hyperband) count once, with their best score."""
    trials = [
        densespace.TrialRecord(
            id=name, values={"u": u}, status="completed", score=score, seconds=1.0, epochs=1, message=None
        )
        for name, u, score in [("a", 1, 0.5), ("b", 2, 0.7), ("c", 1, 0.4), ("d", 3, 0.6)]
    ]
    assert [t.id for t in ranked(trials, "val_loss")] == ["c", "d", "b"]
    assert [t.id for t in ranked(trials, "val_accuracy")] == ["b", "d", "a"]


@pytest.mark.slow
def test_retraining_fewer_removes_the_extra_models(tmp_path):
    """Running again with a smaller retrain_top leaves no stale best-K files."""
    data = synthetic_data()
    densespace.tune(validate_spec(TINY), data=data, out=tmp_path, retrain_top=2, verbose=0)
    densespace.tune(validate_spec(TINY), data=data, out=tmp_path, retrain_top=1, verbose=0)
    assert sorted(p.name for p in tmp_path.glob("best-*")) == ["best-1.keras", "best-1.spec.json"]


@pytest.mark.slow
def test_search_and_retraining_leave_no_graph_registered(tmp_path):
    """Trials and retraining unregister the gradient functions that would keep their models alive."""
    from tensorflow.python.framework import ops

    def registered():
        return {name for name in ops._gradient_registry._registry if name.startswith("CustomGradient-")}

    before = registered()
    densespace.tune(validate_spec(TINY), data=synthetic_data(), out=tmp_path, retrain_top=1, verbose=0)
    assert registered() == before


@pytest.mark.parametrize(
    ("search", "trials", "lines"),
    [
        (
            {"tuner": "hyperband", "max_epochs": 3, "factor": 3},
            [
                ({"tuner/epochs": 1, "tuner/initial_epoch": 0}, "completed"),
                ({"tuner/epochs": 3, "tuner/initial_epoch": 1}, "failed"),
            ],
            [
                "[1/6] trial 0  val_loss=0.5000  best=0.5000  elapsed 0:40  left ~6:40",
                "[2/6] trial 1  failed (boom)  best=0.5000  elapsed 1:40  left ~4:26",
            ],
        ),
        (
            {"tuner": "random", "max_trials": 4},
            [({}, "failed"), ({}, "completed")],
            [
                "[1/4] trial 0  failed (boom)  elapsed 0:40  left ~2:00",
                "[2/4] trial 1  val_loss=0.5000  best=0.5000  elapsed 1:40  left ~1:40",
            ],
        ),
    ],
)
def test_progress_estimates_what_is_left_from_planned_epochs(capsys, monkeypatch, search, trials, lines):
    """The time left is the planned epochs not yet used up at the seconds per planned epoch so far."""
    spec = validate_spec(spec_dict(training={"epochs": 2}, search=search))
    clock = iter([40.0, 100.0])
    monkeypatch.setattr(progress_module, "time", SimpleNamespace(monotonic=lambda: next(clock)))
    progress = progress_module.Progress(spec, verbose=1, start=0.0, then=None, estimate=True)
    for trial_id, (values, status) in enumerate(trials):
        completed = status == "completed"
        progress(
            densespace.TrialRecord(
                id=str(trial_id),
                values=values,
                status=status,
                score=0.5 if completed else None,
                seconds=40.0,
                epochs=1 if completed else None,
                message=None if completed else "boom",
            )
        )
    assert capsys.readouterr().err.splitlines() == lines


def test_progress_goes_on_from_the_trials_an_earlier_run_finished(capsys, monkeypatch):
    """A resumed search numbers on, keeps the earlier best and estimates only the epochs still planned."""
    spec = validate_spec(spec_dict(training={"epochs": 2}, search={"tuner": "random", "max_trials": 4}))
    monkeypatch.setattr(progress_module, "time", SimpleNamespace(monotonic=lambda: 40.0))
    progress = progress_module.Progress(spec, verbose=1, start=0.0, then=None, estimate=True)
    progress.resume(
        [
            densespace.TrialRecord(
                id=str(i), values={}, status="completed", score=score, seconds=9.0, epochs=2, message=None
            )
            for i, score in enumerate([0.4, 0.3])
        ]
    )
    progress(
        densespace.TrialRecord(
            id="2", values={}, status="completed", score=0.5, seconds=40.0, epochs=2, message=None
        )
    )
    assert capsys.readouterr().err.splitlines() == [
        "[3/4] trial 2  val_loss=0.5000  best=0.3000  elapsed 0:40  left ~0:40"
    ]


@pytest.mark.slow
def test_ensemble_averages_the_best_retrained_models(finished):
    """ensemble=2 retrains the best two (retrain_top raised), writes ensemble.keras averaging their
    probabilities with its test metrics in results.json and the report, and a finished run hands it
    back untrained."""
    from densespace._keras.io import load_model

    result, data = finished
    images, labels = data.test
    members = [load_model(result.out / f"best-{rank}.keras").predict(images, verbose=0) for rank in (1, 2)]
    model = load_model(result.out / "ensemble.keras")
    assert np.allclose(model.predict(images, verbose=0), (members[0] + members[1]) / 2, atol=1e-6)
    record = json.loads((result.out / "results.json").read_text())["ensemble"]
    accuracy = float(np.mean(np.argmax(members[0] + members[1], axis=1) == labels))
    assert (record["members"], record["model"]) == ([1, 2], "ensemble.keras")
    assert record["test_metrics"]["accuracy"] == pytest.approx(accuracy)
    assert "ensemble.keras" in (result.out / "report.md").read_text()
    wide = summary(densespace.load_results(result.out), width=250)  # one row per model at this width
    line = next(line for line in wide.splitlines() if line.startswith("ensemble"))
    assert line.split()[:5] == ["ensemble", "ranks", "1,", "2", f"{accuracy:.4f}"]
    assert line.split()[-1] == "ensemble.keras"
    again = densespace.tune(validate_spec(TINY), data=data, out=result.out, ensemble=2, verbose=0)
    assert again.record == result.record and again.ensemble is not None
