"""The TPE search's oracle driven directly (trials ended with made-up scores, nothing trained)."""

from __future__ import annotations

import json
from types import SimpleNamespace

from helpers import spec_dict
from helpers.oracles import clean, drive, heard_infeasible, oracle
from optuna.trial import TrialState
from test_search_contract import ONE_LAYER, TWO_LAYERS, record

import densespace
from densespace import _domains
from densespace._keras.tuners import feed_earlier
from densespace._search.tpe import CONSTRAINT, INFEASIBLE, TRIAL_ID

#: Up to three layers of 4-32 units, a stepped dropout, a learning rate whose step multiplies.
DEEP = {
    "input": {"shape": [4], "preprocessing": "none"},
    "output": {"units": 2},
    "hidden": {
        "layers": {"min": 1, "max": 3},
        "units": {"values": [4, 8, 16, 32]},
        "dropout": {"min": 0.1, "max": 0.7, "step": 0.1},
    },
    "optimizer": {"learning_rate": {"min": 1e-4, "max": 1e-1, "step": 10, "sampling": "log"}},
}


def spec(space: dict[str, object], **search: object) -> densespace.Spec:
    return densespace.validate_spec(spec_dict(**space, search={"tuner": "tpe", "seed": 5, **search}))


def told(made) -> dict[str, TrialState]:
    """The oracle trials the study was told of, with the state it was told."""
    return {t.user_attrs[TRIAL_ID]: t.state for t in made.study().trials if TRIAL_ID in t.user_attrs}


def test_a_hyperparameter_is_asked_only_when_active(tmp_path):
    """Each study trial holds exactly the layer count and the units and dropout of its layers."""
    made = oracle(spec(DEEP, max_trials=40, num_initial_points=5), tmp_path, saved=False)
    drive(made)
    trials = made.study().trials
    assert len(told(made)) == 40
    for trial in trials:
        layers = trial.params["layers"]
        expected = {"layers", "learning_rate"} | {
            f"{f}_{i}" for f in ("units", "dropout") for i in range(layers)
        }
        assert set(trial.params) == expected


def test_values_are_keras_tuner_values(tmp_path):
    """Every proposed value is one keras-tuner's hyperparameter can take, stepped floats bit for bit."""
    searched = spec(DEEP, max_trials=40, num_initial_points=5)
    domains = {h.name: _domains.values(h.domain) for h in densespace.hyperparameters(searched)}
    proposed = drive(oracle(searched, tmp_path, saved=False))
    assert len(proposed) == 40
    for values in proposed:
        assert all(value in domains[name] for name, value in clean(values).items())
    assert {v["learning_rate"] for v in proposed} <= {0.0001, 0.001, 0.01, 0.1}


def test_infeasible_proposals_are_told_to_the_study_and_never_handed_out(tmp_path):
    """Under constraints only the feasible configuration runs; each infeasible proposal is a study trial violating the constraint."""
    constrained = spec(TWO_LAYERS, max_trials=4, num_initial_points=1, constraints={"min_parameters": 1000})
    made = oracle(constrained, tmp_path)
    heard = heard_infeasible(made)
    proposed = drive(made)
    assert [clean(v) for v in proposed] == [{"units_0": 32, "units_1": 32}]
    violating = [t for t in made.study().trials if t.constraints.get(CONSTRAINT) == 1.0]
    assert len(violating) == len(heard) > 0
    assert not any(densespace.feasible(constrained, v) for v in heard)


def test_a_resumed_oracle_rebuilds_the_study_from_its_trials(tmp_path):
    """Reloaded from its folder, the oracle's study holds every ended trial, as completed, and goes on."""
    searched = spec(TWO_LAYERS, max_trials=6, num_initial_points=2)
    first = oracle(searched, tmp_path)
    drive(first)
    again = oracle(searched, tmp_path)
    again.reload()
    assert told(again) == dict.fromkeys(first.end_order, TrialState.COMPLETE)
    assert len(again.study().trials) == 6


def test_a_resumed_oracle_still_knows_the_infeasible_proposals(tmp_path):
    """Reloaded from its folder, the oracle's study holds each infeasible proposal, with its values, violating the constraint."""
    constrained = spec(TWO_LAYERS, max_trials=3, num_initial_points=1, constraints={"min_parameters": 600})
    first = oracle(constrained, tmp_path)
    heard = heard_infeasible(first)
    assert len(drive(first)) == 3  # stopped by max_trials, its state saved with the last trial
    again = oracle(constrained, tmp_path)
    again.reload()
    violating = [t for t in again.study().trials if t.constraints.get(CONSTRAINT) == 1.0]
    assert [t.params for t in violating] == heard and len(heard) > 0
    assert [t.value for t in violating] == [float("inf")] * len(heard)
    assert len(again.study().trials) == len(heard) + 3
    assert json.loads((tmp_path / "search" / "oracle.json").read_text())[INFEASIBLE] == heard


def test_failed_and_pruned_trials_are_told_as_such(tmp_path):
    """A failed trial is told as FAIL, a pruned one as PRUNED with its last value."""
    made = oracle(spec(ONE_LAYER, max_trials=3), tmp_path)
    statuses = iter(["FAILED", "PRUNED", "COMPLETED"])
    for status in statuses:
        trial = made.create_trial("tuner0")
        made.update_trial(trial.trial_id, {"val_loss": 0.7}, step=0)
        made.update_trial(
            trial.trial_id, {"val_loss": 0.6, **({"pruned": 1.0} if status == "PRUNED" else {})}, step=1
        )
        trial.status = "FAILED" if status == "FAILED" else "COMPLETED"
        made.end_trial(trial)
    assert list(told(made).values()) == [TrialState.FAIL, TrialState.PRUNED, TrialState.COMPLETE]
    pruned = made.study().trials[1]
    assert pruned.intermediate_values == {1: 0.6}


def test_warm_start_trials_reach_the_study(tmp_path):
    """Each fed trial is a completed study trial with its score."""
    made = oracle(spec(ONE_LAYER), tmp_path)
    feed_earlier(SimpleNamespace(oracle=made), [record(4, 0.5), record(8, 0.4)], "earlier")
    trials = made.study().trials
    assert [(t.user_attrs[TRIAL_ID], t.params, t.value) for t in trials] == [
        ("warm-00", {"units_0": 4}, 0.5),
        ("warm-01", {"units_0": 8}, 0.4),
    ]


def test_a_seeded_search_repeats_past_its_random_trials(tmp_path):
    """Two searches of the same seed propose the same 30 trials, 25 of them TPE's."""
    searched = spec(DEEP, max_trials=30, num_initial_points=5)
    first = drive(oracle(searched, tmp_path / "first", saved=False))
    again = drive(oracle(searched, tmp_path / "again", saved=False))
    assert len(first) == 30 and first == again


def test_a_hundred_trials_run(tmp_path):
    """A search of 100 trials proposes 100 distinct configurations, each told to the study."""
    made = oracle(spec(DEEP, max_trials=100), tmp_path, saved=False)
    proposed = drive(made)
    assert len(proposed) == 100 and len({tuple(sorted(v.items())) for v in proposed}) == 100
    assert len(told(made)) == 100
