"""The contract every block kind of ``densespace._blocks.BLOCKS`` keeps, checked once per kind.

Each kind has a small sample block below; every test runs on every kind, so a new kind
is covered as soon as it has its sample.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from helpers import spec_dict
from test_space_properties import active_assignments

from densespace import (
    configurations,
    feasible,
    feasible_configurations,
    feasible_parameter_bounds,
    freeze,
    parameter_bounds,
    resolve,
    validate_spec,
)
from densespace._blocks import BLOCKS
from densespace._points import point_of
from densespace._space import plan_parameters

#: A small block of each kind, every field that can be tuned tuned over a few values.
SAMPLES: dict[str, dict[str, Any]] = {
    "dense": {
        "layers": {"values": [0, 1, 2]},
        "units": {"values": [3, 5]},
        "activation": {"values": ["relu", "tanh"]},
        "batch_norm": {"values": [False, True]},
    },
    "residual": {
        "kind": "residual",
        "layers": {"values": [0, 1, 2]},
        "units": {"values": [3, 5]},
        "expansion": {"values": [1, 2]},
        "norm": {"values": ["layer", "batch", "none"]},
        "activation": "silu",
        "dropout": 0.1,
    },
}
#: The configurations one layer of each sample has.
PER_LAYER = {"dense": 8, "residual": 12}
#: The sample as one block or two (the second shared), with the configurations each has.
SHAPES = {
    "one block": lambda n: 1 + n + n * n,
    "two blocks": lambda n: (1 + n + n * n) * (1 + n + n),
}


def _spec(kind: str, shape: str, **search: Any) -> Any:
    """A spec of the kind's sample in the given shape, on 4 inputs and 3 classes."""
    sample = SAMPLES[kind]
    hidden = sample if shape == "one block" else [sample, {**sample, "shared": True}]
    return validate_spec(
        spec_dict(
            hidden=hidden, input={"shape": [4], "preprocessing": "none"}, output={"units": 3}, search=search
        )
    )


def test_every_kind_has_a_sample():
    """Every registered block kind has a sample block here, so the contract runs on it."""
    assert set(SAMPLES) == set(BLOCKS) == set(PER_LAYER)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", BLOCKS)
def test_counted_configurations_equal_the_walked_ones(kind, shape):
    """The configurations counted equal the assignments walked one by one, and the space's parameter bounds their models'."""
    spec = _spec(kind, shape)
    expected = SHAPES[shape](PER_LAYER[kind])
    points = list(active_assignments(spec))
    sizes = [plan_parameters(spec, resolve(spec, p)) for p in points]
    assert (configurations(spec), len(points)) == (expected, expected)
    assert parameter_bounds(spec) == (min(sizes), max(sizes))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", BLOCKS)
def test_feasible_count_equals_the_walked_feasible_models(kind, shape):
    """Under constraints, the feasible configurations counted equal those walked, and so do their parameter bounds."""
    free = _spec(kind, shape)
    sizes = sorted(plan_parameters(free, resolve(free, p)) for p in active_assignments(free))
    constraints = {
        "min_parameters": sizes[len(sizes) // 4],
        "max_parameters": sizes[len(sizes) // 2],
        "funnel": True,
    }
    spec = _spec(kind, shape, constraints=constraints)
    inside = [plan_parameters(spec, resolve(spec, p)) for p in active_assignments(spec) if feasible(spec, p)]
    assert 0 < len(inside) < len(sizes)
    assert feasible_configurations(spec) == len(inside)
    assert feasible_parameter_bounds(spec) == (min(inside), max(inside))


@pytest.mark.parametrize("kind", BLOCKS)
def test_point_of_inverts_resolve(kind):
    """Every point of one block is the point that its model, resolved or frozen into a spec, maps back to."""
    spec = _spec(kind, "one block")
    for point in active_assignments(spec):
        frozen = freeze(spec, point)
        assert configurations(frozen) == 1
        assert point_of(spec, resolve(spec, point)) == point
        assert point_of(spec, resolve(frozen, {})) == point


@pytest.mark.parametrize("kind", BLOCKS)
def test_point_of_builds_the_model_across_blocks(kind):
    """With two blocks, the point found for a model (its layers split one way among the blocks) builds that model."""
    spec = _spec(kind, "two blocks")
    for point in itertools.islice(active_assignments(spec), 0, None, 7):
        plan = resolve(spec, point)
        assert resolve(spec, point_of(spec, plan)) == plan
        assert resolve(freeze(spec, point), {}) == plan


@pytest.mark.parametrize("kind", BLOCKS)
def test_planned_parameters_equal_keras_count(kind):
    """The trainable parameters planned for a model equal those of the Keras model built from it."""
    from densespace._keras.hypermodel import build_model

    spec = _spec(kind, "two blocks")
    for point in itertools.islice(active_assignments(spec), 0, None, 200):
        plan = resolve(spec, point)
        model = build_model(spec, plan)
        assert sum(int(w.numpy().size) for w in model.trainable_weights) == plan_parameters(spec, plan)


def test_a_block_without_kind_is_dense_and_dumps_without_it():
    """A block naming no kind is a Dense block, its dump names none, and a mixed list keeps each kind."""
    spec = validate_spec(spec_dict(hidden=[{"units": 8}, {"kind": "residual", "units": 4, "expansion": 2}]))
    assert [type(block).__name__ for block in spec.blocks] == ["Block", "ResidualBlock"]
    dumped = spec.model_dump()["hidden"]
    assert ("kind" in dumped[0], dumped[1]["kind"]) == (False, "residual")
    assert validate_spec({**spec.model_dump(), "hidden": dumped}) == spec
