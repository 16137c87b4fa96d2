"""A spec as a keras-tuner ``HyperModel``, and the Keras model of one configuration."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import keras
import keras_tuner
import numpy as np

from densespace import _domains, _space
from densespace._errors import DensespaceError
from densespace._hyperparameters import Hyperparameter
from densespace._keras import augment, optimizers
from densespace._keras.data import Batches
from densespace._keras.memory import released_graphs
from densespace._keras.metrics import confusion_scores
from densespace._keras.tables import table_inputs
from densespace._tasks import TASKS, Task
from densespace._weights import class_weights
from densespace.datasets._table import TableEncoding

if TYPE_CHECKING:
    from densespace._spec import Spec

FINGERPRINT = "densespace/fingerprint"


class DenseHyperModel(keras_tuner.HyperModel):
    """The keras-tuner HyperModel of a spec.

    ``build`` declares the whole space up front, in the order and with the
    names of ``densespace.hyperparameters(spec)``; per-layer hyperparameters
    that exist only for some layer counts are declared in a conditional scope
    on the count, so inactive ones are never recorded or used.

    Attributes:
        epochs: The epochs a model is trained for, which a cosine schedule
            decays over (``training.epochs`` unless set otherwise).
        encoding: A table's columns as the model encodes them (fitted on the training
            split), or None for arrays and images.
        fingerprint: When set (distributed tuning), declared as the fixed
            hyperparameter ``densespace/fingerprint`` so that workers can check
            they search the chief's spec on the chief's data.
    """

    def __init__(
        self,
        spec: Spec,
        *,
        train_images: np.ndarray | None = None,
        train_targets: np.ndarray | None = None,
        class_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__(name=spec.name)
        self.spec = spec
        self.hyperparameters = _space.hyperparameters(spec)
        self.epochs = spec.training.epochs
        self.fingerprint: str | None = None
        self._train_size = (
            None
            if train_images is None
            else len(train_targets if train_targets is not None else train_images)
        )
        self._stats = None
        self._targets = None
        self.encoding: TableEncoding | None = None
        table = isinstance(train_images, dict)
        self._preprocessing = spec.input.resolved(
            "table" if table else None if train_images is None else str(train_images.dtype)
        )
        if spec.task == "regression":
            self._targets = target_statistics(
                _needed(train_targets, "task is 'regression'", "the targets are standardized")
            )
        if spec.input.columns is not None:
            images = _needed(train_images, "the inputs are a table's columns", "their encoding is fitted")
            self.encoding = TableEncoding.fit(spec.input.columns, images)  # type: ignore[arg-type]
        elif self._preprocessing == "standardize":
            self._stats = channel_statistics(
                _needed(
                    train_images,
                    "input.preprocessing is 'standardize'",
                    "the Normalization layer can be adapted",
                )
            )
        reason = optimizers.steps_reason(spec)
        if reason is not None:
            _needed(train_images, reason, "the steps per epoch are known")
        #: The weight of each class id in every training (``training.class_weight``), or None.
        self.class_weight: dict[int, float] | None = None
        if spec.training.class_weight is not None:
            self.class_weight = class_weights(
                spec.training.class_weight,
                _needed(train_targets, "training.class_weight is set", "the targets' classes are counted"),
                classes=max(spec.output_units, 2),
                class_names=class_names,
            )

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
        if optimizers.needs_steps(plan):
            steps = self.epochs * math.ceil(self._train_size / plan.batch_size)  # type: ignore[operator]
        return build_model(
            self.spec,
            plan,
            stats=self._stats,
            targets=self._targets,
            decay_steps=steps,
            encoding=self.encoding,
            preprocessing=self._preprocessing,
        )

    def fit(
        self, hp: keras_tuner.HyperParameters, model: keras.Model, x: Any, y: Any = None, **kwargs: Any
    ) -> Any:
        """Trains with the trial's batch size and label smoothing, and the spec's class weights.

        ``x`` (and ``validation_data``) may be ``Batches``, turned into pipelines
        with the trial's batch size; arrays are used as given. A constant batch
        size in the spec is only a default for arrays. Training runs inside
        ``released_graphs``, so a finished model can be freed, whichever tuner
        (densespace's or keras-tuner's own) calls this.
        """
        plan = _space.resolve(self.spec, self.declare(hp))
        classes = self.spec.output_units if plan.label_smoothing or augment.mixes(plan) else None
        if augment.mixes(plan) and not isinstance(x, Batches):
            x, y = Batches(x, y), None  # mixing happens in a pipeline
        if isinstance(x, Batches):
            x = augment.mixed(x.pipeline(plan.batch_size, shuffle=True, classes=classes), plan)
            kwargs.pop("batch_size", None)
            kwargs["shuffle"] = False  # the pipeline shuffles
        else:
            y = _one_hot(y, classes)
            if _domains.is_tunable(self.spec.training.batch_size):
                kwargs["batch_size"] = plan.batch_size
            else:
                kwargs.setdefault("batch_size", plan.batch_size)
        if self.class_weight is not None:
            kwargs["class_weight"] = self.class_weight
        validation = kwargs.get("validation_data")
        if isinstance(validation, Batches):
            kwargs["validation_data"] = validation.pipeline(1024, shuffle=False, classes=classes)
        elif validation is not None:
            kwargs["validation_data"] = (validation[0], _one_hot(validation[1], classes))
        with released_graphs():
            return model.fit(x, y, **kwargs)


def _needed(array: np.ndarray | None, because: str, so: str) -> np.ndarray:
    if array is None:
        name = "train_targets" if "targets" in so else "train_images"
        raise DensespaceError(f"{because}: pass {name}= so {so} on the training split")
    return array


def _one_hot(labels: Any, classes: int | None) -> Any:
    return (
        labels if classes is None else np.eye(classes, dtype=np.float32)[np.asarray(labels).astype(np.int64)]
    )


def build_hypermodel(
    spec: Spec,
    *,
    train_images: np.ndarray | None = None,
    train_targets: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
) -> DenseHyperModel:
    """Compiles a spec into a keras-tuner ``HyperModel``.

    Args:
        spec: The search space.
        train_images: The training images; needed (only) when
            ``input.preprocessing`` is ``"standardize"`` (for the per-channel
            mean and variance) or ``optimizer.schedule`` can be ``"cosine"`` or ``optimizer.warmup`` above 0
            (for the number of steps per epoch).
        train_targets: The training targets; needed (only) when ``task`` is
            ``"regression"`` (for their mean and standard deviation) or
            ``training.class_weight`` is set (for the classes' counts).
        class_names: The data's class names, which ``training.class_weight`` may
            name classes by (else by class id).

    Examples:
        >>> import densespace, keras_tuner
        >>> spec = densespace.load_spec("examples/seed-depth-width.json")
        >>> hypermodel = densespace.build_hypermodel(spec)
        >>> hypermodel.build(keras_tuner.HyperParameters()).count_params()  # the smallest: 2 x 64 units
        201482

        A tuner takes it like any ``HyperModel`` (not run here: creating one
        writes its project folder, ``./untitled_project``):

        >>> tuner = keras_tuner.BayesianOptimization(  # doctest: +SKIP
        ...     hypermodel, objective="val_loss", max_trials=25)
    """
    return DenseHyperModel(
        spec, train_images=train_images, train_targets=train_targets, class_names=class_names
    )


def _declare(hp: keras_tuner.HyperParameters, h: Hyperparameter) -> Any:
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
    targets: tuple[np.ndarray, np.ndarray] | None = None,
    decay_steps: int | None = None,
    encoding: TableEncoding | None = None,
    preprocessing: Literal["rescale", "standardize", "none"] | None = None,
) -> keras.Model:
    """Builds and compiles the Keras model of one concrete plan.

    Layers: Input -> preprocessing (``preprocessing``, default the spec's resolved
    without data) -> augmentation (training only) -> Flatten ->
    each hidden layer's own (its kind's ``build``: for a Dense layer, Dense, no bias
    with batch norm -> BatchNormalization -> Activation -> Dropout) -> the output
    Dense with the task's activation -> for
    regression, a Rescaling that turns standardized predictions into the targets'
    units (``targets``: their mean and standard deviation on the training split).
    A table (``encoding``) has one Input per column instead, encoded by ``table_inputs``.
    """
    layers = keras.layers
    task = TASKS[spec.task]
    preprocessing = preprocessing or spec.input.resolved(None)
    inputs: Any
    if encoding is not None:
        inputs, x = table_inputs(encoding, preprocessing)
    else:
        inputs = keras.Input(shape=spec.input.example_shape, name="image")
        x = inputs
    if encoding is None and preprocessing == "rescale":
        x = layers.Rescaling(1 / 255, name="rescale")(x)
    elif encoding is None and preprocessing == "standardize":
        assert stats is not None
        x = layers.Normalization(axis=-1, mean=stats[0], variance=stats[1], name="standardize")(x)
    if plan.flip:
        x = layers.RandomFlip("horizontal", name="flip")(x)
    if plan.translate:
        x = layers.RandomTranslation(plan.translate, plan.translate, fill_mode="reflect", name="translate")(x)
    x = augment.crop(x, plan)
    x = layers.Flatten(name="flatten")(x)
    for i, layer in enumerate(plan.layers):
        x = layer.build(x, i)
    outputs = layers.Dense(spec.output_units, activation=task.activation, name="output")(x)
    loss: Any = plan.loss or task.loss
    if targets is not None:
        mean, scale = targets
        outputs = layers.Rescaling(scale=scale.tolist(), offset=mean.tolist(), name="targets")(outputs)
        loss = _StandardizedLoss(loss, scale)
    elif plan.label_smoothing or augment.mixes(plan):
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=plan.label_smoothing)
    model = keras.Model(inputs, outputs, name=spec.name)
    # Built now, the optimizer's variables (step count, moments) are restored with the
    # weights when Hyperband continues a trial, so a cosine schedule carries on.
    made = optimizers.optimizer(plan, steps=decay_steps, variables=model.trainable_variables)
    model.compile(optimizer=made, loss=loss, metrics=metrics(task, spec.output_units))
    return model


def for_evaluation(model: keras.Model, spec: Spec, plan: _space.Plan) -> keras.Model:
    """The model compiled with the task's plain loss in the data's units (no label smoothing,
    no standardized targets) and Keras' own metrics, ready to evaluate and save with Keras' own
    objects only (``densespace._keras.metrics.scores`` gives the others)."""
    task = TASKS[spec.task]
    model.compile(
        optimizer=model.optimizer,
        loss=plan.loss or task.loss,
        metrics=metrics(task, spec.output_units, portable=True),
    )
    return model


def metrics(task: Task, classes: int, *, portable: bool = False) -> list[Any]:
    """The task's metrics as Keras objects, named as ``Task.metrics`` names them; ``portable``: Keras'
    own only (those a saved model's compile configuration may hold), without ``ConfusionScore``'s."""
    made = {
        "accuracy": lambda: "accuracy",
        "binary_accuracy": lambda: keras.metrics.BinaryAccuracy(name="binary_accuracy"),
        "auc": lambda: keras.metrics.AUC(name="auc", multi_label=task.name == "multilabel"),
        "mae": lambda: keras.metrics.MeanAbsoluteError(name="mae"),
        "rmse": lambda: keras.metrics.RootMeanSquaredError(name="rmse"),
    }
    own = [made[name]() for name in task.metrics if name in made]
    return own if portable else [*own, *confusion_scores(task.metrics, max(classes, 2))]


class _StandardizedLoss(keras.losses.Loss):
    """A regression loss computed on standardized targets: both sides divided by the
    training targets' standard deviation (the mean cancels), whatever the targets' units."""

    def __init__(self, name: str, scale: np.ndarray) -> None:
        super().__init__(name=f"standardized_{name}")
        self._loss = keras.losses.get(name)
        self._scale = np.asarray(scale, dtype=np.float32)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_true = keras.ops.reshape(keras.ops.cast(y_true, "float32"), keras.ops.shape(y_pred))
        return self._loss(y_true / self._scale, y_pred / self._scale)


def target_statistics(targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each regression target (1 where a target is constant)."""
    values = np.asarray(targets, dtype=np.float64).reshape(len(targets), -1)
    scale = values.std(axis=0)
    return values.mean(axis=0), np.where(scale > 0, scale, 1.0)
