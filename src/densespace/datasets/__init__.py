"""CIFAR-10 from keras' download or a local copy, split three ways for honest tuning.

Example:
    >>> from densespace.datasets import load_cifar10
    >>> data = load_cifar10("~/data/cifar-10-python.tar.gz")  # doctest: +SKIP
    >>> x_train, y_train = data.train  # doctest: +SKIP

Reading local files needs numpy only; Keras is imported only to download.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from densespace._errors import DatasetError
from densespace.datasets._cifar10 import CLASS_NAMES, Split, read_cifar10

__all__ = ["CIFAR10", "CLASS_NAMES", "ENV_VAR", "Data", "Split", "digest", "load_cifar10"]

ENV_VAR = "DENSESPACE_CIFAR10"
"""Names a local copy of CIFAR-10 for ``load_cifar10()`` called without a source."""


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


@dataclass(frozen=True, eq=False)
class CIFAR10:
    """CIFAR-10 in three splits, each ``(images, labels)``.

    Images are ``uint8`` arrays of shape ``(N, 32, 32, 3)`` (pixels 0-255,
    channels last); labels are ``uint8`` arrays of shape ``(N,)`` holding class
    ids 0-9, which index ``class_names``.

    Attributes:
        train: the training images left after the validation split.
        validation: held out from the training images, or the test split
            itself when loaded with ``validation="test"``.
        test: the official 10,000 test images (fewer with ``limit``).
        class_names: the ten class names, indexed by label.
        source: what was read: the resolved path, or ``"keras"``.
    """

    train: Split
    validation: Split
    test: Split
    class_names: tuple[str, ...]
    source: str

    @cached_property
    def fingerprint(self) -> str:
        """16 hex digits of a sha256 over every array, to check two copies hold the same data.

        The digest covers the dtype, shape and bytes of the images and labels of
        train, validation and test, in that order; it is computed once, when
        first read (about 0.15 s for the full dataset).
        """
        return digest(self)


def digest(data: Any) -> str:
    """The fingerprint of any object with ``train``, ``validation`` and ``test`` splits.

    16 hex digits of a sha256 over the dtype, shape and bytes of the images and
    labels of ``data.train``, ``data.validation`` and ``data.test``, in that order.
    """
    hashed = hashlib.sha256()
    for array in (*data.train, *data.validation, *data.test):
        array = np.asarray(array)
        hashed.update(f"{array.dtype.str}{array.shape}".encode())
        hashed.update(np.ascontiguousarray(array).data)
    return hashed.hexdigest()[:16]


def load_cifar10(
    source: str | os.PathLike[str] | None = None,
    *,
    validation: float | Literal["test"] = 0.1,
    limit: int | None = None,
    seed: int = 0,
) -> CIFAR10:
    """Loads CIFAR-10 and splits it into train, validation and test.

    Args:
        source: a local copy: ``cifar-10-python.tar.gz``, ``cifar-10-binary.tar.gz``,
            either one extracted (``cifar-10-batches-py/``, ``cifar-10-batches-bin/``),
            or a folder holding one of those four. Recognised by content, not by
            name. ``None`` reads the path in ``$DENSESPACE_CIFAR10`` when that is
            set and not empty, and otherwise keras' download (cached after the
            first time).
        validation: the share of training images held out for validation,
            stratified by class, or ``"test"`` to validate on the test split as
            the original blog post does; that overstates results, because the
            hyperparameters are then chosen on the images that score them.
        limit: keep at most this many images in each split (at least 10), a
            stratified subset, for quick runs.
        seed: fixes which images go to validation and which ones ``limit`` keeps.

    Returns:
        The three splits, the class names, where they came from and a fingerprint.

    Raises:
        DatasetError: an option is out of range, the source is missing, damaged
            or unsafe, or the download fails.

    Example:
        >>> data = load_cifar10("~/data/cifar-10-batches-bin", limit=1000)  # doctest: +SKIP
        >>> x_val, y_val = data.validation  # doctest: +SKIP
    """
    _check_options(validation, limit)
    if source is None:
        source = os.environ.get(ENV_VAR) or None
    if source is None:
        (train, test), origin = _download(), "keras"
    else:
        train, test, origin = read_cifar10(Path(source).expanduser().resolve())
    rng = np.random.default_rng(seed)
    held_out = test
    if validation != "test":
        train, held_out = _hold_out(train, validation, rng)
    if limit is not None:
        train, test = _subset(train, limit, rng), _subset(test, limit, rng)
        held_out = test if validation == "test" else _subset(held_out, limit, rng)
    return CIFAR10(train, held_out, test, CLASS_NAMES, origin)


def _check_options(validation: object, limit: object) -> None:
    """Refuses a validation share outside (0, 1) and a limit below 10."""
    if validation != "test" and (
        isinstance(validation, bool) or not isinstance(validation, (int, float)) or not 0 < validation < 1
    ):
        raise DatasetError(
            f"validation must be a fraction between 0 and 1 (exclusive) or 'test', got {validation!r}"
        )
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 10):
        raise DatasetError(
            f"limit must be an integer of at least 10 (one image per class) or None, got {limit!r}"
        )


def _download() -> tuple[Split, Split]:
    """Keras' copy of CIFAR-10, with labels flattened and images made contiguous."""
    from densespace._keras.io import download_cifar10  # imports Keras: only this path needs it

    try:
        (x_train, y_train), (x_test, y_test) = download_cifar10()
    except Exception as exc:  # keras reports a failed download as a bare Exception
        raise DatasetError(
            f"cannot download CIFAR-10 through keras ({exc}); point densespace at a local copy "
            f"instead with --data PATH or {ENV_VAR}=PATH, where PATH is cifar-10-python.tar.gz, "
            "cifar-10-binary.tar.gz or the folder either one extracts to"
        ) from exc
    return (
        (np.ascontiguousarray(x_train), y_train.reshape(-1).astype(np.uint8)),
        (np.ascontiguousarray(x_test), y_test.reshape(-1).astype(np.uint8)),
    )


def _hold_out(train: Split, fraction: float, rng: np.random.Generator) -> tuple[Split, Split]:
    """Splits ``fraction`` of the training images off, stratified by class."""
    order = _stratified_order(train[1], rng)
    count = round(len(order) * fraction)
    if not 0 < count < len(order):
        raise DatasetError(
            f"validation={fraction} of {len(order)} training images leaves {len(order) - count} "
            f"for training and {count} for validation; each needs at least one"
        )
    return _take(train, order[count:]), _take(train, order[:count])


def _subset(split: Split, limit: int, rng: np.random.Generator) -> Split:
    """At most ``limit`` images of ``split``, stratified by class."""
    if len(split[1]) <= limit:
        return split
    return _take(split, _stratified_order(split[1], rng)[:limit])


def _stratified_order(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random order of the indices of ``labels`` whose every prefix keeps the class shares."""
    order = rng.permutation(len(labels))
    shuffled = labels[order]
    rank = np.empty(len(labels))
    for label in np.unique(shuffled):
        members = shuffled == label
        count = np.count_nonzero(members)
        rank[members] = (np.arange(count) + 0.5) / count  # how far through its class, 0..1
    return order[np.argsort(rank, kind="stable")]


def _take(split: Split, indices: np.ndarray) -> Split:
    """The images and labels at ``indices``, kept in file order."""
    indices = np.sort(indices)
    return split[0][indices], split[1][indices]
