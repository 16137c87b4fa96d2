"""The tuner registry and the Bayesian optimization's own hook."""

from __future__ import annotations

from typing import get_args

import pytest
from helpers import spec_dict
from helpers.oracles import drive, oracle

import densespace
from densespace._search import TUNERS, TunerName
from densespace._search.bayesian import REDRAWS, BayesianHooks


def test_the_literal_of_tuner_names_is_the_registry():
    """TunerName (for type checkers) lists exactly the registry's names, in order."""
    assert get_args(TunerName) == tuple(TUNERS)


class _Draws(BayesianHooks):
    """The hook over made-up random draws, each an untried configuration or None (none found)."""

    def __init__(self, draws):
        self.draws = iter(draws)

    def _random_values(self):
        return next(self.draws)


@pytest.mark.parametrize(
    ("draws", "expected"),
    [
        ([{"u": 8}], {"u": 8}),
        ([None, None, {"u": 8}], {"u": 8}),
        ([None] * REDRAWS, {"u": 4}),
    ],
    ids=["first-draw", "third-draw", "none-found"],
)
def test_a_bayesian_proposal_already_tried_becomes_a_random_untried_one(draws, expected):
    """A repeated Gaussian-process proposal is replaced by an untried random one, when REDRAWS rounds find one."""
    assert _Draws(draws).replace_repeated({"u": 4}) == expected


def test_a_bayesian_search_of_a_small_space_proposes_each_configuration_once(tmp_path):
    """With as many trials as configurations, every trial of a Bayesian search is a different one."""
    spec = densespace.validate_spec(
        spec_dict(
            input={"shape": [4], "preprocessing": "none"},
            output={"units": 2},
            hidden={"units": {"values": [4, 8, 16, 32]}},
            search={"tuner": "bayesian", "max_trials": 4, "num_initial_points": 1, "seed": 0},
        )
    )
    assert sorted(v["units_0"] for v in drive(oracle(spec, tmp_path))) == [4, 8, 16, 32]
