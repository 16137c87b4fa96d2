"""A table in a CSV file: target columns to predict, every other column a numeric feature."""

from __future__ import annotations

import csv
import difflib
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from densespace._errors import DatasetError, quote, show
from densespace.datasets._arrays import Part, assemble, check_options, show_option
from densespace.datasets._dataset import Dataset
from densespace.datasets._local import open_regular, resolve

MAX_CSV_BYTES = 2**30
"""The largest CSV file ``load_csv`` reads (1 GiB); parsing one that size takes about a minute."""

_EXPECTED = "a CSV file whose first row names the columns"
_FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class _Table:
    """A CSV file's header and rows, with the line each row ends on."""

    where: str  # "path: ", to start errors with
    header: list[str]
    rows: list[list[str]]
    lines: list[int]


def load_csv(
    path: str | os.PathLike[str],
    *,
    target: str | Sequence[str],
    test: float | str | os.PathLike[str] | None = None,
    validation: float | Literal["test"] = 0.1,
    limit: int | None = None,
    seed: int = 0,
    numbers: bool = False,
) -> Dataset:
    """Loads a CSV table (header row first) and splits it into train, validation and test.

    Every column but the target columns is a feature and must hold numbers.
    One target column of text, or of whole numbers, holds class labels: they
    become ids ``0..k-1`` in sorted order (numbers by value, text by code
    point), ``class_names`` keeps the labels as written (whole numbers without
    a decimal point), and the splits are stratified by class. One target column
    of other numbers is a number to predict: ``y`` is ``float32`` of shape
    ``(N,)``. Several target columns are numbers to predict: ``y`` is
    ``float32`` of shape ``(N, t)``. ``target_names`` names the target columns
    of numbers to predict. Features are ``float32``, named by ``feature_names``.

    Args:
        path: the CSV file: comma-separated, UTF-8, its first row the column names.
        target: the column to predict, or a list of columns.
        test: the share of the rows held out for testing (default 0.2), or a
            second CSV file with the same columns to test on.
        validation: the share of the training rows held out for validation, or
            ``"test"`` to validate on the test split.
        limit: keep at most this many rows in each split, a stratified subset.
        seed: fixes which rows each split and each subset gets.
        numbers: read one target column of whole numbers as numbers to predict
            (for a ``regression`` task), not as class labels.

    Returns:
        A ``Dataset`` of kind ``"csv"`` whose source is the resolved path.

    Raises:
        DatasetError: a file is missing, too large or not CSV, a column is
            missing or not numeric, a value is NaN or infinite, or a class has
            too few rows to split (each message names the file, the column and the line).

    Examples:
        >>> import tempfile
        >>> rows = [f"{i},{i % 5},{'odd' if i % 2 else 'even'}" for i in range(40)]
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     _ = Path(folder, "t.csv").write_text("a,b,parity\\n" + "\\n".join(rows))
        ...     data = load_csv(Path(folder, "t.csv"), target="parity")
        >>> data.class_names, data.feature_names, data.train[0].dtype, data.test[1].tolist()
        (('even', 'odd'), ('a', 'b'), dtype('float32'), [0, 1, 0, 1, 1, 0, 1, 0])
        >>> [len(y) for _, y in (data.train, data.validation, data.test)]
        [29, 3, 8]
    """
    targets = _targets(target)
    test_path, fraction = None, 0.2
    if isinstance(test, str | os.PathLike):
        test_path = resolve(test)
    elif test is not None:
        if isinstance(test, bool) or not isinstance(test, int | float) or not 0 < test < 1:
            raise DatasetError(
                f"test must be a fraction between 0 and 1 (exclusive) or the path of a CSV file, "
                f"got {show_option(test)}"
            )
        fraction = test
    check_options(validation=validation, test=fraction, limit=limit, seed=seed)
    where = resolve(path)
    table = _read_table(where, "training")
    _check_targets(table, targets)
    tables = [table]
    if test_path is not None:
        tables.append(_same_columns(_read_table(test_path, "test"), table))
    features = [name for name in table.header if name not in targets]
    if not features:
        raise DatasetError(
            f"{where}: no feature columns: every column but the target is a feature, and the header "
            f"names only {', '.join(map(repr, table.header))}"
        )
    x = [_features(t, features, targets) for t in tables]
    if len(targets) > 1:
        ys = [np.stack([_numbers(t, name, _TARGETS) for name in targets], axis=1) for t in tables]
        labels, class_names, hint = [y.astype(np.float32) for y in ys], None, ""
    else:
        labels, class_names, hint = _target(tables, targets[0], numbers=numbers)
    y_name = f"column{'s' if len(targets) > 1 else ''} {', '.join(map(repr, targets))}"
    held = [
        Part(inputs, y, "features", y_name, split)
        for inputs, y, split in zip(x, labels, ("training", "test"), strict=False)
    ]
    source = str(where) if test_path is None else f"{where} (test: {test_path})"
    return assemble(
        held[0],
        validation=validation,
        test=held[1] if len(held) > 1 else fraction,
        limit=limit,
        seed=seed,
        source=source,
        kind="csv",
        where=f"{where}: ",
        noun="rows",
        class_names=class_names,
        feature_names=tuple(features),
        target_names=tuple(targets) if class_names is None else None,
        hint=hint,
    )


def _targets(target: object) -> list[str]:
    """``target`` as a list of distinct column names."""
    targets = [target] if isinstance(target, str) else target
    if (
        not isinstance(targets, Sequence)
        or isinstance(targets, str)
        or not targets
        or not all(isinstance(name, str) and name for name in targets)
        or len(set(targets)) != len(targets)
    ):
        raise DatasetError(
            f"target must be a column name or a non-empty list of distinct column names, got {show(target)}"
        )
    return list(targets)


def _read_table(path: Path, split: str) -> _Table:
    """The header and non-blank rows of a CSV file, each row as long as the header; ``split`` names its use."""
    where = f"{path}: "
    stream, _ = open_regular(path, expected=_EXPECTED, limit=MAX_CSV_BYTES)
    with stream:
        raw = stream.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{where}not UTF-8 text (byte {exc.start:,} is {raw[exc.start]:#04x})") from None
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True, strict=True)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        for row in reader:
            if not row:
                continue  # a blank line
            if header is None:
                header = _check_header(row, where)
            elif len(row) != len(header):
                raise DatasetError(
                    f"{where}line {reader.line_num} has {len(row)} fields but the header names "
                    f"{len(header)} columns"
                )
            else:
                rows.append(row)
                lines.append(reader.line_num)
    except csv.Error as exc:
        raise DatasetError(f"{where}line {reader.line_num}: not valid CSV ({exc})") from None
    if header is None:
        raise DatasetError(
            f"{where}the file is empty; expected a header row naming the columns, then the rows"
        )
    if not rows:
        raise DatasetError(f"{where}no rows after the header; the {split} split needs at least one example")
    return _Table(where, header, rows, lines)


def _check_header(row: list[str], where: str) -> list[str]:
    """Refuses a first row with an unnamed or repeated column, or one of numbers (no header)."""
    for index, name in enumerate(row):
        if not name.strip():
            raise DatasetError(
                f"{where}line 1: column {index + 1} has no name; the first row must name every column"
            )
        if row.index(name) != index:
            raise DatasetError(f"{where}line 1: two columns are named {quote(name, 60)!r}")
    try:
        [float(name) for name in row]
    except ValueError:
        return row
    raise DatasetError(
        f"{where}line 1 holds numbers ({quote(', '.join(row), 60)}), not column names; "
        "the first row of the file must name the columns"
    )


def _check_targets(table: _Table, targets: list[str]) -> None:
    """Refuses a target that names no column, suggesting the closest one."""
    for name in targets:
        if name not in table.header:
            close = difflib.get_close_matches(name, table.header, n=1)
            guess = f" (did you mean {close[0]!r}?)" if close else ""
            columns = quote(", ".join(table.header), 120)
            raise DatasetError(
                f"{table.where}no column {quote(name, 60)!r}{guess}; the columns are {columns}"
            )


def _same_columns(test: _Table, train: _Table) -> _Table:
    """``test`` with its columns in ``train``'s order; refuses other columns."""
    missing = [name for name in train.header if name not in test.header]
    extra = [name for name in test.header if name not in train.header]
    if missing or extra:
        said = [f"no column {', '.join(map(repr, missing))}"] if missing else []
        said += [f"an extra column {', '.join(map(repr, extra))}"] if extra else []
        raise DatasetError(
            f"{test.where}{quote(' and '.join(said), 160)}; the test file needs the columns of "
            f"{train.where.removesuffix(': ')}"
        )
    order = [test.header.index(name) for name in train.header]
    return _Table(test.where, train.header, [[row[i] for i in order] for row in test.rows], test.lines)


_FEATURES = "every column but the target must hold numbers"
_TARGETS = "a target of several columns must hold numbers"


def _features(table: _Table, features: list[str], targets: list[str]) -> np.ndarray:
    rule = _FEATURES if len(targets) == 1 else _FEATURES.replace("the target", "the targets")
    columns = [_numbers(table, name, rule) for name in features]
    return np.stack(columns, axis=1).astype(np.float32)


def _numbers(table: _Table, name: str, rule: str) -> np.ndarray:
    """Column ``name`` as float64 numbers, all finite and within float32's range."""
    index = table.header.index(name)
    cells = [row[index] for row in table.rows]
    try:
        values = np.array(cells, dtype=np.float64)
    except ValueError:
        for cell, line in zip(cells, table.lines, strict=True):
            try:
                float(cell)
            except ValueError:
                raise DatasetError(
                    f"{table.where}column {name!r}, line {line}: {quote(cell, 60)!r} is not a number; {rule}"
                ) from None
        raise
    _check_finite(values, table, name)
    return values


def _check_finite(values: np.ndarray, table: _Table, name: str) -> None:
    """Refuses NaN, infinity and numbers beyond float32, counting them and naming the first line."""
    bad = ~np.isfinite(values)
    if bad.any():
        count, line = int(bad.sum()), table.lines[int(np.flatnonzero(bad)[0])]
        are = "values are" if count > 1 else "value is"
        raise DatasetError(
            f"{table.where}column {name!r}: {count} {are} NaN or infinite, the first on line {line}; "
            "every value must be a finite number"
        )
    large = np.abs(values) > _FLOAT32_MAX
    if large.any():
        first = int(np.flatnonzero(large)[0])
        raise DatasetError(
            f"{table.where}column {name!r}, line {table.lines[first]}: {values[first]:g} is beyond the "
            f"range of float32 (about ±{_FLOAT32_MAX:.1e})"
        )


def _target(
    tables: list[_Table], name: str, *, numbers: bool
) -> tuple[list[np.ndarray], tuple[str, ...] | None, str]:
    """One target column: class ids, their names and a hint on how they were read; or float32 numbers."""
    index = tables[0].header.index(name)
    cells = [[row[index] for row in table.rows] for table in tables]
    for table, column in zip(tables, cells, strict=True):
        for cell, line in zip(column, table.lines, strict=True):
            if not cell.strip():
                raise DatasetError(
                    f"{table.where}column {name!r}, line {line}: empty; every row needs a target"
                )
    values_of: list[np.ndarray] | None = None
    try:
        values_of = [np.array(column, dtype=np.float64) for column in cells]
    except ValueError:
        values_of = None
    if values_of is not None:
        for table, values in zip(tables, values_of, strict=True):
            _check_finite(values, table, name)
        whole = all(np.array_equal(values, np.floor(values)) for values in values_of)
        if numbers or not whole:
            return [values.astype(np.float32) for values in values_of], None, ""
        classes = np.unique(np.concatenate(values_of))
        labels = [np.searchsorted(classes, values).astype(np.int64) for values in values_of]
        hint = f"; column {name!r} holds whole numbers, read as class labels"
        return labels, tuple(str(int(value)) for value in classes), hint
    if numbers:
        found = next((cell for column in cells for cell in column if not _is_number(cell)), "")
        raise DatasetError(
            f"{tables[0].where}column {name!r} holds text ({quote(found, 40)!r}); the target of a regression "
            "must be numbers"
        )
    text = np.unique(np.concatenate([np.array(column, dtype=str) for column in cells]))
    labels = [np.searchsorted(text, np.array(column, dtype=str)).astype(np.int64) for column in cells]
    hint = ""
    word = next((cell for cell in cells[0] if not _is_number(cell)), None)
    if word is not None and sum(map(_is_number, cells[0])) > len(cells[0]) // 2:
        line = tables[0].lines[cells[0].index(word)]
        hint = (
            f"; column {name!r} holds numbers and text ({quote(word, 40)!r} on line {line}), "
            "so every value was read as a class name"
        )
    return labels, tuple(str(label) for label in text), hint


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
