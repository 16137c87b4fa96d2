"""Datasets split three ways for honest tuning: CIFAR-10, arrays, .npz files, tables (CSV, TSV, Parquet,
DataFrames), Keras' datasets.

Examples:
    >>> from densespace.datasets import load_cifar10
    >>> data = load_cifar10("~/data/cifar-10-python.tar.gz")  # doctest: +SKIP
    >>> x_train, y_train = data.train  # doctest: +SKIP

Every loader returns a ``Dataset``; ``load`` picks the loader by the source's form, as
``densespace tune --data`` does. Reading local files needs numpy only; Keras is imported
only to download.
"""

from __future__ import annotations

from typing import Any, Protocol

from densespace.datasets._arrays import MAX_CLASSES, MAX_MAGNITUDE, from_arrays
from densespace.datasets._cifar10 import CLASS_NAMES, Split
from densespace.datasets._cifar10_load import CIFAR10, ENV_VAR, load_cifar10
from densespace.datasets._csv import (
    MAX_CSV_BYTES,
    MAX_CSV_CELLS,
    MAX_CSV_COLUMNS,
    MAX_CSV_ROW,
    MAX_CSV_ROWS,
    load_csv,
)
from densespace.datasets._dataset import Dataset, DatasetKind, digest
from densespace.datasets._frame import FRAME_SOURCE, from_frame
from densespace.datasets._keras_datasets import KERAS_DATASETS, load_keras
from densespace.datasets._load import load
from densespace.datasets._npz import MAX_NPZ_BYTES, load_npz
from densespace.datasets._table import (
    COLUMN_TYPES,
    DATE_PARTS,
    MISSING,
    ONE_HOT_MAX,
    ColumnType,
    embedding_size,
    model_inputs,
)

__all__ = [
    "CIFAR10",
    "CLASS_NAMES",
    "COLUMN_TYPES",
    "DATE_PARTS",
    "ENV_VAR",
    "FRAME_SOURCE",
    "KERAS_DATASETS",
    "MAX_CLASSES",
    "MAX_CSV_BYTES",
    "MAX_CSV_CELLS",
    "MAX_CSV_COLUMNS",
    "MAX_CSV_ROW",
    "MAX_CSV_ROWS",
    "MAX_MAGNITUDE",
    "MAX_NPZ_BYTES",
    "MISSING",
    "ONE_HOT_MAX",
    "ColumnType",
    "Data",
    "Dataset",
    "DatasetKind",
    "Split",
    "digest",
    "embedding_size",
    "from_arrays",
    "from_frame",
    "load",
    "load_cifar10",
    "load_csv",
    "load_keras",
    "load_npz",
    "model_inputs",
]


class Data(Protocol):
    """What ``tune`` needs of a dataset: three splits, each ``(inputs, labels)``.

    ``load_cifar10()`` returns one; so does any object with these three
    attributes (a ``SimpleNamespace``, a dataclass, a frozen dataclass), and
    ``source``, when present, says where it came from in ``results.json``.
    """

    @property
    def train(self) -> tuple[Any, Any]:
        """The examples models are trained on."""
        ...

    @property
    def validation(self) -> tuple[Any, Any]:
        """The examples the search scores trials on."""
        ...

    @property
    def test(self) -> tuple[Any, Any]:
        """The examples the retrained models are tested on, once."""
        ...
