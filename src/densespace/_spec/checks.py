"""The rules of a spec that need its space worked out: checked after the models, by ``validate_spec``.

The models check the format (types, bounds, how the sections fit together); these
rules count and walk the space (``densespace._space``, ``densespace._points``), in order,
the first one broken refusing the spec:

* its largest model within ``MAX_PARAMETERS``;
* a tuner that can search it (a grid search, a continuous range);
* some configuration within ``search.constraints`` (counted once the input shape is known:
  a spec that leaves it to the data is counted when the data fits it in);
* each of ``search.initial_points`` a point of the space, none twice, no more than trials.
"""

from __future__ import annotations

from densespace import _points, _space
from densespace._errors import Problem, SpecError, quote
from densespace._search import MAX_PARAMETERS, Constraints
from densespace._spec.models import DEFAULT_SHAPE, Spec


def space_problem(spec: Spec) -> Problem | None:
    """The first rule of the space that ``spec`` breaks, None when it breaks none."""
    for check in (_size, _tuner_fits_space, _feasible, _initial_points):
        problem = check(spec)
        if problem is not None:
            return problem
    return None


def _size(spec: Spec) -> Problem | None:
    largest = _space.parameter_bounds(spec)[1]
    if largest <= MAX_PARAMETERS:
        return None
    return Problem(
        "top level",
        "too_large",
        f"the largest model of this space has {largest:,} trainable parameters; the limit is {MAX_PARAMETERS:,}",
    )


def _tuner_fits_space(spec: Spec) -> Problem | None:
    problem = spec.search.unsearchable(_space.hyperparameters(spec))
    return None if problem is None else Problem("search.tuner", "tuner_space", problem)


def _feasible(spec: Spec) -> Problem | None:
    if not spec.search.constraints.active or spec.input.shape is None:
        return None
    try:
        feasible = _space.feasible_space(spec)
    except SpecError as exc:
        [problem] = exc.problems
        return problem
    if feasible.parameters is None:
        return Problem("search.constraints", "constraints", _infeasible(spec))
    return None


def _initial_points(spec: Spec) -> Problem | None:
    points = spec.search.initial_points
    trials = getattr(spec.search, "max_trials", len(points))
    if len(points) > trials:
        return Problem(
            "search.initial_points",
            "initial_points",
            f"{len(points)} points, more than search.max_trials ({trials})",
        )
    seen: dict[str, int] = {}
    for i, values in enumerate(points):
        location = f"search.initial_points[{i}]"
        try:
            point = _points.check_point(spec, values, location=location)
        except SpecError as exc:
            problem = exc.problems[0]
            return Problem(quote(problem.location), problem.kind, problem.message)
        key = repr(sorted(point.items()))
        if key in seen:
            return Problem(location, "duplicate", f"the same point as search.initial_points[{seen[key]}]")
        seen[key] = i
    return None


_NO_FUNNEL = "no configuration of this space is a funnel (every hidden layer no wider than the one before it)"


def _infeasible(spec: Spec) -> str:
    """Why no configuration of ``spec`` satisfies its constraints."""
    constraints = spec.search.constraints
    if constraints.funnel:
        held = _space.feasible_space(spec, Constraints(funnel=True)).parameters
        if held is None:
            return _NO_FUNNEL
        what, holder = "funnel configuration", "the funnel configurations hold"
    else:
        held, what, holder = _space.parameter_bounds(spec), "configuration", "the space holds"
    low, high = constraints.min_parameters, constraints.max_parameters
    if low is not None and high is not None:
        wanted = f"between {low:,} and {high:,}"
    else:
        wanted = f"at least {low:,}" if low is not None else f"at most {high:,}"
    span = f"only {held[0]:,}" if held[0] == held[1] else f"{held[0]:,} to {held[1]:,}"
    return f"no {what} of this space has {wanted} trainable parameters ({holder} {span})"


def unshaped_infeasible(spec: Spec) -> SpecError:
    """The error of a spec that leaves ``input.shape`` to the data and whose ``search.constraints``
    allow no configuration on ``DEFAULT_SHAPE``, the shape counted without data (validation leaves
    such constraints to the data; ``inspect``, which counts on that shape, refuses the spec)."""
    return SpecError(
        [
            Problem(
                "search.constraints",
                "constraints",
                f"{_infeasible(spec)} on the input shape {list(DEFAULT_SHAPE)}, counted as the spec "
                "sets no input.shape; set input.shape to the data's",
            )
        ]
    )
