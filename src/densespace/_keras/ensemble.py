"""One model averaging the retrained models: the ensemble of the best (``ensemble=K``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import keras
import numpy as np

from densespace._keras.data import Batches
from densespace._keras.hypermodel import metrics
from densespace._keras.metrics import scores
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
    first member's loss and Keras' own metrics of the task (the others computed here).
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
    task = TASKS[spec.task]
    model.compile(loss=members[0].loss, metrics=metrics(task, spec.output_units, portable=True))
    tested = model.evaluate(Batches(*test).pipeline(1024, shuffle=False), return_dict=True, verbose=0)
    measured = {name: float(value) for name, value in tested.items()}
    return model, measured | scores(task.metrics, max(spec.output_units, 2), model, test)
