"""densespace's oracles driven directly: trials proposed and ended with made-up scores, nothing trained."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import keras_tuner

import densespace
from densespace._keras.hypermodel import DenseHyperModel
from densespace._keras.oracle import SearchOracle, make_oracle


def oracle(spec: densespace.Spec, directory: Path, *, saved: bool = True, **options: Any) -> SearchOracle:
    """The oracle of ``spec.search`` in ``directory``, its space declared as a tuner would
    (``make_oracle``'s ``points`` and ``limits`` in ``options``), no model built; with
    ``saved=False`` it keeps its state and trials in memory only (thousands of trials in seconds)."""
    made = make_oracle(spec, **options)
    made._set_project_dir(str(directory), "search")
    made._display.verbose = 0
    if not saved:
        made.save = made._save_trial = lambda *args: None
    space = keras_tuner.HyperParameters()
    DenseHyperModel(spec).declare(space)
    made.update_space(space)
    return made


def clean(values: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's values without keras-tuner's bookkeeping ones (``tuner/epochs``, ...)."""
    return {k: v for k, v in values.items() if not k.startswith("tuner/")}


def loss(values: Mapping[str, Any]) -> float:
    """A made-up val_loss that depends on the values only: smaller for wider first layers."""
    return 1.0 / (1 + sum(v for k, v in values.items() if isinstance(v, int) and not k.startswith("tuner/")))


def drive(made: SearchOracle, score: Callable[[Mapping[str, Any]], float] = loss) -> list[dict[str, Any]]:
    """The values of every trial the oracle proposes until it stops, each ended as completed with
    ``score`` of its values as its val_loss."""
    proposed = []
    while True:
        trial = made.create_trial("tuner0")
        if trial.status != "RUNNING":
            break
        proposed.append(dict(trial.hyperparameters.values))
        made.update_trial(trial.trial_id, {"val_loss": score(trial.hyperparameters.values)})
        trial.status = "COMPLETED"
        made.end_trial(trial)
    return proposed


def heard_infeasible(made: SearchOracle) -> list[dict[str, Any]]:
    """The values the oracle's ``infeasible`` hook hears from now on (the hook still runs)."""
    heard: list[dict[str, Any]] = []
    told = made.infeasible
    made.infeasible = lambda values: heard.append(clean(values)) or told(values)
    return heard
