"""One model averaging the retrained models: the ensemble of the best (``ensemble=K``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import keras
import numpy as np

from densespace._keras.hypermodel import metrics
from densespace._tasks import TASKS

if TYPE_CHECKING:
    from densespace._spec import Spec


def ensemble(
    members: Sequence[keras.Model], spec: Spec, test: tuple[np.ndarray, np.ndarray]
) -> tuple[keras.Model, dict[str, float]]:
    """A plain Keras model whose output is the average of the ``members``' outputs (probabilities,
    or predictions in the targets' units for regression), and its metrics on ``test``.

    It takes the first member's inputs (every member takes the same); the members are nested in
    it under the names ``member_<rank>`` (their own weights, not copies); it is compiled with the
    first member's loss and the task's metrics.
    """
    # the members' own inputs (names, shapes, dtypes, one or several), for the ensemble to take
    inputs = keras.tree.map_structure(
        lambda given: keras.Input(batch_shape=given.shape, dtype=given.dtype, name=given.name),
        members[0].input,
    )
    outputs = []
    for rank, member in enumerate(members, 1):
        member.name = f"member_{rank}"
        outputs.append(member(inputs))
    model = keras.Model(inputs, keras.layers.Average(name="average")(outputs), name=f"{spec.name}-ensemble")
    model.compile(loss=members[0].loss, metrics=metrics(TASKS[spec.task]))
    tested = model.evaluate(*test, batch_size=1024, return_dict=True, verbose=0)
    return model, {name: float(value) for name, value in tested.items()}
