"""One entry point for every source ``densespace tune --data`` takes: picks the loader by the source's form."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from densespace._errors import OptionError, quote
from densespace.datasets._cifar10_load import load_cifar10
from densespace.datasets._csv import PARQUET, load_csv
from densespace.datasets._dataset import Dataset
from densespace.datasets._keras_datasets import load_keras
from densespace.datasets._npz import load_npz

TABLES = (".csv", ".tsv", *PARQUET)
"""The suffixes (in any case) of the table files ``load_csv`` reads."""

KERAS_PREFIX = "keras:"
"""A source that starts with this names one of Keras' datasets: ``keras:mnist``."""


def load(
    source: str | os.PathLike[str] | None = None,
    *,
    target: str | Sequence[str] | None = None,
    test: float | str | os.PathLike[str] | None = None,
    validation: float | Literal["test"] = 0.1,
    limit: int | None = None,
    seed: int = 0,
    numbers: bool = False,
) -> Dataset:
    """Loads a dataset from any source densespace reads, chosen by the source's form.

    * ``None``: ``load_cifar10()``, which reads ``$DENSESPACE_CIFAR10``, else Keras' download;
    * ``"keras:NAME"``: ``load_keras(NAME)``;
    * a path ending in ``.npz`` (in any case): ``load_npz(path)``;
    * a path ending in ``.csv``, ``.tsv``, ``.parquet`` or ``.pq``: ``load_csv(path, target=target)``;
    * any other path: ``load_cifar10(path)``, an archive or folder of CIFAR-10.

    Args:
        source: what to read, as above.
        target: the target column or columns of a CSV source; required for
            one, refused for the others.
        test: the share of the examples held out for testing (CSV and
            ``.npz`` sources; default 0.2), or a CSV file to test on (CSV sources).
            CIFAR-10 and Keras' datasets come with their test split.
        validation: the share of the training examples held out for
            validation, or ``"test"`` to validate on the test split.
        limit: keep at most this many examples in each split, a stratified subset.
        seed: fixes which examples each split and each subset gets.
        numbers: the labels of a CSV or ``.npz`` source are numbers to predict
            (a ``regression`` task) even when they are whole numbers, not class labels.

    Returns:
        The loader's ``Dataset``.

    Raises:
        OptionError: ``target`` or ``test`` does not apply to this source, or
            a CSV source comes without ``target``.
        DatasetError: what the loader raises.

    Examples:
        >>> load("iris.csv")
        Traceback (most recent call last):
        ...
        densespace._errors.OptionError: iris.csv is a CSV file: name the column or columns to predict with target
    """
    text = None if source is None else os.fspath(source)
    kind = _kind(text)
    shown = "CIFAR-10 (no source given)" if text is None else quote(text, 120)
    if kind == "csv":
        if target is None:
            raise OptionError(
                f"{shown} is a CSV file: name the column or columns to predict with {{target}}", "target"
            )
        assert text is not None
        return load_csv(
            text, target=target, test=test, validation=validation, limit=limit, seed=seed, numbers=numbers
        )
    if target is not None:
        raise OptionError(
            f"{{target}} names the target columns of a CSV file, but the source is {shown}", "target"
        )
    if kind == "npz":
        if test is not None and not isinstance(test, int | float):
            raise OptionError(
                f"{{test}} takes a fraction for a .npz source, not a file; {shown} may hold x_test and y_test",
                "test",
            )
        assert text is not None
        return load_npz(
            text,
            validation=validation,
            test=0.2 if test is None else test,
            limit=limit,
            seed=seed,
            numbers=numbers,
        )
    if test is not None:
        raise OptionError(
            f"{{test}} applies to CSV and .npz sources; {shown} comes with its test split", "test"
        )
    if kind == "keras":
        assert text is not None
        return load_keras(text[len(KERAS_PREFIX) :], validation=validation, limit=limit, seed=seed)
    return load_cifar10(text, validation=validation, limit=limit, seed=seed)


def _kind(source: str | None) -> Literal["cifar10", "keras", "npz", "csv"]:
    if source is None:
        return "cifar10"
    if source.startswith(KERAS_PREFIX):
        return "keras"
    suffix = Path(source).suffix.lower()
    return "npz" if suffix == ".npz" else "csv" if suffix in TABLES else "cifar10"
