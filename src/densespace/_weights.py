"""Class weights: ``training.class_weight`` turned into a weight per class id of the data.

``"balanced"`` is scikit-learn's formula, ``n_samples / (n_classes * count)``, over the
classes the training split holds; a mapping names classes by class name or by id, and a
class it leaves out weighs 1. NumPy only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from densespace._errors import show

#: What ``training.class_weight`` holds: ``"balanced"``, or weights by class name or id.
ClassWeightSetting = str | Mapping[str, float]


def class_ids(
    setting: Mapping[str, float], *, classes: int, class_names: Sequence[str] | None = None
) -> tuple[dict[int, float], list[str]]:
    """The mapping's weights by class id, and the problems of the keys that name no class (or one twice).

    A key is a class name of the data when it has names, else (or if no name matches) a class id
    ``0 .. classes - 1`` written in decimal.

    Examples:
        >>> class_ids({"cat": 2.0, "1": 0.5}, classes=3, class_names=["cat", "dog", "owl"])
        ({0: 2.0, 1: 0.5}, [])
        >>> class_ids({"7": 2.0}, classes=3)[1]
        ['"7" is not a class of the data (class ids 0..2)']
    """
    names = list(class_names or ())
    weights: dict[int, float] = {}
    problems: list[str] = []
    for key, weight in setting.items():
        if key in names:
            index = names.index(key)
        elif key.isdecimal() and int(key) < classes:
            index = int(key)
        else:
            listed = f" or class names {show(names[:5])[1:-1]}{', ...' if len(names) > 5 else ''}"
            problems.append(
                f"{show(key)} is not a class of the data (class ids 0..{classes - 1}{listed if names else ''})"
            )
            continue
        if index in weights:
            problems.append(f"{show(key)} names class {index} a second time")
            continue
        weights[index] = float(weight)
    return weights, problems


def balanced(labels: np.ndarray, *, classes: int) -> dict[int, float]:
    """scikit-learn's balanced weights, ``n_samples / (n_classes * count)``, of the classes that ``labels``
    (class ids) hold; a class they do not hold weighs 1.

    Examples:
        >>> balanced(np.array([0, 0, 0, 1]), classes=3)
        {0: 0.6666666666666666, 1: 2.0, 2: 1.0}
    """
    counts = np.bincount(np.round(np.asarray(labels)).astype(np.int64).reshape(-1), minlength=classes)
    present = int((counts > 0).sum())
    total = int(counts.sum())
    return {c: total / (present * int(n)) if n else 1.0 for c, n in enumerate(counts)}


def class_weights(
    setting: ClassWeightSetting, labels: np.ndarray, *, classes: int, class_names: Sequence[str] | None = None
) -> dict[int, float]:
    """The weight of each class id ``0 .. classes - 1`` that ``setting`` gives, on the training ``labels``.

    Raises:
        ValueError: A key of the mapping names no class of the data (``fit_to_data`` reports it first).
    """
    if isinstance(setting, str):
        return balanced(labels, classes=classes)
    weights, problems = class_ids(setting, classes=classes, class_names=class_names)
    if problems:
        raise ValueError(f"training.class_weight: {problems[0]}")
    return {c: weights.get(c, 1.0) for c in range(classes)}
