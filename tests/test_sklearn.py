"""The scikit-learn classifier passes scikit-learn's own estimator checks."""

from __future__ import annotations

import pytest
from helpers.estimators import TINY
from sklearn.utils.estimator_checks import parametrize_with_checks

from densespace.sklearn import DenseSpaceClassifier


@pytest.mark.slow
@parametrize_with_checks([DenseSpaceClassifier(spec=TINY, seed=1)])
def test_scikit_learn_checks(estimator, check):
    """The classifier passes every scikit-learn estimator check."""
    check(estimator)
