"""How a spec becomes Keras models: the only module that imports Keras, TensorFlow
or keras-tuner. Everything else in densespace stays free of them, so this module
is imported lazily.
"""

from __future__ import annotations

import gc
import math
import time
from typing import TYPE_CHECKING, Any

import keras
import keras_tuner
import numpy as np

from densespace import _domains, _space
from densespace._errors import DensespaceError

if TYPE_CHECKING:
    from densespace._spec import Spec

#: The allow-list: spec names map to these Keras classes and nothing else.
OPTIMIZERS: dict[str, type[keras.optimizers.Optimizer]] = {
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "nadam": keras.optimizers.Nadam,
    "adamax": keras.optimizers.Adamax,
    "rmsprop": keras.optimizers.RMSprop,
    "sgd": keras.optimizers.SGD,
    "adagrad": keras.optimizers.Adagrad,
}


class DenseHyperModel(keras_tuner.HyperModel):
    """The keras-tuner HyperModel of a spec.

    ``build`` declares the whole space up front, in the order and with the
    names of ``densespace.hyperparameters(spec)``; per-layer hyperparameters
    that exist only for some layer counts are declared in a conditional scope
    on the count, so inactive ones are never recorded or used.
    """

    def __init__(self, spec: Spec, *, train_images: np.ndarray | None = None) -> None:
        super().__init__(name=spec.name)
        self.spec = spec
        self.hyperparameters = _space.hyperparameters(spec)
        self._stats = None
        if spec.input.preprocessing == "standardize":
            if train_images is None:
                raise DensespaceError(
                    "input.preprocessing is 'standardize': pass train_images= so the "
                    "Normalization layer can be adapted on the training split"
                )
            self._stats = channel_statistics(train_images)

    def declare(self, hp: keras_tuner.HyperParameters) -> dict[str, Any]:
        """Declares every hyperparameter in ``hp``; returns the values of the active ones."""
        values: dict[str, Any] = {}
        for h in self.hyperparameters:
            if h.condition is None:
                value = _declare(hp, h)
            else:
                with hp.conditional_scope(h.condition.parent, list(h.condition.values)):
                    value = _declare(hp, h)
            if value is not None:
                values[h.name] = value
        return values

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        """Builds and compiles the model that ``hp`` selects."""
        return build_model(self.spec, _space.resolve(self.spec, self.declare(hp)), stats=self._stats)

    def fit(self, hp: keras_tuner.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
        """Trains with the spec's batch size (the trial's value when it is tuned)."""
        batch_size = self.spec.training.batch_size
        if _domains.is_tunable(batch_size):
            kwargs["batch_size"] = hp.get("batch_size")
        else:
            kwargs.setdefault("batch_size", batch_size)
        return model.fit(*args, **kwargs)


def build_hypermodel(spec: Spec, *, train_images: np.ndarray | None = None) -> DenseHyperModel:
    """Compiles a spec into a keras-tuner ``HyperModel``.

    Args:
        spec: The search space.
        train_images: The training images; needed (only) when
            ``input.preprocessing`` is ``"standardize"``, to compute the
            per-channel mean and variance.

    Example:
        >>> import densespace, keras_tuner  # doctest: +SKIP
        >>> spec = densespace.load_spec("examples/seed-depth-width.json")  # doctest: +SKIP
        >>> hypermodel = densespace.build_hypermodel(spec)  # doctest: +SKIP
        >>> tuner = keras_tuner.BayesianOptimization(  # doctest: +SKIP
        ...     hypermodel, objective="val_loss", max_trials=25)
    """
    return DenseHyperModel(spec, train_images=train_images)


def _declare(hp: keras_tuner.HyperParameters, h: _space.Hyperparameter) -> Any:
    d = h.domain
    if isinstance(d, _domains.IntRange):
        return hp.Int(h.name, d.min, d.max, step=d.step, sampling=d.sampling)
    if isinstance(d, _domains.FloatRange):
        return hp.Float(h.name, d.min, d.max, step=d.step, sampling=d.sampling)
    if isinstance(d.values[0], bool):
        return hp.Boolean(h.name, default=d.values[0])
    return hp.Choice(h.name, list(d.values))


def channel_statistics(images: np.ndarray, *, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance over the last axis of ``images``, without a float copy of the array."""
    flat = images.reshape(-1, images.shape[-1])
    total = np.zeros(flat.shape[1])
    squares = np.zeros(flat.shape[1])
    for start in range(0, len(flat), chunk):
        part = flat[start:start + chunk].astype(np.float64)
        total += part.sum(axis=0)
        squares += np.square(part).sum(axis=0)
    mean = total / len(flat)
    return mean, np.maximum(squares / len(flat) - mean**2, 0.0)


def build_model(
    spec: Spec, plan: _space.Plan, *, stats: tuple[np.ndarray, np.ndarray] | None = None
) -> keras.Model:
    """Builds and compiles the Keras model of one concrete plan."""
    layers = keras.layers
    inputs = keras.Input(shape=tuple(spec.input.shape), name="image")
    x = inputs
    if spec.input.preprocessing == "rescale":
        x = layers.Rescaling(1 / 255, name="rescale")(x)
    elif spec.input.preprocessing == "standardize":
        assert stats is not None
        x = layers.Normalization(axis=-1, mean=stats[0], variance=stats[1], name="standardize")(x)
    x = layers.Flatten(name="flatten")(x)
    for i, layer in enumerate(plan.layers):
        regularizer = keras.regularizers.L2(layer.l2) if layer.l2 else None
        if layer.batch_norm:
            x = layers.Dense(layer.units, use_bias=False, kernel_regularizer=regularizer,
                             name=f"dense_{i}")(x)
            x = layers.BatchNormalization(name=f"batch_norm_{i}")(x)
            x = layers.Activation(layer.activation, name=f"activation_{i}")(x)
        else:
            x = layers.Dense(layer.units, activation=layer.activation,
                             kernel_regularizer=regularizer, name=f"dense_{i}")(x)
        if layer.dropout:
            x = layers.Dropout(layer.dropout, name=f"dropout_{i}")(x)
    outputs = layers.Dense(spec.output.units, activation=spec.output.activation, name="output")(x)
    model = keras.Model(inputs, outputs, name=spec.name)
    model.compile(
        optimizer=OPTIMIZERS[plan.optimizer](learning_rate=plan.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def trainable_parameters(model: keras.Model) -> int:
    """The number of trainable parameters of a model."""
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def download_cifar10() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Returns ``keras.datasets.cifar10.load_data()`` (downloads once, then cached)."""
    return keras.datasets.cifar10.load_data()


# ------------------------------------------------------------------------- tuning


class _Tuner:
    """What densespace adds to keras-tuner's tuners.

    Each trial starts from a cleared Keras session (so memory stays flat across
    trials), a loss that turns NaN or infinite fails the trial instead of
    scoring it, and every trial reports its wall seconds and epochs trained as
    extra metrics, so they are kept with the trial (also across machines).
    """

    def __init__(self, *args: Any, on_trial_end: Any = None, **kwargs: Any) -> None:
        self._on_trial_end = on_trial_end
        super().__init__(*args, **kwargs)

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
        keras.backend.clear_session()
        gc.collect()
        start = time.monotonic()
        histories = super().run_trial(trial, *args, **kwargs)  # type: ignore[misc]
        histories = histories if isinstance(histories, list) else [histories]
        for history in histories:
            for epoch, loss in enumerate(history.history.get("loss", [])):
                if not math.isfinite(loss):
                    raise keras_tuner.errors.FailedTrialError(f"loss became {loss} in epoch {epoch + 1}")
        metrics = _best_epoch_metrics(histories, self.oracle.objective)  # type: ignore[attr-defined]
        metrics["seconds"] = time.monotonic() - start
        metrics["epochs"] = float(sum(len(h.epoch) for h in histories))
        return metrics

    def on_trial_end(self, trial: Any) -> None:
        super().on_trial_end(trial)  # type: ignore[misc]
        if self._on_trial_end is not None:
            self._on_trial_end(trial_record(trial))


def _best_epoch_metrics(histories: list[keras.callbacks.History], objective: Any) -> dict[str, float]:
    """The metrics of each execution's best epoch, averaged over executions."""
    pick = min if objective.direction == "min" else max
    best = []
    for history in histories:
        scores = history.history[objective.name]
        epoch = pick(range(len(scores)), key=scores.__getitem__)
        best.append({name: values[epoch] for name, values in history.history.items()})
    return {name: float(np.mean([b[name] for b in best])) for name in best[0]}


class RandomSearchTuner(_Tuner, keras_tuner.RandomSearch):
    """keras-tuner's RandomSearch with densespace's trial handling."""


class BayesianTuner(_Tuner, keras_tuner.BayesianOptimization):
    """keras-tuner's BayesianOptimization with densespace's trial handling."""


class HyperbandTuner(_Tuner, keras_tuner.Hyperband):
    """keras-tuner's Hyperband with densespace's trial handling."""


_TUNERS = {"random": RandomSearchTuner, "bayesian": BayesianTuner, "hyperband": HyperbandTuner}

#: keras-tuner's trial statuses, as densespace reports them.
STATUSES = {"COMPLETED": "completed", "FAILED": "failed", "INVALID": "failed",
            "RUNNING": "running", "IDLE": "running", "STOPPED": "stopped"}


def make_tuner(
    spec: Spec, hypermodel: DenseHyperModel, *, directory: str, overwrite: bool,
    on_trial_end: Any = None,
) -> keras_tuner.Tuner:
    """The keras-tuner tuner that ``spec.search`` describes, storing its state in ``directory``."""
    search = spec.search
    options = search.model_dump(exclude={"tuner", "objective"})
    return _TUNERS[search.tuner](
        hypermodel,
        objective=search.objective,
        directory=directory,
        project_name="search",
        overwrite=overwrite,
        on_trial_end=on_trial_end,
        max_consecutive_failed_trials=1 << 30,  # a failed trial never stops the search
        **options,
    )


def trial_record(trial: Any) -> dict[str, Any]:
    """A keras-tuner trial as a plain dict: id, values, status, score, seconds, epochs."""
    metrics = trial.metrics
    message = (trial.message or "").strip().splitlines()

    def metric(name: str) -> float | None:
        return metrics.get_last_value(name) if metrics.exists(name) else None

    return {
        "id": trial.trial_id,
        "values": dict(trial.hyperparameters.values),
        "status": STATUSES.get(trial.status, trial.status.lower()),
        "score": trial.score if trial.status == "COMPLETED" else None,
        "seconds": metric("seconds"),
        "epochs": None if metric("epochs") is None else int(metric("epochs")),
        "message": message[-1] if message else None,
    }


def search(
    tuner: keras_tuner.Tuner, spec: Spec, data: Any, *, epochs: int, verbose: int
) -> list[dict[str, Any]]:
    """Runs (or resumes) the search; returns every trial as ``trial_record`` dicts."""
    (x, y), validation = data.train, data.validation
    tuner.search(x, y, epochs=epochs, validation_data=validation,
                 callbacks=_callbacks(spec), verbose=_fit_verbosity(verbose))
    return [trial_record(t) for t in tuner.oracle.trials.values()]


def _fit_verbosity(verbose: int) -> int:
    """Keras' own epoch lines only at densespace's verbose level 2."""
    return 2 if verbose > 1 else 0


def _callbacks(spec: Spec) -> list[keras.callbacks.Callback]:
    callbacks: list[keras.callbacks.Callback] = [keras.callbacks.TerminateOnNaN()]
    stopping = spec.training.early_stopping
    if stopping is not None:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=stopping.monitor, patience=stopping.patience, min_delta=stopping.min_delta,
            restore_best_weights=True,
        ))
    return callbacks


def retrain(
    hypermodel: DenseHyperModel, values: dict[str, Any], data: Any, *, epochs: int, seed: int,
    verbose: int,
) -> tuple[keras.Model, dict[str, float], int]:
    """Rebuilds one configuration from scratch, trains it on the training split and
    evaluates it once on the test split.

    Returns:
        The model, its test metrics (``loss``, ``accuracy``) and the epochs trained.
    """
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    hp = keras_tuner.HyperParameters()
    hp.values.update(values)
    model = hypermodel.build(hp)
    (x, y), validation = data.train, data.validation
    history = hypermodel.fit(hp, model, x, y, epochs=epochs, validation_data=validation,
                             callbacks=_callbacks(hypermodel.spec), verbose=_fit_verbosity(verbose))
    losses = history.history.get("loss", [])
    if not all(math.isfinite(v) for v in losses):
        raise DensespaceError(f"retraining diverged: the loss became {losses[-1]}")
    metrics = model.evaluate(*data.test, batch_size=1024, return_dict=True, verbose=0)
    return model, {name: float(value) for name, value in metrics.items()}, len(history.epoch)


def save_model(model: keras.Model, path: str) -> None:
    """Saves a model in the ``.keras`` format."""
    model.save(path)


def load_model(path: str) -> keras.Model:
    """Loads a ``.keras`` model with Keras' safe mode on (no code is deserialized)."""
    return keras.saving.load_model(path, safe_mode=True)


def versions() -> dict[str, str]:
    """Versions of the libraries a run depends on."""
    import tensorflow as tf

    return {"keras": keras.__version__, "tensorflow": tf.__version__,
            "keras_tuner": keras_tuner.__version__, "numpy": np.__version__}
