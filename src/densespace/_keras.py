"""How a spec becomes Keras models: the only module that imports Keras, TensorFlow
or keras-tuner. Everything else in densespace stays free of them, so this module
is imported lazily.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import keras
import keras_tuner
import numpy as np
from tensorflow.python.framework import ops as tf_ops

from densespace import _domains, _space
from densespace._errors import DensespaceError, TuningError

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


FINGERPRINT = "densespace/fingerprint"


class Batches:
    """A split kept once in memory as uint8 tensors, served as batched ``tf.data`` pipelines.

    One ``Batches`` serves every trial: each trial only asks for a pipeline
    with its own batch size, shuffled (training) or not (validation).
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, *, seed: int | None = None) -> None:
        import tensorflow as tf

        self.x = tf.constant(x)
        self.y = tf.constant(np.asarray(y, dtype=np.int32))
        self.size = len(y)
        self.seed = seed

    def pipeline(self, batch_size: int, *, shuffle: bool, classes: int | None = None) -> Any:
        """Batches of ``(images, labels)``; labels one-hot over ``classes`` when given."""
        import tensorflow as tf

        indices = tf.data.Dataset.range(self.size)
        if shuffle:
            indices = indices.shuffle(self.size, seed=self.seed, reshuffle_each_iteration=True)

        def gather(index: Any) -> tuple[Any, Any]:
            labels = tf.gather(self.y, index)
            return tf.gather(self.x, index), labels if classes is None else tf.one_hot(labels, classes)

        batches = indices.batch(batch_size).map(gather, num_parallel_calls=tf.data.AUTOTUNE)
        return batches.prefetch(tf.data.AUTOTUNE)


class DenseHyperModel(keras_tuner.HyperModel):
    """The keras-tuner HyperModel of a spec.

    ``build`` declares the whole space up front, in the order and with the
    names of ``densespace.hyperparameters(spec)``; per-layer hyperparameters
    that exist only for some layer counts are declared in a conditional scope
    on the count, so inactive ones are never recorded or used.

    Attributes:
        epochs: The epochs a model is trained for, which a cosine schedule
            decays over (``training.epochs`` unless set otherwise).
        fingerprint: When set (distributed tuning), declared as the fixed
            hyperparameter ``densespace/fingerprint`` so that workers can check
            they search the chief's spec on the chief's data.
    """

    def __init__(self, spec: Spec, *, train_images: np.ndarray | None = None) -> None:
        super().__init__(name=spec.name)
        self.spec = spec
        self.hyperparameters = _space.hyperparameters(spec)
        self.epochs = spec.training.epochs
        self.fingerprint: str | None = None
        self._train_size = None if train_images is None else len(train_images)
        self._stats = None
        if spec.input.preprocessing == "standardize":
            self._stats = channel_statistics(
                _needed(
                    train_images,
                    "input.preprocessing is 'standardize'",
                    "the Normalization layer can be adapted",
                )
            )
        if "cosine" in _domains.values(spec.optimizer.schedule):
            _needed(train_images, "optimizer.schedule can be 'cosine'", "the steps per epoch are known")

    def declare(self, hp: keras_tuner.HyperParameters) -> dict[str, Any]:
        """Declares every hyperparameter in ``hp``; returns the values of the active ones."""
        values: dict[str, Any] = {}
        if self.fingerprint is not None:
            hp.Fixed(FINGERPRINT, self.fingerprint)
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
        plan = _space.resolve(self.spec, self.declare(hp))
        steps = None
        if plan.schedule == "cosine":
            steps = self.epochs * math.ceil(self._train_size / plan.batch_size)  # type: ignore[operator]
        return build_model(self.spec, plan, stats=self._stats, decay_steps=steps)

    def fit(
        self, hp: keras_tuner.HyperParameters, model: keras.Model, x: Any, y: Any = None, **kwargs: Any
    ) -> Any:
        """Trains with the trial's batch size and label smoothing.

        ``x`` (and ``validation_data``) may be ``Batches``, turned into pipelines
        with the trial's batch size; arrays are used as given. A constant batch
        size in the spec is only a default for arrays. Training runs inside
        ``released_graphs``, so a finished model can be freed, whichever tuner
        (densespace's or keras-tuner's own) calls this.
        """
        plan = _space.resolve(self.spec, self.declare(hp))
        classes = self.spec.output.units if plan.label_smoothing else None
        if isinstance(x, Batches):
            x = x.pipeline(plan.batch_size, shuffle=True, classes=classes)
            kwargs.pop("batch_size", None)
            kwargs["shuffle"] = False  # the pipeline shuffles
        else:
            y = _one_hot(y, classes)
            if _domains.is_tunable(self.spec.training.batch_size):
                kwargs["batch_size"] = plan.batch_size
            else:
                kwargs.setdefault("batch_size", plan.batch_size)
        validation = kwargs.get("validation_data")
        if isinstance(validation, Batches):
            kwargs["validation_data"] = validation.pipeline(1024, shuffle=False, classes=classes)
        elif validation is not None:
            kwargs["validation_data"] = (validation[0], _one_hot(validation[1], classes))
        with released_graphs():
            return model.fit(x, y, **kwargs)


def _needed(train_images: np.ndarray | None, because: str, so: str) -> np.ndarray:
    if train_images is None:
        raise DensespaceError(f"{because}: pass train_images= so {so} on the training split")
    return train_images


def _one_hot(labels: Any, classes: int | None) -> Any:
    return labels if classes is None else np.eye(classes, dtype=np.float32)[np.asarray(labels)]


def build_hypermodel(spec: Spec, *, train_images: np.ndarray | None = None) -> DenseHyperModel:
    """Compiles a spec into a keras-tuner ``HyperModel``.

    Args:
        spec: The search space.
        train_images: The training images; needed (only) when
            ``input.preprocessing`` is ``"standardize"`` (for the per-channel
            mean and variance) or ``optimizer.schedule`` can be ``"cosine"``
            (for the number of steps per epoch).

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
        part = flat[start : start + chunk].astype(np.float64)
        total += part.sum(axis=0)
        squares += np.square(part).sum(axis=0)
    mean = total / len(flat)
    return mean, np.maximum(squares / len(flat) - mean**2, 0.0)


def build_model(
    spec: Spec,
    plan: _space.Plan,
    *,
    stats: tuple[np.ndarray, np.ndarray] | None = None,
    decay_steps: int | None = None,
) -> keras.Model:
    """Builds and compiles the Keras model of one concrete plan.

    Layers: Input -> preprocessing -> augmentation (training only) -> Flatten ->
    per hidden layer Dense (no bias with batch norm) -> BatchNormalization ->
    Activation -> Dropout -> the output Dense.
    """
    layers = keras.layers
    inputs = keras.Input(shape=tuple(spec.input.shape), name="image")
    x = inputs
    if spec.input.preprocessing == "rescale":
        x = layers.Rescaling(1 / 255, name="rescale")(x)
    elif spec.input.preprocessing == "standardize":
        assert stats is not None
        x = layers.Normalization(axis=-1, mean=stats[0], variance=stats[1], name="standardize")(x)
    if plan.flip:
        x = layers.RandomFlip("horizontal", name="flip")(x)
    if plan.translate:
        x = layers.RandomTranslation(plan.translate, plan.translate, fill_mode="reflect", name="translate")(x)
    x = layers.Flatten(name="flatten")(x)
    for i, layer in enumerate(plan.layers):
        regularizer = keras.regularizers.L2(layer.l2) if layer.l2 else None
        if layer.batch_norm:
            x = layers.Dense(layer.units, use_bias=False, kernel_regularizer=regularizer, name=f"dense_{i}")(
                x
            )
            x = layers.BatchNormalization(name=f"batch_norm_{i}")(x)
            x = layers.Activation(layer.activation, name=f"activation_{i}")(x)
        else:
            x = layers.Dense(
                layer.units, activation=layer.activation, kernel_regularizer=regularizer, name=f"dense_{i}"
            )(x)
        if layer.dropout:
            x = layers.Dropout(layer.dropout, name=f"dropout_{i}")(x)
    outputs = layers.Dense(spec.output.units, activation=spec.output.activation, name="output")(x)
    model = keras.Model(inputs, outputs, name=spec.name)
    learning_rate: Any = plan.learning_rate
    if plan.schedule == "cosine":
        assert decay_steps is not None
        learning_rate = keras.optimizers.schedules.CosineDecay(plan.learning_rate, decay_steps)
    loss: Any = "sparse_categorical_crossentropy"
    if plan.label_smoothing:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=plan.label_smoothing)
    model.compile(
        optimizer=OPTIMIZERS[plan.optimizer](learning_rate=learning_rate), loss=loss, metrics=["accuracy"]
    )
    # Built now, the optimizer's variables (step count, moments) are restored with the
    # weights when Hyperband continues a trial, so a cosine schedule carries on.
    model.optimizer.build(model.trainable_variables)
    return model


def for_evaluation(model: keras.Model) -> keras.Model:
    """The model compiled with plain sparse cross-entropy (no label smoothing) for integer labels."""
    model.compile(optimizer=model.optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def download_cifar10() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Returns ``keras.datasets.cifar10.load_data()`` (downloads once, then cached)."""
    return keras.datasets.cifar10.load_data()


# ------------------------------------------------------------------------- tuning


class _Tuner:
    """What densespace adds to keras-tuner's tuners.

    A loss that turns NaN or infinite fails the trial instead of scoring it,
    and every trial reports its wall seconds and epochs trained as extra
    metrics, so they are kept with the trial (also across machines).
    keras-tuner itself clears the Keras session and collects garbage before
    building each trial's model; that frees the previous one because
    ``DenseHyperModel.fit`` trains inside ``released_graphs``.
    """

    def __init__(self, *args: Any, on_trial_end: Any = None, **kwargs: Any) -> None:
        self._on_trial_end = on_trial_end
        self._reported: dict[str, float] = {}
        super().__init__(*args, **kwargs)

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
        self._reported = {}
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
        self._reported = metrics
        return metrics

    def on_trial_end(self, trial: Any) -> None:
        super().on_trial_end(trial)  # type: ignore[misc]
        if self._on_trial_end is not None:
            record = trial_record(trial)
            if record["status"] == "completed" and record["score"] is None:
                # A worker's copy of the trial: the chief scores it, so use what was reported.
                record.update(
                    score=self._reported[self.oracle.objective.name],
                    seconds=self._reported["seconds"],
                    epochs=int(self._reported["epochs"]),
                )
            self._on_trial_end(record)


@contextlib.contextmanager
def released_graphs() -> Iterator[None]:
    """Unregisters the gradient functions TensorFlow registers while the block trains.

    Every train step Keras traces goes through the default distribution
    strategy's ``all_reduce``, whose ``tf.custom_gradient`` registers a
    ``CustomGradient-N`` function in TensorFlow's process-wide gradient registry
    and never removes it. That function holds the traced graph, and the graph
    holds the model's and the optimizer's variables, so without this every
    trial leaks its model and optimizer state (4 bytes x parameters x 3 with
    Adam; ``clear_session`` does not help: tensorflow/tensorflow#61791). The
    functions registered inside the block are dropped when it ends; gradients
    are taken while a step is traced, so the block's graphs no longer need them.
    A TensorFlow without this private registry gets no clean-up (a test says so).
    """
    registry = getattr(getattr(tf_ops, "_gradient_registry", None), "_registry", {})
    before = set(registry)
    try:
        yield
    finally:
        for name in set(registry) - before:
            if name.startswith("CustomGradient-"):
                del registry[name]


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
STATUSES = {
    "COMPLETED": "completed",
    "FAILED": "failed",
    "INVALID": "failed",
    "RUNNING": "running",
    "IDLE": "running",
    "STOPPED": "stopped",
}


def make_tuner(
    spec: Spec,
    hypermodel: DenseHyperModel,
    *,
    directory: str,
    overwrite: bool,
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
    tuner: keras_tuner.Tuner,
    train: Batches,
    validation: Batches,
    *,
    epochs: int,
    verbose: int,
    worker: bool,
) -> list[dict[str, Any]] | None:
    """Runs (or resumes) the search; returns every trial as ``trial_record`` dicts
    (None on a worker of a distributed search: the trials belong to the chief)."""
    hypermodel: DenseHyperModel = tuner.hypermodel
    if hypermodel.spec.search.seed is not None:  # the models' initial weights, trial after trial
        keras.utils.set_random_seed(hypermodel.spec.search.seed)
    if hypermodel.spec.search.tuner == "hyperband":
        hypermodel.epochs = hypermodel.spec.search.max_epochs
    tuner.search(
        train,
        epochs=epochs,
        validation_data=validation,
        callbacks=_callbacks(hypermodel.spec),
        verbose=_fit_verbosity(verbose),
    )
    hypermodel.epochs = hypermodel.spec.training.epochs
    return None if worker else [trial_record(t) for t in tuner.oracle.trials.values()]


def ended_trials(tuner: keras_tuner.Tuner) -> list[dict[str, Any]]:
    """The trials of the tuner's project that have ended, as ``trial_record`` dicts:
    on a resumed search, those an earlier run finished."""
    records = [trial_record(t) for t in tuner.oracle.trials.values()]
    return [r for r in records if r["status"] in ("completed", "failed")]


def chief_fingerprint(tuner: keras_tuner.Tuner) -> str | None:
    """The fingerprint the chief of a distributed search declares (asked over gRPC)."""
    return tuner.oracle.get_space().values.get(FINGERPRINT)


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
) -> tuple[keras.Model, dict[str, float], int]:
    """Rebuilds one configuration from scratch, trains it on the training split and
    evaluates it once on the test split.

    Returns:
        The model (compiled with plain sparse cross-entropy, ready to evaluate on
        integer labels), its test metrics (``loss``, ``accuracy``) and the epochs trained.
    """
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    hp = keras_tuner.HyperParameters()
    hp.values.update(values)
    model = hypermodel.build(hp)
    history = hypermodel.fit(
        hp,
        model,
        train,
        epochs=epochs,
        validation_data=validation,
        callbacks=_callbacks(hypermodel.spec),
        verbose=_fit_verbosity(verbose),
    )
    losses = history.history.get("loss", [])
    if not all(math.isfinite(v) for v in losses):
        raise TuningError(f"retraining diverged: the loss became {losses[-1]}")
    model = for_evaluation(model)
    metrics = model.evaluate(*test, batch_size=1024, return_dict=True, verbose=0)
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

    return {
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "keras_tuner": keras_tuner.__version__,
        "numpy": np.__version__,
    }
