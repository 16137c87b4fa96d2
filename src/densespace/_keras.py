"""How a spec becomes Keras models: the only module that imports Keras, TensorFlow
or keras-tuner. Everything else in densespace stays free of them, so this module
is imported lazily.
"""

from __future__ import annotations

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
