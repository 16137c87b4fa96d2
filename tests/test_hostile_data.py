"""Hostile data: CSV and .npz files and arrays built to cost time or memory, or to make every model NaN."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import spec_dict

from densespace._cli import main
from densespace._errors import DatasetError
from densespace.datasets import _arrays, _csv, _frame, _npz, from_arrays, load_csv, load_npz

HEADER = "a,b,y\n"
EXPECTED = "expected a CSV file whose first row names the columns"
OVERFLOWS = "is beyond ±1e+15, where float32 training overflows"
RESCALE_COLUMN = "rescale the column (divide it by a power of ten, or take its logarithm)"
RESCALE_ARRAY = "rescale the array (divide it by a power of ten, or take its logarithm)"
CONSTANT = "a number to predict must vary, else every model learns the constant: check the target"
REGRESSION = "labels that are numbers to predict need a regression task"
DAMAGED = "the file is damaged: save the arrays again"


def error_of(function: Callable[..., Any], *args: Any, **options: Any) -> str:
    """The text of the DatasetError that the call raises."""
    with pytest.raises(DatasetError) as caught:
        function(*args, **options)
    return str(caught.value)


def body(n: int) -> str:
    """``n`` rows of two features and a label of two classes."""
    return "".join(f"{i},{i % 7},{'xy'[i % 2]}\n" for i in range(n))


def write(path: Path, text: str | bytes) -> Path:
    """Writes ``text`` (UTF-8 when a str) to ``path``."""
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


class CountingNumpy:
    """Stands in for a module's ``np``, counting the calls made through it."""

    def __init__(self) -> None:
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        value = getattr(np, name)
        if not callable(value) or isinstance(value, type):
            return value

        def counted(*args: Any, **options: Any) -> Any:
            self.calls += 1
            return value(*args, **options)

        return counted


# ---- CSV: caps, NUL bytes, blocks ------------------------------------------------------------------

ROW_CAP = "a header longer than {cap} characters, the most densespace reads (MAX_CSV_ROW)"
CSV_CAPS = {
    "columns": (
        "MAX_CSV_COLUMNS",
        2,
        HEADER + body(9),
        "line 1: 3 columns; densespace reads at most 2 (MAX_CSV_COLUMNS)",
    ),
    "rows": (
        "MAX_CSV_ROWS",
        5,
        HEADER + body(9),
        "more than 5 rows or 250,000,000 cells (rows times columns, 3 here), "
        "the most densespace reads (MAX_CSV_ROWS, MAX_CSV_CELLS)",
    ),
    "cells": (
        "MAX_CSV_CELLS",
        12,
        HEADER + body(9),
        "more than 100,000,000 rows or 12 cells (rows times columns, 3 here), "
        "the most densespace reads (MAX_CSV_ROWS, MAX_CSV_CELLS)",
    ),
    "long-header": ("MAX_CSV_ROW", 4, HEADER + body(9), "line 1: " + ROW_CAP.format(cap=4)),
}


@pytest.mark.parametrize(("cap", "value", "text", "problem"), CSV_CAPS.values(), ids=CSV_CAPS)
def test_csv_past_a_cap_is_refused_on_the_line_that_passes_it(
    cap: str, value: int, text: str, problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Columns, rows, cells and the header's characters are capped (lowered here)."""
    monkeypatch.setattr(_csv, cap, value)
    path = write(tmp_path / "t.csv", text)
    assert error_of(load_csv, path, target="y") == f"{path}: {problem}"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (HEADER + "1,2,x\n1,\0,y\n", f"line 3 holds a NUL byte, which no text does; {EXPECTED}"),
        (b"\0" * 3_000_000, f"line 1 holds a NUL byte, which no text does; {EXPECTED}"),
        (b"\xef\xbb\xbf" + HEADER.encode() + b"1,caf\xe9,x\n", "not UTF-8 text (byte 14 is 0xe9)"),
        (b"a,b,y\r1,2,x\r3," + b"9" * 100 + b"\xff\r", "not UTF-8 text (byte 114 is 0xff)"),
    ],
    ids=["nul-on-line-3", "file-of-nul-bytes", "not-utf8-after-bom", "not-utf8-after-lone-cr"],
)
def test_binary_csv_is_refused_on_its_first_bad_line(
    text: str | bytes, problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A NUL byte is refused on the line that holds it, reading at most MAX_CSV_ROW characters (lowered here)."""
    monkeypatch.setattr(_csv, "MAX_CSV_ROW", 1000)
    path = write(tmp_path / "t.csv", text)
    assert error_of(load_csv, path, target="y") == f"{path}: {problem}"


# ---- numbers that make every model NaN ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "test", "options", "problem"),
    [
        (
            "a,b,price\n1,2,5\n3,4,-3e38\n",
            None,
            {"target": "price", "numbers": True},
            f"column 'price', line 3: -3e+38 {OVERFLOWS}; {RESCALE_COLUMN}",
        ),
        (
            "a,b,price\n1,2,5\n3,4,5\n5,6,5\n",
            None,
            {"target": "price", "numbers": True},
            f"column 'price': all 3 rows have the same target (5); {CONSTANT}",
        ),
        (
            "a,b,price\n1,2,5\n3,4,6\n5,6,7\n",
            "price,a,b\n1,2,3\n1e16,4,5\n",
            {"target": "price", "numbers": True},
            f"{{test}}: column 'price', line 3: 1e+16 {OVERFLOWS}; {RESCALE_COLUMN}",
        ),
    ],
    ids=["target", "constant-target", "target-in-test-file"],
)
def test_csv_numbers_that_overflow_float32_training_are_refused(
    text: str, test: str | None, options: dict[str, Any], problem: str, tmp_path: Path
) -> None:
    """A value beyond MAX_MAGNITUDE is refused naming its file, column and line; so is a constant target."""
    path = write(tmp_path / "t.csv", text)
    test_path = write(tmp_path / "test.csv", test) if test is not None else None
    message = error_of(load_csv, path, **{"target": "y", "test": test_path, **options})
    assert message == (problem.replace("{test}", str(test_path)) if test else f"{path}: {problem}")


X = np.arange(20.0).reshape(10, 2)
Y = np.arange(10) % 2


def with_value(array: np.ndarray, index: tuple[int, ...], value: float) -> np.ndarray:
    """A copy of ``array`` holding ``value`` at ``index``."""
    array = array.copy()
    array[index] = value
    return array


@pytest.mark.parametrize(
    ("x", "y", "options", "problem"),
    [
        (with_value(X, (4, 1), 3e38), Y, {}, f"x[4, 1]: 3e+38 {OVERFLOWS}; {RESCALE_ARRAY}"),
        (
            with_value(np.zeros((10, 2, 3)), (3, 1, 2), -1e20),
            Y,
            {},
            f"x[3, 1, 2]: -1e+20 {OVERFLOWS}; {RESCALE_ARRAY}",
        ),
        (
            with_value(X.astype(np.int64), (0, 1), 2**60),
            Y,
            {},
            f"x[0, 1]: 1.15292e+18 {OVERFLOWS}; {RESCALE_ARRAY}",
        ),
        (X, with_value(X[:, 0], (2,), 1e16), {}, f"y[2]: 1e+16 {OVERFLOWS}; {RESCALE_ARRAY}"),
        (
            X,
            X[:, 0],
            {"validation": (X[:2], np.array([0.5, 3e38]))},
            f"validation[1][1]: 3e+38 {OVERFLOWS}; {RESCALE_ARRAY}",
        ),
        (X, np.full(10, 2.5), {}, f"y: all 10 examples have the same target (2.5); {CONSTANT}"),
        (X, np.tile([1.0, 2.0], (10, 1)), {}, f"y: all 10 examples have the same target (1, 2); {CONSTANT}"),
    ],
    ids=[
        "feature",
        "image-pixel",
        "integer-feature",
        "target",
        "validation-target",
        "constant",
        "constant-columns",
    ],
)
def test_arrays_that_overflow_float32_training_are_refused(
    x: np.ndarray, y: np.ndarray, options: dict[str, Any], problem: str
) -> None:
    """A value beyond MAX_MAGNITUDE is refused naming the array and its index; so is a constant target."""
    assert error_of(from_arrays, x, y, **options) == problem


def test_npz_shares_the_check(tmp_path: Path) -> None:
    """Integer labels read as numbers to predict are checked too, named as the .npz file names them."""
    path = tmp_path / "d.npz"
    np.savez(path, x_train=X, y_train=Y * 2**60)
    assert (
        error_of(load_npz, path, numbers=True)
        == f"{path}: y_train[1]: 1.15292e+18 {OVERFLOWS}; {RESCALE_ARRAY}"
    )


# ---- classes ---------------------------------------------------------------------------------------


def quadratic_stratified_order(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The stratified order as densespace computed it before it was linear: one pass per class."""
    order = rng.permutation(len(labels))
    shuffled = labels[order]
    rank = np.empty(len(labels))
    for label in np.unique(shuffled):
        members = shuffled == label
        count = np.count_nonzero(members)
        rank[members] = (np.arange(count) + 0.5) / count
    return order[np.argsort(rank, kind="stable")]


@pytest.mark.parametrize("seed", range(6))
def test_stratified_prefix_is_unchanged(seed: int) -> None:
    """The linear stratified split picks every prefix of the one-pass-per-class order, so every seed splits as it did."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, [1, 2, 10, 50, 3, 200][seed], size=[1, 7, 100, 500, 2, 1000][seed])
    order = quadratic_stratified_order(labels, np.random.default_rng(seed))
    for count in range(1, len(labels) + 1):
        expected = np.zeros(len(labels), dtype=bool)
        expected[order[:count]] = True
        chosen = _arrays._first(labels, count, np.random.default_rng(seed), stratify=True)
        np.testing.assert_array_equal(chosen, expected, err_msg=f"the first {count}")


def test_stratified_order_does_no_work_per_class(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ordering 2 or 5,000 classes makes the same numpy calls: the work grows with the examples alone."""
    counter = CountingNumpy()
    monkeypatch.setattr(_arrays, "np", counter)
    calls = []
    for classes in (2, 5_000):
        counter.calls = 0
        _arrays._first(np.arange(10_000) % classes, 5_000, np.random.default_rng(0), stratify=True)
        calls.append(counter.calls)
    assert calls[0] == calls[1] > 0


@pytest.mark.parametrize(
    ("load", "problem"),
    [
        (
            lambda tmp: from_arrays(X, np.arange(10) % 4),
            f"y holds 4 classes; densespace trains on at most 3 (one output unit each); {REGRESSION}",
        ),
        (
            lambda tmp: from_arrays(X, Y, class_names=list("abcde")),
            f"y holds 5 classes; densespace trains on at most 3 (one output unit each); {REGRESSION}",
        ),
        (
            lambda tmp: load_csv(
                write(tmp / "t.csv", HEADER + "".join(f"{i},{i},{i % 4}\n" for i in range(12))), target="y"
            ),
            f"{{tmp}}/t.csv: column 'y' holds 4 classes; densespace trains on at most 3 (one output unit each); {REGRESSION}",
        ),
        (
            lambda tmp: load_csv(
                write(tmp / "t.csv", HEADER + "".join(f"{i},{i},c{i % 5}\n" for i in range(12))), target="y"
            ),
            "{tmp}/t.csv: column 'y' holds 5 classes; densespace trains on at most 3 (one output unit "
            "each); is it the column to predict?",
        ),
        (
            lambda tmp: load_csv(
                write(tmp / "t.csv", HEADER + body(12)),
                target="y",
                test=write(tmp / "u.csv", HEADER + "1,2,z\n3,4,w\n"),
            ),
            "{tmp}/t.csv: column 'y' holds 4 classes; densespace trains on at most 3 (one output unit each); "
            "is it the column to predict?",
        ),
    ],
    ids=["arrays", "class-names", "csv-whole-numbers", "csv-text", "csv-text-over-two-files"],
)
def test_more_classes_than_the_cap_are_refused(
    load: Callable[[Path], Any], problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Labels of more than MAX_CLASSES classes (lowered here) are refused before any split."""
    monkeypatch.setattr(_arrays, "MAX_CLASSES", 3)
    monkeypatch.setattr(_frame, "MAX_CLASSES", 3)
    assert error_of(load, tmp_path) == problem.replace("{tmp}", str(tmp_path))


# ---- .npz: dtypes and headers checked before anything is loaded -------------------------------------


def npz_of(
    path: Path, members: dict[str, tuple[dict[str, Any], bytes]], compression: int = zipfile.ZIP_STORED
) -> Path:
    """A .npz file whose members have the given headers (descr, shape) and data, whatever they say."""
    with zipfile.ZipFile(path, "w", compression) as archive:
        for key, (header, data) in members.items():
            stream = io.BytesIO()
            np.lib.format.write_array_header_1_0(stream, {"fortran_order": False, **header})
            archive.writestr(f"{key}.npy", stream.getvalue() + data)
    return path


def y_of(n: int = 4) -> tuple[dict[str, Any], bytes]:
    """The header and data of ``n`` int64 labels 0, 1, 0, 1, ..."""
    return {"descr": "<i8", "shape": (n,)}, (np.arange(n) % 2).astype("<i8").tobytes()


def forged_directory(path: Path) -> Path:
    """A deflated .npz whose zip directory says x_train expands to the 1 GiB its header declares."""
    npz_of(
        path,
        {"x_train": ({"descr": "<f8", "shape": (2**27, 1)}, bytes(2**20)), "y_train": y_of()},
        zipfile.ZIP_DEFLATED,
    )
    data = bytearray(path.read_bytes())
    entry = data.index(b"PK\x01\x02")
    while data[entry + 46 : entry + 57] != b"x_train.npy":
        entry = data.index(b"PK\x01\x02", entry + 4)
    struct.pack_into("<I", data, entry + 24, 128 + 2**30)
    path.write_bytes(bytes(data))
    return path


LONGDOUBLE = np.dtype(np.longdouble)
NPZ_CASES = {
    "longdouble": (
        lambda p: np.savez(p, x_train=np.ones((4, 2), np.longdouble), y_train=[0, 1, 0, 1]),
        f"x_train holds {LONGDOUBLE} values; features must be numbers (bool, integer or float); floats wider "
        "than 64 bits are not taken: convert with x_train.astype('float64')",
    ),
    "complex": (
        lambda p: np.savez(p, x=np.ones((4, 2), np.complex64), y=[0, 1, 0, 1]),
        "x holds complex64 values; features must be numbers (bool, integer or float)",
    ),
    "text": (
        lambda p: np.savez(p, x=np.array([["a", "b"]] * 4), y=[0, 1, 0, 1]),
        "x holds <U1 values; features must be numbers (bool, integer or float)",
    ),
    "structured": (
        lambda p: np.savez(p, x=np.zeros((4, 2), "f4,i4"), y=[0, 1, 0, 1]),
        "x holds [('f0', '<f4'), ('f1', '<i4')] values; features must be numbers (bool, integer or float)",
    ),
    "datetime-labels": (
        lambda p: np.savez(p, x=np.ones((4, 2)), y=np.arange(4).astype("datetime64[D]")),
        "y holds datetime64[D] values; labels must be integer class ids or float targets",
    ),
    "shape-beyond-data": (
        lambda p: npz_of(p, {"x": ({"descr": "<f8", "shape": (2**27,)}, bytes(2**20)), "y": y_of()}),
        f"x: its header declares the shape (134217728,), 1,073,741,824 bytes, but the zip directory gives it "
        f"1,048,576 bytes; {DAMAGED}",
    ),
    "negative-shape": (
        lambda p: npz_of(
            p,
            {
                "x": ({"descr": "<f8", "shape": (1200, 1000, 1000)}, b""),
                "y": ({"descr": "<i8", "shape": (-5,)}, b""),
            },
        ),
        f"y: its header declares the shape (-5,); {DAMAGED}",
    ),
    "forged-directory": (
        forged_directory,
        "x_train: the zip directory says {compressed:,} compressed bytes expand to 1,073,741,952, "
        f"more than 1032 times as many; {DAMAGED}",
    ),
}


@pytest.mark.parametrize(("write_npz", "problem"), NPZ_CASES.values(), ids=NPZ_CASES)
def test_npz_is_refused_on_its_headers_before_loading(
    write_npz: Callable[[Path], Any], problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dtypes training cannot take and shapes that the member does not hold are refused, nothing loaded."""
    if LONGDOUBLE.itemsize <= 8 and write_npz is NPZ_CASES["longdouble"][0]:
        pytest.skip("numpy's longdouble is float64 on this platform")
    path = tmp_path / "d.npz"
    write_npz(path)
    with zipfile.ZipFile(path) as archive:
        compressed = (
            archive.getinfo("x_train.npy").compress_size if "x_train.npy" in archive.namelist() else 0
        )

    def never(*args: Any, **options: Any) -> Any:
        raise AssertionError("an array was loaded")

    monkeypatch.setattr(np.lib.format, "read_array", never)
    assert error_of(load_npz, path) == f"{path}: {problem.format(compressed=compressed)}"


def test_npz_with_a_large_zip_directory_is_refused_before_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A zip directory over _MAX_DIRECTORY bytes (lowered here) is refused before zipfile reads it."""
    path = tmp_path / "d.npz"
    np.savez(path, x=X, y=Y)
    with zipfile.ZipFile(path) as archive:
        size = sum(
            46 + len(info.filename) + len(info.extra) + len(info.comment) for info in archive.infolist()
        )

    def never(*args: Any, **options: Any) -> Any:
        raise AssertionError("the directory was read")

    monkeypatch.setattr(np, "load", never)
    monkeypatch.setattr(_npz, "_MAX_DIRECTORY", size - 1)
    assert error_of(load_npz, path) == (
        f"{path}: its zip directory takes {size:,} bytes, more than the {size - 1:,} densespace reads; "
        "the directory of 8 arrays takes a few hundred"
    )


def test_npz_whose_compressed_data_is_damaged_is_one_error(tmp_path: Path) -> None:
    """A deflate stream that does not decompress is the file's damage, not an unexpected zlib.error."""
    path = tmp_path / "d.npz"
    np.savez_compressed(path, x=np.random.default_rng(0).normal(size=(300, 3)), y=np.arange(300) % 3)
    data = bytearray(path.read_bytes())
    data[130:170] = b"\xff" * 40  # inside x.npy's compressed bytes, after its header's
    path.write_bytes(bytes(data))
    assert error_of(load_npz, path).startswith(
        f"{path}: the file is damaged (Error -3 while decompressing data"
    )


# ---- the command line ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "flags", "problem"),
    [
        (
            "d.csv",
            HEADER + "1,2,x\n\0\n",
            ["--target", "y"],
            f"line 3 holds a NUL byte, which no text does; {EXPECTED}",
        ),
        (
            "d.npz",
            NPZ_CASES["negative-shape"][0],
            [],
            f"y: its header declares the shape (-5,); {DAMAGED}",
        ),
    ],
    ids=["csv", "npz"],
)
def test_hostile_data_is_one_line_exit_2(
    name: str,
    content: Any,
    flags: list[str],
    problem: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`densespace tune` on hostile data prints one located line, exits 2 and writes nothing."""
    spec = write(tmp_path / "s.json", json.dumps(spec_dict()))
    path = tmp_path / name
    if isinstance(content, str):
        write(path, content)
    else:
        content(path)
    out = tmp_path / "out"
    assert main(["tune", str(spec), "--data", str(path), *flags, "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"densespace: error: {path}: {problem}\n"
    assert not out.exists()
