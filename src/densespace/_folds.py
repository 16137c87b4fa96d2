"""The folds of ``search.cross_validation``: which rows of the training and validation splits
together each fold validates on. NumPy only.
"""

from __future__ import annotations

import numpy as np


def fold_rows(labels: np.ndarray, folds: int, *, stratified: bool, seed: int) -> list[np.ndarray]:
    """The rows (ascending indices into ``labels``) each of ``folds`` folds validates on.

    Every row is in exactly one fold; the rows are shuffled with ``seed``, and with
    ``stratified`` each class (a label value) is dealt out in turn across the folds, so every
    fold holds its share of each class (a class of fewer rows than folds is missing from some),
    and the folds' sizes differ by at most one row.

    Examples:
        >>> [rows.tolist() for rows in fold_rows(np.array([0, 0, 0, 0, 1, 1]), 2, stratified=True, seed=0)]
        [[1, 2, 5], [0, 3, 4]]
    """
    rng = np.random.default_rng(seed)
    values = np.asarray(labels).reshape(len(labels), -1)[:, 0] if stratified else np.zeros(len(labels))
    order = np.concatenate([rng.permutation(np.flatnonzero(values == value)) for value in np.unique(values)])
    return [np.sort(order[start::folds]) for start in range(folds)]
