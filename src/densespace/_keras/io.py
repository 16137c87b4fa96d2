"""Models on disk, CIFAR-10 through Keras' download, and the versions a run depends on."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import keras
import keras_tuner
import numpy as np


def download_cifar10() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Returns ``keras.datasets.cifar10.load_data()`` (downloads once, then cached)."""
    return keras.datasets.cifar10.load_data()


def save_model(model: keras.Model, path: Path) -> None:
    """Saves a model in the ``.keras`` format, atomically: written beside ``path`` under a
    temporary name, then renamed, so a crash or a full disk never leaves a truncated model."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".keras")
    os.close(descriptor)
    try:
        model.save(temporary)
        with open(temporary, "rb") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_model(path: str | os.PathLike[str]) -> keras.Model:
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
