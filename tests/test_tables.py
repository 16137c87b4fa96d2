"""Tables: columns typed, missing values, the model's inputs, tables through pandas, end to end."""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from helpers import spec_dict

import densespace
from densespace import DatasetError, OptionError, SearchWarning, SpecError, validate_spec
from densespace._cli import main
from densespace._run.fit import fit_to_data
from densespace._run.options import SearchOptions, TuneOptions
from densespace.datasets import _csv, embedding_size, from_arrays, from_frame, load_csv, model_inputs
from densespace.datasets._table import TableEncoding, infer_types

ROWS = 40


def frame(rows: int = ROWS) -> pd.DataFrame:
    """A tiny mixed table: an ID, numbers with gaps, text categories with gaps, dates, yes/no, a target."""
    rng = np.random.default_rng(0)
    mass = rng.normal(4000, 500, rows)
    mass[[1, 5]] = np.nan
    island = np.array(["Biscoe", "Dream", "Torgersen"], dtype=object)[np.arange(rows) % 3]
    island[2] = None
    return pd.DataFrame(
        {
            "respondent_id": np.arange(1000, 1000 + rows),
            "island": island,
            "mass": mass,
            "seen": pd.date_range("2007-11-01 08:30", periods=rows, freq="D").strftime("%Y-%m-%d %H:%M"),
            "tagged": ["yes", "no"] * (rows // 2),
            "species": np.where(np.arange(rows) % 3 == 0, "Gentoo", "Adelie"),
        }
    )


def tiny(task: str = "classification", **input_: Any) -> Any:
    """A one-trial search of one small layer."""
    return validate_spec(
        spec_dict(
            task=task,
            input=input_,
            hidden={"units": {"values": [4, 8]}},
            training={"epochs": 1, "batch_size": 8},
            search={"tuner": "random", "max_trials": 1, "seed": 1},
        )
    )


# ---- types --------------------------------------------------------------------------------------


def test_types_are_inferred_and_an_id_is_ignored_with_a_warning() -> None:
    """Numbers, text, dates and yes/no get their types; a column of distinct integers is an ID, ignored."""
    with pytest.warns(SearchWarning) as caught:
        types = infer_types(frame().drop(columns="species"))
    assert types == {
        "respondent_id": "ignore",
        "island": "categorical",
        "mass": "numeric",
        "seen": "date",
        "tagged": "boolean",
    }
    assert [str(w.message) for w in caught] == [
        "column 'respondent_id': every value is distinct, an ID: ignored (set its type in input.columns to use it)"
    ]


def test_given_types_win_and_a_short_table_has_no_ids() -> None:
    """input.columns sets a type (integers as categories); under ID_MIN_ROWS rows nothing is an ID."""
    table = pd.DataFrame({"code": [1, 2, 3, 4], "n": [1, 2, 3, 4]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert infer_types(table, given={"code": "categorical"}) == {"code": "categorical", "n": "numeric"}


def test_a_type_for_a_column_the_table_lacks_names_the_columns() -> None:
    """input.columns naming no column of the table is one line that lists the columns."""
    with pytest.raises(DatasetError) as info:
        infer_types(pd.DataFrame({"a": [1], "b": ["x"]}), given={"c": "ignore"}, where="t.csv: ")
    assert str(info.value) == (
        "t.csv: input.columns names 'c', which is not a feature column; the feature columns are 'a', 'b'"
    )


# ---- the model's inputs -------------------------------------------------------------------------


def test_model_inputs_keep_gaps_for_the_model_to_fill() -> None:
    """Numbers keep NaN, categories get their own token, dates become six parts, yes/no 1/0."""
    types = {
        "island": "categorical",
        "mass": "numeric",
        "seen": "date",
        "tagged": "boolean",
        "respondent_id": "ignore",
    }
    inputs = model_inputs(frame().iloc[:3], columns=types)
    assert list(inputs) == ["island", "mass", "seen", "tagged"]
    assert inputs["island"].ravel().tolist() == ["Biscoe", "Dream", "(missing)"]
    assert np.isnan(inputs["mass"][1, 0]) and inputs["mass"].dtype == np.float32
    assert inputs["seen"][0].tolist() == [2007, 11, 1, 3, 8, 30]
    assert inputs["tagged"].ravel().tolist() == [1.0, 0.0, 1.0]


@pytest.mark.parametrize(
    ("values", "kind", "problem"),
    [
        (
            ["1", "red"],
            "numeric",
            "column 'c', row 1: 'red' is not a number; set its type to 'categorical' in input.columns, or mend the value",
        ),
        (
            ["2020-01-01", "soon"],
            "date",
            "column 'c', row 1: 'soon' is not a date; set its type to 'categorical' or 'ignore' in input.columns, "
            "or mend the value",
        ),
        (
            ["yes", "maybe"],
            "boolean",
            "column 'c', row 1: 'maybe' is not true or false; set its type to 'categorical' in input.columns, "
            "or mend the value",
        ),
        (
            ["1", "3e20"],
            "numeric",
            "column 'c', row 1: 3e+20 is beyond ±1e+15, where float32 training overflows; rescale the column "
            "(divide it by a power of ten, or take its logarithm)",
        ),
    ],
    ids=["text-in-numbers", "not-a-date", "not-a-boolean", "beyond-float32"],
)
def test_a_value_that_does_not_read_as_its_type_names_column_row_and_fix(values, kind, problem) -> None:
    """A value that is not of its column's type is one line naming the column, the row and the type to set."""
    with pytest.raises(DatasetError) as info:
        model_inputs(pd.DataFrame({"c": values}), columns={"c": kind})
    assert str(info.value) == problem


def test_a_missing_column_is_named() -> None:
    """Rows without a column the model takes are refused, naming it."""
    with pytest.raises(DatasetError) as info:
        model_inputs(pd.DataFrame({"a": [1]}), columns={"a": "numeric", "b": "categorical"})
    assert str(info.value) == "no column 'b'; the model takes the columns 'a', 'b'"


@pytest.mark.parametrize(("categories", "size"), [(2, 0), (16, 0), (17, 8), (40, 13), (10_000, 16)])
def test_the_size_rule(categories: int, size: int) -> None:
    """One-hot up to 16 categories, else an embedding of min(16, round(1.6 * (n + 1) ** 0.56))."""
    assert embedding_size(categories) == size


def test_the_encoding_is_fitted_on_the_training_values() -> None:
    """Medians, indicators only where values were missing, vocabularies and widths come from training."""
    types = {"island": "categorical", "mass": "numeric", "seen": "date", "tagged": "boolean"}
    table = frame()
    encoding = TableEncoding.fit(types, model_inputs(table, columns=types))
    by_name = {e.column: e for e in encoding.columns}
    assert by_name["mass"].median == (pytest.approx(float(np.nanmedian(table["mass"]))),)
    assert by_name["mass"].indicators and not by_name["tagged"].indicators
    assert by_name["island"].vocabulary == ("(missing)", "Biscoe", "Dream", "Torgersen")
    assert [e.width for e in encoding.columns] == [5, 2, 6, 1] and encoding.width == 14
    assert encoding.describe() == (
        "columns: 1 numeric, 1 boolean, 1 categorical (island 4), 1 date; rows missing a value: island 1, mass 2"
    )


# ---- tables through pandas ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "separator"), [(".csv", ";"), (".csv", "|"), (".tsv", "\t"), (".csv", ",")]
)
def test_load_csv_sniffs_the_delimiter_and_keeps_text(tmp_path: Path, suffix: str, separator: str) -> None:
    """Semicolons, pipes and tabs are read like commas; text columns stay text, rows keep their line."""
    path = tmp_path / f"t{suffix}"
    frame().to_csv(path, sep=separator, index=False)
    data = load_csv(path, target="species")
    assert data.class_names == ("Adelie", "Gentoo")
    assert data.feature_names == ("respondent_id", "island", "mass", "seen", "tagged")
    whole = pd.concat([data.train[0], data.validation[0], data.test[0]])
    assert sorted(whole.index) == list(range(2, ROWS + 2))
    assert whole.loc[4, "island"] is None or pd.isna(whole.loc[4, "island"])


@pytest.mark.parametrize(("gap", "first"), [("", 0), (" ", 0), (" ", 9_000)])
def test_spaces_after_the_delimiter_are_not_part_of_the_values(tmp_path: Path, gap: str, first: int) -> None:
    """A space after the delimiter, from the row ``first`` on (past the first 64 KiB too), is not read:
    numbers stay numbers and categories have no leading space."""
    path = tmp_path / "t.csv"
    rows = [
        f"{i},{gap * (i >= first)}{'ab'[i % 2]},{gap * (i >= first)}{'odd' if i % 2 else 'even'}"
        for i in range(first + 20)
    ]
    path.write_text("n,letter,parity\n" + "\n".join(rows) + "\n")
    data = load_csv(path, target="parity")
    assert data.class_names == ("even", "odd")
    assert data.feature_names == ("n", "letter")
    assert data.train[0]["n"].dtype == np.int64
    assert set(data.train[0]["letter"]) == {"a", "b"}


@pytest.mark.parametrize("chunk", [1, 2, 3, 5])
def test_the_search_for_spaces_finds_them_across_chunks(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    """The chunked search for a delimiter then a space agrees with searching the whole text (brute force)."""
    monkeypatch.setattr(_csv, "_CHUNK", chunk)
    rng = np.random.default_rng(chunk)
    for _ in range(500):
        text = bytes(rng.choice(list(b", a\t"), size=int(rng.integers(0, 12))).tolist())
        for pattern in (b", ", b"\t "):
            assert _csv._spaced(io.BytesIO(text), pattern) == (pattern in text), text


def test_rows_without_a_target_are_left_out_with_a_count(tmp_path: Path) -> None:
    """A target with missing values drops those rows, and a warning says how many."""
    table = frame()
    table.loc[[3, 7], "species"] = None
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)
    with pytest.warns(SearchWarning) as caught:
        data = load_csv(path, target="species")
    assert [str(w.message) for w in caught] == [
        f"{path}: 2 rows have no value in the target column 'species': left out"
    ]
    assert sum(len(y) for _, y in (data.train, data.validation, data.test)) == ROWS - 2


def test_parquet_without_pyarrow_names_the_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Parquet file needs pyarrow; without it the error says how to install it."""
    import importlib.util

    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a)
    )
    with pytest.raises(DatasetError) as info:
        load_csv(path, target="species")
    assert (
        str(info.value)
        == f"{path}: reading Parquet needs pyarrow, which is not installed: pip install pyarrow"
    )


def test_from_frame_and_from_arrays_keep_names_and_text_labels() -> None:
    """A DataFrame keeps its column names and string labels, through from_frame and from_arrays alike."""
    table = frame().drop(columns="respondent_id")
    data = from_frame(table, target="species", seed=3)
    x, y = table.drop(columns="species"), table["species"]
    again = from_arrays(x, y, seed=3)
    for made in (data, again):
        assert made.kind == "frame" and made.source == "in-memory DataFrame"
        assert made.class_names == ("Adelie", "Gentoo")
        assert made.feature_names == ("island", "mass", "seen", "tagged")
    assert data.fingerprint == again.fingerprint


def test_labels_of_digits_written_as_text_are_class_names() -> None:
    """A target of text that reads as numbers ("2", "10") names its classes in text order, with no hint."""
    table = frame().assign(species=np.array(["2", "10", "33"], dtype=object)[np.arange(ROWS) % 3])
    data = from_frame(table, target="species")
    assert data.class_names == ("10", "2", "33")


# ---- the spec against a table -------------------------------------------------------------------


def test_a_table_fits_the_spec_with_its_columns_width_and_embeddings() -> None:
    """fit_to_data types the columns, sets the encoded width and the embeddings' parameters, and 'auto' standardizes."""
    table = frame().drop(columns="respondent_id")
    table["city"] = [f"c{i % 20}" for i in range(ROWS)]
    spec, data = fit_to_data(tiny(columns={"tagged": "ignore"}), from_frame(table, target="species"))
    assert spec.input.columns == {
        "island": "categorical",
        "mass": "numeric",
        "seen": "date",
        "tagged": "ignore",
        "city": "categorical",
    }
    cities = len(set(data.train[0]["city"].ravel()))  # those of the training split
    assert spec.input.preprocessing == "standardize"
    assert spec.input.embeddings == (cities + 1) * embedding_size(cities)
    island = len(set(data.train[0]["island"].ravel())) + 1
    assert spec.input.shape == [island + 2 + 6 + embedding_size(cities)]
    assert sorted(data.train[0]) == ["city", "island", "mass", "seen"]


@pytest.mark.parametrize(
    ("dtype", "expected"), [(np.uint8, "rescale"), (np.float32, "standardize")], ids=["uint8", "float32"]
)
def test_auto_preprocessing_follows_the_data(dtype: Any, expected: str) -> None:
    """'auto' rescales uint8 images and standardizes other arrays."""
    x = (np.arange(120 * 4) % 255).astype(dtype).reshape(120, 4)
    spec, _ = fit_to_data(tiny(), from_arrays(x, np.arange(120) % 2))
    assert spec.input.preprocessing == expected


def test_columns_on_arrays_are_refused() -> None:
    """input.columns types a table's columns, so arrays with it are one line."""
    data = from_arrays(np.zeros((30, 2), np.float32), np.arange(30) % 2)
    with pytest.raises(SpecError) as info:
        fit_to_data(tiny(columns={"a": "ignore"}), data)
    assert str(info.value) == "spec vs data: input.columns: types the columns of a table; the data are arrays"


def test_every_column_ignored_is_refused() -> None:
    """A table whose every feature column is ignored cannot train a model."""
    data = from_frame(frame()[["island", "species"]], target="species")
    with pytest.raises(DatasetError) as info:
        fit_to_data(tiny(columns={"island": "ignore"}), data)
    assert str(info.value) == "every feature column is ignored; set a column's type in input.columns"


def test_ignore_option_types_columns_ignore() -> None:
    """tune's ignore= (--ignore) adds the columns to input.columns as 'ignore'."""
    options = TuneOptions.create(tiny(columns={"a": "numeric"}), SearchOptions(ignore=["respondent_id", "b"]))
    assert options.spec.input.columns == {"a": "numeric", "respondent_id": "ignore", "b": "ignore"}


def test_inspect_with_table_data_counts_on_its_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """inspect --data counts on the table's encoded width and prints its columns; without data, it says the shape assumed."""
    path = tmp_path / "t.csv"
    frame().to_csv(path, index=False)
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps(spec_dict(hidden={"units": 8})))
    assert main(["inspect", str(spec)]) == 0
    assert (
        "input: assumed [32, 32, 3] (the spec sets no input.shape; pass --data to count on the data's)\n"
        in (capsys.readouterr().out)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("always", SearchWarning)  # the command line prints it
        assert main(["inspect", str(spec), "--data", str(path), "--target", "species"]) == 0
    out, err = capsys.readouterr()
    assert err == (
        f"densespace: warning: {path}: column 'respondent_id': every value is distinct, an ID: ignored "
        "(set its type in input.columns to use it)\n"
    )
    assert f"input: [13] from {path}\n" in out  # the training split has no missing island
    assert (
        "columns: 1 numeric, 1 boolean, 1 categorical (island 3), 1 date, 1 ignored (respondent_id); "
        "rows missing a value: mass 2\n"
    ) in out
    assert "trainable parameters: 130\n" in out  # (13 + 1) * 8 to the hidden layer, (8 + 1) * 2 to the output


def test_the_model_of_a_table_has_the_counted_parameters() -> None:
    """The built model's trainable parameters are parameter_bounds' count, embeddings included."""
    import keras_tuner

    table = frame().drop(columns="respondent_id")
    table["city"] = [f"c{i % 20}" for i in range(ROWS)]
    spec, data = fit_to_data(tiny(), from_frame(table, target="species"))
    frozen = densespace.freeze(spec, {"units_0": 8})
    model = densespace.build_hypermodel(frozen, train_images=data.train[0]).build(
        keras_tuner.HyperParameters()
    )
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == densespace.parameter_bounds(frozen)[0] == densespace.parameter_bounds(frozen)[1]


@pytest.mark.slow
def test_a_saved_model_of_a_table_predicts_raw_rows(tmp_path: Path) -> None:
    """best-1.keras loads with Keras alone and, fed raw rows through model_inputs, scores the run's test
    accuracy; its SavedModel export, text and dates included, predicts the same."""
    import keras
    import tensorflow as tf

    path = tmp_path / "t.csv"
    frame(60).to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SearchWarning)
        data = load_csv(path, target="species")
        result = densespace.tune(tiny(), data=data, out=tmp_path / "run", verbose=0)
    model = keras.saving.load_model(tmp_path / "run" / "best-1.keras")
    columns = densespace.load_spec(tmp_path / "run" / "best-1.spec.json").input.columns
    inputs = model_inputs(data.test[0], columns=columns)
    predicted = model.predict(tf.data.Dataset.from_tensor_slices(inputs).batch(16), verbose=0)
    accuracy = float(np.mean(predicted.argmax(axis=1) == data.test[1]))
    assert accuracy == pytest.approx(result.test_metrics[0]["accuracy"])
    results = densespace.load_results(tmp_path / "run")
    named = results.predict(data.test[0])
    assert named.tolist() == [data.class_names[i] for i in predicted.argmax(axis=1)]
    exported = tf.saved_model.load(str(results.export(format="savedmodel", data=data.test[0])))
    np.testing.assert_allclose(exported.serve(inputs).numpy(), predicted, atol=1e-5, rtol=0)


def test_a_table_is_not_exported_to_tflite_before_any_training(tmp_path: Path) -> None:
    """tune(export=["tflite"]) on a table's columns is refused before the search starts."""
    data = from_frame(frame().drop(columns="respondent_id"), target="species")
    with pytest.raises(OptionError) as raised:
        densespace.tune(tiny(), data=data, out=tmp_path / "never", export=["tflite"])
    assert str(raised.value) == (
        "export: a table's model takes its columns by name and its text through a StringLookup, which "
        "TFLite's built-in operations lack: export it as 'savedmodel'"
    )
    assert not (tmp_path / "never").exists()


def test_a_table_is_not_packed() -> None:
    """search.pack on a table's columns is one spec-vs-data line asking for pack "off"."""
    spec = validate_spec(spec_dict(search={"tuner": "random", "max_trials": 2, "pack": 2}))
    data = from_frame(frame().drop(columns="respondent_id"), target="species")
    with pytest.raises(SpecError) as info:
        fit_to_data(spec, data)
    assert str(info.value) == (
        "spec vs data: search.pack: packs trials on arrays; a table's columns train one model per trial: "
        'set pack (2) to "off"'
    )


def test_two_columns_of_one_input_name_are_refused() -> None:
    """Column names that sanitize to the same input name are one line asking to rename one."""
    with pytest.raises(DatasetError) as info:
        model_inputs(pd.DataFrame({"a b": [1.0], "a_b": [2.0]}), columns={"a b": "numeric", "a_b": "numeric"})
    assert str(info.value) == "columns 'a b' and 'a_b' both make the model's input name 'a_b'; rename one"


def test_a_whole_number_csv_target_under_a_regression_is_its_numbers(tmp_path: Path) -> None:
    """load_csv reads a 0-500 target as classes, and a regression spec reads the numbers back, never ids."""
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"x": rng.normal(size=60), "cost": rng.integers(0, 6, 60) * 100})
    table.to_csv(tmp_path / "t.csv", index=False)
    data = load_csv(tmp_path / "t.csv", target="cost")
    assert data.class_names == ("0", "100", "200", "300", "400", "500")
    spec, read = fit_to_data(tiny("regression"), data)
    assert read.class_names is None and spec.output.units == 1
    assert sorted(set(read.test[1].tolist())) <= [0.0, 100.0, 200.0, 300.0, 400.0, 500.0]
    assert read.test[1].max() >= 100.0


def test_from_frame_tests_on_a_second_frame_with_its_columns_in_any_order() -> None:
    """A test DataFrame with the training columns in another order is the test split, text labels over both."""
    table = frame().drop(columns="respondent_id")
    test = table.iloc[:4][["species", "tagged", "seen", "mass", "island"]].assign(species="Chinstrap")
    data = from_frame(table, target="species", test=test)
    assert data.class_names == ("Adelie", "Chinstrap", "Gentoo")
    assert list(data.test[0].columns) == ["island", "mass", "seen", "tagged"]
    assert data.test[1].tolist() == [1, 1, 1, 1]
    with pytest.raises(DatasetError) as info:
        from_frame(table, target="species", test=test.drop(columns="mass"))
    assert (
        str(info.value) == "test: no column 'mass'; the test file needs the columns of the training DataFrame"
    )


def test_a_frame_of_numbered_columns_is_named_by_text() -> None:
    """A DataFrame made from an array names its columns 0, 1, ...: they become '0', '1', ... for the spec."""
    x = pd.DataFrame(np.arange(80.0).reshape(40, 2))
    data = from_arrays(x, np.arange(40) % 2)
    assert data.feature_names == ("0", "1")
    spec, _ = fit_to_data(tiny(), data)
    assert spec.input.columns == {"0": "numeric", "1": "numeric"}


def test_a_frame_with_a_repeated_column_is_refused() -> None:
    """Two columns of one name are one line naming it."""
    table = pd.DataFrame([[1, 2, 0]] * 10, columns=["a", "a", "y"])
    with pytest.raises(DatasetError) as info:
        from_frame(table, target="y")
    assert str(info.value) == "two columns are named 'a'"
