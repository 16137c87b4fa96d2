"""Tasks: binary, multi-label and regression heads, their metrics and objectives, on tiny arrays."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from helpers import spec_dict

import densespace
from densespace import SearchWarning, SpecError, validate_spec

#: The confusion-matrix metrics recorded for classification and binary tasks.
CONFUSION = ("balanced_accuracy", "macro_f1")


def arrays(y_of, *, n=(160, 40, 40), features=5, seed=0):
    """Float features and labels from ``y_of(x)``, split three ways like a dataset."""
    rng = np.random.default_rng(seed)
    splits = []
    for size in n:
        x = rng.normal(size=(size, features)).astype(np.float32)
        splits.append((x, y_of(x)))
    return SimpleNamespace(train=splits[0], validation=splits[1], test=splits[2], source="arrays")


def tiny(task, **patch):
    """A two-trial search of one small hidden layer with standardized inputs."""
    base = {
        "task": task,
        "input": {"preprocessing": "standardize"},
        "hidden": {"units": {"values": [8, 16]}},
        "training": {"epochs": 2, "batch_size": 32},
        "search": {"tuner": "random", "max_trials": 2, "seed": 1},
    }
    return validate_spec(spec_dict(**{**base, **patch}))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("task", "y_of", "objective", "metrics", "units"),
    [
        (
            "binary",
            lambda x: (x[:, 0] > 0).astype(np.int64),
            "val_auc",
            {"loss", "accuracy", "auc", *CONFUSION},
            1,
        ),
        (
            "multilabel",
            lambda x: (x[:, :3] > 0).astype(np.float32),
            "val_auc",
            {"loss", "binary_accuracy", "auc"},
            3,
        ),
        ("regression", lambda x: 1000 + 50 * x[:, 0] - 20 * x[:, 1], "val_rmse", {"loss", "mae", "rmse"}, 1),
        (
            "classification",
            lambda x: np.digitize(x[:, 0], [-0.5, 0.5]),
            "val_accuracy",
            {"loss", "accuracy", *CONFUSION},
            3,
        ),
    ],
    ids=["binary", "multilabel", "regression", "classification"],
)
def test_each_task_tunes_with_its_head_metrics_and_objective(tmp_path, task, y_of, objective, metrics, units):
    """Each task trains its own head, records its metrics, and takes the units from the data."""
    spec = tiny(task, search={"tuner": "random", "max_trials": 2, "seed": 1, "objective": objective})
    result = densespace.tune(spec, data=arrays(y_of), out=tmp_path, verbose=0)
    assert result.record is not None and result.record.task == task
    assert set(result.test_metrics[0]) == metrics
    assert all(t.status == "completed" for t in result.trials)
    frozen = densespace.load_spec(tmp_path / "best-1.spec.json")
    assert frozen.output.units == units and frozen.input.shape == [5]
    best = max if objective in ("val_auc", "val_accuracy") else min
    assert result.trials and result.best[0].trial_id == best(result.trials, key=lambda t: t.score).id


@pytest.mark.slow
def test_regression_predicts_in_the_data_units(tmp_path):
    """Targets far from zero are standardized for training, and the saved model predicts in their units."""
    data = arrays(lambda x: 50_000 + 3_000 * x[:, 0], n=(400, 80, 80))
    spec = tiny("regression", training={"epochs": 30, "batch_size": 32}, search={"max_trials": 1, "seed": 2})
    result = densespace.tune(spec, data=data, out=tmp_path, verbose=0)
    model = densespace.load_model(tmp_path / "best-1.keras")
    x_test, y_test = data.test
    predicted = model.predict(x_test, verbose=0).reshape(-1)
    assert abs(predicted.mean() - y_test.mean()) < 1_000
    assert result.test_metrics[0]["rmse"] == pytest.approx(
        np.sqrt(np.mean((predicted - y_test) ** 2)), rel=1e-3
    )
    assert result.test_metrics[0]["rmse"] < 0.5 * y_test.std()


@pytest.mark.parametrize(
    ("task", "y_of", "problem"),
    [
        (
            "classification",
            lambda x: np.zeros(len(x), np.int64),
            "task: task 'classification' needs at least 2 classes; the data holds 1",
        ),
        (
            "binary",
            lambda x: np.arange(len(x)) % 3,
            "task: task 'binary' needs labels 0 and 1; the data holds 3 classes: use task 'classification'",
        ),
        (
            "classification",
            lambda x: x[:, 0],
            "task: task 'classification' needs class ids 0, 1, 2, ...; the labels hold",
        ),
        (
            "multilabel",
            lambda x: (x[:, 0] > 0).astype(np.int64),
            "task: task 'multilabel' needs a 0/1 matrix of labels (one column per label); the labels have shape [160]",
        ),
        (
            "regression",
            lambda x: np.where(np.arange(len(x)) == 7, np.nan, x[:, 0]),
            "task: task 'regression' needs finite numbers as targets",
        ),
    ],
    ids=["one-class", "binary-of-three", "float-class-ids", "multilabel-vector", "regression-nan"],
)
def test_labels_that_do_not_suit_the_task_are_refused_before_training(tmp_path, task, y_of, problem):
    """Labels the task cannot learn from are one located line, before anything is written."""
    data = arrays(y_of)
    with pytest.raises(SpecError) as info:
        densespace.tune(tiny(task), data=data, out=tmp_path / "out", verbose=0)
    assert str(info.value).startswith(f"spec vs data: {problem}")
    assert not (tmp_path / "out").exists()


def test_units_given_and_data_disagreeing_name_both(tmp_path):
    """A regression spec of 2 outputs on 1 target says both numbers."""
    spec = tiny("regression", output={"units": 2})
    with pytest.raises(SpecError) as info:
        densespace.tune(spec, data=arrays(lambda x: x[:, 0]), out=tmp_path, verbose=0)
    assert str(info.value) == "spec vs data: output.units: 2 units for the data's 1 targets"


@pytest.mark.slow
def test_rescale_of_data_that_is_not_uint8_warns(tmp_path):
    """Dividing float features by 255 is almost surely a mistake, so the search warns."""
    spec = tiny("binary", input={"preprocessing": "rescale"}, search={"max_trials": 1})
    with pytest.warns(SearchWarning, match=r"^input.preprocessing is 'rescale' \(divide by 255"):
        densespace.tune(spec, data=arrays(lambda x: (x[:, 0] > 0).astype(np.int64)), out=tmp_path, verbose=0)


@pytest.mark.slow
def test_class_ids_stored_as_floats_train_with_label_smoothing(tmp_path):
    """Whole-number class ids in a float array are class ids, also for the one-hot labels of smoothing."""
    spec = tiny("classification", training={"epochs": 1, "batch_size": 32, "label_smoothing": 0.1})
    data = arrays(lambda x: np.digitize(x[:, 0], [-0.5, 0.5]).astype(np.float32))
    result = densespace.tune(spec, data=data, out=tmp_path, verbose=0)
    assert all(t.status == "completed" for t in result.trials)


@pytest.mark.slow
def test_a_failed_trial_prints_no_traceback(tmp_path, capfd, monkeypatch):
    """keras-tuner's traceback of a failed trial stays hidden unless verbose is 2."""
    from densespace._keras.hypermodel import DenseHyperModel

    def broken(*args, **kwargs):
        raise ValueError("boom")

    monkeypatch.setattr(DenseHyperModel, "fit", broken)
    spec = tiny("classification", search={"max_trials": 1, "seed": 1})
    with pytest.raises(densespace.TuningError, match="boom"):
        densespace.tune(spec, data=arrays(lambda x: np.arange(len(x)) % 3), out=tmp_path, verbose=1)
    err = capfd.readouterr().err
    assert "failed (ValueError: boom)" in err and "Traceback" not in err


def test_whole_number_classes_are_read_as_numbers_by_a_regression():
    """A target of whole numbers a loader took for classes is the numbers they name under a regression task."""
    from densespace._run.fit import fit_to_data

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3)).astype(np.float32)
    cost = (rng.integers(0, 6, size=120) * 100).astype(np.int64)
    data = densespace.datasets.from_arrays(
        x, np.searchsorted(np.unique(cost), cost), class_names=["0", "100", "200", "300", "400", "500"]
    )
    spec, read = fit_to_data(tiny("regression"), data)
    assert read.class_names is None and spec.output.units == 1
    assert read.train[1].dtype == np.float32
    assert sorted(set(read.train[1].tolist())) == [0.0, 100.0, 200.0, 300.0, 400.0, 500.0]


def test_text_classes_under_a_regression_name_both():
    """A regression spec on text classes is one line naming the task and the classes."""
    x = np.zeros((40, 2), np.float32)
    data = densespace.datasets.from_arrays(
        x, np.arange(40) % 4, class_names=["Adelie", "Chinstrap", "Gentoo", "x"]
    )
    with pytest.raises(SpecError) as info:
        densespace.tune(tiny("regression"), data=data, verbose=0)
    assert str(info.value) == (
        "spec vs data: task: task 'regression' needs numbers to predict; the data's labels are 4 classes "
        "('Adelie', 'Chinstrap', 'Gentoo', ...): use task 'classification'"
    )


def test_float_targets_under_a_classification_name_both(tmp_path):
    """A classification spec on float targets says they are numbers to predict and names the task to use."""
    data = arrays(lambda x: x[:, 0] + 0.25)
    with pytest.raises(SpecError) as info:
        densespace.tune(tiny("classification"), data=data, out=tmp_path, verbose=0)
    assert str(info.value).endswith(", numbers to predict: use task 'regression'")
