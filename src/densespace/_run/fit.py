"""The spec against the data: checked, and completed with what the data says.

Before anything is written or trained, the data must suit the spec's task and
shapes; ``input.shape`` and ``output.units`` left out of the spec are taken from
the data. One problem per line, naming both sides.
"""

from __future__ import annotations

import warnings

import numpy as np

from densespace._errors import Problem, SearchWarning, SpecError
from densespace._spec import Augmentation, Spec, validate_spec
from densespace._tasks import TASKS
from densespace.datasets import Data

SPLITS = ("train", "validation", "test")


def fit_to_data(spec: Spec, data: Data) -> Spec:
    """The spec with ``input.shape`` and ``output.units`` set from ``data``, checked against it.

    Raises:
        SpecError: The examples' shape is not ``input.shape``, or the labels do not
            suit the task or ``output.units`` (source ``spec vs data``).
    """
    problems: list[Problem] = []
    shape = _example_shape(spec, data, problems)
    units = _output_units(spec, data, problems)
    if problems:
        raise SpecError(problems, source="spec vs data")
    x = np.asarray(data.train[0])
    if spec.input.preprocessing == "rescale" and x.dtype != np.uint8:
        warnings.warn(
            f"input.preprocessing is 'rescale' (divide by 255, for uint8 images) but the data is {x.dtype}: "
            "'standardize' or 'none' likely suits it better",
            SearchWarning,
            stacklevel=4,
        )
    fitted = spec.model_dump()
    fitted["input"]["shape"] = list(shape)
    fitted["output"]["units"] = units
    return validate_spec(fitted, source="spec vs data")


def _example_shape(spec: Spec, data: Data, problems: list[Problem]) -> tuple[int, ...]:
    shapes = {split: tuple(int(n) for n in np.shape(getattr(data, split)[0])[1:]) for split in SPLITS}
    shape = shapes["train"]
    for split, other in shapes.items():
        if other != shape:
            problems.append(
                Problem(
                    "input.shape",
                    "data_shape",
                    f"the {split} examples' shape {list(other)} is not the train examples' {list(shape)}",
                )
            )
            return shape
    if spec.input.shape is not None and list(spec.input.shape) != list(shape):
        problems.append(
            Problem(
                "input.shape",
                "data_shape",
                f"{list(spec.input.shape)} does not match the train examples' shape {list(shape)}",
            )
        )
    augmented = spec.input.augmentation != Augmentation()
    if augmented and len(shape) != 3:
        problems.append(
            Problem(
                "input.augmentation",
                "data_shape",
                f"needs images [height, width, channels]; the data's examples have shape {list(shape)}",
            )
        )
    return shape


def _output_units(spec: Spec, data: Data, problems: list[Problem]) -> int:
    """The output units the data asks for, checked against the task and ``output.units``."""
    task = TASKS[spec.task]
    labels = [np.asarray(getattr(data, split)[1]) for split in SPLITS]
    if task.labels in ("ids", "binary"):
        return _class_units(spec, data, labels, problems)
    return _column_units(spec, labels, problems)


def _class_units(spec: Spec, data: Data, labels: list[np.ndarray], problems: list[Problem]) -> int:
    """The output units of class ids (classification, binary), checked."""
    task, given = TASKS[spec.task], spec.output.units
    where = f"task '{task.name}'"
    if any(y.ndim != 1 for y in labels):
        problems.append(
            Problem(
                "task",
                "data_labels",
                f"{where} needs one label per example; the labels have shape {list(labels[0].shape)}",
            )
        )
        return given or task.units
    values = np.concatenate(labels)
    bad = _not_ids(values)
    if bad is not None:
        problems.append(
            Problem("task", "data_labels", f"{where} needs class ids 0, 1, 2, ...; the labels hold {bad}")
        )
        return given or task.units
    classes = max(int(values.max()) + 1 if values.size else 0, len(getattr(data, "class_names", None) or ()))
    if task.labels == "binary":
        if classes > 2:
            problems.append(
                Problem(
                    "task",
                    "data_labels",
                    f"{where} needs labels 0 and 1; the data holds {classes} classes: use task 'classification'",
                )
            )
        return 1
    if classes < 2:
        problems.append(
            Problem("task", "data_labels", f"{where} needs at least 2 classes; the data holds {classes}")
        )
    elif given is not None and given < classes:
        problems.append(
            Problem(
                "output.units",
                "data_classes",
                f"{given} units cannot hold the data's {classes} classes (labels 0..{classes - 1})",
            )
        )
    return given if given is not None else classes


def _column_units(spec: Spec, labels: list[np.ndarray], problems: list[Problem]) -> int:
    """The output units of label or target columns (multilabel, regression), checked."""
    task, given = TASKS[spec.task], spec.output.units
    where = f"task '{task.name}'"
    columns = {y.shape[1] if y.ndim == 2 else 1 if y.ndim == 1 else -1 for y in labels}
    if len(columns) != 1 or -1 in columns:
        problems.append(
            Problem(
                "task",
                "data_labels",
                f"{where} needs labels of one or two dimensions, the same in every split",
            )
        )
        return given or task.units
    count = columns.pop()
    values = np.concatenate([y.reshape(len(y), -1) for y in labels])
    if task.labels == "matrix":
        if labels[0].ndim != 2 or not np.isin(values, (0, 1)).all():
            problems.append(
                Problem(
                    "task",
                    "data_labels",
                    f"{where} needs a 0/1 matrix of labels (one column per "
                    f"label); the labels have shape {list(labels[0].shape)}",
                )
            )
    elif not np.issubdtype(values.dtype, np.number) or not np.isfinite(values).all():
        problems.append(Problem("task", "data_labels", f"{where} needs finite numbers as targets"))
    if given is not None and given != count:
        noun = "labels" if task.labels == "matrix" else "targets"
        problems.append(Problem("output.units", "data_units", f"{given} units for the data's {count} {noun}"))
    return count


def _not_ids(values: np.ndarray) -> str | None:
    """The first label that is not a class id (a whole number >= 0), as text; None if all are."""
    if not np.issubdtype(values.dtype, np.number):
        return f"{values.dtype} values"
    with np.errstate(invalid="ignore"):
        bad = values[~np.isfinite(values) | (values < 0) | (values != np.round(values))]
    return None if bad.size == 0 else repr(bad[0].item())
