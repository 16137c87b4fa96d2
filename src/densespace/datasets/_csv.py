"""A table in a file (CSV, TSV, Parquet): read through pandas, then split as a DataFrame.

The delimiter of a CSV file is sniffed on its first lines (``,``, ``;``, tab or
``|``), and the header checked there; pandas' C parser reads the rest. Caps on
the file's size, its columns, rows and cells bound the read: the size is checked
before reading, the columns on the header, and the rows and cells bound what
pandas is asked to read.
"""

from __future__ import annotations

import codecs
import csv
import importlib.util
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal

from densespace._errors import DatasetError, quote
from densespace.datasets._arrays import check_options, show_option
from densespace.datasets._dataset import Dataset
from densespace.datasets._frame import check_columns, same_columns, split_table, target_list
from densespace.datasets._local import open_regular, resolve

if TYPE_CHECKING:
    import pandas as pd

MAX_CSV_BYTES = 2**30
"""The largest table file ``load_csv`` reads (1 GiB)."""

MAX_CSV_ROW = 2**22
"""The most characters the header row may take (4 Mi); it is read before anything else."""

MAX_CSV_COLUMNS = 100_000
"""The most columns a table may have."""

MAX_CSV_ROWS = 100_000_000
"""The most rows a table may have, besides its header."""

MAX_CSV_CELLS = 250_000_000
"""The most cells (rows times columns) a table may have."""

DELIMITERS = ",;\t|"
"""The delimiters sniffed in a CSV file, in order of preference."""

PARQUET = (".parquet", ".pq")
"""The suffixes of Parquet files (read with pyarrow, when it is installed)."""

_EXPECTED = "a CSV file whose first row names the columns"
_SAMPLE = 2**16  # the bytes the delimiter is sniffed on
_CHUNK = 2**22  # the bytes searched at a time for spaces after the delimiter


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
    """Loads a table (CSV, TSV or Parquet, header row first) and splits it into train, validation and test.

    Every column but the target columns is a feature column, of any type: numbers,
    true/false, text categories, dates, with missing values (empty cells, ``NA``).
    ``x`` of each split is a pandas DataFrame of these raw columns, indexed by
    each row's line in the file; a search types them (docs/data.md) and the model
    encodes them itself. One target column of text, or of whole numbers, holds class
    labels: ids ``0..k-1`` in sorted order, ``class_names`` the labels as written,
    the splits stratified by class. One target column of other numbers is a number
    to predict (``float32`` of shape ``(N,)``), and so are several target columns
    (``(N, t)``), named by ``target_names``. Rows without a target are left out,
    with a ``SearchWarning`` that counts them.

    Args:
        path: the file: ``.parquet`` (needs pyarrow), ``.tsv`` (tab-separated),
            else CSV in UTF-8 whose delimiter (``,``, ``;``, tab, ``|``) is sniffed.
        target: the column to predict, or a list of columns.
        test: the share of the rows held out for testing (default 0.2), or a
            second file with the same columns to test on.
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
            text (a NUL byte, not UTF-8), a column is unnamed, repeated or
            missing, a target is not numbers where numbers are needed, or the
            classes are too many or too small to split (each message names the
            file, and the column and line where there is one).

    Examples:
        >>> import tempfile
        >>> rows = [f"{i},{'ab'[i % 2]},{'odd' if i % 2 else 'even'}" for i in range(40)]
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     _ = Path(folder, "t.csv").write_text("a;b;parity\\n" + "\\n".join(rows).replace(",", ";"))
        ...     data = load_csv(Path(folder, "t.csv"), target="parity")
        >>> data.class_names, data.feature_names, data.test[1].tolist()
        (('even', 'odd'), ('a', 'b'), [0, 1, 0, 1, 1, 0, 1, 0])
        >>> [len(y) for _, y in (data.train, data.validation, data.test)], data.train[0].index[:2].tolist()
        ([29, 3, 8], [2, 3])
    """
    targets = target_list(target)
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
    frame = read_table(where)
    found = frame.attrs.get("delimiter")
    check_columns(
        frame,
        targets,
        f"{where}: ",
        f" (read with the delimiter {found!r})" if found not in (None, ",") else "",
    )
    frames = [frame]
    if test_path is not None:
        frames.append(read_table(test_path, "test"))
        same_columns(frames[1], frame, f"{test_path}: ", str(where))
        frames[1] = frames[1][list(frame.columns)]
        frames[1].attrs["where"] = f"{test_path}: "
    source = str(where) if test_path is None else f"{where} (test: {test_path})"
    return split_table(
        frames,
        targets,
        test=fraction,
        validation=validation,
        limit=limit,
        seed=seed,
        numbers=numbers,
        source=source,
        kind="csv",
    )


def read_table(path: Path, split: str = "training") -> pd.DataFrame:
    """A table file as a DataFrame indexed by line (``index.name`` ``"line"``; a Parquet file's
    rows count from 2, as if it had a header line), ``attrs["where"]`` the ``"path: "`` its errors start with;
    ``split`` names its use in the error for a file without rows."""
    where = f"{path}: "
    if path.suffix.lower() in PARQUET:
        frame = _read_parquet(path, where)
    else:
        stream, _ = open_regular(path, expected=_EXPECTED, limit=MAX_CSV_BYTES)
        with stream:
            frame = _read_csv(stream, where, "\t" if path.suffix.lower() == ".tsv" else None)
    if not len(frame):
        raise DatasetError(f"{where}no rows after the header; the {split} split needs at least one example")
    frame.index.name = "line"
    frame.attrs["where"] = where
    return frame


def _read_parquet(path: Path, where: str) -> pd.DataFrame:
    import pandas as pd

    if importlib.util.find_spec("pyarrow") is None:
        raise DatasetError(
            f"{where}reading Parquet needs pyarrow, which is not installed: pip install pyarrow"
        )
    open_regular(path, expected="a Parquet file", limit=MAX_CSV_BYTES)[0].close()
    frame = pd.read_parquet(path).reset_index(drop=True)
    _check_size(len(frame.columns), len(frame), where)
    frame.index = frame.index + 2
    return frame


def _read_csv(stream: BinaryIO, where: str, delimiter: str | None) -> pd.DataFrame:
    """The rows of a CSV stream: its header checked and its delimiter sniffed on the first lines."""
    import pandas as pd

    sample = stream.read(_SAMPLE)
    while b"\n" not in sample and len(sample) <= MAX_CSV_ROW and (more := stream.read(_SAMPLE)):
        sample += more  # a header longer than the sample
    start = 3 if sample.startswith(codecs.BOM_UTF8) else 0
    text = _decoded(sample[start:], where, whole=not stream.read(1), offset=start)
    lines = text.splitlines()
    header_at = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_at is None:
        raise DatasetError(
            f"{where}the file is empty; expected a header row naming the columns, then the rows"
        )
    if len(lines[header_at]) > MAX_CSV_ROW:
        raise DatasetError(
            f"{where}line {header_at + 1}: a header longer than {MAX_CSV_ROW:,} characters, the most densespace "
            "reads (MAX_CSV_ROW)"
        )
    delimiter = delimiter or _sniff(lines[header_at : header_at + 20])
    try:
        header = next(csv.reader([lines[header_at]], delimiter=delimiter, skipinitialspace=True))
    except csv.Error as exc:
        raise DatasetError(f"{where}line {header_at + 1}: not a valid CSV header ({exc})") from None
    _check_header(header, where, header_at + 1, delimiter)
    rows = min(MAX_CSV_ROWS, MAX_CSV_CELLS // len(header))
    spaced = _spaced(stream, f"{delimiter} ".encode())  # "a, b": pandas reads slower skipping spaces
    stream.seek(start)
    try:
        frame = pd.read_csv(
            stream,
            sep=delimiter,
            engine="c",
            skipinitialspace=spaced,
            encoding="utf-8",
            nrows=rows + 1,
            low_memory=False,
        )
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{where}not UTF-8 text ({exc.reason}: {exc.object[exc.start]:#04x})") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise _parse_error(exc, where, delimiter, len(header)) from None
    _check_size(len(frame.columns), len(frame), where)
    frame.index = frame.index + 2 + header_at
    frame.attrs["delimiter"] = delimiter
    return frame


def _spaced(stream: BinaryIO, pattern: bytes) -> bool:
    """Whether the stream holds ``pattern`` anywhere (a delimiter then a space): read in chunks, so that
    the bytes are searched at memory speed without the file held in memory."""
    stream.seek(0)
    tail = b""
    while chunk := stream.read(_CHUNK):
        if pattern in tail + chunk[: len(pattern)] or pattern in chunk:
            return True
        tail = chunk[-len(pattern) + 1 :]
    return False


def _parse_error(exc: Exception, where: str, delimiter: str, width: int) -> DatasetError:
    """pandas' parser error in one line: a row of too many fields named by its line."""
    text = " ".join(str(exc).split())
    fields = re.search(r"Expected \d+ fields in line (\d+), saw (\d+)", text)
    if fields:
        line, count = fields.groups()
        return DatasetError(
            f"{where}line {line} has {count} fields but the header names {width} columns (delimiter {delimiter!r})"
        )
    return DatasetError(f"{where}not valid CSV with delimiter {delimiter!r} ({quote(text, 160)})")


def _decoded(sample: bytes, where: str, *, whole: bool, offset: int) -> str:
    """The sample as text: refuses a NUL byte (naming its line) and bytes that are not UTF-8."""
    if b"\0" in sample:
        line = sample[: sample.index(b"\0")].count(b"\n") + 1
        raise DatasetError(f"{where}line {line} holds a NUL byte, which no text does; expected {_EXPECTED}")
    try:
        return sample.decode("utf-8") if whole else codecs.getincrementaldecoder("utf-8")().decode(sample)
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"{where}not UTF-8 text (byte {offset + exc.start:,} is {sample[exc.start]:#04x})"
        ) from None


def _sniff(lines: list[str]) -> str:
    """The delimiter of the first lines: ``csv.Sniffer``'s among ``DELIMITERS``, else a comma."""
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def _check_header(row: list[str], where: str, line: int, delimiter: str) -> None:
    """Refuses too many columns, an unnamed or repeated column, and a first row of numbers (no header)."""
    if len(row) > MAX_CSV_COLUMNS:
        raise DatasetError(
            f"{where}line {line}: {len(row):,} columns; densespace reads at most {MAX_CSV_COLUMNS:,} (MAX_CSV_COLUMNS)"
        )
    seen: set[str] = set()
    for index, name in enumerate(row):
        if not name.strip():
            fix = " (pandas writes its index so: save with to_csv(index=False))" if index == 0 else ""
            raise DatasetError(
                f"{where}line {line}: column {index + 1} has no name{fix}; the first row must name every column"
            )
        if name in seen:
            raise DatasetError(f"{where}line {line}: two columns are named {quote(name, 60)!r}")
        seen.add(name)
    if all(map(_is_number, row)):
        raise DatasetError(
            f"{where}line {line} holds numbers ({quote(', '.join(row), 60)}), not column names; "
            "the first row of the file must name the columns"
        )


def _check_size(columns: int, rows: int, where: str) -> None:
    """Refuses a table over ``MAX_CSV_COLUMNS``, ``MAX_CSV_ROWS`` or ``MAX_CSV_CELLS``."""
    if columns > MAX_CSV_COLUMNS:
        raise DatasetError(
            f"{where}{columns:,} columns; densespace reads at most {MAX_CSV_COLUMNS:,} (MAX_CSV_COLUMNS)"
        )
    if rows > MAX_CSV_ROWS or rows * columns > MAX_CSV_CELLS:
        raise DatasetError(
            f"{where}more than {MAX_CSV_ROWS:,} rows or {MAX_CSV_CELLS:,} cells (rows times columns, "
            f"{columns:,} here), the most densespace reads (MAX_CSV_ROWS, MAX_CSV_CELLS)"
        )


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
