"""Tests for the user's own data: from_arrays, load_npz, load_csv, load_keras, load and the --data flags."""

from __future__ import annotations

import io
import os
import sys
import types
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import spec_dict

from densespace._cli import _parser, main
from densespace._errors import DatasetError, OptionError
from densespace.datasets import (
    CIFAR10,
    CLASS_NAMES,
    ENV_VAR,
    KERAS_DATASETS,
    MAX_NPZ_BYTES,
    Dataset,
    _npz,
    from_arrays,
    load,
    load_csv,
    load_keras,
    load_npz,
)

WEIGHTS = np.array([1.0, -2.0, 0.5])
OUT_OF_RANGE = "integer labels must be class ids 0..k-1"
NPZ_KEYS = "x_train, y_train, and optionally x_test, y_test and x_val, y_val (or x, y for x_train, y_train)"
NPZ_EXPECTED = (
    "expected a .npz file (numpy.savez) holding x_train, y_train, x_test, y_test (and x_val, y_val), or x, y"
)


def rule(x: np.ndarray) -> np.ndarray:
    """The linear rule behind the synthetic classes: three bands of x @ WEIGHTS."""
    return np.digitize(x[:, 1:] @ WEIGHTS, [-1.0, 1.0])


def linear(n: int = 120, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rows whose column 0 is the row's index and whose class follows ``rule``."""
    features = np.random.default_rng(seed).normal(size=(n, 3))
    x = np.column_stack([np.arange(n), features]).astype(np.float32)
    return x, rule(x)


def ids(split: tuple[np.ndarray, np.ndarray]) -> list[int]:
    """The row indices ``linear`` wrote into column 0."""
    return [int(i) for i in split[0][:, 0]]


def error_of(load_function: Callable[..., Any], *args: Any, **options: Any) -> str:
    """The text of the DatasetError that the call raises."""
    with pytest.raises(DatasetError) as caught:
        load_function(*args, **options)
    return str(caught.value)


def write_csv(path: Path, text: str) -> Path:
    """Writes ``text`` (a header line, then rows) to ``path``."""
    path.write_text(text, encoding="utf-8")
    return path


def table(n: int = 30, *, label: Callable[[int, float, float], object] | None = None) -> str:
    """A CSV table a, b, species of ``n`` rows; species follows a linear rule of a and b unless ``label`` is given."""
    rng = np.random.default_rng(1)
    rows = ["a,b,species"]
    for i in range(n):
        a, b = rng.normal(size=2)
        name = label(i, a, b) if label else ("big" if a + b > 0.5 else "small" if a + b < -0.5 else "mid")
        rows.append(f"{a:.4f},{b:.4f},{name}")
    return "\n".join(rows) + "\n"


def split_sizes(data: Dataset) -> list[int]:
    """The number of examples in train, validation and test."""
    return [len(y) for _, y in (data.train, data.validation, data.test)]


# ---- from_arrays ----------------------------------------------------------------------------------


def test_from_arrays_splits_by_class_and_keeps_rows_whole() -> None:
    """Fractions give stratified train, validation and test splits whose labels still follow the rule."""
    x, y = linear(120)
    data = from_arrays(x, y)
    assert isinstance(data, Dataset) and (data.kind, data.source) == ("arrays", "in-memory arrays")
    assert data.class_names == ("0", "1", "2") and data.feature_names is data.target_names is None
    assert split_sizes(data) == [86, 10, 24]  # test: 0.2 of 120; validation: 0.1 of the 96 left
    assert sorted(ids(data.train) + ids(data.validation) + ids(data.test)) == list(range(120))
    for split in (data.train, data.validation, data.test):
        assert split[0].dtype == np.float32 and split[1].dtype == np.int64
        np.testing.assert_array_equal(split[1], rule(split[0]))
        assert ids(split) == sorted(ids(split))  # rows keep their order


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize(("validation", "test"), [(0.1, 0.2), (0.25, 0.3), (0.5, 0.5)])
def test_every_split_keeps_the_class_shares_within_one_example(
    seed: int, validation: float, test: float
) -> None:
    """Each split holds each class in its share of the rows it was cut from, give or take one example."""
    x, y = linear(97, seed=seed)
    data = from_arrays(x, y, validation=validation, test=test, seed=seed)
    pool = np.concatenate([data.train[1], data.validation[1]])
    for labels, source in [(data.test[1], y), (data.validation[1], pool), (data.train[1], pool)]:
        for label in range(3):
            share = np.count_nonzero(source == label) / len(source)
            assert abs(np.count_nonzero(labels == label) - share * len(labels)) <= 1


@pytest.mark.parametrize("limit", [3, 7, 20])
def test_limit_keeps_a_stratified_subset_of_each_split(limit: int) -> None:
    """limit keeps at most that many rows of each split, drawn from it with every class in its share."""
    x, y = linear(150)
    whole, limited = from_arrays(x, y, seed=5), from_arrays(x, y, seed=5, limit=limit)
    for full, part in zip(
        (whole.train, whole.validation, whole.test),
        (limited.train, limited.validation, limited.test),
        strict=True,
    ):
        assert len(part[1]) == min(limit, len(full[1])) and set(ids(part)) <= set(ids(full))
        for label in range(3):
            share = np.count_nonzero(full[1] == label) / len(full[1])
            assert abs(np.count_nonzero(part[1] == label) - share * len(part[1])) <= 1


def test_seed_fixes_every_split() -> None:
    """The same seed gives the same rows and fingerprint; another seed other rows."""
    x, y = linear()
    first, again, other = (from_arrays(x, y, seed=seed, limit=20) for seed in (0, 0, 1))
    assert ids(first.validation) == ids(again.validation) != ids(other.validation)
    assert first.fingerprint == again.fingerprint != other.fingerprint


@pytest.mark.parametrize(
    ("make_y", "shape"),
    [
        (lambda x: x[:, 1:] @ WEIGHTS + 1.0, (72,)),
        (lambda x: (x[:, 1:] @ WEIGHTS + 1.0)[:, None], (72,)),
        (lambda x: np.column_stack([x[:, 1], 2 * x[:, 2]]), (72, 2)),
        (lambda x: np.eye(3, dtype=np.int64)[rule(x)], (72, 3)),
    ],
    ids=["float", "float-column", "two-targets", "one-hot-matrix"],
)
def test_float_targets_and_label_matrices_split_at_random(
    make_y: Callable[..., Any], shape: tuple[int, ...]
) -> None:
    """Float targets and 2-D label matrices are float32, unstratified, with no class names."""
    x, _ = linear(100)
    data = from_arrays(x, make_y(x), test=0.2, validation=0.1, seed=3)
    assert data.class_names is None and data.train[1].dtype == np.float32 and data.train[1].shape == shape
    for split in (data.train, data.validation, data.test):
        np.testing.assert_allclose(
            split[1].reshape(len(split[1]), -1),
            make_y(split[0]).reshape(len(split[1]), -1),
            rtol=1e-6,
        )


def test_explicit_validation_and_test_pairs_are_used_as_given() -> None:
    """(x, y) pairs for validation and test are used whole; validation="test" reuses the test split."""
    x, y = linear(60)
    data = from_arrays(x[:40], y[:40], validation=(x[40:50], y[40:50]), test=(x[50:], y[50:]))
    assert [ids(data.train), ids(data.validation), ids(data.test)] == [
        list(range(40)),
        list(range(40, 50)),
        list(range(50, 60)),
    ]
    same = from_arrays(x, y, validation="test", test=0.25, limit=10)
    assert same.validation is same.test and split_sizes(same) == [10, 10, 10]


def test_class_names_name_the_ids_and_allow_absent_classes() -> None:
    """class_names fixes k, so a class may be absent, and names the ids."""
    x, y = linear(40)
    data = from_arrays(x, y, class_names=["low", "mid", "high", "unseen"])
    assert data.class_names == ("low", "mid", "high", "unseen")


X, Y = np.ones((20, 3)), np.arange(20) % 2  # a valid pair the bad cases below spoil one part of
K3 = "and the labels hold k=3 distinct values"
BAD_ARRAYS = {
    "x-1d": (
        np.zeros(20),
        Y,
        {},
        "x has shape (20,): expected at least 2 dimensions, one row per example "
        "(reshape a single feature with x.reshape(-1, 1))",
    ),
    "lengths": (X, Y[:19], {}, "x has 20 rows but y has 19; they must match, one label per example"),
    "nan-x": (
        np.where(np.arange(60).reshape(20, 3) % 17 == 10, np.nan, 1.0),
        Y,
        {},
        "x: 3 values are NaN or infinite, the first in x[3]; features must be finite numbers",
    ),
    "inf-y": (
        X,
        np.where(np.arange(20) == 7, np.inf, 1.0),
        {},
        "y: 1 value is NaN or infinite, the first in y[7]; labels and targets must be finite numbers",
    ),
    "label-above-k": (X, np.array([0, 1, 5, 1] * 5), {}, f"y[2] is 5, outside 0..2: {OUT_OF_RANGE}, {K3}"),
    "label-negative": (X, np.array([0, 1, -1, 1] * 5), {}, f"y[2] is -1, outside 0..2: {OUT_OF_RANGE}, {K3}"),
    "label-above-class-names": (
        X,
        Y,
        {"class_names": ["a", "b"], "test": (X[:4], np.array([0, 1, 2, 0]))},
        f"test[1][2] is 2, outside 0..1: {OUT_OF_RANGE}, indexing the 2 class_names",
    ),
    "class-too-small-for-3": (
        X,
        np.array([0] * 9 + [1] * 9 + [2] * 2),
        {},
        "y: class 2 has only 2 examples; a stratified split into train, validation and test "
        "needs at least 3 of each class",
    ),
    "class-too-small-for-2": (
        X,
        np.array([0] * 9 + [1] * 10 + [2]),
        {"test": (X[:3], np.array([0, 1, 2]))},
        "y: class 2 has only 1 example; a stratified split into train and validation needs at least 2 of each class",
    ),
    "empty-test": (
        X,
        Y,
        {"test": 0.01},
        "test=0.01 of 20 examples leaves 20 for training and 0 for test; each needs at least one",
    ),
    "empty-validation": (
        X,
        Y,
        {"validation": 0.01},
        "validation=0.01 of 16 training examples leaves 16 for training and 0 for validation; "
        "each needs at least one",
    ),
    "empty-test-pair": (
        X,
        Y,
        {"test": (X[:0], Y[:0])},
        "test[0] has no rows (shape (0, 3)); the test split needs at least one example",
    ),
    "empty-x": (
        X[:0],
        Y[:0],
        {},
        "x has no rows (shape (0, 3)); the training split needs at least one example",
    ),
    "text-x": (
        np.array([["a", "b"]] * 20),
        Y,
        {},
        "x holds <U1 values; features must be numbers (bool, integer or float)",
    ),
    "text-y": (
        X,
        np.array(["cat", "dog"] * 10),
        {},
        "y holds <U3 values; labels must be integer class ids or float targets",
    ),
    "y-3d": (
        X,
        np.ones((20, 2, 2)),
        {},
        "y has shape (20, 2, 2): expected (N,) labels or targets, or (N, t) targets",
    ),
    "features-differ": (
        X,
        Y,
        {"test": (X[:4, :2], Y[:4])},
        "test[0] has rows of shape (2,) but x of shape (3,); every split needs the same features",
    ),
    "labels-differ": (
        X,
        Y,
        {"test": (X[:4], np.array([0.5, 1, 0, 1]))},
        "test[1] holds float64 targets but y class ids; every split needs labels of one kind",
    ),
    "ragged": ([[1, 2], [3]], [0, 1], {}, "x is not a rectangular array: its rows differ in length"),
    "limit-below-classes": (
        X,
        Y,
        {"limit": 1},
        "limit must be an integer of at least 2 (one example per class) or None, got 1",
    ),
    "validation-range": (
        X,
        Y,
        {"validation": 1.5},
        "validation must be a fraction between 0 and 1 (exclusive), 'test' or an (x, y) pair, got 1.5",
    ),
    "test-kind": (
        X,
        Y,
        {"test": "test"},
        "test must be a fraction between 0 and 1 (exclusive) or an (x, y) pair, got 'test'",
    ),
    "pair-length": (X, Y, {"test": (1, 2, 3)}, "test must be an (x, y) pair, got a tuple of 3 items"),
    "limit-zero": (X, Y, {"limit": 0}, "limit must be a positive integer or None, got 0"),
    "seed-negative": (X, Y, {"seed": -1}, "seed must be a non-negative integer, got -1"),
    "class-names-str": (
        X,
        Y,
        {"class_names": "ab"},
        'class_names must be a non-empty sequence of distinct strings, got "ab"',
    ),
    "feature-names-count": (
        X,
        Y,
        {"feature_names": ["a"]},
        "1 feature_names for the 3 features of each row of x",
    ),
    "class-names-for-floats": (
        X,
        Y / 3,
        {"class_names": ["a"]},
        "class_names name class ids, but y holds float64 targets",
    ),
}


@pytest.mark.parametrize(("x", "y", "options", "message"), BAD_ARRAYS.values(), ids=BAD_ARRAYS)
def test_bad_arrays_are_one_error_naming_the_array(
    x: Any, y: Any, options: dict[str, Any], message: str
) -> None:
    """Each unusable array or option raises one DatasetError saying which array, which rule and what it holds."""
    assert error_of(from_arrays, x, y, **options) == message


# ---- load_npz -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arrays", "sizes"),
    [
        (lambda x, y: {"x": x, "y": y}, [86, 10, 24]),
        (
            lambda x, y: {"x_train": x[:100], "y_train": y[:100], "x_test": x[100:], "y_test": y[100:]},
            [90, 10, 20],
        ),
        (
            lambda x, y: {
                "x_train": x[:80],
                "y_train": y[:80],
                "x_val": x[80:100],
                "y_val": y[80:100],
                "x_test": x[100:],
                "y_test": y[100:],
            },
            [80, 20, 20],
        ),
        (lambda x, y: {"x_train": x, "y_train": y}, [86, 10, 24]),
    ],
    ids=["x-y", "train-test", "train-val-test", "train-only"],
)
@pytest.mark.parametrize("save", [np.savez, np.savez_compressed], ids=["savez", "compressed"])
def test_load_npz_reads_each_layout(
    arrays: Callable[..., dict[str, np.ndarray]], sizes: list[int], save: Callable[..., None], tmp_path: Path
) -> None:
    """x, y or x_train, y_train with optional test and validation pairs load; missing splits are held out."""
    x, y = linear(120)
    save(tmp_path / "d.npz", **arrays(x, y))
    data = load_npz(tmp_path / "d.npz")
    assert (data.kind, data.source, data.class_names) == ("npz", str(tmp_path / "d.npz"), ("0", "1", "2"))
    assert split_sizes(data) == sizes
    assert sorted(ids(data.train) + ids(data.validation) + ids(data.test)) == list(range(120))
    for split in (data.train, data.validation, data.test):
        np.testing.assert_array_equal(split[1], rule(split[0]))


def lying_npz(path: Path) -> Path:
    """A tiny .npz whose x_train header claims 2**31 rows of 1024 float64 (16 TiB), with no data behind it."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (2**31, 1024)}
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x_train.npy", header.getvalue())  # the magic, then the header
        stream = io.BytesIO()
        np.save(stream, np.zeros(3, np.int64))
        archive.writestr("y_train.npy", stream.getvalue())
    return path


@pytest.mark.parametrize(
    ("write", "problem"),
    [
        (
            lambda p: np.savez(p, x_train=np.ones((4, 2)), y_train=[0, 1, 0, 1], x_valid=np.ones((2, 2))),
            f"unexpected array 'x_valid' (did you mean 'x_val'?); expected {NPZ_KEYS}",
        ),
        (
            lambda p: np.savez(p, x_train=np.ones((4, 2)), y_train=[0, 1, 0, 1], x_val=np.ones((2, 2))),
            f"holds x_val but no y_val; arrays come in pairs: {NPZ_KEYS}",
        ),
        (
            lambda p: np.savez(
                p, x=np.ones((4, 2)), y=[0, 1, 0, 1], x_train=np.ones((4, 2)), y_train=[0, 1, 0, 1]
            ),
            "holds both x and x_train; x, y are another name for x_train, y_train",
        ),
        (
            lambda p: np.savez(p, x_test=np.ones((4, 2)), y_test=[0, 1, 0, 1]),
            f"holds x_test, y_test; expected {NPZ_KEYS}",
        ),
        (
            lambda p: p.write_bytes(b"x,y\n1,2\n"),
            f"not a .npz file (a zip archive of .npy arrays); {NPZ_EXPECTED}",
        ),
        (
            lambda p: np.savez(p, x_train=np.array([[None]] * 4, dtype=object), y_train=[0, 1, 0, 1]),
            "x_train is an array of Python objects, which only unpickling could read; densespace reads arrays of numbers only",
        ),
        (
            lying_npz,
            f"its arrays would take {2**31 * 1024 * 8 + 24:,} bytes once loaded; densespace loads at most "
            f"{MAX_NPZ_BYTES:,} bytes (8 GiB) from a .npz file",
        ),
        (
            lambda p: np.savez(p, x_train=np.ones((20, 2)), y_train=np.arange(19) % 2),
            "x_train has 20 rows but y_train has 19; they must match, one label per example",
        ),
        (
            lambda p: np.savez(p, x=np.ones(20), y=np.arange(20) % 2),
            "x has shape (20,): expected at least 2 dimensions, one row per example "
            "(reshape a single feature with x.reshape(-1, 1))",
        ),
        (
            lambda p: np.savez(
                p,
                x_train=np.ones((20, 2)),
                y_train=np.arange(20) % 3,
                x_test=np.ones((3, 2)),
                y_test=[0, 7, 1],
            ),
            f"y_test[1] is 7, outside 0..3: {OUT_OF_RANGE}, and the labels hold k=4 distinct values",
        ),
        (
            lambda p: np.savez(
                p,
                x_train=np.ones((20, 2)),
                y_train=np.arange(20) % 2,
                x_test=np.ones((0, 2)),
                y_test=np.ones(0),
            ),
            "x_test has no rows (shape (0, 2)); the test split needs at least one example",
        ),
        (
            lambda p: np.savez(p, x=np.where(np.eye(20, 2) > 0, np.nan, 0), y=np.arange(20) % 2),
            "x: 2 values are NaN or infinite, the first in x[0]; features must be finite numbers",
        ),
    ],
    ids=[
        "unknown-key",
        "unpaired",
        "x-and-x-train",
        "no-training-arrays",
        "not-zip",
        "object-array",
        "too-large",
        "lengths",
        "x-1d",
        "label-outside",
        "empty-test",
        "nan",
    ],
)
def test_bad_npz_is_one_error_naming_the_file(
    write: Callable[[Path], Any], problem: str, tmp_path: Path
) -> None:
    """A .npz file with unexpected keys, unusable or oversized arrays raises one error naming the file."""
    path = tmp_path / "d.npz"
    write(path)
    assert error_of(load_npz, path) == f"{path}: {problem}"


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: None, f"no such file; {NPZ_EXPECTED}"),
        (lambda p: p.mkdir(), f"it is a folder; {NPZ_EXPECTED}"),
        (lambda p: os.mkfifo(p), f"it is a FIFO, not a regular file; {NPZ_EXPECTED}"),
    ],
    ids=["missing", "folder", "fifo"],
)
def test_npz_that_is_not_a_regular_file_is_refused_unopened(
    make: Callable[[Path], Any], problem: str, tmp_path: Path
) -> None:
    """A missing path, a folder or a FIFO named .npz is refused without being opened."""
    path = tmp_path / "d.npz"
    make(path)
    assert error_of(load_npz, path) == f"{path}: {problem}"


def test_npz_cap_is_read_at_call_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The size cap counts every array of the file from its header (lowered here to a few bytes)."""
    np.savez(tmp_path / "d.npz", x=np.ones((4, 2), np.float32), y=np.arange(4))
    monkeypatch.setattr(_npz, "MAX_NPZ_BYTES", 63)
    assert error_of(load_npz, tmp_path / "d.npz").endswith(
        "would take 64 bytes once loaded; densespace loads at most 63 bytes (8 GiB) from a .npz file"
    )


# ---- load_csv -------------------------------------------------------------------------------------


def test_load_csv_maps_text_labels_to_sorted_ids(tmp_path: Path) -> None:
    """Text labels become ids 0..k-1 in sorted order, kept as class_names; other columns stay raw columns."""
    path = write_csv(tmp_path / "t.csv", table(60))
    data = load_csv(path, target="species")
    assert (data.kind, data.source, data.class_names) == ("csv", str(path), ("big", "mid", "small"))
    assert data.feature_names == ("a", "b") and data.target_names is None
    assert split_sizes(data) == [43, 5, 12]
    for x, y in (data.train, data.validation, data.test):
        assert list(x.columns) == ["a", "b"] and y.dtype == np.int64
        total = x.to_numpy().sum(axis=1)
        np.testing.assert_array_equal(y, np.where(total > 0.5, 0, np.where(total < -0.5, 2, 1)))


@pytest.mark.parametrize(
    ("target", "label", "expected"),
    [
        (
            "species",
            lambda i, a, b: f"{a + 2 * b:.4f}",
            {"class_names": None, "target_names": ("species",), "shape": (22,)},
        ),
        (
            ["a", "species"],
            lambda i, a, b: f"{a - b:.4f}",
            {"class_names": None, "target_names": ("a", "species"), "shape": (22, 2)},
        ),
        (
            "species",
            lambda i, a, b: str([10, 3, 1][i % 3]),
            {"class_names": ("1", "3", "10"), "target_names": None, "shape": (22,)},
        ),
        (
            "species",
            lambda i, a, b: ["2.0", "1", "-1e0"][i % 3],
            {"class_names": ("-1", "1", "2"), "target_names": None, "shape": (22,)},
        ),
    ],
    ids=["one-number", "two-numbers", "whole-numbers", "whole-numbers-written-as-floats"],
)
def test_load_csv_tells_numbers_to_predict_from_class_labels(
    target: Any, label: Callable[..., str], expected: dict[str, Any], tmp_path: Path
) -> None:
    """One column of fractions is a float32 target, several columns a (N, t) target, whole numbers class labels."""
    path = write_csv(tmp_path / "t.csv", table(30, label=label))
    data = load_csv(path, target=target)
    assert data.class_names == expected["class_names"] and data.target_names == expected["target_names"]
    assert data.train[1].shape == expected["shape"]
    assert data.train[1].dtype == (np.float32 if data.class_names is None else np.int64)
    assert data.feature_names == tuple(name for name in ("a", "b") if name not in target)


def test_whole_number_classes_sort_by_value(tmp_path: Path) -> None:
    """Whole-number labels map to ids in numeric order (1, 3, 10), not text order."""
    path = write_csv(tmp_path / "t.csv", table(30, label=lambda i, a, b: str([10, 3, 1][i % 3])))
    data = load_csv(path, target="species", test=0.3)
    names = np.array(data.class_names)
    first_rows = [str([10, 3, 1][i % 3]) for i in range(30)]
    assert sorted(
        names[data.train[1]].tolist() + names[data.validation[1]].tolist() + names[data.test[1]].tolist()
    ) == sorted(first_rows)


def test_load_csv_tests_on_a_second_file_with_its_columns_in_any_order(tmp_path: Path) -> None:
    """A test CSV with the same columns in another order is the test split; class ids cover both files."""
    train = write_csv(
        tmp_path / "train.csv",
        "a,b,y\n" + "".join(f"{i},{-i},{'cat' if i % 2 else 'dog'}\n" for i in range(20)),
    )
    test = write_csv(tmp_path / "test.csv", "y,b,a\nbird,-1,1\ncat,-3,3\ndog,-4,4\n")
    data = load_csv(train, target="y", test=test, validation=0.2)
    assert data.class_names == ("bird", "cat", "dog") and data.source == f"{train} (test: {test})"
    np.testing.assert_array_equal(data.test[0].to_numpy(), [[1, -1], [3, -3], [4, -4]])
    np.testing.assert_array_equal(data.test[1], [0, 1, 2])
    assert split_sizes(data) == [16, 4, 3]
    np.testing.assert_array_equal(data.train[1], np.where(data.train[0]["a"] % 2 == 1, 1, 2))


def test_load_csv_reads_quotes_blank_lines_and_a_byte_order_mark(tmp_path: Path) -> None:
    """Quoted fields, spaces after commas, blank lines and a UTF-8 BOM are read as CSV means them."""
    rows = "".join(f'{i}, "{i * 2}","x, {i % 2}"\n\n' for i in range(20))
    path = tmp_path / "t.csv"
    path.write_bytes(b"\xef\xbb\xbf" + f'a, b,"label"\n{rows}'.encode())
    data = load_csv(path, target="label", validation="test", test=0.5)
    assert data.class_names == ("x, 0", "x, 1") and data.feature_names == ("a", "b")
    assert data.validation is data.test


HEADER = "a,b,species\n"


@pytest.mark.parametrize(
    ("text", "options", "problem"),
    [
        (
            HEADER + "1,2,3\n",
            {"target": "specie"},
            "no column 'specie' (did you mean 'species'?); the columns are a, b, species",
        ),
        (HEADER + "1,2,3\n", {"target": "zzz"}, "no column 'zzz'; the columns are a, b, species"),
        (
            HEADER + "1,2,0.5\n1,2,-inf\n",
            {},
            "column 'species': 1 value is NaN or infinite, the first on line 3; every value must be a finite number",
        ),
        (
            HEADER + "".join(f"{i},{i},{'ab'[i % 2] if i < 18 else 'c'}\n" for i in range(20)),
            {},
            "column 'species': class 'c' has only 2 rows; a stratified split into train, validation and test needs at least 3 of each class",
        ),
        (
            HEADER + "".join(f"{i},{i},{i % 5 if i < 19 else 9}\n" for i in range(20)),
            {},
            "column 'species': class '9' has only 1 row; a stratified split into train, validation and test needs at least 3 of each class; "
            "column 'species' holds whole numbers, read as class labels",
        ),
        (
            HEADER + "".join(f"{i},{i},{'?' if i == 3 else i / 2}\n" for i in range(20)),
            {},
            "column 'species': class '0.0' has only 1 row; a stratified split into train, validation and test needs at least 3 of each class; "
            "column 'species' holds numbers and text ('?' on line 5), so every value was read as a class name",
        ),
        (
            "1,2,3\n4,5,6\n",
            {"target": "3"},
            "line 1 holds numbers (1, 2, 3), not column names; the first row of the file must name the columns",
        ),
        ("a,,species\n1,2,3\n", {}, "line 1: column 2 has no name; the first row must name every column"),
        ("a,a,species\n1,2,3\n", {}, "line 1: two columns are named 'a'"),
        ("", {}, "the file is empty; expected a header row naming the columns, then the rows"),
        (HEADER + "\n", {}, "no rows after the header; the training split needs at least one example"),
        (
            HEADER + "".join(f"{i},{i},{i % 2}\n" for i in range(20)),
            {"test": 0.01},
            "test=0.01 of 20 rows leaves 20 for training and 0 for test; each needs at least one",
        ),
        (
            "species\nx\ny\n",
            {},
            "no feature columns: every column but the target is a feature, and the header names only 'species'",
        ),
        (
            HEADER + "1,2,x\n",
            {"target": ["b", "species"]},
            "column 'species', line 2: 'x' is not a number; a target of several columns must hold numbers",
        ),
        (
            HEADER + "1,2,x\n1,2,3,4\n",
            {},
            "line 3 has 4 fields but the header names 3 columns (delimiter ',')",
        ),
        (
            'a,b,species\n1,"2\n',
            {},
            "not valid CSV with delimiter ',' (Error tokenizing data. C error: EOF inside string starting at row 1)",
        ),
        (
            ",a,species\n0,1,x\n",
            {},
            "line 1: column 1 has no name (pandas writes its index so: save with to_csv(index=False)); "
            "the first row must name every column",
        ),
        (
            "a;b;species\n1;2;3\n",
            {"target": "y"},
            "no column 'y'; the columns are a, b, species (read with the delimiter ';')",
        ),
    ],
    ids=[
        "target-typo",
        "target-unknown",
        "inf-target",
        "class-too-small",
        "whole-number-class-too-small",
        "mixed-target-class-too-small",
        "long-row",
        "no-header",
        "unnamed-column",
        "repeated-column",
        "empty-file",
        "header-only",
        "empty-test",
        "no-features",
        "text-in-multi-target",
        "unterminated-quote",
        "pandas-index-column",
        "semicolon-delimiter",
    ],
)
def test_bad_csv_is_one_error_naming_file_column_and_line(
    text: str, options: dict[str, Any], problem: str, tmp_path: Path
) -> None:
    """Each unusable CSV raises one DatasetError naming the file, and the column and line where there is one."""
    path = write_csv(tmp_path / "t.csv", text)
    options = {"target": "species", **options}
    assert error_of(load_csv, path, **options) == f"{path}: {problem}"


def test_test_csv_with_other_columns_is_refused(tmp_path: Path) -> None:
    """A test CSV must hold the training file's columns, no more and no fewer."""
    train = write_csv(tmp_path / "train.csv", table(20))
    test = write_csv(tmp_path / "test.csv", "a,c,species\n1,2,big\n")
    assert error_of(load_csv, train, target="species", test=test) == (
        f"{test}: no column 'b' and an extra column 'c'; the test file needs the columns of {train}"
    )


def test_csv_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    """A file that does not decode as UTF-8 is refused, naming the first bad byte."""
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b,species\n1,2,caf\xe9\n")
    assert error_of(load_csv, path, target="species") == f"{path}: not UTF-8 text (byte 19 is 0xe9)"


def test_csv_over_the_size_cap_is_refused_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A CSV larger than MAX_CSV_BYTES is refused on its size (lowered here to 10 bytes)."""
    from densespace.datasets import _csv

    path = write_csv(tmp_path / "t.csv", table(5))
    monkeypatch.setattr(_csv, "MAX_CSV_BYTES", 10)
    assert error_of(load_csv, path, target="species") == (
        f"{path}: {path.stat().st_size} bytes is more than densespace reads from a CSV file whose first row "
        "names the columns (at most 10 bytes)"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"target": []}, "target must be a column name or a non-empty list of distinct column names, got []"),
        (
            {"target": ["a", "a"]},
            'target must be a column name or a non-empty list of distinct column names, got ["a", "a"]',
        ),
        (
            {"target": "species", "test": 1.5},
            "test must be a fraction between 0 and 1 (exclusive) or the path of a CSV file, got 1.5",
        ),
        (
            {"target": "species", "test": True},
            "test must be a fraction between 0 and 1 (exclusive) or the path of a CSV file, got True",
        ),
        (
            {"target": "species", "validation": 0},
            "validation must be a fraction between 0 and 1 (exclusive) or 'test', got 0",
        ),
    ],
)
def test_bad_csv_options_are_refused_before_reading(
    options: dict[str, Any], message: str, tmp_path: Path
) -> None:
    """Out-of-range options are refused before the file is opened (it does not exist here)."""
    assert error_of(load_csv, tmp_path / "missing.csv", **options) == message


# ---- load_keras -----------------------------------------------------------------------------------


def fake_keras(monkeypatch: pytest.MonkeyPatch, download: Callable[[str], Any]) -> list[str]:
    """Stands in for densespace._keras.io, so these tests never import Keras; returns the names asked for."""
    asked: list[str] = []

    def download_dataset(name: str) -> Any:
        asked.append(name)
        return download(name)

    package = types.ModuleType("densespace._keras")
    package.__path__ = []  # type: ignore[attr-defined]  # a package, so that .io imports from it
    module = types.ModuleType("densespace._keras.io")
    module.download_dataset = download_dataset  # type: ignore[attr-defined]
    package.io = module  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "densespace._keras", package)
    monkeypatch.setitem(sys.modules, "densespace._keras.io", module)
    return asked


def keras_arrays(name: str) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Tiny arrays shaped and typed as keras.datasets.<name>.load_data() returns them; column 0 of x counts rows."""
    rng = np.random.default_rng(0)
    if name.endswith("housing"):
        features = len(KERAS_DATASETS[name].features or ())
        x = np.column_stack([np.arange(50), rng.normal(size=(50, features - 1))])
        return (x[:40], x[:40, 1] * 3.0), (x[40:], x[40:, 1] * 3.0)
    classes = len(KERAS_DATASETS[name].classes or ())
    shape = {"mnist": (4, 4), "fashion_mnist": (4, 4)}.get(name, (4, 4, 3))
    n = classes * 4
    x = rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)
    x.reshape(n, -1)[:, 0] = np.arange(n) % 256
    y = (np.arange(n) % classes).astype(np.uint8)
    if name.startswith("cifar"):
        y = y[:, None]  # keras gives CIFAR labels as (N, 1)
    cut = classes * 3
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


@pytest.mark.parametrize("name", list(KERAS_DATASETS))
def test_load_keras_reads_each_dataset_through_the_download(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each Keras dataset keeps Keras' test split, holds out validation, and carries its names."""
    asked = fake_keras(monkeypatch, keras_arrays)
    (_, y_train), (x_test, y_test) = keras_arrays(name)
    data = load_keras(name, validation=1 / 3, seed=1)
    assert asked == [name] and (data.kind, data.source) == ("keras", f"keras:{name}")
    names = KERAS_DATASETS[name]
    assert (data.class_names, data.feature_names, data.target_names) == (
        names.classes,
        names.features,
        names.targets,
    )
    np.testing.assert_array_equal(data.test[0], x_test)
    np.testing.assert_array_equal(data.test[1], y_test.reshape(-1).astype(data.test[1].dtype))
    held = round(len(y_train) / 3)
    assert split_sizes(data) == [len(y_train) - held, held, len(y_test)]
    if names.classes is None:
        assert data.train[1].dtype == np.float32 and data.train[1].ndim == 1
    else:
        assert data.train[1].dtype == np.int64 and len(names.classes) == len(np.unique(y_train))
        assert np.bincount(data.validation[1]).tolist() == [1] * len(names.classes)


def test_keras_class_names_are_keras_own() -> None:
    """The class names follow Keras' label ids."""
    assert KERAS_DATASETS["cifar10"].classes == CLASS_NAMES
    assert KERAS_DATASETS["mnist"].classes == tuple("0123456789")
    assert KERAS_DATASETS["fashion_mnist"].classes[::9] == ("T-shirt/top", "Ankle boot")
    cifar100 = KERAS_DATASETS["cifar100"].classes or ()
    assert (len(cifar100), cifar100[:2], cifar100[-1]) == (100, ("apple", "aquarium_fish"), "worm")
    assert list(cifar100) == sorted(cifar100)


def test_load_keras_limit_keeps_a_stratified_subset(monkeypatch: pytest.MonkeyPatch) -> None:
    """limit=10 keeps one example of each class in train and test; validation holds its 3 of 3 classes."""
    fake_keras(monkeypatch, keras_arrays)
    data = load_keras("fashion_mnist", limit=10)
    assert [sorted(y.tolist()) for _, y in (data.train, data.test)] == [list(range(10))] * 2
    assert len(set(data.validation[1].tolist())) == len(data.validation[1]) == 3


def test_failed_keras_download_says_how_to_use_a_local_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    """When Keras cannot download, the error tells how to save a local copy and pass it with --data."""

    def offline(name: str) -> Any:
        raise Exception("URL fetch failure on https://example.org/mnist.npz: -3 name resolution")

    fake_keras(monkeypatch, offline)
    assert error_of(load_keras, "mnist") == (
        "cannot download mnist through keras (URL fetch failure on https://example.org/mnist.npz: -3 name "
        "resolution); point densespace at a local copy instead: on a machine that can download it, save its "
        "arrays with numpy.savez(PATH, x_train=..., y_train=..., x_test=..., y_test=...) and pass "
        "--data PATH.npz (load_npz(PATH) in Python)"
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "fashion-mnist",
            "keras:fashion-mnist: no such Keras dataset (did you mean 'fashion_mnist'?); expected one of "
            "mnist, fashion_mnist, cifar10, cifar100, boston_housing, california_housing",
        ),
        (
            "imdb",
            "keras:imdb: no such Keras dataset; expected one of "
            "mnist, fashion_mnist, cifar10, cifar100, boston_housing, california_housing",
        ),
    ],
)
def test_unknown_keras_dataset_is_refused_before_downloading(
    name: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name that is not one of the six is refused, with a guess, and nothing is downloaded."""
    asked = fake_keras(monkeypatch, keras_arrays)
    assert error_of(load_keras, name) == message and asked == []


# ---- load and the command line --------------------------------------------------------------------


def test_load_picks_the_loader_by_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """None and other paths are CIFAR-10, keras:NAME Keras, .npz and .csv (any case) their loaders."""
    from helpers.cifar_archives import make_splits, write_binary

    monkeypatch.setenv(ENV_VAR, str(write_binary(tmp_path / "c", *make_splits())))
    fake_keras(monkeypatch, keras_arrays)
    x, y = linear(40)
    with open(tmp_path / "d.NPZ", "wb") as stream:  # np.savez would add .npz to the name
        np.savez(stream, x=x, y=y)
    csv = write_csv(tmp_path / "t.Csv", table(20))
    cifar = load(limit=10)
    assert type(cifar) is CIFAR10 and isinstance(cifar, Dataset) and cifar.kind == "cifar10"
    assert load(tmp_path / "c" / "cifar-10-batches-bin", validation="test").kind == "cifar10"
    assert load("keras:mnist").source == "keras:mnist"
    assert load(str(tmp_path / "d.NPZ"), test=0.5).kind == "npz"
    assert split_sizes(load(csv, target="species", test=0.5, seed=2)) == [9, 1, 10]


@pytest.mark.parametrize(
    ("source", "options", "message"),
    [
        ("t.csv", {}, "t.csv is a CSV file: name the column or columns to predict with {target}"),
        (
            "d.npz",
            {"target": "a"},
            "{target} names the target columns of a CSV file, but the source is d.npz",
        ),
        (
            None,
            {"target": "a"},
            "{target} names the target columns of a CSV file, but the source is CIFAR-10 (no source given)",
        ),
        (
            "keras:mnist",
            {"test": 0.3},
            "{test} applies to CSV and .npz sources; keras:mnist comes with its test split",
        ),
        (
            "cifar-10-batches-py",
            {"test": 0.3},
            "{test} applies to CSV and .npz sources; cifar-10-batches-py comes with its test split",
        ),
        (
            "d.npz",
            {"test": "t.csv"},
            "{test} takes a fraction for a .npz source, not a file; d.npz may hold x_test and y_test",
        ),
    ],
)
def test_options_that_do_not_fit_the_source_are_refused(
    source: str | None, options: dict[str, Any], message: str
) -> None:
    """target belongs to CSV sources, which need it; test to CSV and .npz sources: said before any file is read."""
    with pytest.raises(OptionError) as caught:
        load(source, **options)
    names = {name: name for name in caught.value.options}
    assert str(caught.value) == message.format(**names)
    assert caught.value.for_cli() == message.format(**{name: f"--{name}" for name in names})


@pytest.mark.parametrize(
    ("flags", "target", "test"),
    [
        ([], None, None),
        (["--target", "species"], "species", None),
        (["--target", "price,rent", "--test", "0.3"], ["price", "rent"], 0.3),
        (["--test", "held-out.csv"], None, "held-out.csv"),
    ],
)
def test_tune_parses_target_and_test(flags: list[str], target: Any, test: Any) -> None:
    """--target splits on commas; --test is a fraction when it reads as a number, else a path."""
    args = _parser().parse_args(["tune", "s.json", "--data", "d.csv", *flags])
    assert (args.data, args.target, args.test) == ("d.csv", target, test)


@pytest.mark.parametrize(
    ("data", "flags", "message"),
    [
        ("t.csv", [], "{t.csv} is a CSV file: name the column or columns to predict with --target"),
        (
            "d.npz",
            ["--target", "a"],
            "--target names the target columns of a CSV file, but the source is {d.npz}",
        ),
        ("t.csv", ["--target", "colour"], "{t.csv}: no column 'colour'; the columns are a, b, species"),
        (
            "bad.csv",
            ["--target", "species"],
            "{bad.csv}: line 3 has 4 fields but the header names 3 columns (delimiter ',')",
        ),
        (
            "keras:cifar",
            [],
            "keras:cifar: no such Keras dataset (did you mean 'cifar10'?); expected one of mnist, fashion_mnist, cifar10, cifar100, boston_housing, california_housing",
        ),
    ],
)
def test_tune_with_bad_own_data_is_one_line_exit_2_and_writes_nothing(
    data: str, flags: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad data or flags that do not fit it: `densespace: error: ...` on one line, exit 2, no run folder."""
    import json

    spec = tmp_path / "s.json"
    spec.write_text(json.dumps(spec_dict()))
    write_csv(tmp_path / "t.csv", table(20))
    write_csv(tmp_path / "bad.csv", HEADER + "1,2,x\n1,2,3,4\n")
    source = data if data.startswith("keras:") else str(tmp_path / data)
    out = tmp_path / "out"
    assert main(["tune", str(spec), "--data", source, *flags, "--out", str(out)]) == 2
    shown = message.replace("{t.csv}", str(tmp_path / "t.csv")).replace("{d.npz}", str(tmp_path / "d.npz"))
    shown = shown.replace("{bad.csv}", str(tmp_path / "bad.csv"))
    assert capsys.readouterr().err == f"densespace: error: {shown}\n"
    assert not out.exists()


@pytest.mark.slow
def test_local_files_never_import_keras(tmp_path: Path) -> None:
    """Loading arrays, a .npz and a CSV file, through load() as the CLI does, imports neither Keras nor TensorFlow."""
    import subprocess

    x, y = linear(40)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    write_csv(tmp_path / "t.csv", table(20))
    script = (
        "import sys, numpy as np\n"
        "from densespace.datasets import from_arrays, load\n"
        f"load({str(tmp_path / 'd.npz')!r}); load({str(tmp_path / 't.csv')!r}, target='species')\n"
        "from_arrays(np.ones((10, 2)), np.arange(10) % 2)\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in ('keras', 'tensorflow')))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout == "[]\n"


def test_empty_test_csv_is_refused(tmp_path: Path) -> None:
    """A test CSV with a header and no rows leaves the test split empty, which is refused."""
    train = write_csv(tmp_path / "train.csv", table(20))
    test = write_csv(tmp_path / "test.csv", HEADER)
    assert error_of(load_csv, train, target="species", test=test) == (
        f"{test}: no rows after the header; the test split needs at least one example"
    )


def test_regression_targets_are_read_as_numbers(tmp_path):
    """For a regression, whole-number targets stay numbers and a text target is refused."""
    ages = tmp_path / "ages.csv"
    ages.write_text("a,b,age\n" + "".join(f"{i},{i % 7},{20 + i % 41}\n" for i in range(60)))
    data = load(str(ages), target="age", numbers=True)
    assert data.train[1].dtype == np.float32 and data.class_names is None
    colors = tmp_path / "colors.csv"
    colors.write_text("a,color\n1,red\n2,blue\n3,green\n")
    with pytest.raises(DatasetError) as info:
        load(str(colors), target="color", numbers=True)
    assert str(info.value) == (
        f"{colors.resolve()}: column 'color' holds text ('red'); the target of a regression must be numbers"
    )
