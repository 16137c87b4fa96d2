"""search.constraints: exact feasible counts and bounds, their errors, and inspect's lines.

The property tests draw the small specs of ``test_space_properties`` with random
constraints and compare the counts with every configuration walked one by one.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import pytest
from helpers import EXAMPLES, spec_dict
from hypothesis import given
from hypothesis import strategies as st
from test_space_properties import SETTINGS, active_assignments, specs

import densespace
from densespace import (
    Constraints,
    SpecError,
    configurations,
    feasible,
    feasible_configurations,
    feasible_parameter_bounds,
    freeze,
    parameter_bounds,
    resolve,
    validate_spec,
)
from densespace._cli import inspect_report, main
from densespace._run.options import apply_overrides
from densespace._space import feasible_space, plan_parameters

FUNNEL_MESSAGE = (
    "search.constraints: no configuration of this space is a funnel "
    "(every hidden layer no wider than the one before it)"
)


# ------------------------------------------------------------------ brute force


def walked(spec: Any) -> list[tuple[int, list[int]]]:
    """The parameter count and hidden widths of every configuration, walked one by one."""
    plans = [resolve(spec, values) for values in active_assignments(spec)]
    return [(plan_parameters(spec, plan), [layer.units for layer in plan.layers]) for plan in plans]


def allowed(constraints: dict[str, Any], parameters: int, widths: list[int]) -> bool:
    """Whether one configuration satisfies the constraints, written out."""
    if constraints.get("funnel") and any(b > a for a, b in itertools.pairwise(widths)):
        return False
    return constraints.get("min_parameters", 1) <= parameters <= constraints.get("max_parameters", math.inf)


def expected_problem(constraints: dict[str, Any], models: list[tuple[int, list[int]]]) -> str:
    """The message of a spec whose constraints allow nothing, worked out from the walked models."""
    if constraints.get("funnel"):
        models = [(p, w) for p, w in models if allowed({"funnel": True}, p, w)]
        if not models:
            return FUNNEL_MESSAGE
        what, holder = "funnel configuration", "the funnel configurations hold"
    else:
        what, holder = "configuration", "the space holds"
    low, high = constraints.get("min_parameters"), constraints.get("max_parameters")
    wanted = (
        f"between {low:,} and {high:,}"
        if low is not None and high is not None
        else f"at least {low:,}"
        if low is not None
        else f"at most {high:,}"
    )
    least, most = min(p for p, _ in models), max(p for p, _ in models)
    span = f"only {least:,}" if least == most else f"{least:,} to {most:,}"
    return f"search.constraints: no {what} of this space has {wanted} trainable parameters ({holder} {span})"


@st.composite
def constrained(draw: Any) -> tuple[dict[str, Any], dict[str, Any], list[tuple[int, list[int]]]]:
    """A small spec with random constraints near its models' parameter counts, and its walked models."""
    data = draw(specs())
    models = walked(validate_spec(data))
    counts = sorted({p for p, _ in models})
    near = st.sampled_from(counts).flatmap(lambda p: st.integers(max(p - 1, 1), p + 1))
    constraints: dict[str, Any] = {}
    if draw(st.booleans()):
        constraints["min_parameters"] = draw(near)
    if draw(st.booleans()):
        high = draw(near)
        constraints["max_parameters"] = max(high, constraints.get("min_parameters", high))
    if draw(st.booleans()) or not constraints:
        constraints["funnel"] = draw(st.booleans())
    data.setdefault("search", {})["constraints"] = constraints
    return data, constraints, models


# -------------------------------------------------------------------- properties


@SETTINGS
@given(constrained())
def test_feasible_counts_and_bounds_match_enumeration(case):
    """The feasible count and parameter range equal those of the allowed configurations walked one by one, or the spec is refused."""
    data, constraints, models = case
    kept = [p for p, w in models if allowed(constraints, p, w)]
    if not kept:
        with pytest.raises(SpecError) as info:
            validate_spec(data)
        assert [str(p) for p in info.value.problems] == [expected_problem(constraints, models)]
        return
    spec = validate_spec(data)
    assert feasible_configurations(spec) == len(kept)
    assert feasible_parameter_bounds(spec) == (min(kept), max(kept))
    if not Constraints(**constraints).active:
        assert feasible_configurations(spec) == configurations(spec)


@SETTINGS
@given(constrained())
def test_feasible_agrees_with_the_constraints_for_every_configuration(case):
    """feasible(spec, values) holds for exactly the configurations whose model satisfies the constraints."""
    data, constraints, _ = case
    try:
        spec = validate_spec(data)
    except SpecError:
        return  # nothing allowed: the property above checks the message
    for values in active_assignments(spec):
        plan = resolve(spec, values)
        widths = [layer.units for layer in plan.layers]
        assert feasible(spec, values) == allowed(constraints, plan_parameters(spec, plan), widths)


# ------------------------------------------------------------- exact small cases


def _spec(constraints: dict[str, Any], **patch: Any) -> Any:
    return validate_spec(spec_dict(search={"constraints": constraints}, **patch))


def test_without_constraints_the_feasible_space_is_the_space():
    """With the default constraints the feasible count and range are the space's own."""
    spec = densespace.load_spec("examples/seed-random.json")
    assert spec.search.constraints == Constraints()
    assert not spec.search.constraints.active
    assert feasible_configurations(spec) == configurations(spec) == 512_000
    assert feasible_parameter_bounds(spec) == parameter_bounds(spec) == (49_882, 920_842)
    assert "feasible" not in inspect_report(spec)


def test_part_one_space_with_a_budget_and_a_funnel():
    """Part 1's space (3 layers of 16 widths, 5 activations each) under 500,000 parameters: counts checked by hand-written loops."""
    spec = densespace.load_spec("examples/seed-random.json")
    widths = range(16, 257, 16)

    def parameters(a: int, b: int, c: int) -> int:
        return 3072 * a + a + a * b + b + b * c + c + 10 * c + 10

    for funnel in (False, True):
        data = spec.model_dump()
        data["search"]["constraints"] = {"max_parameters": 500_000, "funnel": funnel}
        kept = [
            parameters(*units)
            for units in itertools.product(widths, repeat=3)
            if parameters(*units) <= 500_000 and (not funnel or units[0] >= units[1] >= units[2])
        ]
        constrained_spec = validate_spec(data)
        assert feasible_configurations(constrained_spec) == len(kept) * 5**3
        assert feasible_parameter_bounds(constrained_spec) == (min(kept), max(kept))
    assert len(kept) * 5**3 == 21_000


def test_continuous_fields_count_only_where_a_feasible_configuration_uses_them():
    """A continuous dropout makes the count infinite only when a feasible model has the layer it belongs to."""
    hidden = {"layers": {"values": [0, 1]}, "units": 8, "dropout": {"min": 0.0, "max": 0.5}}
    patch = {"input": {"shape": [4]}, "hidden": hidden, "output": {"units": 10}}
    # no hidden layer: 4 * 10 + 10 = 50 parameters; one: 4 * 8 + 8 + 8 * 10 + 10 = 130
    assert configurations(_spec({}, **patch)) is None
    small = _spec({"max_parameters": 100}, **patch)
    assert (feasible_configurations(small), feasible_parameter_bounds(small)) == (1, (50, 50))
    large = _spec({"min_parameters": 100}, **patch)
    assert (feasible_configurations(large), feasible_parameter_bounds(large)) == (None, (130, 130))


def test_counts_beyond_64_bits_are_exact():
    """A funnel over 30 layers of 16 widths counts the non-increasing sequences, C(45, 30), times 2**30 activations."""
    hidden = {"layers": 30, "units": {"min": 1, "max": 16}, "activation": {"values": ["relu", "elu"]}}
    spec = _spec({"funnel": True}, input={"shape": [2]}, hidden=hidden)
    assert feasible_configurations(spec) == math.comb(45, 30) * 2**30
    assert configurations(spec) == 16**30 * 2**30
    # every width 1: 2 + 1 + 29 * 2 + 10 + 10 = 81; every width 16: 2 * 16 + 16 + 29 * 272 + 160 + 10
    assert feasible_parameter_bounds(spec) == (81, 8106)
    # one parameter fewer leaves out only the model of width 16 throughout
    tight = _spec({"funnel": True, "max_parameters": 8105}, input={"shape": [2]}, hidden=hidden)
    assert feasible_configurations(tight) == (math.comb(45, 30) - 1) * 2**30
    assert feasible_parameter_bounds(tight)[0] == 81


def test_shared_blocks_and_layer_counts_across_blocks():
    """Shared blocks give one width to all their layers; a funnel runs across blocks and skipped blocks."""
    hidden = [
        {"layers": {"values": [0, 2]}, "units": {"values": [4, 8]}, "shared": True},
        {
            "layers": {"min": 1, "max": 2},
            "units": {"values": [2, 6]},
            "batch_norm": {"values": [False, True]},
        },
    ]
    data = spec_dict(input={"shape": [3]}, hidden=hidden, output={"units": 2})
    spec = validate_spec(data)
    models = walked(spec)
    assert len(models) == configurations(spec) == 3 * (4 + 16)
    for constraints in ({"funnel": True}, {"max_parameters": 120}, {"min_parameters": 60, "funnel": True}):
        kept = [p for p, w in models if allowed(constraints, p, w)]
        constrained_spec = validate_spec({**data, "search": {"constraints": constraints}})
        assert feasible_configurations(constrained_spec) == len(kept)
        assert feasible_parameter_bounds(constrained_spec) == (min(kept), max(kept))


def test_freeze_keeps_the_constraints_and_refuses_a_model_outside_them():
    """A frozen feasible configuration keeps the constraints; an infeasible one is refused by name."""
    spec = _spec({"funnel": True}, hidden={"layers": 2, "units": {"values": [64, 128]}})
    frozen = freeze(spec, {"units_0": 128, "units_1": 64})
    assert frozen.search.constraints == Constraints(funnel=True)
    assert (feasible_configurations(frozen), configurations(frozen)) == (1, 1)
    with pytest.raises(ValueError) as info:
        freeze(spec, {"units_0": 64, "units_1": 128})
    # 3,072 * 64 + 64 + 64 * 128 + 128 + 128 * 10 + 10 = 206,282
    assert str(info.value) == (
        "these values select a model outside search.constraints (206,282 trainable parameters, "
        "hidden widths [64, 128])"
    )


def test_constraints_survive_a_switch_of_tuner():
    """Overriding the tuner keeps the constraints, like the other options every tuner shares."""
    spec = _spec({"max_parameters": 500_000})
    assert apply_overrides(spec, tuner="hyperband").search.constraints == Constraints(max_parameters=500_000)


# ------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("constraints", "problem"),
    [
        (
            {"min_parameters": 600_000, "max_parameters": 500_000},
            "search.constraints: min_parameters (600000) must be <= max_parameters (500000)",
        ),
        ({"max_parameters": 0}, "search.constraints.max_parameters: must be >= 1 (received 0)"),
        (
            {"min_parameters": 100_000_001},
            "search.constraints.min_parameters: must be <= 100000000 (received 100000001)",
        ),
        ({"funnel": "yes"}, 'search.constraints.funnel: expected true or false, received "yes"'),
        (
            {"max_parameters": 5e5},
            "search.constraints.max_parameters: expected an integer, received 500000.0",
        ),
        (
            {"max_params": 5},
            "search.constraints.max_params: unknown key (did you mean 'max_parameters'?)",
        ),
        # the default spec: 3,072 inputs, 8 units, 10 classes: 3,072 * 8 + 8 + 8 * 10 + 10 = 24,674
        (
            {"max_parameters": 20_000},
            "search.constraints: no configuration of this space has at most 20,000 trainable parameters "
            "(the space holds only 24,674)",
        ),
        (
            {"min_parameters": 30_000, "max_parameters": 40_000},
            "search.constraints: no configuration of this space has between 30,000 and 40,000 trainable "
            "parameters (the space holds only 24,674)",
        ),
    ],
)
def test_constraint_errors_are_located(constraints, problem):
    """Out-of-bounds, misordered or unsatisfiable constraints give one located problem."""
    with pytest.raises(SpecError) as info:
        validate_spec(spec_dict(input={"shape": [32, 32, 3]}, search={"constraints": constraints}))
    assert [str(p) for p in info.value.problems] == [problem]


def test_an_impossible_funnel_is_located():
    """A block always wider than the one before it leaves no funnel."""
    hidden = [{"units": 8}, {"units": {"values": [16, 32]}}]
    with pytest.raises(SpecError) as info:
        validate_spec(
            spec_dict(input={"shape": [32, 32, 3]}, hidden=hidden, search={"constraints": {"funnel": True}})
        )
    assert [(str(p), p.kind) for p in info.value.problems] == [(FUNNEL_MESSAGE, "constraints")]


def test_constraints_wait_for_the_data_when_the_shape_is_left_to_it():
    """A spec that leaves input.shape to the data is counted against the data's shape, not a default."""
    patch = {"hidden": {"layers": 2, "units": {"values": [2, 64]}}, "task": "binary"}
    constraints = {"funnel": True, "max_parameters": 100}
    spec = validate_spec(spec_dict(**patch, search={"constraints": constraints}))  # no shape: not counted yet
    with pytest.raises(SpecError, match="no funnel configuration"):
        validate_spec(spec_dict(**patch, input={"shape": [32, 32, 3]}, search={"constraints": constraints}))
    fitted = validate_spec({**spec.model_dump(), "input": {**spec.model_dump()["input"], "shape": [4]}})
    assert densespace.feasible_configurations(fitted) == 1


def test_a_funnel_outside_the_parameter_range_names_the_funnels_range():
    """When funnels exist but none fits the range, the message gives the funnels' own range."""
    hidden = {"layers": 2, "units": {"values": [4, 8]}}
    patch = {"input": {"shape": [2]}, "hidden": hidden, "output": {"units": 2}}
    # funnels: (4, 4) 2*4+4 + 4*4+4 + 4*2+2 = 42, (8, 4) 24 + 36 + 10 = 70, (8, 8) 24 + 72 + 18 = 114
    # (4, 8), not a funnel: 12 + 40 + 18 = 70
    with pytest.raises(SpecError) as info:
        validate_spec(spec_dict(**patch, search={"constraints": {"min_parameters": 115, "funnel": True}}))
    assert [str(p) for p in info.value.problems] == [
        "search.constraints: no funnel configuration of this space has at least 115 trainable parameters "
        "(the funnel configurations hold 42 to 114)"
    ]


def test_a_space_too_large_to_count_is_refused_quickly(monkeypatch):
    """Past MAX_COUNT_STEPS the count stops with a located error instead of running on."""
    monkeypatch.setattr("densespace._space.MAX_COUNT_STEPS", 1000)
    hidden = {"layers": 4, "units": {"min": 1, "max": 64}}
    with pytest.raises(SpecError) as info:
        validate_spec(
            spec_dict(input={"shape": [8]}, hidden=hidden, search={"constraints": {"max_parameters": 9000}})
        )
    assert [(str(p), p.kind) for p in info.value.problems] == [
        (
            "search.constraints: these constraints cannot be counted for this space: the count takes more "
            "than 1,000 steps; narrow the parameter range, or the space's layer counts and units",
            "too_large",
        )
    ]


def test_a_pathological_space_stops_at_the_real_limit():
    """Eight layers of 300 widths under a tight budget exceed MAX_COUNT_STEPS and are refused, not counted for minutes."""
    hidden = {"layers": 8, "units": {"min": 1, "max": 300}}
    data = spec_dict(
        input={"shape": [10]}, hidden=hidden, search={"constraints": {"max_parameters": 200_000}}
    )
    with pytest.raises(SpecError) as info:
        validate_spec(data)
    [problem] = info.value.problems
    assert (problem.location, problem.kind) == ("search.constraints", "too_large")


# ------------------------------------------------------------------------ examples


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_counts_under_a_budget(path):
    """Each example with a 500,000-parameter budget is counted, or refused when its smallest model is larger."""
    spec = densespace.load_spec(path)
    data = spec.model_dump()
    data["search"]["constraints"] = {"max_parameters": 500_000}
    least, most = parameter_bounds(spec)
    if least > 500_000:
        with pytest.raises(SpecError) as info:
            validate_spec(data)
        holds = f"only {least:,}" if least == most else f"{least:,} to {most:,}"
        assert [str(p) for p in info.value.problems] == [
            "search.constraints: no configuration of this space has at most 500,000 trainable parameters "
            f"(the space holds {holds})"
        ]
        return
    constrained_spec = validate_spec(data)
    count = feasible_configurations(constrained_spec)
    assert count is not None and 0 < count <= configurations(spec)
    low, high = feasible_parameter_bounds(constrained_spec)
    assert least == low <= high <= min(most, 500_000)
    assert feasible_space(constrained_spec).configurations == count


# ------------------------------------------------------------------------- inspect


def _write(tmp_path, name: str, constraints: dict[str, Any]):
    data = json.loads(densespace.load_spec(f"examples/{name}").model_dump_json())
    data["search"]["constraints"] = constraints
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_inspect_prints_the_feasible_space(tmp_path, capsys):
    """inspect adds the feasible count and parameter range after the space's own lines."""
    path = _write(tmp_path, "seed-depth-width.json", {"max_parameters": 500_000, "funnel": True})
    assert main(["inspect", str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[-4:] == [
        "configurations: 4,672",
        "trainable parameters: 201,482 to 2,366,474",
        "feasible configurations: 12 of 4,672",
        "feasible trainable parameters: 201,482 to 444,170",
    ]


def test_inspect_json_reports_the_feasible_space_only_with_constraints(tmp_path, capsys):
    """inspect --json adds a "feasible" object when constraints are set, and nothing otherwise."""
    path = _write(tmp_path, "seed-random.json", {"max_parameters": 500_000, "funnel": True})
    assert main(["inspect", "--json", str(path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["feasible"] == {"configurations": 21_000, "parameters": {"min": 49_882, "max": 498_218}}
    assert list(report) == ["name", "hyperparameters", "configurations", "parameters", "feasible"]
    plain = _write(tmp_path, "seed-depth.json", {})
    assert main(["inspect", "--json", str(plain)]) == 0
    assert "feasible" not in json.loads(capsys.readouterr().out)
