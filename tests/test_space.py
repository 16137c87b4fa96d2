"""The space worked out from the spec alone: names, conditions, counts, parameter bounds."""

from __future__ import annotations

import itertools
import json
import sys

import pytest
from helpers import EXAMPLES, ROOT, spec_dict
from pydantic import ValidationError

from densespace import (
    SpecError,
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
    "cifar10-residual.json": (6, 2_698_762, 2_698_762),
    # own data: 8 features -> 1-2 shared layers of 32|64 -> 1 target; x lr 2 x loss 2
    "regression.json": (16, 8 * 32 + 32 + 32 + 1, 8 * 64 + 64 + 64 * 64 + 64 + 64 + 1),
    "binary.json": (8, 6 * 16 + 16 + 16 + 1, 6 * 32 + 32 + 32 * 32 + 32 + 32 + 1),
    "multilabel.json": (4, 16 * 32 + 32 + 32 * 3 + 3, 16 * 64 + 64 + 64 * 64 + 64 + 64 * 3 + 3),
    "mnist.json": (12, 784 * 128 + 128 + 128 * 10 + 10, 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10),
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


def _problems(data):
    """The problem lines of an invalid spec."""
    with pytest.raises(SpecError) as info:
        validate_spec(data)
    return [str(p) for p in info.value.problems]


def _refusal(model, **fields):
    """The message of a domain built in Python that is refused."""
    with pytest.raises(ValidationError) as info:
        model(**fields)
    [error] = info.value.errors()
    return error["msg"]


# ------------------------------------------------------------------- frozen specs


def test_freeze_keeps_runs_of_identical_layers_as_blocks():
    """A frozen spec writes one constant block per run of identical layers, every field spelled out."""
    spec = validate_spec(
        spec_dict(input={"shape": [4]}, hidden={"layers": {"min": 1, "max": 3}, "units": {"values": [8, 16]}})
    )
    frozen = freeze(spec, {"layers": 3, "units_0": 8, "units_1": 8, "units_2": 16})
    common = {"activation": "relu", "dropout": 0.0, "batch_norm": False, "l2": 0.0, "shared": False}
    assert frozen.model_dump()["hidden"] == [
        {"layers": 2, "units": 8, **common},
        {"layers": 1, "units": 16, **common},
    ]
    assert all(block.is_constant() for block in frozen.blocks)
    assert not spec.blocks[0].is_constant()


def test_freeze_a_winner_with_more_runs_than_a_search_may_have_blocks():
    """Twenty alternating layers freeze into twenty constant blocks that load back as the same model."""
    spec = validate_spec(
        spec_dict(
            input={"shape": [4]}, hidden={"layers": {"min": 1, "max": 20}, "units": {"values": [8, 16]}}
        )
    )
    values = {"layers": 20, **{f"units_{i}": (8, 16)[i % 2] for i in range(20)}}
    frozen = freeze(spec, values)
    assert [(block.layers, block.units) for block in frozen.blocks] == [(1, 8), (1, 16)] * 10
    assert validate_spec(json.loads(frozen.model_dump_json())) == frozen
    assert configurations(frozen) == 1
    assert resolve(frozen, {}) == resolve(spec, values)


def test_an_always_empty_shared_block_declares_nothing():
    """A shared block without layers has no hyperparameter: its values could not change the model."""
    spec = validate_spec(
        spec_dict(
            hidden=[
                {"units": 4},
                {"layers": 0, "units": {"values": [1, 2]}, "dropout": {"values": [0.0, 0.5]}, "shared": True},
            ]
        )
    )
    assert hyperparameters(spec) == []
    assert configurations(spec) == 1


# ---------------------------------------------------------------------- choices


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([1, True], "duplicate value True"),  # True == 1
        ([0, False], "duplicate value False"),
        ([1, 1.0], "duplicate value 1.0"),  # 1 == 1.0
        ([0.0, -0.0], "duplicate value -0.0"),
        (["a", "b", "a"], "duplicate value 'a'"),
        ([[1], [2], [1]], "duplicate value [1]"),  # unhashable: only in a Choice built in Python
        (["1", 1, 2.5, (1,)], None),  # a string, a number and a tuple are not equal
    ],
)
def test_choice_duplicates_are_values_python_finds_equal(values, message):
    """A choice's duplicates are the values Python compares equal, as when the check was a list scan."""
    if message is None:
        assert _domains.Choice(values=values).size() == len(values)
    else:
        assert _refusal(_domains.Choice, values=values) == message


def test_choice_duplicates_in_a_spec_are_located():
    """In a spec, field types apply first (0 becomes 0.0 in a number field), then duplicates are found."""
    assert _problems(spec_dict(hidden={"dropout": {"values": [0.5, 0, 0.0]}})) == [
        "hidden.dropout.values: duplicate value 0.0"
    ]
    assert _problems(spec_dict(hidden={"activation": {"values": ["relu", "elu", "relu"]}})) == [
        "hidden.activation.values: duplicate value 'relu'"
    ]


class _Counted:
    """A value that counts the equality tests made on it."""

    tests = 0

    def __init__(self, value):
        self.value = value

    def __hash__(self):
        return hash(self.value)

    def __eq__(self, other):
        _Counted.tests += 1
        return self.value == other.value


def test_choice_duplicate_check_is_linear():
    """Finding duplicates compares only values that hash alike, so a huge choice validates at once."""
    _Counted.tests = 0
    _domains.Choice(values=[_Counted(i) for i in range(5000)])
    assert _Counted.tests == 0  # a list scan would make 12,497,500
    assert _refusal(_domains.Choice, values=[_Counted(i) for i in range(5000)] + [_Counted(7)]).startswith(
        "duplicate value"
    )
    spec = validate_spec(spec_dict(training={"batch_size": {"values": list(range(65536, 0, -1))}}))
    assert configurations(spec) == 65536


# ----------------------------------------------------------------- float ranges


@pytest.mark.parametrize("sampling", ["linear", "log", "reverse_log"])
def test_float_range_with_min_equal_to_max_has_one_value(sampling):
    """hp.Float(min == max) only ever samples min, so the range counts one value, not infinitely many."""
    rng = _domains.FloatRange(min=0.25, max=0.25, sampling=sampling)
    assert (rng.size(), rng.expand(), rng.bounds()) == (1, [0.25], (0.25, 0.25))
    spec = validate_spec(
        spec_dict(hidden={"layers": 2, "dropout": {"min": 0.25, "max": 0.25, "sampling": sampling}})
    )
    assert [h.to_json()["values"] for h in hyperparameters(spec)] == [1, 1]
    assert configurations(spec) == 1


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        (
            {
                "training": {
                    "label_smoothing": {"min": 0.75, "max": 0.9999999999999999, "sampling": "reverse_log"}
                }
            },
            "training.label_smoothing: keras-tuner can sample 1.0 from this range (rounding in its arithmetic); "
            "values must be < 1.0",
        ),
        (
            {"hidden": {"dropout": {"min": 0.5, "max": 0.9999999999999999, "step": 2.0, "sampling": "log"}}},
            "hidden.dropout: keras-tuner can sample 1.0 from this range (rounding in its arithmetic); "
            "values must be < 1.0",
        ),
        (
            {"optimizer": {"learning_rate": {"min": 1e-20, "max": 0.1, "sampling": "reverse_log"}}},
            "optimizer.learning_rate: keras-tuner can sample -1.3877787807814457e-17 from this range "
            "(rounding in its arithmetic); values must be > 0.0",
        ),
    ],
)
def test_ranges_keras_tuner_would_round_past_the_fields_bounds_are_refused(section, problem):
    """A range whose rounded keras-tuner values leave the field's bounds is refused where it is written."""
    assert _problems(spec_dict(**section)) == [problem]


def test_ranges_that_round_past_their_own_ends_within_the_fields_bounds_are_kept():
    """Rounding past max inside the field's bounds is harmless: 0.1 * 3 is 0.30000000000000004."""
    rng = _domains.FloatRange(min=0.1, max=0.3, step=3.0, sampling="log")
    assert rng.expand() == [0.1, 0.30000000000000004]
    spec = validate_spec(spec_dict(hidden={"dropout": rng.model_dump()}))
    assert configurations(spec) == 2


# ------------------------------------------------------------------ huge numbers


def test_integers_too_long_for_str_are_quoted_by_size():
    """A range built in Python with an integer over Python's str limit is refused with a readable message."""
    limit = sys.get_int_max_str_digits()
    huge = 10**5000
    expected = f"min (<an integer of more than {limit} digits>) must be <= max (1)" if limit else None
    message = _refusal(_domains.IntRange, min=huge, max=1)
    assert message == (expected or f"min ({huge}) must be <= max (1)")
    assert _refusal(_domains.IntRange, min=1, max=huge, sampling="log") == (
        "min (1) is too small for sampling 'log': max / min overflows"
    )
    assert _domains.IntRange(min=0, max=huge).size() == huge + 1  # counted exactly


def test_configuration_counts_beyond_str_limits_stay_exact():
    """A valid spec may have more configurations than Python writes as digits by default; the count is exact."""
    activations = ["relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "silu", "swish", "mish", "tanh"]
    block = {
        "layers": 100,
        "units": {"min": 1, "max": 300},
        "activation": {"values": activations},
        "dropout": {"min": 0.0, "max": 0.9, "step": 0.1},
    }
    spec = validate_spec(spec_dict(hidden=[block] * 10))
    count = configurations(spec)
    assert count == (300 * 10 * 9) ** 1000  # 0.0 to 0.8: 0.9 // 0.1 is 8.0
    assert count > 10**4300  # more digits than str() writes by default
    assert len(hyperparameters(spec)) == 3000
