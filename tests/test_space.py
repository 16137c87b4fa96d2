"""The space worked out from the spec alone: names, conditions, counts, parameter bounds."""

from __future__ import annotations

import itertools

import pytest
from conftest import EXAMPLES, ROOT, spec_dict

from densespace import (
    _domains,
    configurations,
    freeze,
    hyperparameters,
    parameter_bounds,
    resolve,
    validate_spec,
)
from densespace._space import Condition, plan_parameters
from densespace._spec import load_spec

SMALL = [
    pytest.param(
        spec_dict(input={"shape": [4]}, hidden={"layers": {"min": 0, "max": 3}, "units": {"values": [2, 5]}}),
        id="count-from-zero",
    ),
    pytest.param(
        spec_dict(
            input={"shape": [3, 2]},
            hidden=[
                {
                    "layers": {"values": [1, 2]},
                    "units": {"min": 2, "max": 6, "step": 2},
                    "batch_norm": {"values": [True, False]},
                },
                {
                    "layers": {"min": 0, "max": 2},
                    "units": {"values": [1, 9]},
                    "shared": True,
                    "activation": {"values": ["relu", "elu"]},
                },
            ],
            output={"units": 3},
        ),
        id="two-blocks-shared",
    ),
    pytest.param(
        spec_dict(
            input={"shape": [5]},
            hidden={
                "layers": 2,
                "units": {"min": 2, "max": 40, "step": 3, "sampling": "log"},
                "dropout": {"min": 0.0, "max": 0.3, "step": 0.1},
            },
        ),
        id="log-step-and-float-step",
    ),
    pytest.param(
        spec_dict(
            input={"shape": [2, 2]},
            hidden={"layers": {"values": [3, 1]}, "units": {"min": 1, "max": 3}, "shared": True},
            optimizer={"name": {"values": ["adam", "sgd"]}, "learning_rate": {"values": [0.1, 0.01]}},
            training={"batch_size": {"min": 16, "max": 64, "step": 2, "sampling": "log"}},
        ),
        id="global-hyperparameters",
    ),
    pytest.param(
        spec_dict(
            input={"shape": [6]},
            hidden={
                "layers": {"min": 1, "max": 3},
                "units": {"min": 10, "max": 13, "sampling": "reverse_log"},
                "l2": {"values": [0.0, 0.01]},
            },
        ),
        id="reverse-log",
    ),
]


def _all_plans(spec):
    """Every plan reachable from the full product of all hyperparameter domains."""
    hps = hyperparameters(spec)
    domains = [_domains.values(h.domain) for h in hps]
    return {
        resolve(spec, dict(zip([h.name for h in hps], combo, strict=False)))
        for combo in itertools.product(*domains)
    }


@pytest.mark.parametrize("data", SMALL)
def test_configuration_count_matches_enumeration(data):
    """The counted configurations equal the distinct models found by brute force."""
    spec = validate_spec(data)
    assert configurations(spec) == len(_all_plans(spec))


@pytest.mark.parametrize("data", SMALL)
def test_parameter_bounds_match_enumeration(data):
    """The parameter bounds equal the extremes found by brute force."""
    spec = validate_spec(data)
    counts = [plan_parameters(spec, plan) for plan in _all_plans(spec)]
    assert parameter_bounds(spec) == (min(counts), max(counts))


def test_names_and_conditions_of_a_tunable_depth():
    """Per-layer hyperparameters are conditioned on the layer counts that use them."""
    spec = load_spec(ROOT / "examples/seed-depth-width.json")
    table = [(h.name, h.location, h.describe(), h.condition) for h in hyperparameters(spec)]
    assert table == [
        ("layers", "hidden.layers", "int 2..4", None),
        ("units_0", "hidden.units", "int 64..512 step 64", None),
        ("units_1", "hidden.units", "int 64..512 step 64", None),
        ("units_2", "hidden.units", "int 64..512 step 64", Condition("layers", (3, 4))),
        ("units_3", "hidden.units", "int 64..512 step 64", Condition("layers", (4,))),
    ]


def test_names_with_several_blocks_and_globals():
    """Several blocks prefix their names; shared fields have no index; globals come last."""
    spec = validate_spec(
        spec_dict(
            hidden=[
                {"layers": {"min": 0, "max": 1}, "units": {"values": [4, 8]}, "shared": True},
                {"layers": 2, "units": 4, "dropout": {"min": 0.0, "max": 0.5}},
            ],
            optimizer={"learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log"}},
        )
    )
    table = [
        (h.name, h.location, h.describe(), h.condition and str(h.condition)) for h in hyperparameters(spec)
    ]
    assert table == [
        ("block0_layers", "hidden[0].layers", "int 0..1", None),
        ("block0_units", "hidden[0].units", "choice 4|8", "block0_layers = 1"),
        ("block1_dropout_0", "hidden[1].dropout", "float 0.0..0.5", None),
        ("block1_dropout_1", "hidden[1].dropout", "float 0.0..0.5", None),
        ("learning_rate", "optimizer.learning_rate", "float 0.0001..0.01 (log)", None),
    ]
    assert configurations(spec) is None


EXAMPLE_COUNTS = {
    "seed-baseline.json": (512_000, 49_882, 920_842),
    "seed-random.json": (512_000, 49_882, 920_842),
    "seed-depth-width.json": (4_672, 201_482, 2_366_474),
    "seed-depth-width.yaml": (4_672, 201_482, 2_366_474),
    "seed-depth.json": (19, 411_146, 708_362),
    "quickstart.json": (54, 394_762, 2_105_354),
    "cifar10-dense.json": (2_592, 3_807_242, 8_925_194),
    "cifar10-dense.yaml": (2_592, 3_807_242, 8_925_194),
}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_sizes(path):
    """The post's spaces have the configuration counts and parameter ranges worked out by hand."""
    spec = load_spec(path)
    assert (configurations(spec), *parameter_bounds(spec)) == EXAMPLE_COUNTS[path.name]


def test_the_posts_chosen_models_have_the_posts_parameter_counts():
    """Resolving the post's chosen values gives the parameter counts printed in the post."""
    cases = [
        (
            "seed-baseline.json",
            {
                "units_0": 256,
                "units_1": 256,
                "units_2": 16,
                "activation_0": "relu",
                "activation_1": "swish",
                "activation_2": "relu",
            },
            856_762,
        ),
        ("seed-depth-width.json", {"layers": 2, "units_0": 64, "units_1": 256}, 215_882),
        ("seed-depth.json", {"layers": 2}, 411_146),
    ]
    for name, values, expected in cases:
        spec = load_spec(ROOT / "examples" / name)
        assert plan_parameters(spec, resolve(spec, values)) == expected


@pytest.mark.parametrize("data", SMALL)
def test_freeze_gives_one_configuration_with_the_chosen_model(data):
    """A frozen spec has one configuration whose model is the chosen one."""
    spec = validate_spec(data)
    for plan in sorted(_all_plans(spec), key=repr)[:25]:
        values = _values_of(spec, plan)
        frozen = freeze(spec, values)
        assert hyperparameters(frozen) == []
        assert configurations(frozen) == 1
        assert resolve(frozen, {}) == plan
        assert parameter_bounds(frozen) == (plan_parameters(spec, plan),) * 2


def _values_of(spec, plan):
    """Some hyperparameter values that resolve to ``plan`` (found by search)."""
    hps = hyperparameters(spec)
    for combo in itertools.product(*[_domains.values(h.domain) for h in hps]):
        values = dict(zip([h.name for h in hps], combo, strict=False))
        if resolve(spec, values) == plan:
            return values
    raise AssertionError("unreachable plan")


@pytest.mark.parametrize(
    "domain",
    [
        {"min": 16, "max": 256, "step": 16},
        {"min": 6, "max": 13, "step": 3},
        {"min": 2, "max": 32, "step": 2, "sampling": "log"},
        {"min": 3, "max": 100, "step": 3, "sampling": "reverse_log"},
        {"min": 1, "max": 7, "sampling": "log"},
    ],
)
def test_int_range_domains(domain):
    """Int ranges enumerate the values their step reaches, ends included only when reached."""
    rng = _domains.IntRange(**domain)
    values = rng.expand()
    assert len(values) == rng.size() == len(set(values))
    assert (min(values), max(values)) == rng.bounds()
    assert all(rng.min <= v <= rng.max for v in values)


def test_example_files_are_the_only_examples():
    """The example table covers every file in examples/."""
    assert sorted(p.name for p in EXAMPLES) == sorted(EXAMPLE_COUNTS)
