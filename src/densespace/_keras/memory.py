"""Freeing what TensorFlow keeps of a finished model."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from tensorflow.python.framework import ops as tf_ops


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
