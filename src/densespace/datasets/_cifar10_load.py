"""``load_cifar10``: CIFAR-10 from a local copy or Keras' download, split into train, validation
and test."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import numpy as np

from densespace._errors import DatasetError
from densespace.datasets._arrays import _hold_out, _subset
from densespace.datasets._cifar10 import CLASS_NAMES, Split, read_cifar10
from densespace.datasets._dataset import Dataset, DatasetKind
from densespace.datasets._local import resolve

ENV_VAR = "DENSESPACE_CIFAR10"
"""Names a local copy of CIFAR-10 for ``load_cifar10()`` called without a source."""


@dataclass(frozen=True, eq=False)
class CIFAR10(Dataset):
    """CIFAR-10 as ``load_cifar10`` returns it: a ``Dataset`` of kind ``"cifar10"``.

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
        kind: ``"cifar10"``.
    """

    kind: DatasetKind = "cifar10"


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

    Examples:
        >>> data = load_cifar10("~/data/cifar-10-batches-bin", limit=1000)  # doctest: +SKIP
        >>> x_val, y_val = data.validation  # doctest: +SKIP
    """
    _check_options(validation, limit)
    if source is None:
        source = os.environ.get(ENV_VAR) or None
    if source is None:
        (train, test), origin = _download(), "keras"
    else:
        train, test, origin = read_cifar10(resolve(source))
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
    from densespace._keras.io import download_dataset  # imports Keras: only this path needs it

    try:
        (x_train, y_train), (x_test, y_test) = download_dataset("cifar10")
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
