"""Warm starts: what a search evaluates first, and what it knows before its first trial.

* ``first_points``: ``search.initial_points``, then the models of the ``enqueue`` files
  (frozen specs, or a results folder's retrained best), each as a point of this space;
* ``earlier_trials``: a previous run's scored trials (``warm_start``), refused when that
  run searched another space or other data.

Checked before the run folder is touched; no Keras (``_keras.tuners`` hands the points and
trials to keras-tuner's oracle).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from densespace import _points, _space
from densespace._errors import OptionError, RunFolderError, SpecError, quote, show
from densespace._results import DataRecord, Results, TrialRecord, load_results
from densespace._spec import Spec, load_spec, validate_spec
from densespace._tasks import direction

#: Parts of ``search`` that may differ between a run and the one it warm-starts from: how the
#: search proceeds, not what a trial's score means.
SEARCH_ONLY = frozenset(
    {
        "tuner",
        "max_trials",
        "seed",
        "num_initial_points",
        "constraints",
        "pruning",
        "initial_points",
        "max_epochs",
        "factor",
        "hyperband_iterations",
    }
)
#: Most differences a refused warm start names.
MAX_DIFFERENCES = 3
#: Most trials a warm start feeds (the best ones): a Gaussian process fits them all, in cubic time.
MAX_WARM_TRIALS = 1_000


def first_points(spec: Spec, enqueue: Sequence[Path]) -> list[dict[str, Any]]:
    """The points the search evaluates before any of its own: ``search.initial_points`` (checked
    with the spec), then each ``enqueue`` file's models in order, a point met before left out.

    Raises:
        OptionError: A file cannot be read, is neither a frozen spec nor a results folder, or holds
            a model that is not in this space or not within ``search.constraints``; or there are
            more points than ``search.max_trials``.
    """
    points = [_points.check_point(spec, values, location="") for values in spec.search.initial_points]
    for path in enqueue:
        for where, model in _models(path):
            try:
                point = _points.point_of(spec, model)
            except ValueError as exc:
                raise OptionError(
                    f"{{enqueue}}: {where}: its model is not in this space: {exc}", "enqueue"
                ) from None
            why = _space.outside_constraints(spec, point)
            if why is not None:
                raise OptionError(f"{{enqueue}}: {where} is {why}", "enqueue")
            if point not in points:
                points.append(point)
    trials = getattr(spec.search, "max_trials", len(points))
    if len(points) > trials:
        raise OptionError(
            f"{{enqueue}}: {len(points)} points to evaluate first, more than search.max_trials ({trials})",
            "enqueue",
        )
    return points


def _models(path: Path) -> Iterator[tuple[str, _space.Plan]]:
    """The models a file stands for, each with where it comes from: a frozen spec file's one, or a
    results folder's retrained best (rank 1 first)."""
    if path.is_dir():
        results = _results(path, "enqueue")
        if not results.best:
            raise OptionError(f"{{enqueue}}: {path} retrained no model: it has no best entries", "enqueue")
        searched = _searched(results, path, "enqueue")
        for i, best in enumerate(results.best):
            where = f"{path} (best #{best.rank})"
            try:
                point = _points.check_point(searched, best.values, location=f"best[{i}].values")
            except SpecError as exc:
                raise OptionError(
                    f"{{enqueue}}: {path}/results.json: {quote(exc.lines()[0])}", "enqueue"
                ) from None
            yield where, _space.resolve(searched, point)
        return
    try:
        model = load_spec(path)
    except SpecError as exc:
        raise OptionError(f"{{enqueue}}: {quote(exc.lines()[0])}", "enqueue") from None
    hyperparameters = _space.hyperparameters(model)
    if hyperparameters:
        names = ", ".join(h.name for h in hyperparameters)
        raise OptionError(
            f"{{enqueue}}: {path} is not a frozen spec: it still tunes {quote(names)} (write constants, "
            "or name a results folder)",
            "enqueue",
        )
    yield str(path), _space.resolve(model, {})


def _searched(results: Results, path: Path, option: str) -> Spec:
    """The spec a results folder's search ran, as this densespace reads it (older files lack
    fields added since, which take their defaults)."""
    try:
        return validate_spec(results.spec)
    except SpecError as exc:
        raise OptionError(
            f"{{{option}}}: {path}/results.json: spec.{quote(exc.lines()[0])}", option
        ) from None


def _results(path: Path, option: str) -> Results:
    try:
        return load_results(path)
    except RunFolderError as exc:
        raise OptionError(f"{{{option}}}: {exc}", option) from None


def earlier_trials(spec: Spec, data: DataRecord, warm_start: Path) -> list[TrialRecord]:
    """The scored trials (completed or pruned) of the run in ``warm_start`` whose models satisfy
    this spec's ``search.constraints``, to feed to this search's oracle: the best ``MAX_WARM_TRIALS``
    of them, in their order.

    Raises:
        OptionError: ``warm_start`` is not a results folder, searched another space (the spec
            outside ``search``, and the objective) or other data, is a Hyperband search (its
            trials trained for different numbers of epochs), or lists a trial whose values are
            not a point of the space or a history longer than ``training.epochs``; the message says which.
    """
    results = _results(warm_start, "warm_start")
    if results.tuner == "hyperband":
        raise OptionError(
            f"{{warm_start}}: {warm_start} is a Hyperband search: its trials trained for different "
            "numbers of epochs, so their scores do not compare with this search's",
            "warm_start",
        )
    theirs = _comparable(_searched(results, warm_start, "warm_start").model_dump(mode="json"))
    differences = list(_differences(theirs, _comparable(spec.model_dump(mode="json")), ""))
    if differences:
        shown = "; ".join(
            f"{where} ({show(a)} there, {show(b)} here)" for where, a, b in differences[:MAX_DIFFERENCES]
        )
        more = len(differences) - MAX_DIFFERENCES
        raise OptionError(
            f"{{warm_start}}: {warm_start} searched another space, so its scores do not carry over: {shown}"
            + (f"; and {more} more" if more > 0 else ""),
            "warm_start",
        )
    if results.data.digest != data.digest:
        there, here = results.data, data
        raise OptionError(
            f"{{warm_start}}: {warm_start} searched other data, so its scores do not carry over: "
            f"digest {there.digest} there ({quote(there.source)}, {there.train}/{there.validation} "
            f"train/validation examples), {here.digest} here ({quote(here.source)}, "
            f"{here.train}/{here.validation})",
            "warm_start",
        )
    scored = [
        t
        for i, t in enumerate(results.trials)
        if t.status in ("completed", "pruned") and t.score is not None and _fits(spec, t, i, warm_start)
    ]
    if len(scored) <= MAX_WARM_TRIALS:
        return scored
    best = {id(t) for t in sorted(scored, key=lambda t: _sign(spec) * t.score)[:MAX_WARM_TRIALS]}  # type: ignore[operator]
    return [t for t in scored if id(t) in best]


def _sign(spec: Spec) -> int:
    """1 where lower scores are better, -1 where higher ones are."""
    return 1 if direction(spec.search.objective) == "min" else -1


def _fits(spec: Spec, trial: TrialRecord, index: int, warm_start: Path) -> bool:
    """Whether a trial's values are a point within this spec's constraints (False: left out).

    Raises:
        OptionError: They are not a point of the space at all (a damaged or edited file).
    """
    for name, series in (trial.history or {}).items():
        if len(series) > spec.training.epochs:
            raise OptionError(
                f"{{warm_start}}: {warm_start}/results.json: trials[{index}].history.{quote(name, 60)}: "
                f"{len(series):,} epochs, more than training.epochs ({spec.training.epochs}); the file is damaged",
                "warm_start",
            )
    try:
        _points.check_point(spec, trial.values, location=f"trials[{index}].values")
    except SpecError as exc:
        if all(p.kind == "point_infeasible" for p in exc.problems):
            return False
        raise OptionError(
            f"{{warm_start}}: {warm_start}/results.json: {quote(exc.lines()[0])}", "warm_start"
        ) from None
    return True


def fed_already(out: Path) -> bool:
    """Whether the search in ``out`` holds warm-start trials: it was warm-started, and resumes
    without reading the earlier run again (which may have changed, or gone, since)."""
    from densespace._keras.oracle import WARM_ID
    from densespace._keras.tuners import PROJECT

    return any((out / PROJECT).glob(f"trial_{WARM_ID}*"))


def _comparable(spec: dict[str, Any]) -> dict[str, Any]:
    """The parts of a spec (as JSON) that give a trial's score its meaning."""
    search = {k: v for k, v in spec["search"].items() if k not in SEARCH_ONLY}
    ignored = ("name", "description", "$schema")
    return {k: v for k, v in spec.items() if k not in ignored} | {"search": search}


def _differences(a: Any, b: Any, where: str) -> Iterator[tuple[str, Any, Any]]:
    """Where two JSON values differ: each differing leaf's location and both values."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(a.keys() | b.keys()):
            yield from _differences(a.get(key), b.get(key), f"{where}.{key}" if where else key)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _differences(x, y, f"{where}[{i}]")
    elif a != b or type(a) is not type(b):
        yield where or "top level", a, b
