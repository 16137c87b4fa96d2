"""Grid search (every configuration once, within search.constraints) and the accuracy/size front."""

from __future__ import annotations

import itertools
import json

import pytest
from helpers import spec_dict, synthetic_data
from hypothesis import given
from hypothesis import strategies as st

import densespace
from densespace import SpecError
from densespace._report import summary
from densespace._results import FrontPoint, Results, TrialRecord, front_points

#: Six configurations: one layer of 4 or 8 units (246, 482 parameters), or two (266, 326, 478, 554).
SPACE = {"input": {"shape": [4, 4, 3]}, "hidden": {"layers": {"values": [1, 2]}, "units": {"values": [4, 8]}}}
#: Three of them: at least 250 parameters (not the grid's first point), at most 500, narrowing.
CONSTRAINTS = {"min_parameters": 250, "max_parameters": 500, "funnel": True}


def grid_spec(**search: object) -> densespace.Spec:
    return densespace.validate_spec(
        spec_dict(**SPACE, training={"epochs": 2, "batch_size": 32}, search={"tuner": "grid", **search})
    )


def every_configuration() -> list[dict[str, int]]:
    one = [{"layers": 1, "units_0": u} for u in (4, 8)]
    two = [{"layers": 2, "units_0": a, "units_1": b} for a, b in itertools.product((4, 8), repeat=2)]
    return one + two


def test_grid_budget_is_the_exact_count_of_configurations():
    """Without constraints a grid plans one trial per configuration of the space, max_trials at most."""
    assert densespace.planned_budget(grid_spec()) == (6, 12)
    assert densespace.planned_budget(grid_spec(max_trials=4)) == (4, 8)
    assert densespace.planned_budget(grid_spec(executions_per_trial=2)) == (6, 24)


def test_grid_budget_counts_only_feasible_configurations():
    """Under search.constraints a grid plans one trial per feasible configuration."""
    spec = grid_spec(constraints=CONSTRAINTS)
    assert densespace.feasible_configurations(spec) == 3
    assert densespace.planned_budget(spec) == (3, 6)
    assert sum(densespace.feasible(spec, values) for values in every_configuration()) == 3


def test_other_tuners_budgets_ignore_the_count():
    """The random search's budget stays max_trials, however few configurations the space has."""
    spec = densespace.validate_spec(spec_dict(**SPACE, training={"epochs": 2}, search={"max_trials": 10}))
    assert densespace.planned_budget(spec) == (10, 20)


def test_a_stepped_float_range_is_a_grid_axis():
    """A float range with a step multiplies the grid by its number of values."""
    spec = grid_spec()
    data = spec.model_dump()
    data["optimizer"]["learning_rate"] = {"min": 0.001, "max": 0.004, "step": 0.001}
    assert densespace.planned_budget(densespace.validate_spec(data)) == (24, 48)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "optimizer",
            {"learning_rate": {"min": 0.0001, "max": 0.01, "sampling": "log"}},
            "search.tuner: a grid search needs every range to have a step; optimizer.learning_rate is "
            "continuous",
        ),
        (
            "hidden",
            {"units": {"min": 8, "max": 64, "sampling": "log"}},
            "search.tuner: a grid search needs every range to have a step; hidden.units has sampling "
            "'log' and no step (the grid would take 10 of its values)",
        ),
    ],
)
def test_grid_refuses_a_range_without_a_grid(field, value, message):
    """A continuous float range, or a log-sampled int range without step, is a located spec error."""
    with pytest.raises(SpecError) as caught:
        densespace.validate_spec(spec_dict(**{field: value}, search={"tuner": "grid"}))
    assert str(caught.value) == message


def test_other_tuners_take_continuous_ranges():
    """Only the grid needs steps: a random search takes a continuous learning rate."""
    learning_rate = {"learning_rate": {"min": 0.0001, "max": 0.01, "sampling": "log"}}
    assert densespace.validate_spec(spec_dict(optimizer=learning_rate)).search.tuner == "random"


@pytest.mark.slow
def test_a_constrained_grid_runs_each_feasible_configuration_once(tmp_path):
    """A real grid search under constraints runs exactly its planned trials, each feasible configuration
    once (its infeasible first point skipped), and writes their front to results.json."""
    spec = grid_spec(constraints=CONSTRAINTS, seed=1)
    result = densespace.grid_search(spec, data=synthetic_data(), out=tmp_path, verbose=0)
    feasible = [v for v in every_configuration() if densespace.feasible(spec, v)]
    assert [t.values for t in result.trials] == [
        {"layers": 1, "units_0": 8},
        {"layers": 2, "units_0": 4, "units_1": 4},
        {"layers": 2, "units_0": 8, "units_1": 4},
    ]
    assert sorted(map(json.dumps, feasible)) == sorted(json.dumps(t.values) for t in result.trials)
    assert len(result.trials) == densespace.planned_budget(spec)[0] == 3
    assert [t.parameters for t in result.trials] == [482, 266, 478]
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["front"] == [p.model_dump() for p in front_points(spec, result.trials)]
    smallest = result.trials[1]  # the smallest model is always on the front
    assert written["front"][0] == {"trial": smallest.id, "parameters": 266, "score": smallest.score}
    assert [p["parameters"] for p in written["front"]] == sorted(p["parameters"] for p in written["front"])


def trial(index: int, parameters: int, score: float, status: str = "completed") -> TrialRecord:
    return TrialRecord(
        id=str(index),
        values={},
        status=status,
        score=score if status == "completed" else None,
        seconds=1.0,
        epochs=1,
        message=None,
        parameters=parameters,
    )


@given(
    st.lists(st.tuples(st.integers(1, 6), st.sampled_from([0.1, 0.2, 0.3, 0.4]), st.booleans()), max_size=12),
    st.sampled_from(["val_accuracy", "val_loss"]),
)
def test_front_points_match_brute_force(rows, objective):
    """results.json's front is exactly the completed trials that no smaller (or as small and earlier)
    completed trial matches or beats, by parameters."""
    trials = [trial(i, n, s, "completed" if done else "failed") for i, (n, s, done) in enumerate(rows)]
    spec = densespace.validate_spec(spec_dict(search={"objective": objective}))
    completed = [t for t in trials if t.status == "completed"]

    def at_least_as_good(a: float, b: float) -> bool:
        return a <= b if objective == "val_loss" else a >= b

    expected = [
        (t.id, t.parameters, t.score)
        for i, t in enumerate(completed)
        if not any(
            (o.parameters, j) < (t.parameters, i) and at_least_as_good(o.score, t.score)
            for j, o in enumerate(completed)
        )
    ]
    points = front_points(spec, trials)
    assert sorted(expected, key=lambda p: (p[1], int(p[0]))) == [
        (p.trial, p.parameters, p.score) for p in points
    ]


def test_front_uses_the_values_when_a_trial_has_no_parameter_count():
    """A trial without a recorded parameter count is sized from its values."""
    spec = densespace.validate_spec(spec_dict(**SPACE))
    record = trial(0, 0, 2.0).model_copy(update={"values": {"layers": 1, "units_0": 8}, "parameters": None})
    assert front_points(spec, [record]) == [FrontPoint(trial="0", parameters=482, score=2.0)]


def results_with_front() -> Results:
    return Results.model_validate(
        {
            "densespace": "0.1.0",
            "versions": {"python": "3.11.7"},
            "created": "2026-11-30T12:00:00+00:00",
            "spec": {"name": "small"},
            "seed": 1,
            "tuner": "grid",
            "objective": "val_accuracy",
            "data": {"source": "synthetic", "train": 120, "validation": 40, "test": 40, "digest": "0" * 16},
            "trials": [],
            "best": [],
            "cost": {"search_epochs": 6, "retrain_epochs": 0, "images_trained": 720, "seconds": 3.0},
            "front": [
                {"trial": "3", "parameters": 1204, "score": 0.81},
                {"trial": "7", "parameters": 25010, "score": 0.875},
            ],
        }
    )


def test_summary_shows_the_front():
    """report's summary ends with the front: each trial, its size and its score, broken at spaces
    to the width."""
    assert summary(results_with_front(), width=80).splitlines()[-3:] == [
        "",
        "front (smaller and better): trial 3 (1,204 parameters, val_accuracy 0.8100),",
        "    trial 7 (25,010 parameters, val_accuracy 0.8750)",
    ]


def test_results_without_front_still_validate():
    """An older results.json (no front) reads with an empty front, and its summary has no front line."""
    data = results_with_front().model_dump(mode="json")
    del data["front"]
    record = Results.model_validate(data)
    assert record.front == [] and "front" not in summary(record)
