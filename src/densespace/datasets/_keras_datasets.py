"""The datasets Keras downloads (``keras.datasets``), with their class, feature and target names."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

import numpy as np

from densespace._errors import DatasetError, quote, show
from densespace.datasets._arrays import Part, assemble, check_options
from densespace.datasets._cifar10 import CLASS_NAMES
from densespace.datasets._dataset import Dataset


@dataclass(frozen=True)
class _Names:
    """What the arrays of one of Keras' datasets mean."""

    classes: tuple[str, ...] | None = None
    features: tuple[str, ...] | None = None
    targets: tuple[str, ...] | None = None


_DIGITS = tuple(str(digit) for digit in range(10))
_FASHION = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
_CIFAR100 = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
    "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
    "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
    "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
    "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
    "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
)  # fmt: skip
_BOSTON = ("CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX", "PTRATIO", "B", "LSTAT")
_CALIFORNIA = (
    "MedInc",
    "HouseAge",
    "AveRooms",
    "AveBedrms",
    "Population",
    "AveOccup",
    "Latitude",
    "Longitude",
)

KERAS_DATASETS: dict[str, _Names] = {
    "mnist": _Names(classes=_DIGITS),
    "fashion_mnist": _Names(classes=_FASHION),
    "cifar10": _Names(classes=CLASS_NAMES),
    "cifar100": _Names(classes=_CIFAR100),
    "boston_housing": _Names(features=_BOSTON, targets=("MEDV",)),
    "california_housing": _Names(features=_CALIFORNIA, targets=("MedHouseVal",)),
}
"""The names ``load_keras`` takes, and what their labels, features and targets are called."""


def load_keras(
    name: str,
    *,
    validation: float | Literal["test"] = 0.1,
    limit: int | None = None,
    seed: int = 0,
) -> Dataset:
    """Loads one of Keras' datasets through ``keras.datasets.<name>.load_data()`` and holds out validation.

    Keras downloads the files once into ``~/.keras/datasets`` and reads them
    from there afterwards; this is the only loader that imports Keras. The
    test split is Keras' own; validation is held out of Keras' training split,
    stratified by class for the image datasets (labels ``(N, 1)`` are
    flattened). Class labels become ``int64``, house prices ``float32``.

    Args:
        name: ``mnist``, ``fashion_mnist``, ``cifar10``, ``cifar100`` (its 100
            fine labels), ``boston_housing`` or ``california_housing`` (Keras'
            "large" version, 20,640 districts).
        validation: the share of the training examples held out for validation,
            or ``"test"`` to validate on the test split.
        limit: keep at most this many examples in each split, a stratified subset.
        seed: fixes which examples validation and each subset get.

    Returns:
        A ``Dataset`` of kind ``"keras"`` whose source is ``"keras:NAME"``.

    Raises:
        DatasetError: the name is not one of these, an option is out of range,
            or the download fails (the message says how to use a local copy instead).

    Examples:
        >>> load_keras("mnsit")
        Traceback (most recent call last):
        ...
        densespace._errors.DatasetError: keras:mnsit: no such Keras dataset (did you mean 'mnist'?); expected one of mnist, fashion_mnist, cifar10, cifar100, boston_housing, california_housing
    """
    if name not in KERAS_DATASETS:
        close = difflib.get_close_matches(str(name), KERAS_DATASETS, n=1)
        guess = f" (did you mean {close[0]!r}?)" if close else ""
        shown = quote(name, 60) if isinstance(name, str) else show(name)
        raise DatasetError(
            f"keras:{shown}: no such Keras dataset{guess}; expected one of {', '.join(KERAS_DATASETS)}"
        )
    check_options(validation=validation, limit=limit, seed=seed)
    (x_train, y_train), (x_test, y_test) = _download(name)
    names = KERAS_DATASETS[name]
    return assemble(
        Part(x_train, _labels(y_train, names), "x_train", "y_train", "training"),
        validation=validation,
        test=Part(x_test, _labels(y_test, names), "x_test", "y_test", "test"),
        limit=limit,
        seed=seed,
        source=f"keras:{name}",
        kind="keras",
        where=f"keras:{name}: ",
        class_names=names.classes,
        feature_names=names.features,
        target_names=names.targets,
    )


def _labels(y: np.ndarray, names: _Names) -> np.ndarray:
    """Keras' labels, flattened from ``(N, 1)``; prices as floats even should Keras give integers."""
    y = np.asarray(y)
    y = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
    return y if names.classes is not None else y.astype(np.float32)


def _download(name: str) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Keras' copy of dataset ``name``, or an error that says how to use a local copy."""
    from densespace._keras.io import download_dataset  # imports Keras: only this loader needs it

    try:
        return download_dataset(name)
    except Exception as exc:  # keras reports a failed download as a bare Exception
        raise DatasetError(
            f"cannot download {name} through keras ({quote(str(exc), 160)}); point densespace at a local "
            "copy instead: on a machine that can download it, save its arrays with numpy.savez(PATH, "
            "x_train=..., y_train=..., x_test=..., y_test=...) and pass --data PATH.npz "
            "(load_npz(PATH) in Python)"
        ) from exc
