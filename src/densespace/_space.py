"""The search space a spec describes, worked out from the spec alone (no Keras).

* ``hyperparameters(spec)``: every hyperparameter with its name, domain and the
  condition that activates it, in the order the hypermodel declares them;
* ``configurations(spec)``: the exact number of distinct configurations;
* ``parameter_bounds(spec)``: the smallest and largest trainable parameter count;
* ``feasible_configurations(spec)``, ``feasible_parameter_bounds(spec)``,
  ``feasible(spec, values)``: the same under the spec's ``search.constraints``;
* ``resolve(spec, values)``: the concrete architecture chosen by given values;
* ``freeze(spec, values)``: the spec with every tunable value fixed.

Every block kind (``densespace._blocks``) gives its per-layer fields and their
costs; the rest is the same for every kind. Naming: with one hidden block,
``layers``, then each of the kind's ``FIELDS`` per layer (``units_0``,
``activation_0``, ...; ``units`` when the block is ``shared``); with several
blocks each name is prefixed ``block<b>_``. Then ``flip``, ``translate``, ``crop``, ``mixup``,
``cutmix``, ``optimizer``,
``learning_rate``, ``schedule``, ``weight_decay``, ``warmup``, ``batch_size``, ``label_smoothing``, ``loss``.
Only tunable fields become hyperparameters; constants stay constants.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from densespace import _domains
from densespace._blocks import dense, kind_of
from densespace._blocks.base import BlockModel, Cost, Layer, parameters
from densespace._errors import Problem, SpecError
from densespace._hyperparameters import Condition, Hyperparameter

if TYPE_CHECKING:
    from densespace._search import Constraints
    from densespace._spec.models import Spec

#: Hyperparameters outside the hidden blocks: (name, spec field), in declaration order.
GLOBAL_FIELDS = (
    ("flip", "input.augmentation.flip"),
    ("translate", "input.augmentation.translate"),
    ("crop", "input.augmentation.crop"),
    ("mixup", "input.augmentation.mixup"),
    ("cutmix", "input.augmentation.cutmix"),
    ("optimizer", "optimizer.name"),
    ("learning_rate", "optimizer.learning_rate"),
    ("schedule", "optimizer.schedule"),
    ("weight_decay", "optimizer.weight_decay"),
    ("warmup", "optimizer.warmup"),
    ("batch_size", "training.batch_size"),
    ("label_smoothing", "training.label_smoothing"),
    ("loss", "training.loss"),
)


@dataclass(frozen=True)
class Plan:
    """A concrete model: what one configuration of the space builds."""

    layers: tuple[Layer, ...]  #: of any block kind
    flip: bool
    translate: float
    crop: int
    mixup: float
    cutmix: float
    optimizer: str
    learning_rate: float
    schedule: str
    weight_decay: float | None
    warmup: float
    batch_size: int
    label_smoothing: float
    loss: str | None


# ------------------------------------------------------------------------- naming


@dataclass(frozen=True)
class _BlockNames:
    prefix: str
    location: str

    def layers(self) -> str:
        return f"{self.prefix}layers"

    def field(self, field: str, index: int | None) -> str:
        return f"{self.prefix}{field}" if index is None else f"{self.prefix}{field}_{index}"


def _block_names(spec: Spec) -> Iterator[tuple[BlockModel, _BlockNames]]:
    several = len(spec.blocks) > 1
    listed = isinstance(spec.hidden, list)
    for b, block in enumerate(spec.blocks):
        yield (
            block,
            _BlockNames(
                prefix=f"block{b}_" if several else "",
                location=f"hidden[{b}]" if listed else "hidden",
            ),
        )


def _layer_indices(block: BlockModel) -> Iterator[int | None]:
    """The per-layer indices whose hyperparameters a block declares (None: shared).

    Only layers the block can have: a shared block that is always empty declares nothing.
    """
    most = _domains.bounds(block.layers)[1]
    if not block.shared:
        yield from range(most)
    elif most > 0:
        yield None


def _condition(block: BlockModel, names: _BlockNames, index: int | None) -> Condition | None:
    if not _domains.is_tunable(block.layers):
        return None
    needed = 0 if index is None else index
    counts = _domains.values(block.layers)
    active = tuple(n for n in counts if n > needed)
    return None if len(active) == len(counts) else Condition(names.layers(), active)


# -------------------------------------------------------------------- the space


def hyperparameters(spec: Spec) -> list[Hyperparameter]:
    """Every hyperparameter of the space, in declaration order.

    Examples:
        >>> import densespace
        >>> spec = densespace.load_spec("examples/seed-depth-width.json")
        >>> [h.name for h in densespace.hyperparameters(spec)]
        ['layers', 'units_0', 'units_1', 'units_2', 'units_3']
        >>> str(densespace.hyperparameters(spec)[3].condition)
        'layers in {3, 4}'
    """
    result: list[Hyperparameter] = []
    for block, names in _block_names(spec):
        if _domains.is_tunable(block.layers):
            result.append(Hyperparameter(names.layers(), f"{names.location}.layers", block.layers))
        for index in _layer_indices(block):
            condition = _condition(block, names, index)
            for field in block.FIELDS:
                domain = getattr(block, field)
                if _domains.is_tunable(domain):
                    result.append(
                        Hyperparameter(
                            names.field(field, index), f"{names.location}.{field}", domain, condition
                        )
                    )
    for name, location in GLOBAL_FIELDS:
        domain = _field(spec, location)
        if _domains.is_tunable(domain):
            result.append(Hyperparameter(name, location, domain))
    return result


def _field(spec: Spec, location: str) -> Any:
    return functools.reduce(getattr, location.split("."), spec)


def configurations(spec: Spec) -> int | None:
    """The exact number of distinct configurations; None when a float range is continuous.

    Examples:
        >>> import densespace
        >>> densespace.configurations(densespace.load_spec("examples/seed-depth-width.json"))
        4672
    """
    total: int | None = 1
    for block, _ in _block_names(spec):
        block_total: int | None = 0
        for count in _domains.values(block.layers):
            sizes = [_domains.size(getattr(block, f)) for f in block.FIELDS]
            layers = min(count, 1) if block.shared else count
            block_total = _add(block_total, _product([s for s in sizes for _ in range(layers)]))
        total = _product([total, block_total])
    return _product([total] + [_domains.size(_field(spec, loc)) for _, loc in GLOBAL_FIELDS])


def _product(sizes: list[int | None]) -> int | None:
    return None if None in sizes else math.prod(sizes)  # type: ignore[arg-type]


def _add(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a + b


def parameter_bounds(spec: Spec) -> tuple[int, int]:
    """The smallest and largest trainable parameter count of a model in the space.

    A layer's count (its ``Cost``, ``a * inputs + b``) grows with its input width
    and its own, so for a given number of layers per block the extremes take every
    width and cost at its smallest (largest). The layer counts are searched block by
    block, keeping the best total for each width a block can hand to the next one.

    Examples:
        >>> import densespace
        >>> densespace.parameter_bounds(densespace.load_spec("examples/seed-depth-width.json"))
        (201482, 2366474)
    """
    return _parameters(spec, 0), _parameters(spec, 1)


def _parameters(spec: Spec, end: int) -> int:
    pick = min if end == 0 else max
    best = {math.prod(spec.input.example_shape): 0}  # width -> best total so far
    output = _output_cost(spec)
    for block in spec.blocks:
        cost = _extreme(block.costs(), end)
        units = cost[0]
        options: dict[int, int] = {}
        for width, total in best.items():
            for count in _domains.values(block.layers):
                out = units if count else width
                reached = (
                    total
                    + (count > 0) * parameters(cost, width)
                    + max(count - 1, 0) * parameters(cost, units)
                )
                options[out] = pick(options.get(out, reached), reached)
        best = options
    return pick(total + parameters(output, width) for width, total in best.items()) + fixed_parameters(spec)


def fixed_parameters(spec: Spec) -> int:
    """The trainable parameters every model of the space has before its first Dense layer: a
    table's embeddings (``input.embeddings``)."""
    return spec.input.embeddings or 0


def _extreme(groups: list[list[Cost]], end: int) -> Cost:
    """The cheapest (``end`` 0) or dearest (1) layer a block's ``costs`` allow: both parts at
    their smallest (largest), which the cheapest (dearest) layer has, or a bound of it."""
    pick = min if end == 0 else max
    costs = [cost for group in groups for cost in group]
    return pick(a for a, _ in costs), pick(b for _, b in costs)


def _output_cost(spec: Spec) -> Cost:
    """The output layer's ``Cost``: a Dense layer of the output units, with a bias."""
    return dense.cost(spec.output_units, False)


def resolve(spec: Spec, values: Mapping[str, Any]) -> Plan:
    """The concrete model that the hyperparameter ``values`` select.

    Args:
        spec: The spec.
        values: A value for every active hyperparameter (extra names are ignored).

    Raises:
        KeyError: An active hyperparameter has no value.

    Examples:
        >>> import densespace
        >>> spec = densespace.load_spec("examples/seed-depth-width.json")
        >>> plan = densespace.resolve(spec, {"layers": 2, "units_0": 256, "units_1": 128})
        >>> [layer.units for layer in plan.layers]
        [256, 128]
    """
    layers: list[Layer] = []
    for block, names in _block_names(spec):
        count = values[names.layers()] if _domains.is_tunable(block.layers) else block.layers
        for i in range(count):
            index = None if block.shared else i
            fields = {
                f: values[names.field(f, index)]
                if _domains.is_tunable(getattr(block, f))
                else getattr(block, f)
                for f in block.FIELDS
            }
            layers.append(block.layer(fields))
    chosen = {
        name: values[name] if _domains.is_tunable(_field(spec, loc)) else _field(spec, loc)
        for name, loc in GLOBAL_FIELDS
    }
    return Plan(layers=tuple(layers), **chosen)


def plan_parameters(spec: Spec, plan: Plan) -> int:
    """The trainable parameter count of the model a plan builds."""
    width, total = math.prod(spec.input.example_shape), fixed_parameters(spec)
    for layer in plan.layers:
        total += parameters(layer.cost(), width)
        width = layer.width
    return total + parameters(_output_cost(spec), width)


def freeze(spec: Spec, values: Mapping[str, Any]) -> Spec:
    """The spec with every tunable value fixed to the one ``values`` select.

    Consecutive identical layers stay one block; the result has exactly one
    configuration, the chosen model. A model whose layers alternate has more
    runs than a searched spec may have blocks: the spec format accepts lists
    of constant blocks (``is_constant``) up to one block per layer. The frozen
    spec keeps ``search.constraints``, which its one model satisfies, and drops
    ``search.initial_points`` (values of the searched space's hyperparameters).

    Raises:
        KeyError: An active hyperparameter has no value.
        ValueError: The values select a model outside ``search.constraints``.

    Examples:
        >>> import densespace
        >>> spec = densespace.load_spec("examples/seed-depth-width.json")
        >>> frozen = densespace.freeze(spec, {"layers": 2, "units_0": 256, "units_1": 128})
        >>> [(block.layers, block.units) for block in frozen.blocks]
        [(1, 256), (1, 128)]
        >>> densespace.configurations(frozen), densespace.parameter_bounds(frozen)
        (1, (820874, 820874))
    """
    why = outside_constraints(spec, values)
    if why is not None:
        raise ValueError(f"these values select {why}")
    runs: list[tuple[Layer, int]] = []
    for layer in resolve(spec, values).layers:
        if runs and runs[-1][0] == layer:
            runs[-1] = (layer, runs[-1][1] + 1)
        else:
            runs.append((layer, 1))
    data = spec.model_dump()
    empty = dense.Block(layers=0, units=1).model_dump()
    data["hidden"] = [
        {"kind": kind_of(layer), **dataclasses.asdict(layer), "layers": count} for layer, count in runs
    ] or [empty]
    data["search"]["initial_points"] = []  # points of the searched space, not of the frozen one
    plan = resolve(spec, values)
    for name, location in GLOBAL_FIELDS:
        *sections, field = location.split(".")
        functools.reduce(dict.__getitem__, sections, data)[field] = getattr(plan, name)
    return type(spec).model_validate(data)


# -------------------------------------------------------------------- constraints

#: Most steps ``feasible_space`` takes before it gives up on a space (one per state made, per pair
#: of a width reached and a next width, and ``GROUP_STEPS`` per array of states made): a constrained
#: count holds one state per distinct (width, parameters so far), which a tight parameter range over
#: many wide layers can multiply beyond anything countable in seconds. The examples take under a
#: thousand; 20,000,000 is one to a few seconds.
MAX_COUNT_STEPS = 20_000_000
#: The steps one array of states costs besides its states (Python's part, against numpy's per state).
GROUP_STEPS = 20


@dataclass(frozen=True)
class Feasible:
    """The configurations of a space that its ``search.constraints`` allow.

    Attributes:
        configurations: how many (None: infinitely many, a continuous field takes part).
        parameters: the smallest and largest trainable parameter count among them
            (None: there is none).
    """

    configurations: int | None
    parameters: tuple[int, int] | None


def feasible(spec: Spec, values: Mapping[str, Any]) -> bool:
    """Whether the model that ``values`` select satisfies the spec's ``search.constraints``.

    Examples:
        >>> import densespace
        >>> spec = densespace.validate_spec({
        ...     "version": 1, "name": "narrowing",
        ...     "hidden": {"layers": 2, "units": {"values": [64, 128]}},
        ...     "search": {"constraints": {"funnel": True}},
        ... })
        >>> densespace.feasible(spec, {"units_0": 128, "units_1": 64})
        True
        >>> densespace.feasible(spec, {"units_0": 64, "units_1": 128})
        False
    """
    plan = resolve(spec, values)
    constraints = spec.search.constraints
    widths = [layer.width for layer in plan.layers]
    if constraints.funnel and any(b > a for a, b in itertools.pairwise(widths)):
        return False
    return _within(constraints.min_parameters, constraints.max_parameters, plan_parameters(spec, plan))


def outside_constraints(spec: Spec, values: Mapping[str, Any]) -> str | None:
    """What breaks ``search.constraints`` in the model ``values`` select, None when nothing does:
    ``a model outside search.constraints (N trainable parameters, hidden widths [...])``."""
    if feasible(spec, values):
        return None
    plan = resolve(spec, values)
    widths = ", ".join(str(layer.width) for layer in plan.layers)
    return (
        f"a model outside search.constraints ({plan_parameters(spec, plan):,} trainable parameters, "
        f"hidden widths [{widths}])"
    )


def dead_end(spec: Spec, values: Mapping[str, Any], order: Sequence[str]) -> str | None:
    """Where a point outside ``search.constraints`` leaves the feasible configurations: the
    hyperparameter ending the shortest prefix of ``values`` (taken in ``order``, a grid's order
    of the names) that no configuration within the constraints shares. None when ``values``
    satisfy the constraints.

    A grid can skip every point that shares that prefix: a whole sub-grid at once. Only the
    layer counts and the blocks' ``SIZE_FIELDS`` (a Dense block's ``units`` and ``batch_norm``) decide; the prefixes are bisected, each test an
    exact count (``feasible_space``) of the space with the prefix's values fixed.
    """
    if feasible(spec, values):
        return None
    active = {h.name for h in hyperparameters(spec) if _active(h, values)}
    sizing = _sizing_names(spec)
    deciding = [name for name in order if name in active and name in sizing]
    low, high = 0, len(deciding)  # the shortest dead prefix has between low + 1 and high names
    while low + 1 < high:
        middle = (low + high) // 2
        if _has_feasible(spec, values, set(deciding[:middle])):
            low = middle
        else:
            high = middle
    return deciding[high - 1]


def _sizing_names(spec: Spec) -> set[str]:
    """The names of the hyperparameters a model's size and widths depend on: the blocks' layer
    counts and their ``SIZE_FIELDS``."""
    names: set[str] = set()
    for block, block_names in _block_names(spec):
        names.add(block_names.layers())
        for index in _layer_indices(block):
            names.update(block_names.field(f, index) for f in block.SIZE_FIELDS)
    return names


def _active(h: Hyperparameter, values: Mapping[str, Any]) -> bool:
    return h.name in values and (h.condition is None or values.get(h.condition.parent) in h.condition.values)


def _has_feasible(spec: Spec, values: Mapping[str, Any], fixed: set[str]) -> bool:
    """Whether a configuration within the constraints has the ``fixed`` names' ``values``.

    The space is rewritten with those values as constants, one block per layer once a block's
    layer count is fixed (a layer's ``SIZE_FIELDS`` fixed before its block's layer
    count are left free: a wider space, which can only say yes more often).
    """
    blocks: list[BlockModel] = []
    for block, names in _block_names(spec):
        tuned = _domains.is_tunable(block.layers)
        if tuned and names.layers() not in fixed:
            blocks.append(block)
            continue
        count = values[names.layers()] if tuned else _domains.values(block.layers)[0]
        indices: list[int | None] = [None] if block.shared else list(range(count))
        for index in indices:
            given = {
                f: values[names.field(f, index)] for f in block.SIZE_FIELDS if names.field(f, index) in fixed
            }
            blocks.append(block.model_copy(update={"layers": count if block.shared else 1, **given}))
        if count == 0 and not block.shared:
            blocks.append(block.model_copy(update={"layers": 0}))
    return feasible_space(spec.model_copy(update={"hidden": blocks})).parameters is not None


def _within(low: int | None, high: int | None, parameters: int) -> bool:
    return (low is None or parameters >= low) and (high is None or parameters <= high)


def feasible_configurations(spec: Spec) -> int | None:
    """The exact number of configurations that satisfy ``search.constraints``; None when infinitely many.

    Without constraints this is ``configurations(spec)``.

    Examples:
        >>> import densespace
        >>> spec = densespace.load_spec("examples/seed-depth-width.json")
        >>> densespace.feasible_configurations(spec)
        4672
        >>> data = spec.model_dump()
        >>> data["search"]["constraints"] = {"max_parameters": 500_000, "funnel": True}
        >>> densespace.feasible_configurations(densespace.validate_spec(data))
        12
    """
    if not spec.search.constraints.active:
        return configurations(spec)
    return feasible_space(spec).configurations


def feasible_parameter_bounds(spec: Spec) -> tuple[int, int] | None:
    """The smallest and largest trainable parameter count of a configuration that satisfies
    ``search.constraints``; None when none does (a valid spec always has one).

    Without constraints this is ``parameter_bounds(spec)``.

    Examples:
        >>> import densespace
        >>> data = densespace.load_spec("examples/seed-depth-width.json").model_dump()
        >>> data["search"]["constraints"] = {"max_parameters": 500_000, "funnel": True}
        >>> densespace.feasible_parameter_bounds(densespace.validate_spec(data))
        (201482, 444170)
    """
    if not spec.search.constraints.active:
        return parameter_bounds(spec)
    return feasible_space(spec).parameters


def feasible_space(spec: Spec, constraints: Constraints | None = None) -> Feasible:
    """The configurations that ``constraints`` (default: the spec's) allow, counted exactly.

    The trainable parameter count depends only on the input width, each hidden
    layer's ``SIZE_FIELDS`` (its ``Cost``), and the output units; every other field
    (a Dense layer's activation, dropout, l2, the optimizer and training fields) multiplies the
    count of configurations without changing any model's size. A dynamic programme
    walks the layers in order (numpy arrays of states), holding for each distinct
    (width, parameters so far) state the number of ways to reach it. States that
    no completion can bring within the parameter range are dropped, and states
    that every completion keeps within it stop tracking their parameters (only
    their range), using the cheapest and dearest completion from each width,
    which every width makes dearer. ``funnel`` allows a layer no wider than the
    state's width. Counts past 2**62 are kept as Python integers: exact at any size.

    Raises:
        SpecError: The count would take more than ``MAX_COUNT_STEPS`` steps
            (located at ``search.constraints``).
    """
    constraints = spec.search.constraints if constraints is None else constraints
    return _Count(spec, constraints).run()


class _Block:
    """What of a block the count needs: layer counts, costs and the number of values of the other fields."""

    def __init__(self, block: BlockModel) -> None:
        self.counts = sorted(set(_domains.values(block.layers)))
        self.costs = block.costs()
        #: the cheapest and dearest layer (``_extreme``)
        self.extremes = (_extreme(self.costs, 0), _extreme(self.costs, 1))
        others = [f for f in block.FIELDS if f not in block.SIZE_FIELDS]
        self.free = _product([_domains.size(getattr(block, f)) for f in others])
        self.shared = block.shared
        #: the most ways through the block (continuous fields counted as one value)
        per_layer = sum(map(len, self.costs)) * (self.free or 1)
        self.most_ways = sum(per_layer ** (min(n, 1) if self.shared else n) for n in self.counts)


#: The cost of the rest of a model after a layer of width w, as ``{a: b}``: the best of ``a * w + b``.
_Rest = dict[int, int]


def _cost(rest: _Rest, width: int, end: int) -> int:
    values = (a * width + b for a, b in rest.items())
    return min(values) if end == 0 else max(values)


def _offer(rest: _Rest, slope: int, intercept: int, end: int) -> None:
    if slope in rest:
        intercept = min(rest[slope], intercept) if end == 0 else max(rest[slope], intercept)
    rest[slope] = intercept


def _rests(blocks: list[_Block], output: Cost, end: int) -> list[list[_Rest]]:
    """The cheapest (``end`` 0) or dearest (1) rest of a model from each position of the count:
    ``[b][i]`` is after ``i`` layers of block ``b`` (a shared block has only its start), ``[-1][0]``
    after the last block. Exact without ``funnel`` (every field at its smallest or largest value,
    the layer counts compared), a bound with it."""
    after: _Rest = dict([output])
    result: list[list[_Rest]] = [[after]]
    for block in reversed(blocks):
        units, extra = block.extremes[end]
        if block.shared:
            rest: _Rest = {}
            for count in block.counts:
                if count == 0:
                    for a, b in after.items():
                        _offer(rest, a, b, end)
                else:
                    same = (count - 1) * parameters((units, extra), units)
                    _offer(rest, units, extra + same + _cost(after, units, end), end)
            positions = [rest]
        else:
            most = block.counts[-1]
            positions = [{} for _ in range(most + 1)]
            for i in range(most, -1, -1):
                if i in block.counts:
                    for a, b in after.items():
                        _offer(positions[i], a, b, end)
                if i < most:
                    _offer(positions[i], units, extra + _cost(positions[i + 1], units, end), end)
        result.append(positions)
        after = positions[0]
    result.reverse()
    return result


#: A bucket of states of the count: (whether a hidden layer was built, whether a continuous field
#: takes part).
_Bucket = tuple[bool, bool]
#: A live state is kept as one integer, ``width << _SHIFT | parameters so far``: sorting them sorts
#: by width, then parameters. Live parameters stay below the range's bound, at most MAX_PARAMETERS
#: (100,000,000 < 2**27).
_SHIFT = 27


class _States:
    """The states of the count at one position, as arrays per bucket.

    ``live``: the states (``width << _SHIFT | parameters``, sorted, distinct) and the ways to reach
    each; ``settled``: per width (sorted, distinct) the states every completion of which is
    feasible, merged into their ways and fewest and most parameters so far.
    """

    def __init__(self) -> None:
        self.live: dict[_Bucket, tuple[Any, Any]] = {}
        self.settled: dict[_Bucket, tuple[Any, Any, Any, Any]] = {}
        self._live: dict[_Bucket, list[tuple[Any, Any]]] = {}
        self._settled: dict[_Bucket, list[tuple[Any, ...]]] = {}

    def add_live(self, bucket: _Bucket, states: Any, ways: Any) -> None:
        if len(states):
            self._live.setdefault(bucket, []).append((states, ways))

    def add_settled(self, bucket: _Bucket, widths: Any, ways: Any, lows: Any, highs: Any) -> None:
        if len(widths):
            self._settled.setdefault(bucket, []).append((widths, ways, lows, highs))

    def add(self, other: _States) -> None:
        for bucket, (states, ways) in other.live.items():
            self.add_live(bucket, states, ways)
        for bucket, settled in other.settled.items():
            self.add_settled(bucket, *settled)

    def done(self) -> _States:
        """Equal states merged: the same width and parameters, or the same width once settled."""
        for bucket, chunks in self._live.items():
            states, ways = (np.concatenate(column) for column in zip(*chunks, strict=True))
            order = np.argsort(states, kind="stable")
            states, ways = states[order], ways[order]
            starts = _starts(states[1:] != states[:-1])
            self.live[bucket] = (states[starts], np.add.reduceat(ways, starts))
        for bucket, chunks in self._settled.items():
            widths, ways, lows, highs = (np.concatenate(column) for column in zip(*chunks, strict=True))
            order = np.argsort(widths, kind="stable")
            widths, ways, lows, highs = widths[order], ways[order], lows[order], highs[order]
            starts = _starts(widths[1:] != widths[:-1])
            self.settled[bucket] = (
                widths[starts],
                np.add.reduceat(ways, starts),
                np.minimum.reduceat(lows, starts),
                np.maximum.reduceat(highs, starts),
            )
        self._live, self._settled = {}, {}
        return self


def _starts(changes: Any) -> Any:
    """The indices where runs of equal values start, from whether each value differs from the one before."""
    return np.concatenate(([0], np.flatnonzero(changes) + 1))


def _spans(starts: Any, ends: Any) -> tuple[Any, Any]:
    """The indices in the ranges [starts[j], ends[j]) (empty where ends[j] <= starts[j]), in order,
    and the j each comes from."""
    lengths = np.maximum(ends - starts, 0)
    owner = np.repeat(np.arange(len(starts)), lengths)
    offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return starts[owner] + offsets, owner


#: Widths of settled states times target widths compared at once (memory: 8 bytes each).
_CHUNK = 1 << 20


class _Count:
    """One count of the feasible configurations (see ``feasible_space``)."""

    def __init__(self, spec: Spec, constraints: Constraints) -> None:
        self.spec = spec
        self.low = constraints.min_parameters
        self.high = constraints.max_parameters
        #: the range as numbers: every count is at least 0 and below infinity
        #: both less the parameters every model has (``fixed_parameters``), added back at the end
        self.fixed = fixed_parameters(spec)
        self.floor: float = 0 if self.low is None else self.low - self.fixed
        self.ceiling: float = math.inf if self.high is None else self.high - self.fixed
        self.funnel = constraints.funnel
        self.blocks = [_Block(block) for block in spec.blocks]
        self.output = _output_cost(spec)
        self.cheapest = _rests(self.blocks, self.output, 0)
        self.dearest = _rests(self.blocks, self.output, 1)
        #: ways fit 64-bit integers when the whole hidden space does (continuous fields counted once)
        most_ways = math.prod(block.most_ways for block in self.blocks)
        self.dtype: Any = np.int64 if most_ways < 2**62 else object
        self.steps = 0  #: taken so far, against MAX_COUNT_STEPS

    def run(self) -> Feasible:
        width = math.prod(self.spec.input.example_shape)
        least, most = _cost(self.cheapest[0][0], width, 0), _cost(self.dearest[0][0], width, 1)
        states = _States()
        ways = np.ones(1, dtype=self.dtype)
        if not (least > self.ceiling or most < self.floor):
            if self.floor <= least and most <= self.ceiling:
                zero = np.zeros(1, dtype=np.int64)
                states.add_settled((False, False), np.array([width]), ways, zero, zero)
            else:
                states.add_live((False, False), np.array([width << _SHIFT]), ways)
        states.done()
        for b, block in enumerate(self.blocks):
            states = self._shared(b, block, states) if block.shared else self._block(b, block, states)
        return self._finish(states)

    def _block(self, b: int, block: _Block, states: _States) -> _States:
        """Through a block whose layers each have their own values, one layer at a time."""
        leaving = _States()
        if 0 in block.counts:
            leaving.add(states)
        for i in range(block.counts[-1]):
            states = self._step(states, block.costs, block.free, (b, i + 1))
            if i + 1 in block.counts:
                leaving.add(states)
        return leaving.done()

    def _shared(self, b: int, block: _Block, states: _States) -> _States:
        """Through a shared block: each layer count with one cost for all its layers."""
        leaving = _States()
        groups: list[list[tuple[int, int]]] = []
        for count in block.counts:
            if count == 0:
                leaving.add(states)
                continue
            for costs in block.costs:
                groups.append([(u, extra + (count - 1) * parameters((u, extra), u)) for u, extra in costs])
        leaving.add(self._step(states, groups, block.free, (b + 1, 0)))
        return leaving.done()

    def _step(
        self,
        states: _States,
        groups: list[list[tuple[int, int]]],
        free: int | None,
        where: tuple[int, int],
    ) -> _States:
        """Every state through one more layer (or shared run of layers) to the position ``where``.

        ``groups`` lists, per group of the block's ``costs`` and layer count, each width ``u``
        (ascending) with its cost besides ``u`` times the state's width; ``free`` is the number of values of the layer's other
        fields (None: continuous). A state goes on live, settled, or not at all (no completion feasible).
        """
        b, i = where
        i = 0 if b < len(self.blocks) and self.blocks[b].shared else i
        factor = 1 if free is None else free
        result = _States()
        for options in groups:
            rows = [
                (u, extra, _cost(self.cheapest[b][i], u, 0), _cost(self.dearest[b][i], u, 1))
                for u, extra in options
            ]
            units, extras, leasts, mosts = np.array(rows, dtype=np.int64).T
            for (started, continuous), settled in states.settled.items():
                bucket = (True, continuous or free is None)
                self._settled(result, bucket, settled, factor, self.funnel and started, (units, extras))
            for (started, continuous), (live, ways) in states.live.items():
                bucket = (True, continuous or free is None)
                widths = live >> _SHIFT
                starts = _starts(widths[1:] != widths[:-1]).tolist()
                for start, end in zip(starts, [*starts[1:], len(live)], strict=True):
                    width = int(widths[start])
                    allowed = _index(units, width, "right") if self.funnel and started else len(units)
                    params = live[start:end] - (width << _SHIFT)
                    columns = (units[:allowed], extras[:allowed], leasts[:allowed], mosts[:allowed])
                    self._live(result, bucket, params, ways[start:end] * factor, width, columns)
        return result.done()

    def _settled(
        self,
        result: _States,
        bucket: _Bucket,
        settled: tuple[Any, Any, Any, Any],
        factor: int,
        funnel: bool,
        options: tuple[Any, Any],
    ) -> None:
        """Settled states (one per width) through each of ``options``' widths ``u``: the ways of the
        widths that may precede ``u`` added, their fewest and most parameters after the layer found."""
        widths, ways, lows, highs = settled
        units, extras = options
        # with funnel, u follows the widths >= u: a suffix of the sorted widths
        firsts = np.searchsorted(widths, units, "left") if funnel else np.zeros(len(units), dtype=np.int64)
        totals = np.concatenate((np.cumsum(ways[::-1])[::-1], np.zeros(1, dtype=ways.dtype)))
        reached = firsts < len(widths)
        units, extras, firsts = units[reached], extras[reached], firsts[reached]
        least = np.empty(len(units), dtype=np.int64)
        most = np.empty(len(units), dtype=np.int64)
        step = max(1, _CHUNK // len(widths))
        for a in range(0, len(units), step):
            u = units[a : a + step]
            products = widths[:, None] * u[None, :]
            eligible = np.arange(len(widths))[:, None] >= firsts[None, a : a + step]
            least[a : a + step] = np.where(eligible, lows[:, None] + products, np.iinfo(np.int64).max).min(0)
            most[a : a + step] = np.where(eligible, highs[:, None] + products, -1).max(0)
            self._take(GROUP_STEPS + products.size // 16)
        result.add_settled(bucket, units, totals[firsts] * factor, least + extras, most + extras)

    def _live(
        self, result: _States, bucket: _Bucket, params: Any, ways: Any, width: int, options: tuple[Any, ...]
    ) -> None:
        """The live states of one width (``params`` sorted) through each of ``options``' widths."""
        units, extras, leasts, mosts = options
        costs = units * width + extras
        cheap, dear = leasts + costs, mosts + costs
        # some completion is feasible: params + cheap <= ceiling and params + dear >= floor;
        # every one is (settled): params + cheap >= floor and params + dear <= ceiling
        size = len(params)
        if self.ceiling == math.inf:
            ends = lasts = np.full(len(units), size)
        else:
            ends = np.searchsorted(params, self.ceiling - cheap, "right")
            lasts = np.minimum(ends, np.searchsorted(params, self.ceiling - dear, "right"))
        starts = np.searchsorted(params, self.floor - dear, "left")
        firsts = np.maximum(starts, np.searchsorted(params, self.floor - cheap, "left"))
        settled = firsts < lasts
        self._take(GROUP_STEPS + len(units))
        if settled.any():
            totals = np.concatenate((np.zeros(1, dtype=ways.dtype), np.cumsum(ways)))
            s_first, s_last, s_costs = firsts[settled], lasts[settled], costs[settled]
            result.add_settled(
                bucket,
                units[settled],
                totals[s_last] - totals[s_first],
                params[s_first] + s_costs,
                params[s_last - 1] + s_costs,
            )
        # live: [starts, ends) less the settled [firsts, lasts)
        for low, high in ((starts, np.where(settled, firsts, ends)), (np.where(settled, lasts, ends), ends)):
            index, owner = _spans(low, high)
            result.add_live(bucket, (units[owner] << _SHIFT) + params[index] + costs[owner], ways[index])
            self._take(len(index))

    def _take(self, steps: int) -> None:
        self.steps += steps
        if self.steps > MAX_COUNT_STEPS:
            raise SpecError(
                [
                    Problem(
                        "search.constraints",
                        "too_large",
                        "these constraints cannot be counted for this space: the count takes more than "
                        f"{MAX_COUNT_STEPS:,} steps; narrow the parameter range, or the space's layer counts "
                        "and units",
                    )
                ]
            )

    def _finish(self, states: _States) -> Feasible:
        ways, lows, highs, continuous = 0, [], [], False
        for (_, cont), (widths, counts, low, high) in states.settled.items():
            costs = parameters(self.output, widths)
            ways += int(counts.sum())
            lows.append(int((low + costs).min()))
            highs.append(int((high + costs).max()))
            continuous = continuous or cont
        for (_, cont), (live, counts) in states.live.items():
            widths = live >> _SHIFT
            totals = live - (widths << _SHIFT) + parameters(self.output, widths)
            inside = (totals >= self.floor) & (totals <= self.ceiling)
            if inside.any():
                ways += int(counts[inside].sum())
                lows.append(int(totals[inside].min()))
                highs.append(int(totals[inside].max()))
                continuous = continuous or cont
        if not lows:
            return Feasible(0, None)
        factor = _product([_domains.size(_field(self.spec, loc)) for _, loc in GLOBAL_FIELDS])
        total = None if continuous or factor is None else ways * factor
        return Feasible(total, (min(lows) + self.fixed, max(highs) + self.fixed))


def _index(values: Any, value: float, side: Literal["left", "right"]) -> int:
    """Where ``value`` would go in the sorted ``values``."""
    return int(np.searchsorted(values, value, side=side))
