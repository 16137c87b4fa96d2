"""Every trial as a pandas DataFrame (pandas is the optional ``dataframe`` extra, imported on use)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas

#: The columns every frame starts with, in order.
COLUMNS = ("id", "status", "score", "seconds", "epochs")
#: Columns appended after the hyperparameters when the trial records carry them.
EXTRA_COLUMNS = ("parameters", "best_epoch")
MISSING_PANDAS = "trials_dataframe needs pandas: pip install 'densespace[dataframe]'"


class Trial(Protocol):
    """A trial record as a frame reads it (``densespace.TrialRecord``): its values, and
    ``COLUMNS`` and ``EXTRA_COLUMNS`` as attributes."""

    @property
    def values(self) -> Mapping[str, Any]:
        """The trial's hyperparameter values."""
        ...


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise ModuleNotFoundError(MISSING_PANDAS, name="pandas") from None
    return pandas


def trials_dataframe(trials: Sequence[Trial]) -> pandas.DataFrame:
    """One row per trial, in order: ``id, status, score, seconds, epochs``, then one column
    per hyperparameter (NaN where inactive), then ``parameters`` and ``best_epoch`` when the
    records have those fields.

    Args:
        trials: The trial records (``Results.trials`` or ``TuneResult.trials``).

    Returns:
        A ``pandas.DataFrame``; missing scores, seconds and epochs are NaN.

    Raises:
        ModuleNotFoundError: pandas is not installed.

    Examples:
        >>> from densespace._results import TrialRecord
        >>> trial = TrialRecord(id="0", values={"units": 8}, status="completed", score=1.5,
        ...                     seconds=2.0, epochs=2, message=None)
        >>> trials_dataframe([trial]).columns.tolist()[:6]
        ['id', 'status', 'score', 'seconds', 'epochs', 'units']
    """
    pandas = _pandas()
    names: list[str] = []
    for trial in trials:
        names += [n for n in trial.values if n not in names and n not in COLUMNS]
    extras = list(EXTRA_COLUMNS)
    rows = [
        {
            **{name: _cell(getattr(trial, name)) for name in COLUMNS},
            **{name: trial.values.get(name, math.nan) for name in names},
            **{name: _cell(getattr(trial, name)) for name in extras},
        }
        for trial in trials
    ]
    return pandas.DataFrame(rows, columns=[*COLUMNS, *names, *extras])


def _cell(value: Any) -> Any:
    return math.nan if value is None else value
