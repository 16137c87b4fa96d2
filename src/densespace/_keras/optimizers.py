"""The optimizer of one plan: the Keras class, its learning-rate schedule with warmup, and
decoupled weight decay kept off biases and normalization parameters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import keras

from densespace import _domains

if TYPE_CHECKING:
    from densespace._space import Plan
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
    "lion": keras.optimizers.Lion,
}


def steps_reason(spec: Spec) -> str | None:
    """Why a model of the spec may need the run's steps (a schedule over them), None when none can.

    Examples:
        >>> import densespace
        >>> steps_reason(densespace.validate_spec({"version": 1, "name": "w", "hidden": {"units": 4},
        ...     "optimizer": {"warmup": {"values": [0.0, 0.1]}}}))
        'optimizer.warmup can be above 0'
    """
    if "cosine" in _domains.values(spec.optimizer.schedule):
        return "optimizer.schedule can be 'cosine'"
    if _domains.bounds(spec.optimizer.warmup)[1] > 0:
        return "optimizer.warmup can be above 0"
    return None


def needs_steps(plan: Plan) -> bool:
    """Whether the plan's learning rate follows a schedule over the run's steps."""
    return plan.schedule == "cosine" or plan.warmup > 0


def learning_rate(plan: Plan, steps: int | None) -> Any:
    """The plan's learning rate: a constant, or a ``CosineDecay`` over ``steps`` (the run's).

    With ``warmup``, the rate rises linearly from 0 over that fraction of the steps (at least
    one), then decays to 0 along a cosine over the rest, or stays constant (``alpha`` 1).
    """
    if not needs_steps(plan):
        return plan.learning_rate
    assert steps is not None
    warmup = max(1, round(plan.warmup * steps)) if plan.warmup else 0
    alpha = 0.0 if plan.schedule == "cosine" else 1.0
    if not warmup:
        return keras.optimizers.schedules.CosineDecay(plan.learning_rate, steps, alpha=alpha)
    return keras.optimizers.schedules.CosineDecay(
        0.0,
        max(1, steps - warmup),
        alpha=alpha,
        warmup_target=plan.learning_rate,
        warmup_steps=warmup,
    )


def optimizer(plan: Plan, *, steps: int | None, variables: Sequence[Any]) -> keras.optimizers.Optimizer:
    """The plan's optimizer, built for ``variables``; weight decay skips every variable of one
    dimension (biases, normalization scales and offsets)."""
    options: dict[str, Any] = {"learning_rate": learning_rate(plan, steps)}
    if plan.weight_decay is not None:
        options["weight_decay"] = plan.weight_decay
    made = OPTIMIZERS[plan.optimizer](**options)
    if made.weight_decay:
        made.exclude_from_weight_decay(var_list=[v for v in variables if len(v.shape) <= 1])
    made.build(variables)
    return made
