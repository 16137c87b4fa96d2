"""The search contract: what every registered search algorithm provides, checked once per TUNERS entry.

The oracle is driven directly (trials ended with made-up scores, nothing trained) except in the
tests marked slow, which run real tiny searches through the public shortcuts.
"""

from __future__ import annotations

from types import SimpleNamespace

import keras_tuner
import pytest
from helpers import spec_dict, synthetic_data
from helpers.oracles import clean, drive, heard_infeasible, oracle

import densespace
from densespace._budgets import Limits
from densespace._cli import _parser
from densespace._keras.oracle import ORACLE_CLASSES
from densespace._keras.tuners import TUNER_CLASSES, feed_earlier
from densespace._results import TrialRecord
from densespace._search import TUNERS

#: Options that keep each algorithm's search to two short trials or so.
OPTIONS = {
    "random": {"max_trials": 2},
    "bayesian": {"max_trials": 2, "num_initial_points": 1},
    "hyperband": {"max_epochs": 2, "factor": 2},
    "grid": {"max_trials": 2},
    "tpe": {"max_trials": 2, "num_initial_points": 1},
}
#: A space of 16 configurations: two layers of 4, 8, 16 or 32 units, on 4 features and 2 classes.
TWO_LAYERS = {
    "input": {"shape": [4], "preprocessing": "none"},
    "output": {"units": 2},
    "hidden": {"layers": 2, "units": {"values": [4, 8, 16, 32]}},
}
#: A space of 4 configurations: one layer of 4, 8, 16 or 32 units.
ONE_LAYER = {**TWO_LAYERS, "hidden": {"units": {"values": [4, 8, 16, 32]}}}
#: The algorithms that evaluate given points (initial points, enqueued models, warm starts).
TAKES_POINTS = [t for t in TUNERS.values() if t.section.NO_POINTS is None]


def spec(space: dict[str, object], entry, **search: object) -> densespace.Spec:
    return densespace.validate_spec(
        spec_dict(**space, search={"tuner": entry.name, "seed": 3, **OPTIONS[entry.name], **search})
    )


def test_every_entry_has_tiny_options():
    """The contract's tiny searches know how to keep every registered algorithm short."""
    assert set(OPTIONS) == set(TUNERS)


def test_an_algorithm_that_takes_no_points_is_known_here():
    """The entries that refuse given points are exactly Hyperband and the grid."""
    assert [t.name for t in TUNERS.values() if t not in TAKES_POINTS] == ["hyperband", "grid"]


@pytest.mark.parametrize("entry", TUNERS.values(), ids=list(TUNERS))
class TestSearchContract:
    """What every registry entry must provide."""

    def test_spec_section(self, entry):
        """A spec naming the algorithm validates to the entry's section model."""
        validated = densespace.validate_spec(spec_dict(search={"tuner": entry.name}))
        assert type(validated.search) is entry.section and validated.search.tuner == entry.name

    def test_cli_choice(self, entry):
        """--tuner accepts the name."""
        args = _parser().parse_args(["tune", "x.json", "--tuner", entry.name])
        assert args.tuner == entry.name

    def test_public_shortcut(self, entry):
        """densespace.<function> exists, is exported and carries its name."""
        function = getattr(densespace, entry.function)
        assert entry.function in densespace.__all__ and function.__name__ == entry.function

    def test_keras_tuner_classes(self, entry):
        """The tuner trains as the keras-tuner class the entry names; its oracle is that oracle with densespace's hooks."""
        assert issubclass(TUNER_CLASSES[entry.name], getattr(keras_tuner, entry.keras_class))
        assert issubclass(ORACLE_CLASSES[entry.name], getattr(keras_tuner.oracles, entry.keras_oracle))

    def test_budget_is_positive(self, entry):
        """The planned budget of a default section is at least one trial and one epoch."""
        trials, epochs = densespace.planned_budget(
            densespace.validate_spec(spec_dict(search={"tuner": entry.name}))
        )
        assert trials >= 1 and epochs >= trials

    def test_a_search_runs_its_planned_trials_and_says_it_spent_its_budget(self, entry, tmp_path):
        """Driven to its end, the oracle proposes exactly the planned trials, then stops for its budget."""
        limits = Limits()
        proposed = drive(oracle(spec(TWO_LAYERS, entry), tmp_path, limits=limits))
        assert len(proposed) == densespace.planned_budget(spec(TWO_LAYERS, entry))[0]
        assert limits.stopped == "budget"

    def test_an_infeasible_proposal_is_told_to_the_algorithm_and_never_trained(self, entry, tmp_path):
        """Under constraints only the feasible configuration is proposed; the infeasible ones go to the hook."""
        constrained = spec(TWO_LAYERS, entry, constraints={"min_parameters": 1000})
        made = oracle(constrained, tmp_path)
        heard = heard_infeasible(made)
        proposed = drive(made)
        assert [clean(v) for v in proposed] == [{"units_0": 32, "units_1": 32}]
        assert heard and not any(densespace.feasible(constrained, v) for v in heard)

    def test_warm_start_trials_reach_the_algorithm_memory(self, entry, tmp_path):
        """Each fed trial goes through the warm hook into the oracle's trials, on top of max_trials."""
        made = oracle(spec(ONE_LAYER, entry), tmp_path)
        budget = made.max_trials
        heard = []
        warm = made.warm
        made.warm = lambda trial: heard.append(trial.trial_id) or warm(trial)
        records = [record(4, 0.5), record(8, 0.4)]
        assert feed_earlier(SimpleNamespace(oracle=made), records, "earlier") == 2
        assert heard == ["warm-00", "warm-01"] == list(made.trials)
        assert [made.trials[i].score for i in heard] == [0.5, 0.4]
        assert made.max_trials == (budget and budget + 2)

    def test_a_seeded_search_repeats(self, entry, tmp_path):
        """Two searches of the same seed propose the same trials, in the same order."""
        first = drive(oracle(spec(TWO_LAYERS, entry, seed=11), tmp_path / "first"))
        again = drive(oracle(spec(TWO_LAYERS, entry, seed=11), tmp_path / "again"))
        assert first and first == again

    def test_a_time_limit_lets_only_the_first_trial_start(self, entry, tmp_path, monkeypatch):
        """Past the time limit no trial starts but the first, and the search says why it stopped."""
        monkeypatch.setattr("densespace._budgets.clock", iter(range(0, 10**6, 100)).__next__)
        limits = Limits(time_limit=13)
        proposed = drive(oracle(spec(TWO_LAYERS, entry), tmp_path, limits=limits))
        assert len(proposed) == 1 and limits.stopped == "time_limit"

    @pytest.mark.slow
    def test_a_tiny_search_runs_within_its_budget(self, entry, tmp_path):
        """The shortcut runs a real search whose trials and epochs stay within the planned budget."""
        search = {"tuner": entry.name, "seed": 3, **OPTIONS[entry.name]}
        tiny = densespace.validate_spec(
            spec_dict(
                input={"shape": [4, 4, 3]},
                hidden={"units": {"values": [4, 8]}},
                training={"epochs": 1, "batch_size": 32},
                search=search,
            )
        )
        result = getattr(densespace, entry.function)(
            tiny, data=synthetic_data(), out=tmp_path, retrain_top=1, verbose=0
        )
        trials, epochs = densespace.planned_budget(tiny)
        assert 1 <= len(result.trials) <= trials
        assert sum(t.epochs or 0 for t in result.trials) <= epochs
        assert result.record is not None and result.record.tuner == entry.name

    @pytest.mark.slow
    def test_only_feasible_configurations_are_trained(self, entry, tmp_path):
        """Under search.constraints every trial a real search runs is a feasible model, and none fails."""
        search = {"tuner": entry.name, "seed": 0, **OPTIONS[entry.name]}
        search["constraints"] = {"max_parameters": 600, "funnel": True}
        constrained = densespace.validate_spec(
            spec_dict(
                input={"shape": [4, 4, 3]},
                hidden={"layers": 2, "units": {"values": [4, 8, 16]}},
                training={"epochs": 1, "batch_size": 32},
                search=search,
            )
        )
        result = getattr(densespace, entry.function)(
            constrained, data=synthetic_data(), out=tmp_path, retrain_top=1, verbose=0
        )
        assert result.trials and all(t.status == "completed" for t in result.trials)
        assert all(densespace.feasible(constrained, t.values) for t in result.trials)
        assert result.best[0].parameters <= 600

    @pytest.mark.slow
    def test_initial_points_come_first_or_are_refused(self, entry, tmp_path):
        """An algorithm that takes given points trains them first, in order; one that cannot refuses them at their field."""
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
                "or use the random, bayesian or tpe tuner"
            )
            return
        result = getattr(densespace, entry.function)(
            densespace.validate_spec(data), data=synthetic_data(), out=tmp_path, retrain_top=0, verbose=0
        )
        assert result.trials[0].values == {"units_0": 8}


def record(units: int, score: float) -> TrialRecord:
    """A scored trial of an earlier run of the one-layer space."""
    return TrialRecord(
        id=str(units),
        values={"units_0": units},
        status="completed",
        score=score,
        seconds=1.0,
        epochs=1,
        message=None,
    )


@pytest.mark.parametrize("entry", TAKES_POINTS, ids=[t.name for t in TAKES_POINTS])
def test_given_points_come_first_in_order(entry, tmp_path):
    """Given points are proposed before the algorithm's own, in their order."""
    points = [{"units_0": 16}, {"units_0": 4}]
    assert drive(oracle(spec(ONE_LAYER, entry), tmp_path, points=points)) == points


@pytest.mark.parametrize("entry", TAKES_POINTS, ids=[t.name for t in TAKES_POINTS])
def test_a_warm_started_search_never_proposes_a_fed_configuration(entry, tmp_path):
    """After two warm-start trials of four configurations, the two trials proposed are the other two."""
    made = oracle(spec(ONE_LAYER, entry), tmp_path)
    feed_earlier(SimpleNamespace(oracle=made), [record(4, 0.5), record(16, 0.4)], "earlier")
    assert sorted(v["units_0"] for v in drive(made)) == [8, 32]
