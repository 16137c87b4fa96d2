"""Models on disk, CIFAR-10 through Keras' download, and the versions a run depends on."""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import keras
import keras_tuner
import numpy as np

from densespace._files import claim, shareable_mode


def download_dataset(name: str) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Returns ``keras.datasets.<name>.load_data()`` (downloads once, then cached).

    ``name`` is one of ``densespace.datasets.KERAS_DATASETS``; ``california_housing``
    is Keras' default, "large" version.
    """
    return getattr(keras.datasets, name).load_data()


def save_model(model: keras.Model, path: Path, *, optimizer: bool = True) -> None:
    """Saves a model in the ``.keras`` format, atomically: written beside ``path`` under a
    temporary name, then renamed, so a crash or a full disk never leaves a truncated model.

    Without ``optimizer`` the file holds no optimizer state (``without_optimizer``). Inside a
    results folder in use, ``path`` is listed in its manifest first (``_files.claim``)."""
    claim(path)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".keras")
    os.close(descriptor)
    try:
        (model if optimizer else without_optimizer(model)).save(temporary)
        with open(temporary, "rb") as stream:
            os.fsync(stream.fileno())
        os.chmod(temporary, shareable_mode())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def without_optimizer(model: keras.Model) -> keras.Model:
    """A copy of a compiled model with the same weights, loss and metrics, and a fresh (unbuilt)
    optimizer of the same configuration: saved, it holds no optimizer state (Keras 3's
    ``model.save`` has no ``include_optimizer``)."""
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    # compile_from_config would build the optimizer's variables; compile leaves them unbuilt
    clone.compile(**keras.saving.deserialize_keras_object(model.get_compile_config()))
    return clone


def load_model(path: str | os.PathLike[str]) -> keras.Model:
    """Loads a ``.keras`` model with Keras' safe mode on (no code is deserialized).

    A model saved without optimizer state loads with a fresh optimizer (Keras'
    warning that it skips the optimizer's variables is silenced)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        return keras.saving.load_model(path, safe_mode=True)


def backend() -> str:
    """The Keras backend in use (``tensorflow``, ``jax``, ...)."""
    return str(keras.backend.backend())


def versions() -> dict[str, str]:
    """Versions of the libraries a run depends on."""
    import tensorflow as tf

    return {
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "keras_tuner": keras_tuner.__version__,
        "numpy": np.__version__,
    }
