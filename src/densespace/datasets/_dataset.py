"""The dataset every loader returns: three splits, the names that go with them, and a fingerprint."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np

Split = tuple[np.ndarray, np.ndarray]
"""One split: inputs ``x`` of shape ``(N, ...)`` and labels or targets ``y`` of ``N`` rows."""

DatasetKind = Literal["cifar10", "arrays", "npz", "csv", "keras", "frame"]
"""Which loader made a dataset: ``load_cifar10``, ``from_arrays``, ``load_npz``, ``load_csv``, ``load_keras``,
``from_frame``."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """A dataset in three splits, each ``(x, y)``, as every loader of ``densespace.datasets`` returns it.

    ``x`` has one row per example (shape ``(N, ...)``, at least two dimensions), or
    is a pandas DataFrame of raw columns for a table (``load_csv``, ``from_frame``);
    ``y`` is one of three things, which the names say apart:

    * class labels: ``y`` integers of shape ``(N,)`` holding ids ``0..k-1``
      that index ``class_names`` (``k`` names);
    * one number to predict: ``y`` ``float32`` of shape ``(N,)``,
      ``class_names`` ``None``;
    * several numbers to predict: ``y`` ``float32`` of shape ``(N, t)``,
      ``class_names`` ``None``, ``target_names`` naming the ``t`` columns
      when they have names.

    Attributes:
        train: the examples models are trained on.
        validation: the examples the search scores trials on (the test split
            itself when loaded with ``validation="test"``).
        test: the examples the retrained models are tested on, once.
        class_names: the class of each label id, for class labels; else ``None``.
        source: what was read: a resolved path, ``"keras"``, ``"keras:NAME"``
            or ``"in-memory arrays"``.
        kind: which loader made it (see ``DatasetKind``).
        feature_names: the name of each feature (the columns of ``x``), when known.
        target_names: the name of each target column of ``y``, when known
            (CSV target columns, Keras' housing prices); ``None`` for class labels.

    Examples:
        >>> import numpy as np
        >>> split = (np.zeros((2, 3), np.float32), np.array([0, 1]))
        >>> data = Dataset(split, split, split, ("no", "yes"), "in-memory arrays", "arrays")
        >>> data.class_names[data.train[1][1]], len(data.fingerprint)
        ('yes', 16)
    """

    train: Split
    validation: Split
    test: Split
    class_names: tuple[str, ...] | None
    source: str
    kind: DatasetKind
    feature_names: tuple[str, ...] | None = None
    target_names: tuple[str, ...] | None = None

    @cached_property
    def fingerprint(self) -> str:
        """16 hex digits of a sha256 over every array, to check two copies hold the same data.

        The digest covers the dtype, shape and bytes of ``x`` and ``y`` of train,
        validation and test, in that order (not the names); it is computed once,
        when first read (about 0.15 s for the whole of CIFAR-10).
        """
        return digest(self)


def digest(data: Any) -> str:
    """The fingerprint of any object with ``train``, ``validation`` and ``test`` splits.

    16 hex digits of a sha256 over the dtype, shape and bytes of the inputs and
    labels of ``data.train``, ``data.validation`` and ``data.test``, in that order.

    Examples:
        >>> from types import SimpleNamespace
        >>> split = (np.zeros((1, 2), np.uint8), np.zeros(1, np.uint8))
        >>> digest(SimpleNamespace(train=split, validation=split, test=split))
        'b50f0937936ef3ed'
    """
    hashed = hashlib.sha256()
    for value in (*data.train, *data.validation, *data.test):
        for name, array in _arrays(value):
            hashed.update(f"{name}{array.dtype.str}{array.shape}".encode())
            hashed.update(np.ascontiguousarray(array).data)
    return hashed.hexdigest()[:16]


def _arrays(value: Any) -> list[tuple[str, np.ndarray]]:
    """The arrays of a split's inputs or labels: an array (unnamed), each array of a dict of them (by
    name), or each column of a DataFrame (by name, its values hashed)."""
    if isinstance(value, dict):
        return [(str(name), _hashable(np.asarray(value[name]))) for name in sorted(value)]
    if hasattr(value, "columns") and hasattr(value, "iloc"):  # a pandas DataFrame
        from pandas.util import hash_pandas_object

        return [
            (str(name), hash_pandas_object(value[name], index=False).to_numpy()) for name in value.columns
        ]
    return [("", _hashable(np.asarray(value)))]


def _hashable(array: np.ndarray) -> np.ndarray:
    """``array``, its objects (strings) as fixed-width text."""
    return array.astype(str) if array.dtype == object else array
