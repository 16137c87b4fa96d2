"""Small and imbalanced data: class weights, balanced accuracy and macro F1, cross-validated trials."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from helpers import spec_dict

from densespace import SpecError, validate_spec
from densespace._run.fit import fit_to_data, suggest_folds
from densespace._weights import balanced, class_weights


def blobs(n, *, seed, minority=10, classes=2):
    """Two features; one example in ``minority`` belongs to a class above 0, shifted by its class."""
    rng = np.random.default_rng(seed)
    rows = np.arange(n)
    y = np.where(rows % minority == 0, 1 + (rows // minority) % (classes - 1), 0).astype(np.int64)
    return rng.normal(size=(n, 2)).astype(np.float32) + y[:, None], y


def imbalanced(*, n=(200, 60, 60), classes=2, **extra):
    """Train, validation and test splits of ``blobs``, 90/10 between class 0 and the others."""
    splits = [blobs(size, seed=seed, classes=classes) for seed, size in enumerate(n)]
    return SimpleNamespace(train=splits[0], validation=splits[1], test=splits[2], source="blobs", **extra)


def spec(task="classification", **training):
    """A one-trial search of 4 units on standardized inputs, with ``training`` settings."""
    return validate_spec(
        spec_dict(
            task=task,
            input={"preprocessing": "standardize"},
            hidden={"units": 4},
            training={"epochs": 2, "batch_size": 32, **training},
            search={"max_trials": 1, "seed": 1},
        )
    )


@pytest.mark.parametrize(
    "labels",
    [[0, 0, 0, 1], [0, 1, 2, 2, 2, 2, 1], [3, 3, 1, 1, 1, 0]],
    ids=["two", "three", "four"],
)
def test_balanced_weights_are_scikit_learns(labels):
    """'balanced' gives n_samples / (n_classes * count) exactly as scikit-learn computes it."""
    from sklearn.utils.class_weight import compute_class_weight

    y = np.array(labels)
    expected = compute_class_weight("balanced", classes=np.unique(y), y=y)
    weights = balanced(y, classes=int(y.max()) + 1)
    assert [weights[c] for c in np.unique(y)] == pytest.approx(expected.tolist(), abs=1e-12)


def test_a_class_absent_from_training_weighs_one():
    """A class the training split does not hold weighs 1; the others share the balanced formula."""
    assert balanced(np.array([0, 0, 2]), classes=4) == {0: 0.75, 1: 1.0, 2: 1.5, 3: 1.0}


def test_a_mapping_keys_classes_by_name_or_id_and_fills_in_ones():
    """Names and ids select classes; a class left out weighs 1."""
    weights = class_weights({"owl": 3.0, "0": 0.5}, np.zeros(3), classes=3, class_names=["cat", "dog", "owl"])
    assert weights == {0: 0.5, 1: 1.0, 2: 3.0}


@pytest.mark.parametrize(
    ("task", "class_weight", "problem"),
    [
        (
            "regression",
            "balanced",
            "training.class_weight: applies to tasks 'classification' and 'binary' only (this spec's task "
            "is 'regression')",
        ),
        ("classification", "even", 'training.class_weight: unknown value "even"; expected one of: balanced'),
        ("classification", {"1": 0}, "training.class_weight.1: must be > 0.0 (received 0)"),
        ("classification", {"1": -2.0}, "training.class_weight.1: must be > 0.0 (received -2.0)"),
        ("binary", {}, "training.class_weight: must not be empty"),
    ],
    ids=["regression", "unknown-name", "zero", "negative", "empty"],
)
def test_class_weights_that_cannot_apply_are_refused(task, class_weight, problem):
    """A class weight outside classification and binary tasks, or not positive, is a located error."""
    with pytest.raises(SpecError) as caught:
        spec(task, class_weight=class_weight)
    assert str(caught.value) == problem


def test_integer_class_ids_are_keys_like_json_ones():
    """From Python, integer class ids are taken as the decimal keys a JSON spec writes."""
    assert spec(class_weight={0: 1.0, 1: 9.0}).training.class_weight == {"0": 1.0, "1": 9.0}


@pytest.mark.parametrize(
    ("class_weight", "names", "problem"),
    [
        ({"2": 4.0}, None, 'training.class_weight: "2" is not a class of the data (class ids 0..1)'),
        (
            {"owl": 4.0},
            ["cat", "dog"],
            'training.class_weight: "owl" is not a class of the data (class ids 0..1 or class names '
            '"cat", "dog")',
        ),
        ({"dog": 4.0, "1": 2.0}, ["cat", "dog"], 'training.class_weight: "1" names class 1 a second time'),
    ],
    ids=["id", "name", "twice"],
)
def test_class_weight_keys_must_be_classes_of_the_data(class_weight, names, problem):
    """Once the data is known, each key must name one of its classes, once."""
    with pytest.raises(SpecError) as caught:
        fit_to_data(spec(class_weight=class_weight), imbalanced(class_names=names))
    assert str(caught.value) == f"spec vs data: {problem}"


@pytest.mark.parametrize(
    ("task", "class_weight", "names", "expected"),
    [
        ("classification", "balanced", None, {0: 200 / (2 * 180), 1: 200 / (2 * 20)}),
        ("binary", {"yes": 4.0}, ["no", "yes"], {0: 1.0, 1: 4.0}),
    ],
    ids=["balanced", "by-name"],
)
def test_class_weights_reach_every_fit(task, class_weight, names, expected):
    """The hypermodel computes the weights on the training labels and passes them to Keras' fit."""
    import keras_tuner as kt

    from densespace._keras.data import Batches
    from densespace._keras.hypermodel import build_hypermodel

    data = imbalanced(class_names=names)
    fitted, _ = fit_to_data(spec(task, class_weight=class_weight), data)
    hypermodel = build_hypermodel(
        fitted, train_images=data.train[0], train_targets=data.train[1], class_names=names
    )
    assert hypermodel.class_weight == pytest.approx(expected)
    seen = {}
    model = SimpleNamespace(fit=lambda x, y=None, **kwargs: seen.update(kwargs))
    hp = kt.HyperParameters()
    hypermodel.declare(hp)
    hypermodel.fit(hp, model, Batches(*data.train), validation_data=Batches(*data.validation), epochs=1)
    assert seen["class_weight"] == pytest.approx(expected)


#: A fixed set of three-class predictions: labels, and the class each row's probabilities favour.
TRUTH = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 0, 1, 2])
GUESS = np.array([0, 0, 1, 2, 1, 0, 2, 2, 0, 0, 1, 1])


def probabilities(guess, classes):
    """Softmax-like rows whose argmax is ``guess``."""
    rows = np.full((len(guess), classes), 0.1, dtype=np.float32)
    rows[np.arange(len(guess)), guess] = 0.8
    return rows


@pytest.mark.parametrize(
    ("labels", "predictions", "truth", "guess"),
    [
        ("ids", "softmax", TRUTH, GUESS),
        ("one-hot", "softmax", TRUTH, GUESS),
        ("ids", "sigmoid", TRUTH % 2, GUESS % 2),
        ("ids", "softmax", np.array([0, 0, 1, 1]), np.array([0, 2, 1, 1])),
    ],
    ids=["classification", "label-smoothing", "binary", "predicted-only-class"],
)
@pytest.mark.parametrize("batch", [3, 5, 12])
@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_balanced_accuracy_and_macro_f1_are_scikit_learns(labels, predictions, truth, guess, batch):
    """Accumulated batch by batch, both metrics equal scikit-learn's scores of the whole set."""
    import keras
    from sklearn.metrics import balanced_accuracy_score, f1_score

    from densespace._keras.metrics import confusion_scores

    classes = 2 if predictions == "sigmoid" else 3
    y_pred = (
        (guess.reshape(-1, 1) * 0.6 + 0.2).astype(np.float32) if classes == 2 else probabilities(guess, 3)
    )
    y_true = np.eye(classes, dtype=np.float32)[truth] if labels == "one-hot" else truth
    metrics = confusion_scores(("accuracy", "balanced_accuracy", "macro_f1"), classes)
    for metric in metrics:
        for start in range(0, len(truth), batch):
            part = slice(start, start + batch)
            metric.update_state(
                keras.ops.convert_to_tensor(y_true[part]), keras.ops.convert_to_tensor(y_pred[part])
            )
    expected = {
        "balanced_accuracy": balanced_accuracy_score(truth, guess),
        "macro_f1": f1_score(truth, guess, average="macro"),
    }
    assert {m.name: float(m.result()) for m in metrics} == pytest.approx(expected, abs=1e-6)
    metrics[0].reset_state()
    assert float(metrics[0].result()) == 0.0


@pytest.mark.parametrize(
    ("task", "objective"),
    [
        ("classification", "val_balanced_accuracy"),
        ("classification", "val_macro_f1"),
        ("binary", "val_balanced_accuracy"),
        ("binary", "val_macro_f1"),
    ],
)
def test_new_objectives_are_recorded_and_maximized(task, objective):
    """Classification and binary searches may optimize the new objectives, upwards."""
    from densespace._tasks import direction

    checked = validate_spec(spec_dict(task=task, search={"objective": objective}))
    assert checked.search.objective == objective and direction(objective) == "max"


def test_the_new_objectives_are_not_regressions():
    """A regression search refuses a classification objective, listing its own."""
    with pytest.raises(SpecError) as caught:
        validate_spec(spec_dict(task="regression", search={"objective": "val_macro_f1"}))
    assert str(caught.value) == (
        "search.objective: \"val_macro_f1\" is not recorded for task 'regression' (did you mean 'val_mae'?); "
        "expected one of: loss, mae, rmse, val_loss, val_mae, val_rmse"
    )


@pytest.mark.parametrize(
    ("labels", "folds", "stratified", "minority"),
    [
        (np.r_[np.zeros(90), np.ones(10)].astype(int), 5, True, [2, 2, 2, 2, 2]),
        (np.r_[np.zeros(17), np.ones(4), np.full(3, 2)].astype(int), 4, True, [1, 1, 1, 1]),
        (np.arange(11, dtype=float), 3, False, None),
    ],
    ids=["90-10", "three-classes", "regression"],
)
def test_folds_cover_every_row_once_with_each_class_shared_out(labels, folds, stratified, minority):
    """Every row is in one fold, the folds differ by at most one row, and each holds its share of a class."""
    from densespace._folds import fold_rows

    rows = fold_rows(labels, folds, stratified=stratified, seed=7)
    assert sorted(np.concatenate(rows).tolist()) == list(range(len(labels)))
    assert max(map(len, rows)) - min(map(len, rows)) <= 1
    if minority is not None:
        assert [int((labels[r] == 1).sum()) for r in rows] == minority
    assert [r.tolist() for r in rows] == [
        r.tolist() for r in fold_rows(labels, folds, stratified=stratified, seed=7)
    ]


@pytest.mark.parametrize(
    ("search", "problem"),
    [
        ({"cross_validation": 1}, "search.cross_validation: must be >= 2 (received 1)"),
        ({"cross_validation": 21}, "search.cross_validation: must be <= 20 (received 21)"),
        (
            {"tuner": "hyperband", "cross_validation": 3},
            "search.cross_validation: Hyperband continues a trial from one model's weights, which trained on "
            "the other folds' validation rows: remove search.cross_validation, or use the random, bayesian, "
            "grid or tpe tuner",
        ),
    ],
    ids=["one", "too-many", "hyperband"],
)
def test_cross_validation_out_of_bounds_is_refused(search, problem):
    """K is 2..20, and Hyperband, which continues trials from saved weights, refuses folds."""
    with pytest.raises(SpecError) as caught:
        validate_spec(spec_dict(search=search))
    assert str(caught.value) == problem


@pytest.mark.parametrize("tuner", ["random", "bayesian", "grid", "tpe"])
def test_each_fold_counts_in_the_planned_budget(tuner):
    """A trial of K folds plans K models' epochs, with every tuner that takes folds."""
    from densespace import planned_budget

    plain = validate_spec(spec_dict(training={"epochs": 3}, search={"tuner": tuner, "max_trials": 4}))
    folded = validate_spec(
        spec_dict(training={"epochs": 3}, search={"tuner": tuner, "max_trials": 4, "cross_validation": 5})
    )
    assert planned_budget(folded) == (planned_budget(plain)[0], 5 * planned_budget(plain)[1])


def test_a_small_validation_split_suggests_cross_validation():
    """Fewer than 100 validation rows without folds is warned once, naming the option; with folds it is not."""
    import warnings

    from densespace import SearchWarning

    with pytest.warns(SearchWarning) as caught:
        suggest_folds(spec(), imbalanced())
    assert [str(w.message) for w in caught] == [
        "the validation split holds 60 rows, so trial scores are noisy; search.cross_validation: K (such as 5) "
        "scores each trial by the mean over K folds of the train and validation rows"
    ]
    folded = validate_spec({**spec().model_dump(), "search": {"cross_validation": 3}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        suggest_folds(folded, imbalanced())


def test_folds_need_a_row_each():
    """More folds than rows of train and validation is refused once the data is known."""
    with pytest.raises(SpecError) as caught:
        fit_to_data(validate_spec(spec_dict(search={"cross_validation": 20})), imbalanced(n=(12, 4, 4)))
    assert str(caught.value) == (
        "spec vs data: search.cross_validation: 20 folds need at least 20 rows of the train and validation "
        "splits together; the data holds 16"
    )


def test_fold_scores_are_each_folds_best_epoch_averaged_over_its_executions():
    """Execution e trains fold e % K; a fold's score is its executions' best-epoch objective, averaged."""
    import keras_tuner as kt

    from densespace._keras.tuners import _fold_scores

    histories = [SimpleNamespace(history={"val_loss": v}) for v in ([3, 1, 2], [5, 4], [2, 2], [1, 0.5], [9])]
    scores = _fold_scores(histories, 3, kt.Objective("val_loss", "min"))
    assert scores == {"fold/1": (1 + 0.5) / 2, "fold/2": (4 + 9) / 2, "fold/3": 2.0}


@pytest.mark.parametrize(
    ("folds", "kept"), [([0.5, 0.75], [0.5, 0.75]), ([0.5, float("nan")], None), (None, None)]
)
def test_trial_records_round_trip_their_fold_scores(folds, kept):
    """A record keeps finite fold scores through JSON; one that is not finite drops the list."""
    from densespace._results import TrialRecord

    record = TrialRecord(
        id="0",
        values={},
        status="completed",
        score=0.6,
        seconds=1.0,
        epochs=2,
        message=None,
        fold_scores=folds,
    )
    assert record.fold_scores == kept
    assert TrialRecord.model_validate_json(record.model_dump_json()) == record


@pytest.mark.slow
def test_a_weighted_cross_validated_search_records_its_scores_and_saves_a_plain_keras_model(tmp_path):
    """A balanced-weight search of 3 folds optimizes val_balanced_accuracy, records the spec's class_weight
    and each fold's score, tests the new metrics as scikit-learn scores them, and saves a model plain Keras
    loads."""
    import json
    import subprocess
    import sys
    import zipfile

    from sklearn.metrics import balanced_accuracy_score, f1_score

    import densespace

    data = imbalanced(classes=3)
    weighted = validate_spec(
        {
            **spec(class_weight="balanced").model_dump(),
            "search": {"max_trials": 1, "objective": "val_balanced_accuracy"},
        }
    )
    result = densespace.tune(weighted, data=data, out=tmp_path, verbose=0)
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["spec"]["training"]["class_weight"] == "balanced"
    assert {"val_balanced_accuracy", "val_macro_f1"} <= set(result.trials[0].history)
    assert (
        result.trials[0].score
        == result.trials[0].history["val_balanced_accuracy"][result.trials[0].best_epoch - 1]
    )
    guess = result.best[0].model.predict(data.test[0], verbose=0).argmax(axis=1)
    assert result.test_metrics[0]["balanced_accuracy"] == pytest.approx(
        balanced_accuracy_score(data.test[1], guess), abs=1e-6
    )
    assert result.test_metrics[0]["macro_f1"] == pytest.approx(
        f1_score(data.test[1], guess, average="macro"), abs=1e-6
    )
    load = (
        "import sys; sys.modules['densespace'] = None; import keras; "
        f"m = keras.saving.load_model({str(tmp_path / 'best-1.keras')!r}); print(sorted(m.get_compile_config()))"
    )
    loaded = subprocess.run([sys.executable, "-c", load], capture_output=True, text=True, check=False)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    with zipfile.ZipFile(tmp_path / "best-1.keras") as saved:
        assert b"ConfusionScore" not in saved.read("config.json")


def test_keras_weighs_one_hot_labels_by_their_class():
    """With label smoothing the pipeline's labels are one-hot; Keras' class weighting still reads their class."""
    from keras.src.trainers.data_adapters.tf_dataset_adapter import make_class_weight_map_fn

    from densespace._keras.data import Batches

    x, y = blobs(40, seed=0, classes=3)
    pipeline = Batches(x, y).pipeline(40, shuffle=False, classes=3)
    weighted = pipeline.map(make_class_weight_map_fn({0: 0.5, 1: 2.0, 2: 3.0}))
    _, labels, weights = next(iter(weighted))
    assert labels.shape == (40, 3)
    assert weights.numpy().tolist() == [{0: 0.5, 1: 2.0, 2: 3.0}[int(c)] for c in y]


@pytest.mark.slow
def test_the_metrics_compile_with_xla_and_score_the_whole_validation_split():
    """Under XLA (Keras' default on a GPU), training with weights records validation scores equal to scikit-learn's."""
    import keras
    from sklearn.metrics import balanced_accuracy_score, f1_score

    from densespace._keras.metrics import confusion_scores

    x, y = blobs(120, seed=3, classes=3)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="softmax")])
    metrics = confusion_scores(("balanced_accuracy", "macro_f1"), 3)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=metrics, jit_compile=True)
    history = model.fit(
        x,
        y,
        epochs=1,
        batch_size=16,
        validation_data=(x, y),
        class_weight={0: 1.0, 1: 4.0, 2: 4.0},
        verbose=0,
    )
    guess = model.predict(x, verbose=0).argmax(axis=1)
    assert history.history["val_balanced_accuracy"][0] == pytest.approx(
        balanced_accuracy_score(y, guess), abs=1e-6
    )
    assert history.history["val_macro_f1"][0] == pytest.approx(f1_score(y, guess, average="macro"), abs=1e-6)


def test_weighted_examples_count_by_their_weight():
    """With sample weights (Keras passes class weights to training metrics), both scores are scikit-learn's weighted ones."""
    import keras
    from sklearn.metrics import balanced_accuracy_score, f1_score

    from densespace._keras.metrics import confusion_scores

    weights = np.linspace(0.5, 3.0, len(TRUTH)).astype(np.float32)
    metrics = confusion_scores(("balanced_accuracy", "macro_f1"), 3)
    for metric in metrics:
        metric.update_state(
            keras.ops.convert_to_tensor(TRUTH), keras.ops.convert_to_tensor(probabilities(GUESS, 3)), weights
        )
    expected = {
        "balanced_accuracy": balanced_accuracy_score(TRUTH, GUESS, sample_weight=weights),
        "macro_f1": f1_score(TRUTH, GUESS, average="macro", sample_weight=weights),
    }
    assert {m.name: float(m.result()) for m in metrics} == pytest.approx(expected, abs=1e-6)


def test_each_execution_trains_its_fold_and_only_first_folds_are_pruned(monkeypatch):
    """Execution e trains and validates on fold e % K in place of the given splits; pruning watches fold 1 only."""
    import keras_tuner as kt

    from densespace._keras.tuners import TUNER_CLASSES

    calls = []
    monkeypatch.setattr(
        kt.Tuner, "_build_and_fit_model", lambda self, trial, *args, **kwargs: calls.append((args, kwargs))
    )
    tuner = object.__new__(TUNER_CLASSES["random"])
    folds = [(f"train-{i}", f"validation-{i}") for i in range(3)]
    pruning = SimpleNamespace(pruned_at=None)
    tuner.__dict__.update(
        _folds=folds,
        _execution=0,
        _pruned=None,
        _on_epoch=None,
        _board=None,
        _pruning=lambda trial_id: pruning,
    )
    for _ in range(6):  # two executions per fold
        tuner._build_and_fit_model(
            SimpleNamespace(trial_id="0"), "train", validation_data="validation", callbacks=[]
        )
    assert [(args[0], kwargs["validation_data"]) for args, kwargs in calls] == folds * 2
    assert [pruning in kwargs["callbacks"] for _, kwargs in calls] == [True, False, False] * 2
