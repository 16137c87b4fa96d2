"""The tuner registry: one contract, checked against every entry."""

from __future__ import annotations

from typing import get_args

import pytest
from helpers import spec_dict, synthetic_data

import densespace
from densespace._cli import _parser
from densespace._tuners import TUNERS, TunerName


def test_the_literal_of_tuner_names_is_the_registry():
    """TunerName (for type checkers) lists exactly the registry's names, in order."""
    assert get_args(TunerName) == tuple(TUNERS)


#: Options that keep each tuner's tiny search to two short trials or so.
OPTIONS = {
    "random": {"max_trials": 2},
    "bayesian": {"max_trials": 2, "num_initial_points": 1},
    "hyperband": {"max_epochs": 2, "factor": 2},
    "grid": {"max_trials": 2},
}


def test_every_entry_has_tiny_options():
    """The contract's tiny search knows how to keep every registered tuner short."""
    assert set(OPTIONS) == set(TUNERS)


@pytest.mark.parametrize("entry", TUNERS.values(), ids=list(TUNERS))
class TestTunerContract:
    """What every registry entry must provide."""

    def test_spec_section(self, entry):
        """A spec naming the tuner validates to the entry's section model."""
        spec = densespace.validate_spec(spec_dict(search={"tuner": entry.name}))
        assert type(spec.search) is entry.section and spec.search.tuner == entry.name

    def test_cli_choice(self, entry):
        """--tuner accepts the name."""
        args = _parser().parse_args(["tune", "x.json", "--tuner", entry.name])
        assert args.tuner == entry.name

    def test_public_shortcut(self, entry):
        """densespace.<function> exists, is exported and carries its name."""
        function = getattr(densespace, entry.function)
        assert entry.function in densespace.__all__ and function.__name__ == entry.function

    def test_keras_tuner_class(self, entry):
        """The keras-tuner class the entry names exists."""
        import keras_tuner

        assert issubclass(getattr(keras_tuner, entry.keras_class), keras_tuner.Tuner)

    def test_budget_is_positive(self, entry):
        """The planned budget of a default section is at least one trial and one epoch."""
        spec = densespace.validate_spec(spec_dict(search={"tuner": entry.name}))
        trials, epochs = densespace.planned_budget(spec)
        assert trials >= 1 and epochs >= trials

    @pytest.mark.slow
    def test_a_tiny_search_runs_within_its_budget(self, entry, tmp_path):
        """The shortcut runs a real search whose trials and epochs stay within the planned budget."""
        search = {"tuner": entry.name, "seed": 3, **OPTIONS[entry.name]}
        spec = densespace.validate_spec(
            spec_dict(
                input={"shape": [4, 4, 3]},
                hidden={"units": {"values": [4, 8]}},
                training={"epochs": 1, "batch_size": 32},
                search=search,
            )
        )
        result = getattr(densespace, entry.function)(
            spec, data=synthetic_data(), out=tmp_path, retrain_top=1, verbose=0
        )
        trials, epochs = densespace.planned_budget(spec)
        assert 1 <= len(result.trials) <= trials
        assert sum(t.epochs or 0 for t in result.trials) <= epochs
        assert result.record is not None and result.record.tuner == entry.name

    @pytest.mark.slow
    def test_only_feasible_configurations_are_trained(self, entry, tmp_path):
        """Under search.constraints every trial the tuner runs is a feasible model, and none fails."""
        search = {"tuner": entry.name, "seed": 0, **OPTIONS[entry.name]}
        search["constraints"] = {"max_parameters": 600, "funnel": True}
        spec = densespace.validate_spec(
            spec_dict(
                input={"shape": [4, 4, 3]},
                hidden={"layers": 2, "units": {"values": [4, 8, 16]}},
                training={"epochs": 1, "batch_size": 32},
                search=search,
            )
        )
        result = getattr(densespace, entry.function)(
            spec, data=synthetic_data(), out=tmp_path, retrain_top=1, verbose=0
        )
        assert result.trials and all(t.status == "completed" for t in result.trials)
        assert all(densespace.feasible(spec, t.values) for t in result.trials)
        assert result.best[0].parameters <= 600

    @pytest.mark.slow
    def test_initial_points_come_first_or_are_refused(self, entry, tmp_path):
        """A tuner that takes given points trains them first, in order; one that cannot refuses them at their field."""
        search = {"tuner": entry.name, "seed": 0, **OPTIONS[entry.name], "initial_points": [{"units_0": 8}]}
        data = spec_dict(
            input={"shape": [4, 4, 3]},
            hidden={"units": {"values": [4, 8]}},
            training={"epochs": 1, "batch_size": 32},
            search=search,
        )
        if entry.section.NO_POINTS is not None:
            with pytest.raises(densespace.SpecError) as caught:
                densespace.validate_spec(data)
            assert str(caught.value) == (
                f"search.initial_points: {entry.section.NO_POINTS}: remove search.initial_points, "
                "or use the random or bayesian tuner"
            )
            return
        result = getattr(densespace, entry.function)(
            densespace.validate_spec(data), data=synthetic_data(), out=tmp_path, retrain_top=0, verbose=0
        )
        assert result.trials[0].values == {"units_0": 8}


@pytest.mark.parametrize(
    ("tried", "proposal", "expected"),
    [
        (set(), {"status": "RUNNING", "values": {"u": 4}}, {"status": "RUNNING", "values": {"u": 4}}),
        ({"u=4"}, {"status": "RUNNING", "values": {"u": 4}}, {"status": "RUNNING", "values": {"u": 8}}),
        (
            {"u=4", "u=8"},
            {"status": "RUNNING", "values": {"u": 4}},
            {"status": "RUNNING", "values": {"u": 4}},
        ),
        ({"u=4"}, {"status": "STOPPED", "values": None}, {"status": "STOPPED", "values": None}),
    ],
)
def test_a_bayesian_proposal_already_tried_becomes_a_random_untried_one(tried, proposal, expected):
    """A Gaussian-process proposal whose values a trial has is replaced by an untried random one, when draws find one."""
    from types import SimpleNamespace

    from densespace._keras.tuners import _no_repeats

    def key(values):
        return ",".join(f"{k}={v}" for k, v in sorted(values.items()))

    def random_values():
        return next(({"u": u} for u in (4, 8) if f"u={u}" not in tried), None)

    oracle = SimpleNamespace(
        populate_space=lambda trial_id: proposal,
        _duplicate=lambda values: key(values) in tried,
        _random_values=random_values,
    )
    _no_repeats(oracle)
    assert oracle.populate_space("0") == expected


@pytest.mark.slow
def test_a_bayesian_search_of_a_small_space_trains_each_configuration_once(tmp_path):
    """With as many trials as configurations, every trial of a Bayesian search is a different one."""
    spec = densespace.validate_spec(
        spec_dict(
            input={"shape": [4, 4, 3]},
            hidden={"units": {"values": [4, 8, 16, 32]}},
            training={"epochs": 1, "batch_size": 32},
            search={"tuner": "bayesian", "max_trials": 4, "num_initial_points": 1, "seed": 0},
        )
    )
    result = densespace.tune(spec, data=synthetic_data(), out=tmp_path, retrain_top=0, verbose=0)
    assert sorted(t.values["units_0"] for t in result.trials) == [4, 8, 16, 32]
