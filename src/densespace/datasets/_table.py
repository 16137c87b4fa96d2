"""The columns of a table: their types, inferred or given, and the model's inputs they make.

A table's feature columns each get a type (``COLUMN_TYPES``): ``numeric``,
``boolean``, ``categorical``, ``date`` or ``ignore``. ``model_inputs`` turns a
pandas DataFrame of raw columns into what a densespace model of a table takes:
one array per column, keyed by the model's input names. ``Encoding`` holds what
the model's preprocessing layers are fitted to on the training split (medians,
means and variances, vocabularies) and the width they hand the first Dense layer.
numpy and pandas only; pandas is imported when a table is.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np

from densespace._errors import DatasetError, SearchWarning, quote
from densespace.datasets._arrays import MAX_MAGNITUDE

if TYPE_CHECKING:
    import pandas as pd

ColumnType = Literal["numeric", "boolean", "categorical", "date", "ignore"]
"""The type of a feature column of a table; ``ignore`` leaves it out of the model."""

COLUMN_TYPES: tuple[ColumnType, ...] = get_args(ColumnType)

MISSING = "(missing)"
"""The category a missing value of a categorical column takes: a category of its own."""

DATE_PARTS = ("year", "month", "day", "day_of_week", "hour", "minute")
"""The numbers a date column is expanded to, in this order."""

ONE_HOT_MAX = 16
"""A categorical column of at most this many training categories is one-hot encoded; above, embedded."""

ID_MIN_ROWS = 20
"""A column is taken for an ID (all values distinct) only in a training split of at least this many rows."""

_DATE_LIKE = re.compile(r"^\s*\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?")
_TRUE = {"true", "yes", "t", "y"}
_FALSE = {"false", "no", "f", "n"}


def embedding_size(categories: int) -> int:
    """The width of a categorical column in the model: one-hot up to ``ONE_HOT_MAX`` categories
    (plus one out-of-vocabulary slot), else an embedding of ``min(16, round(1.6 * n ** 0.56))``.

    Examples:
        >>> embedding_size(3), embedding_size(16), embedding_size(17), embedding_size(1000)
        (0, 0, 8, 16)
    """
    if categories <= ONE_HOT_MAX:
        return 0
    return min(16, round(1.6 * (categories + 1) ** 0.56))


def input_name(column: str) -> str:
    """The model's input name for a column: letters, digits and ``_``, others replaced by ``_``.

    Examples:
        >>> input_name("flipper length (mm)")
        'flipper_length__mm_'
    """
    name = re.sub(r"[^0-9A-Za-z_]", "_", column)
    return name if name and not name[0].isdigit() else f"c_{name}"


def infer_types(
    frame: pd.DataFrame, *, given: Mapping[str, ColumnType] | None = None, where: str = ""
) -> dict[str, ColumnType]:
    """The type of every column of ``frame``: ``given`` where it says, else inferred.

    Bool columns (and text of true/false, yes/no) are ``boolean``; numbers ``numeric``;
    text that reads as dates ``date``; other text ``categorical``. A column of at least
    ``ID_MIN_ROWS`` values, all distinct integers or strings, is an ID: ``ignore``, with a
    ``SearchWarning`` naming it.

    Raises:
        DatasetError: ``given`` names a column the table lacks.

    Examples:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"mass": [3.5, None], "island": ["Biscoe", "Dream"], "on": ["2007-11-11", None]})
        >>> infer_types(frame, given={"mass": "ignore"})
        {'mass': 'ignore', 'island': 'categorical', 'on': 'date'}
    """
    given = dict(given or {})
    missing = [name for name in given if name not in frame.columns]
    if missing:
        shown = quote(", ".join(map(repr, map(str, frame.columns))), 120)
        raise DatasetError(
            f"{where}input.columns names {quote(repr(missing[0]), 60)}, which is not a feature column; "
            f"the feature columns are {shown}"
        )
    types: dict[str, ColumnType] = {}
    ids: list[str] = []
    for name in frame.columns:
        if name in given:
            types[name] = given[name]
            continue
        types[name] = _inferred(frame[name])
        if types[name] in ("numeric", "categorical") and _is_id(frame[name]):
            types[name] = "ignore"
            ids.append(str(name))
    if ids:
        warnings.warn(
            f"{where}column{'s' if len(ids) > 1 else ''} {', '.join(map(repr, ids))}: every value is "
            "distinct, an ID: ignored (set its type in input.columns to use it)",
            SearchWarning,
            stacklevel=3,
        )
    return types


def _inferred(column: pd.Series) -> ColumnType:
    import pandas as pd

    if pd.api.types.is_bool_dtype(column):
        return "boolean"
    if pd.api.types.is_numeric_dtype(column):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(column):
        return "date"
    values = column.dropna()
    if values.empty:
        return "numeric"
    text = values.astype(str)
    if set(text.str.strip().str.lower().unique()) <= _TRUE | _FALSE:
        return "boolean"
    sample = text.iloc[:1000]
    if sample.str.match(_DATE_LIKE).all() and _dates(text).notna().all():
        return "date"
    return "categorical"


def _is_id(column: pd.Series) -> bool:
    """All values present and distinct integers or strings, in at least ``ID_MIN_ROWS`` rows."""
    import pandas as pd

    if len(column) < ID_MIN_ROWS or column.isna().any():
        return False
    if pd.api.types.is_float_dtype(column) or pd.api.types.is_bool_dtype(column):
        return False
    return bool(column.is_unique)


def _dates(text: pd.Series) -> pd.Series:
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pd.to_datetime(text, errors="coerce", format="mixed")


def model_inputs(frame: pd.DataFrame, *, columns: Mapping[str, ColumnType]) -> dict[str, np.ndarray]:
    """The inputs of a densespace model of a table, from a DataFrame of raw columns.

    Each column that ``columns`` types (but ``ignore``) becomes one array, keyed by
    ``input_name(column)``: ``numeric`` and ``boolean`` columns ``float32`` of shape
    ``(N, 1)`` (NaN where a value is missing; true/yes is 1); ``categorical`` columns
    strings of shape ``(N, 1)`` (``"(missing)"`` where a value is missing); ``date``
    columns ``float32`` of shape ``(N, 6)``, the ``DATE_PARTS``. The model imputes,
    standardizes and encodes them itself. Keras' ``predict`` takes string arrays through
    ``tf.data`` only: ``model.predict(tf.data.Dataset.from_tensor_slices(inputs).batch(256))``,
    or call the model, ``model(inputs)``.

    Args:
        frame: the rows, one column per name in ``columns`` (others are left out).
        columns: the type of each column, as a run records them (``input.columns`` of
            ``best-K.spec.json``).

    Returns:
        The arrays, by input name.

    Raises:
        DatasetError: a column is missing, or a value does not read as its type
            (naming the column, the row and the type to set).

    Examples:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"mass": [3.5, None], "island": ["Biscoe", None]})
        >>> inputs = model_inputs(frame, columns={"mass": "numeric", "island": "categorical"})
        >>> inputs["mass"].ravel().tolist(), inputs["island"].ravel().tolist()
        ([3.5, nan], ['Biscoe', '(missing)'])
    """
    absent = [name for name, kind in columns.items() if kind != "ignore" and name not in frame.columns]
    if absent:
        raise DatasetError(
            f"no column {quote(repr(absent[0]), 60)}; the model takes the columns {_shown(columns)}"
        )
    inputs: dict[str, np.ndarray] = {}
    named: dict[str, str] = {}
    for name, kind in columns.items():
        if kind == "ignore":
            continue
        key = input_name(name)
        if key in named:
            raise DatasetError(
                f"columns {named[key]!r} and {name!r} both make the model's input name {key!r}; rename one"
            )
        named[key] = name
        inputs[key] = _values(frame[name], name, kind, frame.attrs.get("where", ""))
    return inputs


def _shown(columns: Mapping[str, ColumnType]) -> str:
    return quote(", ".join(repr(name) for name, kind in columns.items() if kind != "ignore"), 120)


def _values(column: pd.Series, name: str, kind: ColumnType, where: str) -> np.ndarray:
    import pandas as pd

    if kind == "categorical":
        text = column.astype(object).where(column.notna(), MISSING).astype(str)
        return text.to_numpy(dtype=str).reshape(-1, 1)
    if kind == "date":
        dates = column if pd.api.types.is_datetime64_any_dtype(column) else _dates(column.astype(object))
        _check_read(column, dates, name, "a date", where)
        parts = [
            dates.dt.year,
            dates.dt.month,
            dates.dt.day,
            dates.dt.day_of_week,
            dates.dt.hour,
            dates.dt.minute,
        ]
        return np.stack([part.to_numpy(dtype=np.float32, na_value=np.nan) for part in parts], axis=1)
    if kind == "boolean" and not pd.api.types.is_numeric_dtype(column):
        text = (
            column.astype(object)
            .where(column.notna())
            .map(lambda v: str(v).strip().lower(), na_action="ignore")
        )
        numbers = text.map(
            lambda v: 1.0 if v in _TRUE else 0.0 if v in _FALSE else np.nan, na_action="ignore"
        )
        _check_read(column, numbers, name, "true or false", where)
    else:
        numbers = pd.to_numeric(column, errors="coerce")
        _check_read(column, numbers, name, "a number", where)
    values = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    _check_magnitude(values, column, name, where)
    return values.astype(np.float32).reshape(-1, 1)


def row_of(column: pd.Series, position: int) -> str:
    """Where a row is: its line in a file (whose rows are indexed by line), else its index."""
    label = column.index[position]
    return f"line {label}" if column.index.name == "line" else f"row {label!r}"


def _check_read(column: pd.Series, read: pd.Series, name: str, what: str, where: str) -> None:
    """Refuses a value present in ``column`` that did not read as ``what``, naming its row."""
    bad = np.flatnonzero(column.notna().to_numpy() & read.isna().to_numpy())
    if len(bad):
        value = column.iloc[int(bad[0])]
        hint = "'categorical'" if what != "a date" else "'categorical' or 'ignore'"
        raise DatasetError(
            f"{where}column {name!r}, {row_of(column, int(bad[0]))}: {quote(str(value), 60)!r} is not "
            f"{what}; set its type to {hint} in input.columns, or mend the value"
        )


def _check_magnitude(values: np.ndarray, column: pd.Series, name: str, where: str) -> None:
    """Refuses infinity and values beyond ``MAX_MAGNITUDE``, where float32 training overflows."""
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(np.isinf(values) | (np.abs(values) > MAX_MAGNITUDE))
    if len(bad):
        at = int(bad[0])
        raise DatasetError(
            f"{where}column {name!r}, {row_of(column, at)}: {values[at]:g} is beyond ±{MAX_MAGNITUDE:g}, "
            "where float32 training overflows; rescale the column (divide it by a power of ten, or take "
            "its logarithm)"
        )


@dataclass(frozen=True)
class Encoded:
    """One column as the model encodes it, fitted on the training split.

    Attributes:
        column: the column's name; ``name`` is its input's.
        type: its type (never ``ignore``).
        size: the values per row of its input: 1, or 6 for a date.
        median: numeric parts: the training median of each value, which fills a missing one.
        indicators: numeric parts: whether a was-missing indicator is added (the
            column had missing values in training).
        mean: numeric parts: the training mean of each value (after filling), to standardize.
        variance: numeric parts: the training variance of each value.
        vocabulary: categorical: the training categories, sorted.
        embedding: categorical: the embedding width, 0 for one-hot (``embedding_size``).
        missing: the training rows whose value is missing.
    """

    column: str
    name: str
    type: ColumnType
    size: int
    median: tuple[float, ...] = ()
    indicators: bool = False
    mean: tuple[float, ...] = ()
    variance: tuple[float, ...] = ()
    vocabulary: tuple[str, ...] = ()
    embedding: int = 0
    missing: int = 0

    @property
    def width(self) -> int:
        """The values this column hands the first Dense layer."""
        if self.type == "categorical":
            return self.embedding or len(self.vocabulary) + 1  # + the out-of-vocabulary slot
        return self.size * (2 if self.indicators else 1)

    @property
    def parameters(self) -> int:
        """Its trainable parameters: an embedding's table, else none."""
        return (len(self.vocabulary) + 1) * self.embedding


@dataclass(frozen=True)
class TableEncoding:
    """How a model encodes a table's columns, fitted on the training split.

    Attributes:
        types: every column's type, ``ignore`` included, in the table's order.
        columns: the encoded columns (all but the ignored ones).
    """

    types: tuple[tuple[str, ColumnType], ...]
    columns: tuple[Encoded, ...]

    @classmethod
    def fit(cls, types: Mapping[str, ColumnType], train: Mapping[str, np.ndarray]) -> TableEncoding:
        """The encoding fitted on ``train``, the training split's ``model_inputs``.

        Examples:
            >>> import pandas as pd
            >>> types = {"mass": "numeric", "island": "categorical"}
            >>> frame = pd.DataFrame({"mass": [3.0, None, 5.0], "island": ["a", "b", "a"]})
            >>> encoding = TableEncoding.fit(types, model_inputs(frame, columns=types))
            >>> [(e.name, e.width, e.median) for e in encoding.columns], encoding.width
            ([('mass', 2, (4.0,)), ('island', 3, ())], 5)
        """
        return cls(
            tuple(types.items()), tuple(_encoded(c, k, train) for c, k in types.items() if k != "ignore")
        )

    @property
    def width(self) -> int:
        """The values the encoded columns hand the first Dense layer, together."""
        return sum(e.width for e in self.columns)

    @property
    def parameters(self) -> int:
        """The trainable parameters of the columns' embeddings."""
        return sum(e.parameters for e in self.columns)

    def describe(self) -> str:
        """The columns in one line (``describe``)."""
        return describe(dict(self.types), self.columns)


def _encoded(column: str, kind: ColumnType, train: Mapping[str, np.ndarray]) -> Encoded:
    """One column's encoding, fitted on its training values."""
    name = input_name(column)
    values = train[name]
    if kind == "categorical":
        vocabulary = tuple(sorted(set(values.ravel().tolist())))
        size, absent = embedding_size(len(vocabulary)), int(np.count_nonzero(values == MISSING))
        return Encoded(column, name, kind, 1, vocabulary=vocabulary, embedding=size, missing=absent)
    missing = np.isnan(values)
    median = np.nan_to_num(np.nanmedian(np.where(missing.all(axis=0), 0.0, values), axis=0))
    filled = np.where(missing, median, values).astype(np.float64)
    return Encoded(
        column,
        name,
        kind,
        values.shape[1],
        median=tuple(map(float, median)),
        indicators=bool(missing.any()),
        mean=tuple(map(float, filled.mean(axis=0))),
        variance=tuple(map(float, filled.var(axis=0))),
        missing=int(np.count_nonzero(missing.any(axis=1))),
    )


def describe(types: Mapping[str, ColumnType], encoding: tuple[Encoded, ...] = ()) -> str:
    """The columns in one line: how many of each type, the categories of each categorical
    column (with ``encoding``), and the training rows missing a value in each column.

    Examples:
        >>> describe({"a": "numeric", "island": "categorical", "id": "ignore"})
        'columns: 1 numeric, 1 categorical (island), 1 ignored (id)'
    """
    by_name = {e.column: e for e in encoding}
    parts = []
    for kind in COLUMN_TYPES:
        names = [name for name, k in types.items() if k == kind]
        if not names:
            continue
        word = "ignored" if kind == "ignore" else kind
        if kind in ("categorical", "ignore"):
            shown = [
                f"{n} {len(by_name[n].vocabulary)}" if n in by_name and kind != "ignore" else n for n in names
            ]
            parts.append(f"{len(names)} {word} ({quote(', '.join(shown), 80)})")
        else:
            parts.append(f"{len(names)} {word}")
    filled = ", ".join(f"{e.column} {e.missing}" for e in encoding if e.missing)
    missing = f"; rows missing a value: {quote(filled, 80)}" if filled else ""
    return f"columns: {', '.join(parts)}{missing}"
