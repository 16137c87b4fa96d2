"""Packed trials: several trials' models trained together as one Keras model.

A pack holds K branch models, each exactly the model its trial builds alone
(``DenseHyperModel.build``: its own layers, loss, metrics and compiled optimizer), all
fed the same batches. One train step runs every live branch, takes the gradient of
the sum of their losses (the branches share no weights, so each branch's gradient is
that of its own loss) and lets each branch's own optimizer apply its part, with its
own learning rate, schedule and state. Each branch hears its own callbacks at the
end of every epoch, with its own logs (``loss``, ``val_loss``, ...): early stopping,
pruning, checkpoints, histories and TensorBoard work as for the trial alone, batch
hooks aside. A branch whose callbacks stop it, or whose loss is not finite, stops
updating (the pack's step is traced again without it); the pack ends when all have.

Only the batches are shared, so the trials of one pack must share what shapes
them: the batch size, the labels' form (one-hot with label smoothing, class ids
without) and the epochs (``pack_key``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Any

import keras
import keras_tuner
import tensorflow as tf

from densespace import _space

if TYPE_CHECKING:
    from densespace._keras.hypermodel import DenseHyperModel
    from densespace._spec import Spec

#: Between a metric's name and its branch's number in the pack's logs: ``val_loss#3``.
SEP = "#"
#: The most bytes a pack's estimated weights, optimizer state and activations may take.
MEMORY_BUDGET = 2 * 2**30
#: Bytes per float, and float copies kept per trainable weight in training: the weight,
#: its gradient and two optimizer slots (Adam's moments; the most of ``OPTIMIZERS``).
_FLOAT, _WEIGHT_COPIES = 4, 4
#: Float copies kept per hidden unit and example in a step: the layer's output, its
#: activation, its dropout mask, and their gradients.
_ACTIVATION_COPIES = 6


class PackedModel(keras.Model):
    """One model holding K branch models fed the same inputs; see the module's description.

    ``live[k]`` is whether branch ``k`` still trains; ``stop(k)`` ends it.
    """

    def __init__(self, branches: Sequence[keras.Model]) -> None:
        super().__init__(name="pack")
        self.branches = list(branches)
        self.live = [True] * len(self.branches)
        self._traced = len(self.branches)

    def call(self, x: Any, training: bool = False) -> list[Any]:
        return [branch(x, training=training) for branch in self.branches]

    @property
    def metrics(self) -> list[Any]:
        """Every branch's metrics (Keras leaves out those of models inside a model), so
        that ``fit`` resets them at each epoch and before validation."""
        return [metric for branch in self.branches for metric in branch.metrics]

    def _maybe_symbolic_build(self, iterator: Any = None, data_batch: Any = None) -> None:
        """Builds each branch's compiled metrics and loss before the steps are traced (Keras'
        TensorFlow trainer leaves that to the first trace, which then creates variables and is
        traced twice): from the data's element spec, without drawing a batch, so that the
        batches come in the order they come to a trial alone."""
        if data_batch is None and iterator is not None:
            data_batch = iterator.data_adapter.get_tf_dataset().element_spec
        if data_batch is not None:
            for branch in self.branches:
                branch._symbolic_build(data_batch=data_batch)
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def train_step(self, data: Any) -> dict[str, Any]:
        x, y, weights = keras.utils.unpack_x_y_sample_weight(data)
        live = [k for k, on in enumerate(self.live) if on]
        with tf.GradientTape() as tape:
            predictions = {k: self.branches[k](x, training=True) for k in live}
            losses = {k: self._loss(k, x, y, predictions[k], weights, training=True) for k in live}
            total = tf.add_n(list(losses.values()))
        variables = [self.branches[k].trainable_variables for k in live]
        gradients = tape.gradient(total, [v for group in variables for v in group])
        start = 0
        for k, group in zip(live, variables, strict=True):
            part = gradients[start : start + len(group)]
            self.branches[k].optimizer.apply_gradients(zip(part, group, strict=True))
            start += len(group)
        return self._logs(live, x, y, predictions, weights)

    def test_step(self, data: Any) -> dict[str, Any]:
        x, y, weights = keras.utils.unpack_x_y_sample_weight(data)
        live = [k for k, on in enumerate(self.live) if on]
        predictions = {k: self.branches[k](x, training=False) for k in live}
        for k in live:
            self._loss(k, x, y, predictions[k], weights, training=False)
        return self._logs(live, x, y, predictions, weights)

    def _loss(self, k: int, x: Any, y: Any, prediction: Any, weights: Any, *, training: bool) -> Any:
        """Branch ``k``'s loss, regularization included, counted in its loss tracker as its
        own ``fit`` counts it."""
        branch = self.branches[k]
        loss = branch._compute_loss(x=x, y=y, y_pred=prediction, sample_weight=weights, training=training)
        branch._loss_tracker.update_state(loss, sample_weight=tf.shape(x)[0])
        return loss

    def _logs(
        self, live: list[int], x: Any, y: Any, predictions: dict[int, Any], weights: Any
    ) -> dict[str, Any]:
        logs = {}
        for k in live:
            for name, value in self.branches[k].compute_metrics(x, y, predictions[k], weights).items():
                logs[f"{name}{SEP}{k}"] = value
        return logs

    def stop(self, k: int) -> None:
        """Ends branch ``k``'s training; the pack's when no branch is left.

        The steps are traced again without the stopped branches once they are at most half
        of those traced, so a pack is traced at most about twice its first tracing's cost
        whatever the order branches stop in. Until then a stopped branch's weights go on
        changing in memory, unused: its history, callbacks and checkpoint ended with it.
        """
        self.live[k] = False
        if not any(self.live):
            self.stop_training = True
        elif 2 * sum(self.live) <= self._traced:
            self.make_train_function(force=True)
            self.make_test_function(force=True)

    def make_train_function(self, force: bool = False) -> Any:
        if self.train_function is None or force:
            self._traced = sum(self.live)
        return super().make_train_function(force)


def branch_logs(logs: dict[str, Any], count: int) -> list[dict[str, float]]:
    """The pack's logs of one epoch split by branch: ``loss#3`` becomes branch 3's ``loss``.

    Examples:
        >>> branch_logs({"loss#0": 1.0, "val_loss#0": 2.0, "loss#1": 3.0}, 2)
        [{'loss': 1.0, 'val_loss': 2.0}, {'loss': 3.0}]
    """
    split: list[dict[str, float]] = [{} for _ in range(count)]
    for key, value in logs.items():
        name, _, k = key.rpartition(SEP)
        if name and k.isdigit():
            split[int(k)][name] = float(value)
    return split


class _Driver(keras.callbacks.Callback):
    """The pack's one callback: hands each live branch its epoch hooks and logs, through the
    branch's own callbacks, and stops the branches that end."""

    def __init__(self, pack: PackedModel, callbacks: Sequence[Sequence[keras.callbacks.Callback]]) -> None:
        super().__init__()
        self.pack = pack
        self.histories = [keras.callbacks.History() for _ in pack.branches]
        self.lists = [
            keras.callbacks.CallbackList([*own, history], model=branch)
            for branch, own, history in zip(pack.branches, callbacks, self.histories, strict=True)
        ]

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        for branch, hooks in zip(self.pack.branches, self.lists, strict=True):
            branch.stop_training = False
            hooks.set_params(dict(self.params))
            hooks.on_train_begin()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        for k in self._live():
            self.lists[k].on_epoch_begin(epoch)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        split = branch_logs(logs or {}, len(self.lists))
        ended = []
        for k in self._live():
            self.lists[k].on_epoch_end(epoch, split[k])
            if self.pack.branches[k].stop_training or not math.isfinite(split[k].get("loss", math.nan)):
                ended.append(k)
        for k in ended:
            self.lists[k].on_train_end()
            self.pack.stop(k)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        for k in self._live():
            self.lists[k].on_train_end()

    def _live(self) -> list[int]:
        return [k for k, on in enumerate(self.pack.live) if on]


def train_pack(
    hypermodel: DenseHyperModel,
    hps: Sequence[keras_tuner.HyperParameters],
    models: Sequence[keras.Model],
    callbacks: Sequence[Sequence[keras.callbacks.Callback]],
    x: Any,
    **fit_options: Any,
) -> list[keras.callbacks.History]:
    """Trains ``models`` (built from ``hps``, trials of one ``pack_key``) as one pack.

    Args:
        hypermodel: The hypermodel that built them; its ``fit`` serves the batches.
        hps: Each model's hyperparameters.
        models: The branch models, each compiled as its trial builds it.
        callbacks: Each branch's callbacks, as its trial's ``fit`` would get them.
        x: The training data (``Batches`` or arrays) as ``DenseHyperModel.fit`` takes it.
        **fit_options: ``DenseHyperModel.fit``'s other options (``epochs``, ``validation_data``,
            ``y``, ...); ``verbose`` aside.

    Returns:
        Each branch's history, as its own ``fit`` returns it (``history.model`` is the branch).
    """
    pack = PackedModel(models)
    # XLA's compile time outweighs what it saves on small models (measured on CPU in the issue).
    pack.compile(optimizer="sgd", jit_compile=False)  # never applied: each branch has its own
    driver = _Driver(pack, callbacks)
    fit_options.pop("verbose", None)
    hypermodel.fit(hps[0], pack, x, callbacks=[driver], verbose=0, **fit_options)
    return driver.histories


def pack_key(spec: Spec, values: dict[str, Any]) -> Hashable:
    """What the trials of one pack share: the batch size and whether labels are one-hot
    (label smoothing). Augmentation layers are each branch's own and need not be shared."""
    plan = _space.resolve(spec, values)
    return (plan.batch_size, bool(plan.label_smoothing))


def memory_estimate(spec: Spec, values: dict[str, Any]) -> int:
    """Bytes one branch takes in a pack, estimated: its trainable weights times
    ``_WEIGHT_COPIES`` plus, per example of a batch, its input and hidden units times
    ``_ACTIVATION_COPIES``, in float32.

    Examples:
        >>> import densespace
        >>> spec = densespace.load_spec("examples/seed-depth-width.json")
        >>> memory_estimate(spec, {"layers": 1, "units_0": 64})  # (197,322 x 4 + 64 x 3,136 x 6) x 4
        7974048
    """
    plan = _space.resolve(spec, values)
    units = math.prod(spec.input.example_shape) + sum(layer.width for layer in plan.layers)
    weights = _space.plan_parameters(spec, plan) * _WEIGHT_COPIES
    return _FLOAT * (weights + plan.batch_size * units * _ACTIVATION_COPIES)


def packs(
    items: Sequence[Any], key: Callable[[Any], Hashable], size: Callable[[Any], int], *, most: int
) -> list[list[Any]]:
    """``items`` split into packs of equal ``key``, in order of first appearance, each of at
    most ``most`` items whose ``size`` adds up to at most ``MEMORY_BUDGET`` (an item over it
    alone is a pack of one).

    Examples:
        >>> packs([1, 2, 3, 4, 5], key=lambda i: i % 2, size=lambda i: 1, most=2)
        [[1, 3], [5], [2, 4]]
    """
    groups: dict[Hashable, list[list[Any]]] = {}
    for item in items:
        runs = groups.setdefault(key(item), [[]])
        last = runs[-1]
        if last and (len(last) >= most or sum(map(size, last)) + size(item) > MEMORY_BUDGET):
            runs.append(last := [])
        last.append(item)
    return [run for runs in groups.values() for run in runs]
