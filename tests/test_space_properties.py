"""Property tests of the space: counts, bounds and frozen specs against brute force.

Hypothesis draws small valid specs; each property is checked against an
enumeration that does not use densespace's arithmetic: the values of every
range follow keras-tuner's ``hp.Int`` / ``hp.Float`` rules, written out here
from keras_tuner's source (``engine/hyperparameters/hp_types/numerical.py``,
``int_hp.py``, ``float_hp.py``), and configurations are walked one by one.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import pytest
from helpers import spec_dict
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
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
from densespace._domains import MAX_STEPPED_VALUES, Choice, FloatRange, IntRange
from densespace._space import plan_parameters

#: Most configurations one example may enumerate.
LIMIT = 1500

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,  # nothing written into the tree
    suppress_health_check=[HealthCheck.too_slow],
)


# ---------------------------------------------------------- keras-tuner, by brute force


def sampled_values(domain: Any) -> list[Any] | None:
    """Every distinct value keras-tuner can sample for a domain; None when continuous."""
    if isinstance(domain, Choice):
        return _distinct(iter(domain.values))
    if not isinstance(domain, (IntRange, FloatRange)):
        return [domain]  # a constant
    lo, hi, step, sampling = domain.min, domain.max, domain.step, domain.sampling
    if isinstance(domain, IntRange):
        if step is None and sampling == "linear":
            step = 1  # hp.Int's default
        if step is None:
            # hp.Int.prob_to_value: int() of a continuous sample over [min, max + 1);
            # a grid finer than the narrowest integer's share of [0, 1) meets every one.
            grid = 64 * (hi + 1)
            return _distinct(int(_continuous(sampling, lo, hi + 1, (j + 0.5) / grid)) for j in range(grid))
        return _distinct(
            int(_indexed(sampling, lo, hi, step, i)) for i in range(_count(sampling, lo, hi, step))
        )
    if step is None:
        # hp.Float.values without step: ten evenly spread samples, continuous unless they agree
        samples = _distinct(_continuous(sampling, lo, hi, i * 0.1 + 0.05) for i in range(10))
        return samples if len(samples) == 1 else None
    return _distinct(_indexed(sampling, lo, hi, step, i) for i in range(_count(sampling, lo, hi, step)))


def _count(sampling: str, lo: float, hi: float, step: float) -> int:
    """Numerical._get_n_values; the floor division done exactly, on the same float ``max - min``."""
    if sampling == "linear":
        return math.floor(Fraction(hi - lo) / Fraction(step)) + 1
    return int(math.log(hi / lo, step) + 1e-8) + 1


def _indexed(sampling: str, lo: float, hi: float, step: float, index: int) -> float:
    """Numerical._get_value_by_index."""
    if sampling == "linear":
        return lo + index * step
    if sampling == "log":
        return lo * math.pow(step, index)
    return hi + lo - lo * math.pow(step, index)


def _continuous(sampling: str, lo: float, hi: float, prob: float) -> float:
    """Numerical._sample_numerical_value."""
    if sampling == "linear":
        return prob * (hi - lo) + lo
    if sampling == "log":
        return lo * math.pow(hi / lo, prob)
    return hi + lo - lo * math.pow(hi / lo, 1 - prob)


def _distinct(values: Iterator[Any]) -> list[Any]:
    return sorted(set(values))


def active_assignments(spec: Any) -> Iterator[dict[str, Any]]:
    """Every assignment of the active hyperparameters (conditions respected)."""
    hps = hyperparameters(spec)
    domains = [sampled_values(h.domain) for h in hps]

    def walk(index: int, values: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if index == len(hps):
            yield dict(values)
            return
        h = hps[index]
        if h.condition is not None and values[h.condition.parent] not in h.condition.values:
            yield from walk(index + 1, values)
            return
        for value in domains[index]:
            values[h.name] = value
            yield from walk(index + 1, values)
        del values[h.name]

    yield from walk(0, {})


# ------------------------------------------------------------------------ strategies


def _size(domain: Any) -> int:
    if isinstance(domain, dict):
        model = Choice if "values" in domain else FloatRange if isinstance(domain["min"], float) else IntRange
        return len(sampled_values(model(**domain)))
    return 1


@st.composite
def int_domains(draw: Any, lo: int, hi: int) -> Any:
    """An integer constant, range (linear, log or reverse_log, with or without step) or choice."""
    kind = draw(st.sampled_from(["constant", "linear", "stepped", "log", "log-step", "choice"]))
    if kind == "constant":
        return draw(st.integers(lo, hi))
    if kind == "choice":
        return {"values": draw(st.lists(st.integers(lo, hi), min_size=1, max_size=3, unique=True))}
    if kind in ("linear", "stepped"):
        step = 1 if kind == "linear" else draw(st.integers(1, 4))
        a = draw(st.integers(lo, hi))
        rng = {"min": a, "max": draw(st.integers(a, min(hi, a + 4 * step)))}
        return rng if kind == "linear" else {**rng, "step": step}
    sampling = draw(st.sampled_from(["log", "reverse_log"]))
    a = draw(st.integers(max(lo, 1), hi))
    if kind == "log":  # every integer in [min, max]
        return {"min": a, "max": draw(st.integers(a, min(hi, a + 4))), "sampling": sampling}
    step = draw(st.integers(2, 4))
    return {
        "min": a,
        "max": draw(st.integers(a, min(hi, a * step**3 + 2))),
        "step": step,
        "sampling": sampling,
    }


NICE_STEPS = [0.05, 0.1, 0.125, 0.2, 0.25, 0.3]


@st.composite
def float_domains(draw: Any, lo: float, hi: float, *, exclusive: bool = False, positive: bool = False) -> Any:
    """A float constant, stepped range (linear, log or reverse_log), single-valued range or choice."""
    top = math.nextafter(hi, -math.inf) if exclusive else hi
    bottom = math.nextafter(lo, math.inf) if positive else lo
    values = st.floats(bottom, top, allow_nan=False)
    kind = draw(st.sampled_from(["constant", "linear", "log", "single", "choice"]))
    if kind == "constant":
        return draw(values)
    if kind == "choice":
        return {"values": draw(st.lists(values, min_size=1, max_size=3, unique=True))}
    if kind == "single":  # min == max without step: one value
        sampling = draw(st.sampled_from(["linear", "log", "reverse_log"]))
        a = draw(values if sampling == "linear" else st.floats(max(bottom, 1e-6), top))
        return {"min": a, "max": a, "sampling": sampling}
    # Ranges end a little below the field's bound: keras-tuner's rounding can pass max
    # (a range that would leave the field's bounds is refused, see test_space.py).
    ceiling = top * (1 - 1e-6)
    if kind == "linear":
        step = draw(st.sampled_from(NICE_STEPS) | st.floats(0.01, 0.5))
        a = draw(st.floats(bottom, ceiling))
        b = min(a + draw(st.integers(0, 4)) * step + draw(st.floats(0, step)), ceiling)
        return {"min": a, "max": b, "step": step}
    step = draw(st.sampled_from([2.0, 3.0, 10.0]) | st.floats(1.5, 10.0))
    a = draw(st.floats(max(bottom, 1e-4), ceiling))
    b = min(a * step ** draw(st.integers(0, 3)) * draw(st.floats(1.0, 1.5)), ceiling)
    return {"min": a, "max": b, "step": step, "sampling": draw(st.sampled_from(["log", "reverse_log"]))}


ACTIVATIONS = ["relu", "elu", "tanh", "swish"]


def _name_domain(options: list[Any]) -> Any:
    """A constant or a choice among ``options``."""
    return st.sampled_from(options) | st.lists(
        st.sampled_from(options), min_size=1, max_size=len(options), unique=True
    ).map(lambda values: {"values": values})


BOOLS = st.booleans() | st.permutations([True, False]).map(lambda values: {"values": values})


class _Budget:
    """Keeps the full product of the domains (an upper bound of the configurations) small."""

    def __init__(self, limit: int | None) -> None:
        self.limit, self.product = limit, 1

    def field(self, draw: Any, strategy: Any, constant: Any, copies: int = 1) -> Any:
        domain = draw(strategy)
        grown = self.product * _size(domain) ** copies
        if self.limit is not None and grown > self.limit:
            return draw(constant)
        self.product = grown
        return domain


@st.composite
def specs(draw: Any, *, max_layers: int = 4, limit: int | None = LIMIT) -> dict[str, Any]:
    """A small valid spec as a dict, its space at most ``limit`` configurations large."""
    budget = _Budget(limit)
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    blocks = []
    for _ in range(draw(st.integers(1, 3))):
        block: dict[str, Any] = {"shared": draw(st.booleans())}
        block["layers"] = budget.field(draw, int_domains(0, max_layers), st.integers(0, max_layers))
        top = max(_layer_counts(block["layers"]))
        copies = min(top, 1) if block["shared"] else top
        fields = {
            "units": (int_domains(1, 12), st.integers(1, 12)),
            "activation": (_name_domain(ACTIVATIONS), st.sampled_from(ACTIVATIONS)),
            "dropout": (float_domains(0.0, 1.0, exclusive=True), st.just(0.0)),
        }
        if draw(st.booleans()):  # a Dense block (without kind), or a residual one
            fields["batch_norm"] = (BOOLS, st.booleans())
            fields["l2"] = (float_domains(0.0, 1.0), st.just(0.0))
        else:
            block["kind"] = "residual"
            fields["expansion"] = (int_domains(1, 3), st.integers(1, 3))
            fields["norm"] = (_name_domain(["layer", "batch", "none"]), st.sampled_from(["layer", "none"]))
        for field, (strategy, constant) in fields.items():
            block[field] = budget.field(draw, strategy, constant, copies)
        blocks.append(block)
    hidden: Any = blocks if len(blocks) > 1 or draw(st.booleans()) else blocks[0]
    data = spec_dict(input={"shape": shape}, hidden=hidden, output={"units": draw(st.integers(2, 4))})
    if len(shape) == 3:
        data["input"]["augmentation"] = {
            "flip": budget.field(draw, BOOLS, st.booleans()),
            "translate": budget.field(draw, float_domains(0.0, 0.5), st.just(0.0)),
        }
    data["optimizer"] = {
        "name": budget.field(draw, _name_domain(["adam", "sgd", "rmsprop"]), st.just("adam")),
        "learning_rate": budget.field(draw, float_domains(0.0, 10.0, positive=True), st.just(0.001)),
        "schedule": budget.field(draw, _name_domain(["constant", "cosine"]), st.just("constant")),
    }
    smoothing = budget.field(draw, float_domains(0.0, 1.0, exclusive=True), st.just(0.0))
    data["training"] = {
        "batch_size": budget.field(draw, int_domains(1, 256), st.just(32)),
        "label_smoothing": smoothing,
    }
    if isinstance(smoothing, dict):
        data["search"] = {"objective": "val_accuracy"}  # a tuned smoothing needs it
    return data


def _layer_counts(domain: Any) -> list[int]:
    if isinstance(domain, dict):
        return sampled_values(Choice(**domain) if "values" in domain else IntRange(**domain))
    return [domain]


# -------------------------------------------------------------------------- properties


@SETTINGS
@given(specs())
def test_domain_sizes_match_keras_tuner(data):
    """Every hyperparameter's size is the number of distinct values keras-tuner can sample."""
    for h in hyperparameters(validate_spec(data)):
        brute = sampled_values(h.domain)
        listed = _domains.values(h.domain)
        assert _domains.size(h.domain) == len(brute) == len(listed), h
        assert sorted(set(listed)) == brute, h
        assert _domains.bounds(h.domain) == (brute[0], brute[-1]), h


@SETTINGS
@given(specs())
def test_configurations_and_parameter_bounds_match_enumeration(data):
    """The configuration count and parameter bounds equal those of every configuration walked one by one."""
    spec = validate_spec(data)
    plans = [resolve(spec, values) for values in active_assignments(spec)]
    assert configurations(spec) == len(set(plans)) == len(plans)  # distinct assignments, distinct models
    counts = [plan_parameters(spec, plan) for plan in plans]
    assert parameter_bounds(spec) == (min(counts), max(counts))


@st.composite
def chosen(draw: Any, *, max_layers: int) -> tuple[Any, dict[str, Any]]:
    """A spec and one configuration of it, drawn value by value."""
    spec = validate_spec(draw(specs(max_layers=max_layers, limit=None)))
    values: dict[str, Any] = {}
    for h in hyperparameters(spec):
        if h.condition is None or values[h.condition.parent] in h.condition.values:
            values[h.name] = draw(st.sampled_from(sampled_values(h.domain)))
    return spec, values


@SETTINGS
@given(chosen(max_layers=20))
def test_freeze_writes_any_configuration(case):
    """A frozen configuration is a valid spec of exactly that model, whatever its number of runs."""
    spec, values = case
    plan = resolve(spec, values)
    frozen = freeze(spec, values)
    assert validate_spec(json.loads(frozen.model_dump_json())) == frozen
    assert hyperparameters(frozen) == []
    assert configurations(frozen) == 1
    assert resolve(frozen, {}) == plan
    assert parameter_bounds(frozen) == (plan_parameters(spec, plan),) * 2


# ------------------------------------------------------------ float ranges at the edges


@st.composite
def edge_float_ranges(draw: Any) -> dict[str, Any]:
    """Stepped float ranges near the limits of floats: steps from 5e-324 up, steps of a
    fraction of an ulp or a few, tiny minimums under log sampling, or ordinary ones."""
    sampling = draw(st.sampled_from(["linear", "log", "reverse_log"]))
    kind = draw(st.sampled_from(["any", "ulps", "many", "tiny-min"]))
    lo = draw(st.floats(-10.0 if sampling == "linear" else 5e-324, 10.0))
    hi = draw(st.floats(lo, 10.0))
    count = draw(st.integers(MAX_STEPPED_VALUES - 2, MAX_STEPPED_VALUES + 2) | st.integers(2, 10**7))
    if sampling == "linear":
        step = draw(st.floats(5e-324, 20.0))
        if kind == "many" and hi > lo:  # about ``count`` values
            step = (hi - lo) / (count - 1 + draw(st.floats(0.0, 1.0)))
        elif kind in ("ulps", "tiny-min"):  # a fraction of an ulp to a few: values may round together
            step = math.ulp(max(abs(lo), 1e-300)) * draw(st.integers(1, 12)) / 4
            hi = lo + draw(st.integers(0, 40)) * step
    else:
        step = draw(st.floats(1.0, 20.0, exclude_min=True))
        if kind == "many" and hi > lo:
            step = (hi / lo) ** (1 / (count - 1 + draw(st.floats(0.0, 1.0))))
            assume(step > 1)
        elif kind == "ulps":
            step = 1.0 + draw(st.integers(1, 64)) * math.ulp(1.0)
            hi = lo * step ** draw(st.integers(0, 40))
        elif kind == "tiny-min":  # reverse_log loses lo * step**i next to max
            lo, hi = draw(st.floats(5e-324, 1e-15)), draw(st.floats(0.5, 10.0))
    assume(math.isfinite(hi) and hi >= lo and 0 < step < math.inf)
    return {"min": lo, "max": hi, "step": step, "sampling": sampling}


@settings(max_examples=300, deadline=None, database=None)
@given(edge_float_ranges())
def test_float_ranges_are_counted_exactly_or_refused(domain):
    """A stepped float range is counted exactly, or refused because its values would overflow, repeat or pass the cap."""
    lo, hi, step, sampling = domain["min"], domain["max"], domain["step"], domain["sampling"]
    ratio_overflows = sampling != "linear" and not math.isfinite(hi / lo)
    count = None if ratio_overflows else _count_or_none(sampling, lo, hi, step)
    try:
        rng = FloatRange(**domain)
    except ValidationError as exc:
        [message] = [e["msg"] for e in exc.errors()]
        if ratio_overflows:
            assert message == f"min ({lo!r}) is too small for sampling '{sampling}': max / min overflows"
        elif count is None or count > MAX_STEPPED_VALUES:
            assert message == f"step ({step!r}) is too small: the range would have more than 1,000,000 values"
        else:
            values = [_indexed(sampling, lo, hi, step, i) for i in range(count)]
            index, value = _first_repeat(values)
            assert message == (
                f"values {index - 1} and {index} of the range are both {value!r}: "
                "its steps are below the precision of floats"
            )
        return
    assert count is not None and count <= MAX_STEPPED_VALUES
    assert rng.size() == count
    if count <= 5000:
        assert len(sampled_values(rng)) == count


def _count_or_none(sampling: str, lo: float, hi: float, step: float) -> int | None:
    """keras-tuner's number of indices, None when it is not a finite number."""
    try:
        return _count(sampling, lo, hi, step)
    except (OverflowError, ValueError):
        return None


def _first_repeat(values: list[float]) -> tuple[int, float]:
    """The first value equal to the one before it, and its index."""
    return next((i + 1, b) for i, (a, b) in enumerate(itertools.pairwise(values)) if a == b)


@pytest.mark.parametrize(
    ("domain", "message"),
    [
        (
            {"min": 5e-324, "max": 1.0, "sampling": "log"},
            "min (5e-324) is too small for sampling 'log': max / min overflows",
        ),
        (
            {"min": 5e-324, "max": 1.0, "step": 2.0, "sampling": "reverse_log"},
            "min (5e-324) is too small for sampling 'reverse_log': max / min overflows",
        ),
        (
            {"min": 1e-3, "max": 0.5, "step": 5e-324},
            "step (5e-324) is too small: the range would have more than 1,000,000 values",
        ),
        (
            {"min": 1e-3, "max": 0.5, "step": 4e-7},
            "step (4e-07) is too small: the range would have more than 1,000,000 values",
        ),
        (
            {"min": 1e-3, "max": 1.0, "step": 1.0000000000000002, "sampling": "log"},
            "step (1.0000000000000002) is too small: the range would have more than 1,000,000 values",
        ),
        (
            {"min": 1.0, "max": 1.0000000000000009, "step": 1e-16},
            "values 0 and 1 of the range are both 1.0: its steps are below the precision of floats",
        ),
        (
            {"min": 1e-300, "max": 1.0, "step": 2.0, "sampling": "reverse_log"},
            "values 0 and 1 of the range are both 1.0: its steps are below the precision of floats",
        ),
    ],
)
def test_float_ranges_that_cannot_be_counted(domain, message):
    """Underflowing minimums and steps give one located message instead of an exception or a wrong count."""
    with pytest.raises(SpecError) as info:
        validate_spec(spec_dict(optimizer={"learning_rate": domain}))
    assert [str(p) for p in info.value.problems] == [f"optimizer.learning_rate: {message}"]
