"""A table as a pandas DataFrame: target columns read as labels or numbers, rows split three ways.

The features stay raw columns (a DataFrame per split); their types are worked out
when a search starts (``densespace.datasets._table``), since the spec may set them.
The splits are made by ``assemble`` on the rows' positions, so that tables are
checked, stratified and subset exactly as arrays are.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from densespace._errors import DatasetError, SearchWarning, quote, show
from densespace.datasets._arrays import MAX_CLASSES, Located, Part, assemble, check_options, too_many_classes
from densespace.datasets._dataset import Dataset, DatasetKind
from densespace.datasets._table import row_of

if TYPE_CHECKING:
    import pandas as pd

FRAME_SOURCE = "in-memory DataFrame"
"""The ``source`` of a dataset made by ``from_frame``."""


def from_frame(
    frame: pd.DataFrame,
    *,
    target: str | Sequence[str],
    validation: float | Literal["test"] = 0.1,
    test: float | pd.DataFrame = 0.2,
    limit: int | None = None,
    seed: int = 0,
    numbers: bool = False,
) -> Dataset:
    """Splits a pandas DataFrame into train, validation and test: the ``target`` columns
    to predict, every other column a feature of any type.

    The features stay raw columns (``x`` of each split is a DataFrame); when a search
    starts they are typed (numeric, boolean, categorical, date, ignored; see
    docs/data.md) and the model encodes them itself. One target column of text, bool or
    whole numbers holds class labels: ids ``0..k-1`` in sorted order, ``class_names``
    the labels as written; other numbers are numbers to predict (``float32``), and so are
    several target columns. Rows whose target is missing are left out, with a
    ``SearchWarning`` that counts them.

    Args:
        frame: the table, one row per example.
        target: the column to predict, or a list of columns.
        validation: the share of the training rows held out for validation, or
            ``"test"`` to validate on the test split.
        test: the share of the rows held out for testing, or a DataFrame with the
            same columns to test on.
        limit: keep at most this many rows in each split, a stratified subset.
        seed: fixes which rows each split and each subset gets.
        numbers: read one target column of whole numbers as numbers to predict
            (a ``regression`` task), not as class labels.

    Returns:
        A ``Dataset`` of kind ``"frame"``, its source ``"in-memory DataFrame"``.

    Raises:
        DatasetError: a target column is missing, not numbers where numbers are
            needed, or its classes are too many or too small to split.

    Examples:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"island": ["Biscoe", "Dream"] * 20, "mass": range(40), "sex": ["f", "m"] * 20})
        >>> data = from_frame(frame, target="sex")
        >>> data.class_names, list(data.train[0].columns), len(data.train[0])
        (('f', 'm'), ['island', 'mass'], 29)
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise DatasetError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    targets = target_list(target)
    frame = frame.rename(columns=str)  # the spec names columns by text
    test = test.rename(columns=str) if isinstance(test, pd.DataFrame) else test
    held = 0.2 if isinstance(test, pd.DataFrame) else test
    check_options(validation=validation, test=held, limit=limit, seed=seed)
    check_columns(frame, targets, "")
    tests = [test] if isinstance(test, pd.DataFrame) else []
    for other in tests:
        same_columns(other, frame, "test: ", "the training DataFrame")
    return split_table(
        [frame, *tests],
        targets,
        test=0.2 if tests else test,
        validation=validation,
        limit=limit,
        seed=seed,
        numbers=numbers,
        source=FRAME_SOURCE,
        kind="frame",
    )


def target_list(target: object) -> list[str]:
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


def check_columns(frame: pd.DataFrame, targets: list[str], where: str, note: str = "") -> None:
    """Refuses a column name given twice, a target that names no column (suggesting the closest)
    and a table of targets only."""
    header = [str(name) for name in frame.columns]
    twice = frame.columns[frame.columns.duplicated()]
    if len(twice):
        raise DatasetError(f"{where}two columns are named {quote(str(twice[0]), 60)!r}")
    for name in targets:
        if name not in header:
            close = difflib.get_close_matches(name, header, n=1)
            guess = f" (did you mean {close[0]!r}?)" if close else ""
            shown = quote(", ".join(header), 120)
            raise DatasetError(f"{where}no column {quote(name, 60)!r}{guess}; the columns are {shown}{note}")
    if len(header) == len(targets):
        raise DatasetError(
            f"{where}no feature columns: every column but the target is a feature, and the "
            f"header names only {', '.join(map(repr, header))}"
        )


def same_columns(frame: pd.DataFrame, train: pd.DataFrame, where: str, of: str) -> None:
    """Refuses a test table whose columns are not the training table's (in any order)."""
    names, expected = set(frame.columns), set(train.columns)
    missing = [name for name in train.columns if name not in names]
    extra = [name for name in frame.columns if name not in expected]
    if missing or extra:
        said = [f"no column {', '.join(map(repr, missing))}"] if missing else []
        said += [f"an extra column {', '.join(map(repr, extra))}"] if extra else []
        raise DatasetError(
            f"{where}{quote(' and '.join(said), 160)}; the test file needs the columns of {of}"
        )


def split_table(
    frames: list[pd.DataFrame],
    targets: list[str],
    *,
    test: float,
    validation: float | Literal["test"],
    limit: int | None,
    seed: int,
    numbers: bool,
    source: str,
    kind: DatasetKind,
) -> Dataset:
    """The tables (training, and a test table when there are two) split three ways on their rows'
    positions by ``assemble``; ``frame.attrs["where"]`` starts each table's errors."""
    frames = [_with_target(frame, targets) for frame in frames]
    where = [frame.attrs.get("where", "") for frame in frames]
    if len(targets) > 1:
        labels: list[np.ndarray] = [_numbers(frame, targets) for frame in frames]
        class_names, hint = None, ""
    else:
        labels, class_names, hint = _target([frame[targets[0]] for frame in frames], where[0], numbers)
    features = [frame.drop(columns=targets) for frame in frames]
    y_name = f"column{'s' if len(targets) > 1 else ''} {', '.join(map(repr, targets))}"
    offsets = np.cumsum([0] + [len(frame) for frame in frames])
    parts = [
        Part(
            np.arange(offsets[i], offsets[i + 1]).reshape(-1, 1),
            labels[i],
            "features",
            y_name,
            split,
            Located(where[i], _lines(frame), ((), tuple(targets))),
        )
        for i, (frame, split) in enumerate(zip(frames, ("training", "test"), strict=False))
    ]
    data = assemble(
        parts[0],
        validation=validation,
        test=parts[1] if len(parts) > 1 else test,
        limit=limit,
        seed=seed,
        source=source,
        kind=kind,
        where=where[0],
        noun="rows",
        class_names=class_names,
        target_names=tuple(targets) if class_names is None else None,
        hint=hint,
    )
    import pandas as pd

    whole = pd.concat(features) if len(features) > 1 else features[0]
    rows = {split: whole.iloc[getattr(data, split)[0][:, 0]] for split in ("train", "validation", "test")}
    for frame in rows.values():
        frame.attrs["where"] = where[0]
    return _replaced(data, rows, tuple(str(name) for name in whole.columns))


def _replaced(data: Dataset, rows: dict[str, Any], names: tuple[str, ...]) -> Dataset:
    import dataclasses

    train, validation, test = (
        (rows[split], getattr(data, split)[1]) for split in ("train", "validation", "test")
    )
    if data.validation is data.test:
        validation = test
    return dataclasses.replace(data, train=train, validation=validation, test=test, feature_names=names)


def _lines(frame: pd.DataFrame) -> np.ndarray:
    """Each row's line in its file, or its position."""
    return frame.index.to_numpy() if frame.index.name == "line" else np.arange(len(frame))


def _with_target(frame: pd.DataFrame, targets: list[str]) -> pd.DataFrame:
    """The rows whose targets are all present; a ``SearchWarning`` counts those left out."""
    gaps = frame[targets].isna().any(axis=1)
    count = int(gaps.sum())
    if not count:
        return frame
    where = frame.attrs.get("where", "")
    are = "rows have" if count > 1 else "row has"
    warnings.warn(
        f"{where}{count} {are} no value in the target column {', '.join(map(repr, targets))}: left out",
        SearchWarning,
        stacklevel=5,
    )
    kept = frame[~gaps]
    kept.attrs["where"] = where
    return kept


def _numbers(frame: pd.DataFrame, targets: list[str]) -> np.ndarray:
    """Several target columns as a float matrix; refuses text, naming its column and row."""
    import pandas as pd

    where = frame.attrs.get("where", "")
    columns = []
    for name in targets:
        read = pd.to_numeric(frame[name], errors="coerce")
        bad = np.flatnonzero(read.isna().to_numpy())
        if len(bad):
            at = row_of(frame[name], int(bad[0]))
            value = quote(str(frame[name].iloc[int(bad[0])]), 60)
            raise DatasetError(
                f"{where}column {name!r}, {at}: {value!r} is not a number; a target of several columns must hold numbers"
            )
        columns.append(read.to_numpy(dtype=np.float64))
    return np.stack(columns, axis=1)


def _target(
    columns: list[pd.Series], where: str, numbers: bool
) -> tuple[list[np.ndarray], tuple[str, ...] | None, str]:
    """One target column in each table: class ids, their names and a hint on how they were read;
    or numbers to predict (class names None)."""
    import pandas as pd

    name = columns[0].name
    if all(pd.api.types.is_numeric_dtype(c) and not pd.api.types.is_bool_dtype(c) for c in columns):
        values = [c.to_numpy(dtype=np.float64) for c in columns]
        for column, v in zip(columns, values, strict=True):
            _check_finite(column, v, where)
        if numbers or not all(np.array_equal(v, np.floor(v)) for v in values):
            return values, None, ""
        classes = np.unique(np.concatenate(values))
        if len(classes) > MAX_CLASSES:
            raise too_many_classes(f"{where}column {name!r}", f"{len(classes):,}")
        ids = [np.searchsorted(classes, v).astype(np.int64) for v in values]
        hint = f"; column {name!r} holds whole numbers, read as class labels"
        return ids, tuple(str(int(value)) for value in classes), hint
    text = [c.astype(str).to_numpy() for c in columns]
    if numbers:
        first = next(
            v for c in columns for v in c if pd.isna(pd.to_numeric(pd.Series([v]), errors="coerce")[0])
        )
        raise DatasetError(
            f"{where}column {name!r} holds text ({quote(str(first), 40)!r}); the target of a regression must be numbers"
        )
    codes, found = pd.factorize(np.concatenate(text))  # by hashing: linear in the rows
    order = np.argsort(found.astype(str))
    names, inverse = found[order], np.argsort(order)[codes]
    if len(names) > MAX_CLASSES:
        raise too_many_classes(f"{where}column {name!r}", f"{len(names):,}", "; is it the column to predict?")
    cuts = np.cumsum([0] + [len(t) for t in text])
    ids = [inverse[cuts[i] : cuts[i + 1]].astype(np.int64) for i in range(len(text))]
    return ids, tuple(str(label) for label in names), _mixed(columns[0], names, ids[0])


def _mixed(column: pd.Series, names: np.ndarray, ids: np.ndarray) -> str:
    """A hint for a target of mostly numbers and some text, all read as class names (its ``names``,
    the ``ids`` of its rows): the labels are read as numbers, not the rows."""
    import pandas as pd

    numeric = pd.to_numeric(pd.Series(names), errors="coerce").notna().to_numpy()
    text = np.flatnonzero(~numeric[ids])
    if not len(text) or numeric[ids].sum() <= len(column) // 2:
        return ""
    at = int(text[0])
    return (
        f"; column {column.name!r} holds numbers and text ({quote(str(column.iloc[at]), 40)!r} on "
        f"{row_of(column, at)}), so every value was read as a class name"
    )


def _check_finite(column: pd.Series, values: np.ndarray, where: str) -> None:
    """Refuses infinity in a target column, counting it and naming the first row that holds one."""
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        are = "values are" if len(bad) > 1 else "value is"
        raise DatasetError(
            f"{where}column {column.name!r}: {len(bad)} {are} NaN or infinite, the first on "
            f"{row_of(column, int(bad[0]))}; every value must be a finite number"
        )
