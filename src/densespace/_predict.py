"""Predictions of a retrained model on new rows: the rows read, turned into the model's inputs, and
the outputs named as the run's data named its labels.

``_inputs`` is the one place that turns a user's rows into what a saved model takes. No Keras at
import: a model is loaded (``_keras.io``) only when asked to predict.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from densespace._errors import DatasetError, OptionError, RunFolderError, quote, show
from densespace.datasets._csv import MAX_CSV_BYTES
from densespace.datasets._local import open_regular, resolve

if TYPE_CHECKING:
    from densespace._results import Results

_CSV = "a CSV file whose first row names the columns"
_NPZ = "a .npz file (numpy.savez) holding x (and y, for --evaluate)"


@dataclass(frozen=True)
class Rows:
    """New rows as read from a file: a table's columns (CSV) or an array of examples (``.npz``).

    Attributes:
        data: the columns by name (text cells, as read), or the examples ``x``.
        y: a ``.npz`` file's ``y``, when it holds one.
        source: the file, as errors name it.
    """

    data: dict[str, np.ndarray] | np.ndarray
    y: np.ndarray | None
    source: str

    def rows(self) -> Any:
        """What ``_inputs`` takes: the examples, or the columns as a DataFrame indexed by the file's lines
        (the header is line 1), whose errors name the file and the line."""
        if not isinstance(self.data, dict):
            return self.data
        import pandas as pd

        frame = pd.DataFrame(self.data)
        frame.index = pd.RangeIndex(2, len(frame) + 2, name="line")
        frame.attrs["where"] = f"{self.source}: "
        return frame


def read_rows(path: str | os.PathLike[str]) -> Rows:
    """The rows of a CSV (``.csv``) or ``.npz`` file, as ``densespace predict`` reads them.

    Raises:
        DatasetError: The file is missing, of another kind, or not readable as one.
    """
    where = resolve(path)
    suffix = where.suffix.lower()
    if suffix == ".npz":
        return _read_npz(where)
    if suffix != ".csv":
        raise DatasetError(f"{where}: expected a .csv or a .npz file")
    stream, _ = open_regular(where, expected=_CSV, limit=MAX_CSV_BYTES)
    with stream:
        raw = stream.read()
    if b"\0" in raw:
        raise DatasetError(f"{where}: holds a NUL byte, which no text does; expected {_CSV}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{where}: not UTF-8 text (byte {exc.start:,} is {raw[exc.start]:#04x})") from None
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True, strict=True)
    try:
        lines = [row for row in reader if row]
    except csv.Error as exc:
        raise DatasetError(f"{where}: line {reader.line_num}: not valid CSV ({exc})") from None
    if not lines:
        raise DatasetError(
            f"{where}: the file is empty; expected a header row naming the columns, then the rows"
        )
    header, rows = lines[0], lines[1:]
    if len(set(header)) != len(header) or not all(name.strip() for name in header):
        raise DatasetError(
            f"{where}: line 1 must name every column once (received {quote(', '.join(header))})"
        )
    for number, row in enumerate(rows, 2):
        if len(row) != len(header):
            raise DatasetError(
                f"{where}: row {number - 1} has {len(row)} fields but the header names {len(header)} columns"
            )
    cells = np.array(rows, dtype=str).reshape(len(rows), len(header))
    return Rows({name: cells[:, i] for i, name in enumerate(header)}, None, str(where))


def _read_npz(where: Path) -> Rows:
    """A ``.npz`` file's ``x`` (and ``y``), their headers checked before they are read."""
    from densespace.datasets._npz import _check_headers

    stream, _ = open_regular(where, expected=_NPZ)
    with stream:
        if not zipfile.is_zipfile(stream):
            raise DatasetError(f"{where}: not a .npz file; expected {_NPZ}")
        stream.seek(0)
        try:
            with np.load(stream, allow_pickle=False) as npz:
                keys = sorted(npz.files)
                if "x" not in keys or not set(keys) <= {"x", "y"}:
                    raise DatasetError(f"{where}: holds {', '.join(keys) or 'no arrays'}; expected {_NPZ}")
                _check_headers(npz, keys, f"{where}: ")
                return Rows(npz["x"], npz["y"] if "y" in keys else None, str(where))
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            if isinstance(exc, DatasetError):
                raise
            raise DatasetError(f"{where}: the file is damaged ({quote(str(exc))})") from None


def _is_table(data: Any) -> bool:
    return isinstance(data, Mapping) or (hasattr(data, "columns") and hasattr(data, "to_numpy"))


def _columns(data: Any) -> list[str]:
    return [str(name) for name in (data.keys() if isinstance(data, Mapping) else data.columns)]


def _inputs(results: Results, data: Any) -> np.ndarray | dict[str, np.ndarray]:
    """``data`` as the inputs the run's models take: float32 examples, or for a run on a table's typed
    columns (``input.columns``) its arrays by input name (``densespace.datasets.model_inputs``).

    ``data``: an array of examples (``(N, *input.shape)``), or a table (a pandas DataFrame, or a
    mapping of column names to columns) holding the run's feature columns (any order; other
    columns are left out); a run on unnamed features takes a table of exactly its features, in order.

    Raises:
        DatasetError: A feature is missing, a cell is not a number, or the examples' shape is not
            the model's (the message names the column and the row).
    """
    types = results.spec["input"].get("columns")
    if types is not None:  # a table's run: its columns, by type, as the model's inputs by name
        return _table_inputs(data, types)
    shape = tuple(results.spec["input"]["shape"])
    if _is_table(data):
        names = _features(results, data)
        columns = [_numbers(np.asarray(data[name]), name) for name in names]
        x = np.stack(columns, axis=1) if columns else np.empty((0, 0), np.float32)
    else:
        x = _numbers(np.asarray(data), None)
    if x.ndim < 2 or tuple(x.shape[1:]) != shape:
        raise DatasetError(
            f"the rows have shape {list(x.shape)}; the model takes examples of shape {list(shape)} "
            f"(an array of shape {[len(x) if x.ndim else 1, *shape]})"
        )
    return x


def _table_inputs(data: Any, types: dict[str, Any]) -> dict[str, np.ndarray]:
    """A table's rows as the inputs of a model of its typed columns; an empty cell of a CSV is missing."""
    import pandas as pd

    from densespace.datasets import model_inputs

    if not _is_table(data):
        raise DatasetError(
            "the model takes a table's columns (a DataFrame, or columns by name); received an array"
        )
    frame = (
        data
        if isinstance(data, pd.DataFrame)
        else pd.DataFrame({name: np.asarray(data[name]) for name in data})
    )
    return model_inputs(frame.replace("", np.nan), columns=types)


def count(x: np.ndarray | dict[str, np.ndarray]) -> int:
    """The rows of inputs: an array's, or those of a table's arrays by input name."""
    return len(next(iter(x.values()))) if isinstance(x, dict) else len(x)


def _features(results: Results, data: Any) -> list[str]:
    """The feature columns of a table, in the model's order."""
    columns = _columns(data)
    features = results.data.feature_names
    if features is None:
        return columns
    present = set(columns)
    missing = [name for name in features if name not in present]
    if missing:
        raise DatasetError(
            f"no column {', '.join(map(repr, missing[:5]))}{' ...' if len(missing) > 5 else ''}; the model "
            f"reads the columns {quote(', '.join(features), 160)}"
        )
    return list(features)


def _numbers(values: np.ndarray, column: str | None) -> np.ndarray:
    """``values`` as finite float32 numbers; ``column`` names a table's column in errors."""
    where = f"column {column!r}, " if column is not None else ""
    rows = values.reshape(len(values), -1) if values.ndim else values.reshape(1, 1)
    try:
        numbers = values.astype(np.float64).astype(np.float32)
    except (TypeError, ValueError):
        row = next(i for i, cells in enumerate(rows) if not all(map(_is_number, cells)))
        cell = next(cell for cell in rows[row] if not _is_number(cell))
        raise DatasetError(f"{where}row {row + 1}: {quote(str(cell), 60)!r} is not a number") from None
    bad = ~np.isfinite(numbers.reshape(len(rows), -1)).all(axis=1)
    if bad.any():
        row = int(np.argmax(bad))
        raise DatasetError(
            f"{where}row {row + 1}: a value is missing, NaN, infinite or beyond float32's range; "
            "the model needs a finite number in every input"
        )
    return numbers


def _is_number(cell: Any) -> bool:
    try:
        float(cell)
    except (TypeError, ValueError):
        return False
    return True


def carried(results: Results, rows: Rows) -> dict[str, np.ndarray]:
    """The columns of a table that are not the model's features (an ID, the target), to copy beside the
    predictions; a row number (``row``) when there are none."""
    if isinstance(rows.data, dict) and results.data.feature_names is not None:
        features = set(results.data.feature_names)
        kept = {name: column for name, column in rows.data.items() if name not in features}
        if kept:
            return kept
    count = len(next(iter(rows.data.values()))) if isinstance(rows.data, dict) else len(rows.data)
    return {"row": np.arange(count)}


def label_names(results: Results) -> list[str]:
    """The names of the model's outputs: the classes, or the targets (``0``, ``1`` ... when unnamed)."""
    names = results.data.class_names if results.task in ("classification", "binary") else None
    names = names or results.data.target_names
    units = int(results.spec["output"]["units"])
    count = 2 if results.task == "binary" else units
    return list(names) if names is not None and len(names) == count else [str(i) for i in range(count)]


def outputs(model: Any, x: np.ndarray | dict[str, np.ndarray]) -> np.ndarray:
    """The model's raw outputs (probabilities, or the targets in their units), as float32 ``(N, units)``."""
    from densespace._keras.data import batched

    rows = count(x)
    predicted = model.predict(batched(x), verbose=0) if rows else np.empty((0, 1))
    return np.asarray(predicted, dtype=np.float32).reshape(rows, -1)


def labels(results: Results, raw: np.ndarray) -> np.ndarray:
    """The model's outputs as predictions: class names (ids, when the run named none), 0/1 label
    matrices, or the targets in their units."""
    task = results.task
    if task == "regression":
        return raw[:, 0] if raw.shape[1] == 1 else raw
    if task == "multilabel":
        return (raw >= 0.5).astype(np.int64)
    ids = raw.argmax(axis=1) if task == "classification" else (raw[:, 0] >= 0.5).astype(np.int64)
    return np.array(label_names(results), dtype=object)[ids] if results.data.class_names else ids


def probabilities(results: Results, raw: np.ndarray) -> dict[str, np.ndarray]:
    """Each class's (each label's) probability, by its name.

    Raises:
        OptionError: The run is a regression.
    """
    check_proba(results, True)
    if results.task == "binary":
        raw = np.concatenate([1 - raw, raw], axis=1)
    return {name: raw[:, i] for i, name in enumerate(label_names(results))}


def check_proba(results: Results, proba: bool) -> None:
    """Refuses ``proba`` for a regression, which has no classes."""
    if proba and results.task == "regression":
        raise OptionError(
            "{proba} applies to classification, binary and multilabel runs, not regression", "proba"
        )


def check_rank(results: Results, model: int) -> None:
    """Refuses a rank that names no retrained model of the run."""
    count = len(results.best)
    if count == 0:
        raise RunFolderError(
            "the run retrained no model (retrain_top 0): run tune again with retrain_top >= 1"
        )
    if isinstance(model, bool) or not isinstance(model, int) or not 1 <= model <= count:
        raise OptionError(
            f"{{model}} must be the rank of a retrained model, 1 to {count} (received {show(model)})", "model"
        )


def model_path(results: Results, folder: Path, model: int) -> Path:
    """The ``best-K.keras`` file of rank ``model`` in the run's folder."""
    check_rank(results, model)
    return folder / results.best[model - 1].model


def predict(results: Results, keras_model: Any, data: Any, *, proba: bool = False) -> Any:
    """``keras_model``'s predictions on ``data``: ``labels``, or with ``proba`` the ``probabilities``."""
    check_proba(results, proba)
    raw = outputs(keras_model, _inputs(results, data))
    return probabilities(results, raw) if proba else labels(results, raw)


def table(
    results: Results, rows: Rows, predictions: np.ndarray, probabilities: dict[str, np.ndarray] | None
) -> dict[str, np.ndarray]:
    """The columns of ``densespace predict``'s output: the carried columns, then the predictions
    (``prediction``, or one ``prediction_<name>`` per output), then ``proba_<name>`` per class."""
    written: dict[str, np.ndarray] = {}
    if predictions.ndim == 1:
        written["prediction"] = predictions
    else:
        for i, name in enumerate(label_names(results)):
            written[f"prediction_{name}"] = predictions[:, i]
    for name, values in (probabilities or {}).items():
        written[f"proba_{name}"] = values
    columns = carried(results, rows)
    clash = next((name for name in written if name in columns), None)
    if clash is not None:
        raise DatasetError(
            f"{rows.source}: has a column {clash!r}, the name of a column predict writes; rename it"
        )
    return columns | written


def targets(results: Results, rows: Rows, target: str | Sequence[str] | None) -> np.ndarray:
    """The labels or targets of ``rows`` (a ``.npz`` file's ``y``, a table's ``target`` columns), as the
    model is evaluated on them: class ids by the run's class names, 0/1 values, or numbers.

    Raises:
        OptionError: The rows hold no labels, or ``target`` names no column.
        DatasetError: A label is not one of the run's classes, or a target not a number.
    """
    if not isinstance(rows.data, dict):
        if rows.y is None:
            raise OptionError(f"{{evaluate}} needs labels: {rows.source} holds no y", "evaluate")
        values = rows.y
    else:
        names = [target] if isinstance(target, str) else list(target or results.data.target_names or [])
        if not names:
            raise OptionError("{evaluate} needs {target}, the column of the labels", "evaluate", "target")
        missing = [name for name in names if name not in rows.data]
        if missing:
            raise OptionError(f"{{target}}: {rows.source} has no column {missing[0]!r}", "target")
        values = np.stack([rows.data[name] for name in names], axis=1)
        values = values[:, 0] if len(names) == 1 else values
    classes = results.data.class_names
    if results.task not in ("classification", "binary") or not classes or values.dtype.kind in "biuf":
        return _numbers(np.asarray(values).reshape(len(values), -1), "target").reshape(values.shape)
    index = {name: i for i, name in enumerate(classes)}
    unknown = [str(v) for v in values if str(v) not in index]
    if unknown:
        raise DatasetError(
            f"{rows.source}: {show(unknown[0])} is not a class of the run ({quote(', '.join(classes), 120)})"
        )
    return np.array([index[str(v)] for v in values], dtype=np.int64)


def destination(out: str | None, run: Path, *, overwrite: bool) -> Path | None:
    """Where ``densespace predict`` writes (None: standard output), checked before any work.

    Raises:
        OptionError: ``out`` is neither ``.csv`` nor ``.npz``, lies in the results folder, or exists
            (without ``overwrite``).
    """
    if out is None:
        return None
    path = Path(out)
    if path.suffix.lower() not in (".csv", ".npz"):
        raise OptionError(f"{{out}} must name a .csv or .npz file (received {show(out)})", "out")
    if path.resolve().is_relative_to(run.resolve()):
        raise OptionError(
            f"{{out}} {quote(out)} lies in the results folder {run}, whose files densespace keeps: "
            "write the predictions elsewhere",
            "out",
        )
    if os.path.lexists(path) and not overwrite:
        raise OptionError(
            f"{{out}} {quote(out)} exists, and densespace replaces no file unasked: choose another "
            "{out}, or pass {overwrite} to replace it",
            "out",
            "overwrite",
        )
    return path


def write(
    results: Results,
    rows: Rows,
    predictions: np.ndarray,
    probabilities: dict[str, np.ndarray] | None,
    out: Path | None,
) -> str | None:
    """Writes the predictions: as CSV (``table``'s columns; ``out`` None: returned as text, for
    standard output), or as a ``.npz`` file of ``predictions`` (in the rows' order) and, with
    probabilities, ``proba`` (one column per class) and ``classes`` (their names)."""
    from densespace._files import write_bytes, write_text

    if out is not None and out.suffix.lower() == ".npz":
        arrays = {"predictions": predictions.astype(str) if predictions.dtype == object else predictions}
        if probabilities is not None:
            arrays["proba"] = np.stack(list(probabilities.values()), axis=1)
            arrays["classes"] = np.array(list(probabilities))
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)  # type: ignore[arg-type]
        write_bytes(out, buffer.getvalue())
        return None
    columns = table(results, rows, predictions, probabilities)
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(zip(*(map(str, values) for values in columns.values()), strict=True))
    if out is None:
        return text.getvalue()
    write_text(out, text.getvalue())
    return None
