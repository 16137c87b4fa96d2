"""Training runs: the search loop and retraining from scratch."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import keras
import keras_tuner
import numpy as np
from keras_tuner.src import config as kt_config

from densespace import _space
from densespace._errors import TuningError
from densespace._keras.callbacks import EpochCallback, EpochReport, fresh_copies
from densespace._keras.data import Batches
from densespace._keras.hypermodel import DenseHyperModel, for_evaluation
from densespace._keras.metrics import scores
from densespace._keras.tuners import trial_record
from densespace._results import TrialRecord
from densespace._tasks import TASKS

if TYPE_CHECKING:
    from densespace._keras.tensorboard import Board
    from densespace._spec import Spec


def search(
    tuner: keras_tuner.Tuner,
    train: Batches,
    validation: Batches,
    *,
    epochs: int,
    verbose: int,
    worker: bool,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> list[TrialRecord] | None:
    """Runs (or resumes) the search; returns every trial (None on a worker of a
    distributed search: the trials belong to the chief).

    ``callbacks`` (the user's) follow densespace's own in every trial; keras-tuner
    deep-copies them for every execution."""
    hypermodel: DenseHyperModel = tuner.hypermodel
    if hypermodel.spec.search.seed is not None:  # the models' initial weights, trial after trial
        keras.utils.set_random_seed(hypermodel.spec.search.seed)
    hypermodel.epochs = hypermodel.spec.search.longest_training(hypermodel.spec.training.epochs)
    debug, kt_config.DEBUG = kt_config.DEBUG, verbose > 1  # keras-tuner prints failed trials' tracebacks
    try:
        tuner.search(
            train,
            epochs=epochs,
            validation_data=validation,
            callbacks=[*_callbacks(hypermodel.spec), *callbacks],
            verbose=_fit_verbosity(verbose),
        )
    finally:
        kt_config.DEBUG = debug
    hypermodel.epochs = hypermodel.spec.training.epochs
    if worker:
        return None
    return sorted((trial_record(t) for t in tuner.oracle.trials.values()), key=_creation_order)


def _creation_order(trial: TrialRecord) -> tuple[int, int, str]:
    """Warm-start trials first, as fed; then keras-tuner's, whose ids count up (zero-padded): a
    resumed oracle lists them unordered."""
    if trial.warm_start:
        return (0, 0, trial.id)
    return (1, int(trial.id), "") if trial.id.isdigit() else (2, 0, trial.id)


def _fit_verbosity(verbose: int) -> int:
    """Keras' own epoch lines only at densespace's verbose level 2."""
    return 2 if verbose > 1 else 0


def _callbacks(spec: Spec) -> list[keras.callbacks.Callback]:
    callbacks: list[keras.callbacks.Callback] = [keras.callbacks.TerminateOnNaN()]
    stopping = spec.training.early_stopping
    if stopping is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=stopping.monitor,
                patience=stopping.patience,
                min_delta=stopping.min_delta,
                restore_best_weights=True,
            )
        )
    return callbacks


def retrain(
    hypermodel: DenseHyperModel,
    values: dict[str, Any],
    train: Batches,
    validation: Batches,
    test: tuple[np.ndarray, np.ndarray],
    *,
    epochs: int,
    seed: int,
    verbose: int,
    rank: int = 1,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    on_epoch: EpochReport | None = None,
    board: Board | None = None,
) -> tuple[keras.Model, dict[str, float], int]:
    """Rebuilds one configuration from scratch, trains it on the training split and
    evaluates it once on the test split.

    ``callbacks`` (the user's) are deep-copied for this model (``fresh_copies``);
    ``on_epoch`` hears every epoch; ``board`` logs the run ``retrain-<rank>``.

    Returns:
        The model (compiled with the task's plain loss, ready to evaluate on the data's
        labels), its test metrics (``loss`` and the task's metrics) and the epochs trained.
    """
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    hp = keras_tuner.HyperParameters()
    hp.values.update(values)
    model = hypermodel.build(hp)
    extra: list[keras.callbacks.Callback] = fresh_copies(callbacks, run=f"retrain-{rank}")
    if on_epoch is not None:
        extra.append(EpochCallback(on_epoch))
    if board is not None:
        extra.append(board.epochs(board.retrain_run(rank)))
    history = hypermodel.fit(
        hp,
        model,
        train,
        epochs=epochs,
        validation_data=validation,
        callbacks=[*_callbacks(hypermodel.spec), *extra],
        verbose=_fit_verbosity(verbose),
    )
    losses = history.history.get("loss", [])
    if not all(math.isfinite(v) for v in losses):
        raise TuningError(f"retraining diverged: the loss became {losses[-1]}")
    model = for_evaluation(model, hypermodel.spec, _space.resolve(hypermodel.spec, hp.values))
    metrics = model.evaluate(Batches(*test).pipeline(1024, shuffle=False), return_dict=True, verbose=0)
    tested = {name: float(value) for name, value in metrics.items()}
    spec = hypermodel.spec
    tested.update(scores(TASKS[spec.task].metrics, max(spec.output_units, 2), model, test))
    if board is not None:
        board.retrained(rank, tested, len(history.epoch))
    return model, tested, len(history.epoch)
