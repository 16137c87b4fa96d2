"""Predictions on new rows: Results.predict, TuneResult.predict and densespace predict, on tiny runs."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from helpers import spec_dict

import densespace
from densespace import DatasetError, OptionError, RunFolderError
from densespace._cli import main
from densespace._predict import Rows, _inputs, labels, probabilities, read_rows, table
from densespace._run.options import SearchOptions, TuneOptions
from densespace.datasets import from_arrays, load_csv, model_inputs

CLASSES = ("setosa", "versicolor", "virginica")


def flowers(n: int, *, seed: int = 0) -> pd.DataFrame:
    """A table of three features whose first decides the class, in text."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).round(3)
    label = np.digitize(x[:, 0], [-0.4, 0.4])
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "species": np.array(CLASSES)[label]})


def tiny(task: str, **patch: object) -> densespace.Spec:
    """A one-trial, two-epoch search of one small layer on standardized inputs."""
    base = {
        "task": task,
        "input": {"preprocessing": "standardize"},
        "hidden": {"units": 8},
        "training": {"epochs": 2, "batch_size": 32},
        "search": {"tuner": "random", "max_trials": 1, "seed": 1},
    }
    return densespace.validate_spec(spec_dict(**{**base, **patch}))


@pytest.fixture(scope="module")
def flower_run(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A finished classification run on a CSV file of text labels, and new rows with an ID column."""
    folder = tmp_path_factory.mktemp("flowers")
    flowers(150).to_csv(folder / "train.csv", index=False)
    data = load_csv(folder / "train.csv", target="species")
    result = densespace.tune(tiny("classification"), data=data, out=folder / "run", verbose=0)
    new = flowers(7, seed=5)
    new.insert(0, "id", [f"r{i}" for i in range(7)])
    new = new[["id", "c", "a", "b", "species"]]  # the features in another order
    new.to_csv(folder / "new.csv", index=False)
    return SimpleNamespace(folder=folder, run=folder / "run", result=result, new=new, data=data)


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A finished regression run on arrays whose targets lie far from zero."""
    folder = tmp_path_factory.mktemp("prices")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    data = from_arrays(x, (50_000 + 3_000 * x[:, 0]).astype(np.float32))
    result = densespace.tune(tiny("regression"), data=data, out=folder / "run", verbose=0)
    np.savez(folder / "new.npz", x=x[:9])
    return SimpleNamespace(folder=folder, run=folder / "run", result=result, x=x[:9], data=data)


def _model_outputs(run: Path, x: Any) -> np.ndarray:
    """best-1.keras's outputs on examples, or on a table's raw rows through model_inputs and tf.data."""
    import tensorflow as tf

    model = densespace.load_model(run / "best-1.keras")
    if isinstance(x, pd.DataFrame):
        columns = densespace.load_spec(run / "best-1.spec.json").input.columns
        x = tf.data.Dataset.from_tensor_slices(model_inputs(x, columns=columns)).batch(64)
    return np.asarray(model.predict(x, verbose=0))


@pytest.mark.slow
def test_results_predict_names_the_classes_in_the_rows_order(flower_run):
    """A DataFrame with the features in any order, an ID and the target gets each row's class name."""
    results = densespace.load_results(flower_run.run)
    predicted = results.predict(flower_run.new)
    expected = np.array(CLASSES)[_model_outputs(flower_run.run, flower_run.new).argmax(axis=1)]
    assert predicted.tolist() == expected.tolist()
    assert flower_run.result.predict(flower_run.new).tolist() == expected.tolist()


@pytest.mark.slow
def test_results_predict_proba_gives_each_class_probability(flower_run):
    """proba=True maps each class name to its probabilities, which sum to 1 per row."""
    proba = densespace.load_results(flower_run.run).predict(flower_run.new, proba=True)
    assert list(proba) == list(CLASSES)
    np.testing.assert_allclose(sum(proba.values()), np.ones(7), atol=1e-5)


@pytest.mark.slow
def test_cli_predict_prints_csv_with_the_id_and_target_carried(flower_run, capsys):
    """densespace predict prints the columns that are not features, then the prediction, per row."""
    assert main(["predict", str(flower_run.run), str(flower_run.folder / "new.csv")]) == 0
    lines = capsys.readouterr().out.splitlines()
    expected = densespace.load_results(flower_run.run).predict(flower_run.new)
    assert lines[0] == "id,species,prediction"
    assert lines[1:] == [
        f"r{i},{species},{name}"
        for i, (species, name) in enumerate(zip(flower_run.new.species, expected, strict=True))
    ]


@pytest.mark.slow
def test_cli_predict_writes_proba_and_evaluates(flower_run, capsys):
    """--out writes the file, --proba adds proba_<class> columns, --evaluate prints the metrics."""
    out = flower_run.folder / "predictions.csv"
    argv = ["predict", str(flower_run.run), str(flower_run.folder / "new.csv"), "--out", str(out)]
    assert main([*argv, "--proba", "--evaluate", "--target", "species"]) == 0
    captured = capsys.readouterr()
    table = pd.read_csv(out)
    assert list(table.columns) == ["id", "species", "prediction", *(f"proba_{c}" for c in CLASSES)]
    assert captured.out == ""
    assert captured.err.startswith("evaluated on 7 rows: loss ") and ", accuracy " in captured.err
    assert main(argv) == 2  # never over an existing file unasked
    assert capsys.readouterr().err == (
        f"densespace: error: --out {out} exists, and densespace replaces no file unasked: choose another "
        "--out, or pass --overwrite to replace it\n"
    )
    assert main([*argv, "--overwrite"]) == 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "2"], "--model must be the rank of a retrained model, 1 to 1 (received 2)"),
        (["--evaluate"], "--evaluate needs --target, the column of the labels"),
        (["--out", "p.txt"], '--out must name a .csv or .npz file (received "p.txt")'),
    ],
    ids=["model", "evaluate", "suffix"],
)
def test_cli_predict_options_are_checked(flower_run, capsys, extra, message):
    """Bad options are one line and exit 2, before any model is loaded."""
    status = main(["predict", str(flower_run.run), str(flower_run.folder / "new.csv"), *extra])
    assert (status, capsys.readouterr().err) == (2, f"densespace: error: {message}\n")


@pytest.mark.slow
def test_cli_predict_refuses_rows_without_a_feature_or_with_text(flower_run, tmp_path, capsys):
    """A missing feature column, and a cell that is not a number, are named."""
    flower_run.new.drop(columns="b").to_csv(tmp_path / "no-b.csv", index=False)
    assert main(["predict", str(flower_run.run), str(tmp_path / "no-b.csv")]) == 2
    assert capsys.readouterr().err == (
        "densespace: error: no column 'b'; the model takes the columns 'a', 'b', 'c'\n"
    )
    flower_run.new.assign(c=["1", "x", "2", "3", "4", "5", "6"]).to_csv(tmp_path / "text.csv", index=False)
    assert main(["predict", str(flower_run.run), str(tmp_path / "text.csv")]) == 2
    assert capsys.readouterr().err == (
        f"densespace: error: {tmp_path / 'text.csv'}: column 'c', line 3: 'x' is not a number; set its type to "
        "'categorical' in input.columns, or mend the value\n"
    )


@pytest.mark.slow
def test_cli_predict_refuses_an_out_in_the_results_folder(flower_run, capsys):
    """The results folder's files are densespace's: predictions go elsewhere."""
    out = flower_run.run / "p.csv"
    assert main(["predict", str(flower_run.run), str(flower_run.folder / "new.csv"), "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"densespace: error: --out {out} lies in the results folder {flower_run.run}, whose files "
        "densespace keeps: write the predictions elsewhere\n"
    )
    assert not out.exists()


@pytest.mark.slow
def test_regression_predicts_the_targets_in_their_units(regression_run):
    """A regression's predictions are the model's outputs, in the targets' units (de-standardized in the model)."""
    results = densespace.load_results(regression_run.run)
    predicted = results.predict(regression_run.x)
    np.testing.assert_allclose(
        predicted, _model_outputs(regression_run.run, regression_run.x)[:, 0], rtol=1e-6
    )
    assert predicted.shape == (9,) and 30_000 < predicted.mean() < 70_000
    with pytest.raises(
        OptionError, match=r"^proba applies to classification, binary and multilabel runs, not regression$"
    ):
        results.predict(regression_run.x, proba=True)


@pytest.mark.slow
def test_cli_predict_reads_and_writes_npz(regression_run, capsys):
    """A .npz file's x gets a .npz file of predictions; its y, with --evaluate, the metrics."""
    out = regression_run.folder / "p.npz"
    new = regression_run.folder / "new.npz"
    assert main(["predict", str(regression_run.run), str(new), "--out", str(out)]) == 0
    with np.load(out) as saved:
        assert saved.files == ["predictions"]
        np.testing.assert_allclose(
            saved["predictions"], densespace.load_results(regression_run.run).predict(regression_run.x)
        )
    np.savez(regression_run.folder / "labelled.npz", x=regression_run.x, y=np.full(9, 50_000.0))
    assert (
        main(["predict", str(regression_run.run), str(regression_run.folder / "labelled.npz"), "--evaluate"])
        == 0
    )
    assert capsys.readouterr().err.startswith("evaluated on 9 rows: loss ")


@pytest.mark.parametrize(
    ("task", "raw", "proba", "expected"),
    [
        ("classification", [[0.1, 0.7, 0.2], [0.8, 0.1, 0.1]], False, ["b", "a"]),
        ("binary", [[0.2], [0.9]], False, ["no", "yes"]),
        ("binary", [[0.25]], True, {"no": [0.75], "yes": [0.25]}),
        ("multilabel", [[0.2, 0.6], [0.9, 0.4]], False, [[0, 1], [1, 0]]),
        ("regression", [[3.5], [-1.0]], False, [3.5, -1.0]),
    ],
    ids=["classification", "binary", "binary-proba", "multilabel", "regression"],
)
def test_outputs_are_named_by_task(task, raw, proba, expected):
    """Each task's outputs become class names, 0/1 labels, probabilities by class, or targets."""
    names = {"classification": ("a", "b", "c"), "binary": ("no", "yes")}.get(task)
    units = len(raw[0])
    results = SimpleNamespace(
        task=task,
        data=SimpleNamespace(class_names=names, target_names=None),
        spec={"output": {"units": units}},
    )
    outputs = np.array(raw, dtype=np.float32)
    got = probabilities(results, outputs) if proba else labels(results, outputs)
    if proba:
        assert {k: v.tolist() for k, v in got.items()} == expected
    else:
        assert got.tolist() == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            np.zeros((2, 3)),
            "the rows have shape [2, 3]; the model takes examples of shape [2] (an array of shape [2, 2])",
        ),
        (
            {"a": [1.0, np.nan], "b": [1, 2]},
            "column 'a', row 2: a value is missing, NaN, infinite or beyond float32's range; the model needs a finite number in every input",
        ),
        ({"a": [1.0, 2.0]}, "no column 'b'; the model reads the columns a, b"),
        ({"a": ["1", ""], "b": [1, 2]}, "column 'a', row 2: '' is not a number"),
    ],
    ids=["shape", "nan", "missing", "empty"],
)
def test_rows_the_model_cannot_take_are_refused(data, message):
    """Rows of another shape, a missing feature, a NaN or an empty cell are named."""
    results = SimpleNamespace(spec={"input": {"shape": [2]}}, data=SimpleNamespace(feature_names=("a", "b")))
    with pytest.raises(DatasetError) as raised:
        _inputs(results, data)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("rows.txt", "a\n1\n", "expected a .csv or a .npz file"),
        ("rows.csv", "", "the file is empty; expected a header row naming the columns, then the rows"),
        ("rows.csv", "a,b\n1\n", "row 1 has 1 fields but the header names 2 columns"),
        ("rows.csv", "a,a\n1,2\n", "line 1 must name every column once (received a, a)"),
    ],
    ids=["suffix", "empty", "short-row", "repeated"],
)
def test_unreadable_rows_are_refused(tmp_path, name, content, message):
    """A file of another kind or a malformed CSV file is one error naming the file."""
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DatasetError) as raised:
        read_rows(path)
    assert str(raised.value) == f"{path}: {message}"


@pytest.mark.slow
def test_results_made_in_memory_cannot_predict(flower_run):
    """Results not read from a folder have no models to predict with, and say how to get them."""
    copy = densespace.Results.model_validate(densespace.load_results(flower_run.run).model_dump())
    with pytest.raises(RunFolderError) as raised:
        copy.predict(flower_run.new)
    assert str(raised.value) == (
        "these results were not read from a results folder: predict with "
        "densespace.load_results(FOLDER).predict(...)"
    )


@pytest.mark.slow
@pytest.mark.parametrize(("format", "tolerance"), [("savedmodel", 1e-5), ("tflite", 1e-4)])
def test_exports_predict_what_the_keras_model_predicts(regression_run, tmp_path, format, tolerance):
    """Each export, reloaded, predicts the Keras model's outputs on the rows within its tolerance,
    and is listed in the folder's manifest."""
    import tensorflow as tf

    from densespace._keras.export import _run_tflite

    run = shutil.copytree(
        regression_run.run, tmp_path / "run"
    )  # the other tests' folder stays without exports
    results = densespace.load_results(run)
    x = regression_run.x
    path = results.export(format=format, data=x)
    if format == "savedmodel":
        loaded = tf.saved_model.load(str(path))
        got = loaded.serve(x).numpy()
    else:
        got = _run_tflite(path.read_bytes(), x)
    expected = _model_outputs(regression_run.run, x)  # targets near 50,000: the tolerance is of their scale
    np.testing.assert_allclose(got, expected, atol=tolerance * np.abs(expected).max(), rtol=0)
    manifest = (run / ".densespace-manifest.json").read_text()
    assert f'"{path.name}' in manifest


@pytest.mark.parametrize(
    ("export", "shown"), [(["onnx"], '["onnx"]'), (["tflite", "tflite"], '["tflite", "tflite"]'), (3, "3")]
)
def test_tune_refuses_an_unknown_or_repeated_export_format(export, shown):
    """export lists distinct formats of EXPORTS; anything else is one located error."""
    with pytest.raises(OptionError) as raised:
        TuneOptions.create(tiny("regression"), SearchOptions(export=export))
    assert (
        str(raised.value) == f"export must list distinct formats of 'savedmodel', 'tflite' (received {shown})"
    )


@pytest.mark.slow
def test_tune_exports_every_retrained_model_checked_on_the_test_split(regression_run, tmp_path, capsys):
    """tune(export=...) writes each format of each retrained model beside it, through the manifest."""
    densespace.tune(
        tiny("regression", hidden={"units": {"values": [4, 8]}}, search={"max_trials": 2, "seed": 1}),
        data=regression_run.data,
        out=tmp_path / "run",
        retrain_top=2,
        export=("savedmodel", "tflite"),
    )
    manifest = (tmp_path / "run" / ".densespace-manifest.json").read_text()
    for name in ("best-1.savedmodel", "best-1.tflite", "best-2.savedmodel", "best-2.tflite"):
        assert (tmp_path / "run" / name).exists() and f'"{name}' in manifest
    assert capsys.readouterr().err.count("on the test split)") == 4


@pytest.mark.slow
def test_export_never_writes_over_a_file_densespace_did_not_write(regression_run, tmp_path, capsys):
    """A file of the user's where the export goes is refused, and kept."""
    run = tmp_path / "run"
    shutil.copytree(regression_run.run, run)
    mine = run / "best-1.tflite"
    mine.write_text("mine")
    assert main(["export", str(run), "--format", "tflite"]) == 2
    assert capsys.readouterr().err == (
        f"densespace: error: {mine} is not a file densespace wrote, and densespace would write it: move it "
        f"out of {run}, or choose another --out\n"
    )
    assert mine.read_text() == "mine"


@pytest.mark.slow
def test_the_using_page_example_runs(monkeypatch, tmp_path):
    """docs/using.md's Python example runs as shown."""
    import doctest

    from helpers import ROOT

    monkeypatch.chdir(tmp_path)
    path = ROOT / "docs" / "using.md"
    text = "\n".join(re.findall(r"```python\n(>>>.*?)```", path.read_text(encoding="utf-8"), re.S))
    test = doctest.DocTestParser().get_doctest(text, {}, "docs/using.md", str(path), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report = io.StringIO()
    runner.run(test, out=report.write)
    assert runner.failures == 0 and runner.tries > 5, report.getvalue()


@pytest.mark.slow
def test_retraining_deletes_the_exports_of_the_models_it_replaces(regression_run, tmp_path):
    """An export of best-1.keras goes when retraining writes another best-1.keras."""
    run = shutil.copytree(regression_run.run, tmp_path / "run")
    exported = densespace.load_results(run).export(format="tflite")
    densespace.tune(tiny("regression"), data=regression_run.data, out=run, verbose=0, retrain=True)
    assert not exported.exists() and (run / "best-1.keras").is_file()
    assert "tflite" not in (run / ".densespace-manifest.json").read_text()


def test_a_column_named_like_an_output_is_refused():
    """A carried column named like a column predict writes would be lost: refused."""
    results = SimpleNamespace(
        task="regression",
        data=SimpleNamespace(feature_names=("a",), class_names=None, target_names=None),
        spec={"output": {"units": 1}},
    )
    rows = Rows({"a": np.array(["1"]), "prediction": np.array(["x"])}, None, "new.csv")
    with pytest.raises(DatasetError) as raised:
        table(results, rows, np.array([1.0]), None)
    assert (
        str(raised.value)
        == "new.csv: has a column 'prediction', the name of a column predict writes; rename it"
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        (
            ["--format", "tflite", "--data", "new.csv"],
            "--format: a table's model takes its columns by name and its text through a StringLookup, which "
            "TFLite's built-in operations lack: export it as 'savedmodel'",
        ),
        (
            ["--format", "savedmodel"],
            "--data: a table's export is checked on rows of its columns, which the results folder does not "
            "keep: give some (a CSV file, or a DataFrame in Python)",
        ),
    ],
)
def test_a_tables_model_is_exported_as_a_savedmodel_checked_on_given_rows(flower_run, capsys, flags, problem):
    """A run on a table's columns exports no TFLite model, and a SavedModel only checked on rows given."""
    flags = [str(flower_run.folder / flag) if flag == "new.csv" else flag for flag in flags]
    assert main(["export", str(flower_run.run), *flags]) == 2
    assert capsys.readouterr().err == f"densespace: error: {problem}\n"
