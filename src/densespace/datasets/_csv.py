"""A table in a CSV file: target columns to predict, every other column a numeric feature.

The file is read once, row by row, and turned into numbers a block of rows at a
time: it takes a few times the memory of its numbers, in time linear in its
cells. Caps on its size, line length, columns, rows and cells refuse an absurd
file before the work, and a NUL byte (a binary file) on the line that holds it.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np

from densespace._errors import DatasetError, quote, show
from densespace.datasets._arrays import (
    MAX_CLASSES,
    Located,
    Part,
    assemble,
    check_options,
    show_option,
    too_many_classes,
)
from densespace.datasets._dataset import Dataset
from densespace.datasets._local import open_regular, resolve

MAX_CSV_BYTES = 2**30
"""The largest CSV file ``load_csv`` reads (1 GiB); parsing one that size takes a few minutes."""

MAX_CSV_ROW = 2**22
"""The most characters one row may take (4 Mi), its lines together when quoted fields span several."""

MAX_CSV_COLUMNS = 100_000
"""The most columns a CSV file may have."""

MAX_CSV_ROWS = 100_000_000
"""The most rows a CSV file may have, besides its header."""

MAX_CSV_CELLS = 250_000_000
"""The most cells (rows times columns) a CSV file may have: 1 GB once they are float32 numbers."""

_EXPECTED = "a CSV file whose first row names the columns"
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_BLOCK = 2**16  # the cells turned into numbers at a time
_FEATURES = "every column but the target must hold numbers"
_TARGETS = "a target of several columns must hold numbers"


@dataclass
class _Target:
    """One target column as it is read: as numbers while every cell is one, and as labels up to ``MAX_CLASSES``."""

    name: str
    values: list[np.ndarray] = field(default_factory=list)  # float64 blocks, while every cell is a number
    numeric: bool = True
    labels: dict[str, int] | None = field(default_factory=dict)  # label: id; None past MAX_CLASSES
    ids: list[np.ndarray] = field(default_factory=list)  # int64 blocks of ids in ``labels``
    count: int = 0  # the cells that are numbers
    text: tuple[str, int] | None = None  # the first cell that is not a number, and its line

    def add(self, cells: list[str], lines: list[int], where: str) -> None:
        """Reads a block of the column's cells, on ``lines``; refuses an empty one."""
        for cell, line in zip(cells, lines, strict=True):
            if not cell.strip():
                raise DatasetError(
                    f"{where}column {self.name!r}, line {line}: empty; every row needs a target"
                )
        if self.numeric:
            try:
                self.values.append(np.array(cells, dtype=np.float64))
                self.count += len(cells)
            except ValueError:
                self.numeric, self.values = False, []
        if not self.numeric:
            for cell, line in zip(cells, lines, strict=True):
                if _is_number(cell):
                    self.count += 1
                elif self.text is None:
                    self.text = (cell, line)
        if self.labels is not None:
            ids = [self.labels.setdefault(cell, len(self.labels)) for cell in cells]
            self.ids.append(np.array(ids, dtype=np.int64))
            if len(self.labels) > MAX_CLASSES:
                self.labels, self.ids = None, []


@dataclass(frozen=True)
class _Table:
    """A CSV file as read: its header, numbers, target column and the line each row ends on."""

    where: str  # "path: ", to start errors with
    header: list[str]
    numbers: np.ndarray  # float32 (N, k): the features, then the targets when there are several
    target: _Target | None  # the target, when there is one
    lines: np.ndarray  # int64 (N,)


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
        DatasetError: a file is missing, too large, over a cap (``MAX_CSV_ROW``,
            ``MAX_CSV_COLUMNS``, ``MAX_CSV_ROWS``, ``MAX_CSV_CELLS``) or not CSV
            text (a NUL byte, not UTF-8), a column is missing or not numeric, a
            value is NaN, infinite or beyond ``MAX_MAGNITUDE``, a number to
            predict is constant, or the classes are too many or too small to
            split (each message names the file, the column and the line).

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
    table = _read_table(where, "training", targets)
    tables = [table] + ([_read_table(test_path, "test", targets, table)] if test_path is not None else [])
    count = len(table.header) - len(targets)
    x = [t.numbers[:, :count] for t in tables]
    if len(targets) > 1:
        labels, class_names, hint = [t.numbers[:, count:] for t in tables], None, ""
    else:
        labels, class_names, hint = _target(tables, numbers=numbers)
    y_name = f"column{'s' if len(targets) > 1 else ''} {', '.join(map(repr, targets))}"
    features = _names(table.header, targets)[:count]
    columns = (tuple(features), tuple(targets))
    held = [
        Part(inputs, y, "features", y_name, split, Located(t.where, t.lines, columns))
        for inputs, y, split, t in zip(x, labels, ("training", "test"), tables, strict=False)
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


class _Lines:
    """A CSV file's lines for ``csv.reader``, each refused as it is read if it holds a NUL byte, is not
    UTF-8, or makes its row longer than ``MAX_CSV_ROW``."""

    def __init__(self, stream: BinaryIO, where: str) -> None:
        self.offset = 3 if stream.read(3) == codecs.BOM_UTF8 else 0  # bytes before the next line
        stream.seek(self.offset)
        self.text = io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")
        self.where = where
        self.number = 0  # the lines read
        self.row = 0  # the characters of the row being read; the reader of rows sets it to 0 at each row

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self.text.readline(MAX_CSV_ROW - self.row + 1)
        if not line:
            raise StopIteration
        self.number += 1
        self.row += len(line)
        if "\0" in line:
            raise DatasetError(
                f"{self.where}line {self.number} holds a NUL byte, which no text does; expected {_EXPECTED}"
            )
        size = len(line)
        if not line.isascii():
            try:
                size = len(line.encode("utf-8"))
            except UnicodeEncodeError as exc:  # a byte that is not UTF-8, escaped as a lone surrogate
                byte = self.offset + len(line[: exc.start].encode("utf-8", "surrogateescape"))
                raise DatasetError(
                    f"{self.where}not UTF-8 text (byte {byte:,} is {ord(line[exc.start]) - 0xDC00:#04x})"
                ) from None
        if self.row > MAX_CSV_ROW:
            raise DatasetError(
                f"{self.where}line {self.number}: a row longer than {MAX_CSV_ROW:,} characters, the most "
                "densespace reads (MAX_CSV_ROW); a quote left open makes one row of the rest of the file"
            )
        self.offset += size
        return line


def _read_table(path: Path, split: str, targets: list[str], train: _Table | None = None) -> _Table:
    """A CSV file read row by row; ``split`` names its use, ``train`` is the training file's table
    when this is the test file, which must have its columns."""
    where = f"{path}: "
    stream, _ = open_regular(path, expected=_EXPECTED, limit=MAX_CSV_BYTES)
    with stream:
        lines = _Lines(stream, where)
        reader = csv.reader(lines, skipinitialspace=True, strict=True)
        try:
            header = _header(reader, lines, where)
            if train is None:
                _check_targets(header, targets, where)
            else:
                _same_columns(header, train, where)
            names = _names(header if train is None else train.header, targets)
            if len(names) == len(targets):
                raise DatasetError(
                    f"{path}: no feature columns: every column but the target is a feature, and the "
                    f"header names only {', '.join(map(repr, header))}"
                )
            table = _read_rows(reader, lines, header, names, len(targets), where)
        except csv.Error as exc:
            raise DatasetError(f"{where}line {reader.line_num}: not valid CSV ({exc})") from None
    if not len(table.lines):
        raise DatasetError(f"{where}no rows after the header; the {split} split needs at least one example")
    return table


def _names(header: list[str], targets: list[str]) -> list[str]:
    """The columns in the order they are read: the features in the header's order, then the targets."""
    chosen = set(targets)
    return [name for name in header if name not in chosen] + targets


def _header(reader: Iterator[list[str]], lines: _Lines, where: str) -> list[str]:
    """The first row that is not blank, checked as a header."""
    for row in reader:
        lines.row = 0
        if row:
            if len(row) > MAX_CSV_COLUMNS:
                raise DatasetError(
                    f"{where}line {lines.number}: {len(row):,} columns; densespace reads at most "
                    f"{MAX_CSV_COLUMNS:,} (MAX_CSV_COLUMNS)"
                )
            return _check_header(row, where)
    raise DatasetError(f"{where}the file is empty; expected a header row naming the columns, then the rows")


def _read_rows(
    reader: Iterator[list[str]], lines: _Lines, header: list[str], names: list[str], targets: int, where: str
) -> _Table:
    """The rows after ``header``: the columns ``names`` (features, then ``targets`` targets), a block at a time.

    One target is read on its own, as numbers or labels; the other columns are
    numbers, float32 once checked.
    """
    position = {name: index for index, name in enumerate(header)}
    target = _Target(names[-1]) if targets == 1 else None
    numeric = names[:-1] if target is not None else names
    at, last = [position[name] for name in numeric], position[names[-1]]
    pick: Callable[[list[str]], tuple[str, ...]] = (
        itemgetter(*at) if len(at) > 1 else lambda row: (row[at[0]],)
    )
    features = len(names) - targets
    rule = _FEATURES if targets == 1 else _FEATURES.replace("the target", "the targets")
    columns = _Columns(where, numeric, [rule] * features + [_TARGETS] * (len(numeric) - features), target)
    size = max(1, _BLOCK // len(header))  # rows per block
    block: list[tuple[str, ...]] = []
    cells: list[str] = []
    ends: list[int] = []
    for row in _rows(reader, lines, len(header), where):
        block.append(pick(row))
        cells.append(row[last])
        ends.append(lines.number)
        if len(block) == size:
            columns.add(block, cells, ends)
            block, cells, ends = [], [], []
    if block:
        columns.add(block, cells, ends)
    return columns.table(header)


def _rows(reader: Iterator[list[str]], lines: _Lines, width: int, where: str) -> Iterator[list[str]]:
    """The rows that are not blank, each of ``width`` fields, within ``MAX_CSV_ROWS`` and ``MAX_CSV_CELLS``."""
    count = 0
    for row in reader:
        lines.row = 0
        if not row:
            continue  # a blank line
        if len(row) != width:
            raise DatasetError(
                f"{where}line {lines.number} has {len(row)} fields but the header names {width} columns"
            )
        count += 1
        if count > MAX_CSV_ROWS or count * width > MAX_CSV_CELLS:
            raise DatasetError(
                f"{where}line {lines.number}: more than {MAX_CSV_ROWS:,} rows or {MAX_CSV_CELLS:,} cells "
                f"(rows times columns, {width:,} here), the most densespace reads (MAX_CSV_ROWS, MAX_CSV_CELLS)"
            )
        yield row


@dataclass
class _Columns:
    """The numeric columns of a CSV file, and its one target column, read a block of rows at a time."""

    where: str
    names: list[str]
    rules: list[str]  # the rule each column breaks when it holds other things than numbers
    target: _Target | None
    blocks: list[np.ndarray] = field(default_factory=list)  # float32
    lines: list[np.ndarray] = field(default_factory=list)  # int64

    def add(self, block: list[tuple[str, ...]], cells: list[str], lines: list[int]) -> None:
        """Reads a block of rows: the cells of the numeric columns, and of the target, on ``lines``."""
        try:
            values = np.array(block, dtype=np.float64).reshape(len(block), len(self.names))
        except ValueError:
            for row, line in zip(block, lines, strict=True):
                for name, rule, cell in zip(self.names, self.rules, row, strict=True):
                    if not _is_number(cell):
                        raise DatasetError(
                            f"{self.where}column {name!r}, line {line}: {quote(cell, 60)!r} is not a number; {rule}"
                        ) from None
            raise
        _check_range(values, self.names, lines, self.where)
        self.blocks.append(values.astype(np.float32))
        self.lines.append(np.array(lines, dtype=np.int64))
        if self.target is not None:
            self.target.add(cells, lines, self.where)

    def table(self, header: list[str]) -> _Table:
        """The table read, its numbers checked for NaN and infinity."""
        numbers = np.concatenate(self.blocks) if self.blocks else np.empty((0, len(self.names)), np.float32)
        lines = np.concatenate(self.lines) if self.lines else np.empty(0, np.int64)
        _check_finite(numbers, self.names, lines, self.where)
        return _Table(self.where, header, numbers, self.target, lines)


def _check_header(row: list[str], where: str) -> list[str]:
    """Refuses a first row with an unnamed or repeated column, or one of numbers (no header)."""
    seen: set[str] = set()
    for index, name in enumerate(row):
        if not name.strip():
            raise DatasetError(
                f"{where}line 1: column {index + 1} has no name; the first row must name every column"
            )
        if name in seen:
            raise DatasetError(f"{where}line 1: two columns are named {quote(name, 60)!r}")
        seen.add(name)
    if not all(map(_is_number, row)):
        return row
    raise DatasetError(
        f"{where}line 1 holds numbers ({quote(', '.join(row), 60)}), not column names; "
        "the first row of the file must name the columns"
    )


def _check_targets(header: list[str], targets: list[str], where: str) -> None:
    """Refuses a target that names no column, suggesting the closest one."""
    columns = set(header)
    for name in targets:
        if name not in columns:
            close = difflib.get_close_matches(name, header, n=1)
            guess = f" (did you mean {close[0]!r}?)" if close else ""
            shown = quote(", ".join(header), 120)
            raise DatasetError(f"{where}no column {quote(name, 60)!r}{guess}; the columns are {shown}")


def _same_columns(header: list[str], train: _Table, where: str) -> None:
    """Refuses a test file whose columns are not the training file's (in any order)."""
    names, expected = set(header), set(train.header)
    missing = [name for name in train.header if name not in names]
    extra = [name for name in header if name not in expected]
    if missing or extra:
        said = [f"no column {', '.join(map(repr, missing))}"] if missing else []
        said += [f"an extra column {', '.join(map(repr, extra))}"] if extra else []
        raise DatasetError(
            f"{where}{quote(' and '.join(said), 160)}; the test file needs the columns of "
            f"{train.where.removesuffix(': ')}"
        )


def _check_finite(values: np.ndarray, names: list[str], lines: np.ndarray, where: str) -> None:
    """Refuses NaN and infinity in the columns ``names`` of ``values``, counting them in the first column
    that holds one and naming its first line."""
    bad = ~np.isfinite(values)
    counts = np.count_nonzero(bad, axis=0)
    if counts.any():
        column = int(np.flatnonzero(counts)[0])
        count, line = int(counts[column]), lines[int(np.argmax(bad[:, column]))]
        are = "values are" if count > 1 else "value is"
        raise DatasetError(
            f"{where}column {names[column]!r}: {count} {are} NaN or infinite, the first on line {line}; "
            "every value must be a finite number"
        )


def _check_range(values: np.ndarray, names: list[str], lines: Sequence[int] | np.ndarray, where: str) -> None:
    """Refuses finite numbers beyond float32's range in the columns ``names`` of ``values``, naming the first."""
    large = np.isfinite(values) & (np.abs(values) > _FLOAT32_MAX)
    if large.any():
        row, column = divmod(int(np.argmax(large)), values.shape[1])
        raise DatasetError(
            f"{where}column {names[column]!r}, line {lines[row]}: {values[row, column]:g} is beyond the "
            f"range of float32 (about ±{_FLOAT32_MAX:.1e})"
        )


def _target(tables: list[_Table], *, numbers: bool) -> tuple[list[np.ndarray], tuple[str, ...] | None, str]:
    """The one target column: class ids, their names and a hint on how they were read; or float32 numbers."""
    columns = [table.target for table in tables if table.target is not None]
    name, where = columns[0].name, tables[0].where
    if all(column.numeric for column in columns):
        values_of = [np.concatenate(column.values) for column in columns]
        for table, values in zip(tables, values_of, strict=True):
            _check_finite(values[:, None], [name], table.lines, table.where)
            _check_range(values[:, None], [name], table.lines, table.where)
        if numbers or not all(np.array_equal(values, np.floor(values)) for values in values_of):
            return [values.astype(np.float32) for values in values_of], None, ""
        classes = np.unique(np.concatenate(values_of))
        hint = f"; column {name!r} holds whole numbers, read as class labels"
        if len(classes) > MAX_CLASSES:
            raise too_many_classes(f"{where}column {name!r}", f"{len(classes):,}")
        labels = [np.searchsorted(classes, values).astype(np.int64) for values in values_of]
        return labels, tuple(str(int(value)) for value in classes), hint
    text = next(column.text for column in columns if column.text is not None)
    if numbers:
        raise DatasetError(
            f"{where}column {name!r} holds text ({quote(text[0], 40)!r}); the target of a regression must be numbers"
        )
    return _labels(columns, where)


def _labels(columns: list[_Target], where: str) -> tuple[list[np.ndarray], tuple[str, ...], str]:
    """A target column of text read as class labels: ids in the labels' sorted order, and the labels."""
    first = columns[0]
    found = [column.labels for column in columns if column.labels is not None]
    names = sorted(set().union(*found)) if len(found) == len(columns) else []
    if not names or len(names) > MAX_CLASSES:
        count = f"{len(names):,}" if names else f"more than {MAX_CLASSES:,}"
        raise too_many_classes(f"{where}column {first.name!r}", count, "; is it the column to predict?")
    index = {label: at for at, label in enumerate(names)}
    labels = [
        np.array([index[label] for label in labels], dtype=np.int64)[np.concatenate(column.ids)]
        for column, labels in zip(columns, found, strict=True)
    ]
    hint = ""
    rows = sum(len(ids) for ids in first.ids)
    if first.text is not None and first.count > rows // 2:
        word, line = first.text
        hint = (
            f"; column {first.name!r} holds numbers and text ({quote(word, 40)!r} on line {line}), "
            "so every value was read as a class name"
        )
    return labels, tuple(names), hint


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
