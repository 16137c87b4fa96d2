"""Budgets of a search besides its trial count: a time limit, a target score, median pruning.

``Limits`` decides when no new trial may start (``time_limit`` passed, ``stop_at``
reached); ``median_by_epoch`` and ``worse_than_median`` are the arithmetic of
``search.pruning``'s median rule. Standard library only: no Keras at import (the
Keras side is ``densespace._keras.tuners`` and ``densespace._keras.callbacks``).
"""

from __future__ import annotations

import math
import re
import statistics
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from densespace._errors import OptionError
from densespace._results import StopReason, better
from densespace._tasks import TASKS, direction

#: The clock of the time limit (seconds; replaced in tests).
clock: Callable[[], float] = time.monotonic
#: Earlier trials that must have reached an epoch before the median rule prunes at it.
MIN_TRIALS = 3
#: The longest ``time_limit`` accepted: a year, in seconds.
MAX_SECONDS = 366 * 86400

_UNITS = {"h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")


def parse_duration(text: str) -> float:
    """``--time-limit``'s text as seconds: ``90``, ``90s``, ``15m``, ``2h`` or ``1h30m``.

    Raises:
        OptionError: The text is not such a duration (names ``time_limit``).

    Examples:
        >>> parse_duration("1h30m"), parse_duration("90"), parse_duration("2.5m")
        (5400.0, 90.0, 150.0)
    """
    cleaned = text.strip().lower()
    try:
        return float(cleaned) if re.fullmatch(r"\d+(\.\d+)?", cleaned) else _units(cleaned)
    except ValueError:
        raise OptionError(
            f"{{time_limit}}: expected a duration such as 90, 90s, 15m, 2h or 1h30m (received {text[:80]!r})",
            "time_limit",
        ) from None


def _units(text: str) -> float:
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise ValueError(text)
    return sum(float(n) * s for n, s in zip(match.groups(), _UNITS.values(), strict=True) if n is not None)


def check_time_limit(seconds: Any) -> float | None:
    """``time_limit=`` checked: seconds in (0, ``MAX_SECONDS``], or None for no limit.

    Raises:
        OptionError: Not a number of seconds in that range.
    """
    if seconds is None:
        return None
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not math.isfinite(seconds)
        or not 0 < seconds <= MAX_SECONDS
    ):
        raise OptionError(
            f"{{time_limit}} must be seconds in (0, {MAX_SECONDS}] (received {seconds!r})", "time_limit"
        )
    return float(seconds)


@dataclass(frozen=True)
class Target:
    """A score that ends the search once a completed trial reaches it.

    Attributes:
        metric: an objective the spec's task records (``val_accuracy``, ``loss``, ...).
        value: the value to reach: at least it for a metric that improves upwards,
            at most it for one that improves downwards (losses, errors).
    """

    metric: str
    value: float

    def reached(self, value: float) -> bool:
        """Whether a trial's value of the metric reaches the target.

        Examples:
            >>> Target("val_accuracy", 0.9).reached(0.95), Target("val_loss", 0.5).reached(0.6)
            (True, False)
        """
        return value >= self.value if direction(self.metric) == "max" else value <= self.value


def parse_target(text: str) -> tuple[str, float]:
    """``--stop-at``'s ``METRIC=VALUE`` text as a pair (checked later, with the spec).

    Raises:
        OptionError: The text is not ``METRIC=VALUE`` with a number for ``VALUE``.
    """
    metric, equals, value = text.partition("=")
    try:
        if not equals or not metric.strip():
            raise ValueError(text)
        return metric.strip(), float(value)
    except ValueError:
        raise OptionError(
            f"{{stop_at}}: expected METRIC=VALUE, such as val_accuracy=0.9 (received {text[:80]!r})",
            "stop_at",
        ) from None


def check_target(stop_at: Any, task: str) -> Target | None:
    """``stop_at=`` checked against the spec's task: a ``Target``, or None for none.

    Raises:
        OptionError: Not a (metric, number) pair, or the task records no such metric.
    """
    if stop_at is None or isinstance(stop_at, Target):
        pair = None if stop_at is None else (stop_at.metric, stop_at.value)
    elif isinstance(stop_at, (tuple, list)) and len(stop_at) == 2:
        pair = (stop_at[0], stop_at[1])
    else:
        pair = ("", math.nan)
    if pair is None:
        return None
    metric, value = pair
    if (
        not isinstance(metric, str)
        or isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
    ):
        raise OptionError(
            "{stop_at} must be a (metric, value) pair such as ('val_accuracy', 0.9) "
            f"(received {repr(stop_at)[:80]})",
            "stop_at",
        )
    objectives = TASKS[task].objectives()
    if metric not in objectives:
        raise OptionError(
            f"{{stop_at}}: {task} records no metric {metric[:80]!r}; expected one of: "
            f"{', '.join(objectives)}",
            "stop_at",
        )
    return Target(metric, float(value))


@dataclass
class Limits:
    """When no new trial may start, and why the search stopped.

    Attributes:
        time_limit: seconds after ``start`` after which no trial starts; None: none.
        target: the score that ends the search; None: none.
        start: when the time limit started counting (``clock()``).
        stopped: why the search stopped, once it has.
    """

    time_limit: float | None = None
    target: Target | None = None
    start: float = field(default_factory=lambda: clock())
    stopped: StopReason | None = None
    _checked: set[str] = field(default_factory=set)

    def reason(self, ended: Iterable[tuple[str, Mapping[str, float]]]) -> StopReason | None:
        """Why no new trial may start (None: it may), given the ended trials as
        ``(trial id, metrics)`` of completed, unpruned trials."""
        if self.target is not None:
            for trial_id, metrics in ended:
                if trial_id in self._checked:
                    continue
                self._checked.add(trial_id)
                value = metrics.get(self.target.metric)
                if value is not None and self.target.reached(value):
                    return "target"
        if self.time_limit is not None and clock() - self.start >= self.time_limit:
            return "time_limit"
        return None


def median_by_epoch(
    histories: Iterable[Mapping[int, float]], *, min_trials: int = MIN_TRIALS
) -> dict[int, float]:
    """The median objective at each epoch (1-based) that at least ``min_trials`` histories reached.

    Examples:
        >>> median_by_epoch([{1: 1.0, 2: 0.5}, {1: 3.0}, {1: 2.0, 2: 0.7}])
        {1: 2.0}
    """
    values: dict[int, list[float]] = {}
    for history in histories:
        for epoch, value in history.items():
            if math.isfinite(value):
                values.setdefault(epoch, []).append(value)
    return {epoch: statistics.median(v) for epoch, v in sorted(values.items()) if len(v) >= min_trials}


def worse_than_median(
    value: float, epoch: int, medians: Mapping[int, float], *, objective: str, warmup_epochs: int
) -> bool:
    """Whether a trial whose objective is ``value`` after ``epoch`` (1-based) is pruned: past the
    warm-up, and strictly worse than the median of the earlier trials at that epoch.

    Examples:
        >>> worse_than_median(0.9, 2, {2: 0.5}, objective="val_loss", warmup_epochs=1)
        True
        >>> worse_than_median(0.9, 1, {1: 0.5}, objective="val_loss", warmup_epochs=1)
        False
    """
    median = medians.get(epoch)
    if epoch <= warmup_epochs or median is None or not math.isfinite(value):
        return False
    return better(median, value, objective)
