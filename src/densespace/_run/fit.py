"""The spec against the data: checked, and completed with what the data says.

Before anything is written or trained, the data must suit the spec's task and
shapes; ``input.shape`` and ``output.units`` left out of the spec are taken from
the data. One problem per line, naming both sides.
"""

from __future__ import annotations

import dataclasses
import warnings
from types import SimpleNamespace

import numpy as np

from densespace._errors import DatasetError, Problem, SearchWarning, SpecError, quote
from densespace._spec import Augmentation, Spec, validate_spec
from densespace._tasks import TASKS
from densespace._weights import class_ids
from densespace.datasets import Data, Dataset
from densespace.datasets._arrays import is_frame
from densespace.datasets._table import TableEncoding, infer_types, model_inputs

SPLITS = ("train", "validation", "test")


def fit_to_data(spec: Spec, data: Data) -> tuple[Spec, Data]:
    """The spec with ``input.shape`` and ``output.units`` set from ``data``, checked against it,
    and the data as the task reads it.

    A ``regression`` task reads labels that a loader took for classes of whole
    numbers (``class_names`` ``"0"``, ``"250"``, ...) as the numbers they name, never as ids.
    A table (DataFrame inputs) has its columns typed (``input.columns``, the rest
    inferred) and becomes the model's inputs (``model_inputs``); ``input.shape`` is the
    width of its encoded columns and ``input.embeddings`` the parameters of its embeddings.
    ``input.preprocessing`` 'auto' becomes the data's.

    Raises:
        SpecError: The examples' shape is not ``input.shape``, or the labels do not
            suit the task or ``output.units`` (source ``spec vs data``).
        DatasetError: A table's value does not read as its column's type.
    """
    problems: list[Problem] = []
    data = _as_numbers(spec, data, problems)
    fitted = spec.model_dump()
    if is_frame(data.train[0]):
        data, encoding = _table(spec, data)
        fitted["input"] |= {"columns": dict(encoding.types), "embeddings": encoding.parameters}
        shape: tuple[int, ...] = (encoding.width,)
        dtype = "table"
        _check_table_shape(spec, shape, problems)
        if isinstance(spec.search.pack, int):
            problems.append(
                Problem(
                    "search.pack",
                    "data_shape",
                    f"packs trials on arrays; a table's columns train one model per trial: set pack "
                    f'({spec.search.pack}) to "off"',
                )
            )
    else:
        if spec.input.columns is not None:
            problems.append(
                Problem("input.columns", "data_shape", "types the columns of a table; the data are arrays")
            )
        shape = _example_shape(spec, data, problems)
        dtype = str(np.asarray(data.train[0]).dtype)
    units = _output_units(spec, data, problems)
    if not problems:
        _class_weight_keys(spec, data, units, problems)
        _fold_sizes(spec, data, problems)
    if problems:
        raise SpecError(problems, source="spec vs data")
    if spec.input.preprocessing == "rescale" and dtype != "uint8":
        warnings.warn(
            f"input.preprocessing is 'rescale' (divide by 255, for uint8 images) but the data is {dtype}: "
            "'standardize' or 'none' likely suits it better",
            SearchWarning,
            stacklevel=4,
        )
    fitted["input"]["shape"] = list(shape)
    fitted["input"]["preprocessing"] = spec.input.resolved(dtype)
    fitted["output"]["units"] = units
    return validate_spec(fitted, source="spec vs data"), data


def _table(spec: Spec, data: Data) -> tuple[Data, TableEncoding]:
    """The table's splits as the model's inputs, and its columns' encoding fitted on the training split."""
    frame = data.train[0]
    types = infer_types(frame, given=spec.input.columns, where=frame.attrs.get("where", ""))
    inputs = {split: model_inputs(getattr(data, split)[0], columns=types) for split in SPLITS}
    encoding = TableEncoding.fit(types, inputs["train"])
    if not encoding.columns:
        raise DatasetError(
            f"{frame.attrs.get('where', '')}every feature column is ignored; set a column's type in input.columns"
        )
    return _replaced(data, {split: (inputs[split], getattr(data, split)[1]) for split in SPLITS}), encoding


def _check_table_shape(spec: Spec, shape: tuple[int, ...], problems: list[Problem]) -> None:
    if spec.input.shape is not None and tuple(spec.input.shape) != shape:
        problems.append(
            Problem(
                "input.shape",
                "data_shape",
                f"{list(spec.input.shape)} does not match the width of the table's encoded columns, {list(shape)}",
            )
        )


def _replaced(data: Data, changes: dict[str, object]) -> Data:
    """``data`` with some attributes changed: a ``Dataset`` replaced, another object copied."""
    if isinstance(data, Dataset):
        return dataclasses.replace(data, **changes)  # type: ignore[arg-type]
    kept = ("train", "validation", "test", "source", "kind", "feature_names", "class_names", "target_names")
    return SimpleNamespace(**{name: getattr(data, name) for name in kept if hasattr(data, name)} | changes)


def _as_numbers(spec: Spec, data: Data, problems: list[Problem]) -> Data:
    """``data`` with class labels of whole numbers turned back into those numbers, for a regression
    task; a problem for class labels that are not numbers."""
    names = getattr(data, "class_names", None)
    if TASKS[spec.task].labels != "values" or names is None:
        return data
    try:
        values = np.array([float(name) for name in names], dtype=np.float32)
    except ValueError:
        shown = ", ".join(repr(name) for name in names[:3]) + (", ..." if len(names) > 3 else "")
        problems.append(
            Problem(
                "task",
                "data_labels",
                f"task '{spec.task}' needs numbers to predict; the data's labels are {len(names)} "
                f"classes ({quote(shown, 80)}): use task 'classification'",
            )
        )
        return data
    splits: dict[str, object] = {split: _numbers_of(getattr(data, split), values) for split in SPLITS}
    return _replaced(data, splits | {"class_names": None})


def _numbers_of(split: tuple[object, object], values: np.ndarray) -> tuple[object, np.ndarray]:
    return split[0], values[np.asarray(split[1]).astype(np.int64)]


def _class_weight_keys(spec: Spec, data: Data, units: int, problems: list[Problem]) -> None:
    """Each key of a ``training.class_weight`` mapping names one class of the data, once."""
    setting = spec.training.class_weight
    if not isinstance(setting, dict):
        return
    names = getattr(data, "class_names", None)
    _, wrong = class_ids(
        setting, classes=max(units, 2), class_names=None if names is None else [str(n) for n in names]
    )
    problems.extend(Problem("training.class_weight", "data_classes", message) for message in wrong)


#: Fewer validation rows than this and a search without ``search.cross_validation`` is warned.
FEW_VALIDATION_ROWS = 100


def _fold_sizes(spec: Spec, data: Data, problems: list[Problem]) -> None:
    """Each fold of ``search.cross_validation`` has a row to validate on and rows to train on."""
    folds = spec.search.cross_validation
    rows = len(data.train[1]) + len(data.validation[1])
    if folds is not None and rows < folds:
        problems.append(
            Problem(
                "search.cross_validation",
                "data_folds",
                f"{folds} folds need at least {folds} rows of the train and validation splits together; "
                f"the data holds {rows}",
            )
        )


def suggest_folds(spec: Spec, data: Data) -> None:
    """Warns when trials would be scored on a validation split of few rows without cross-validation."""
    rows = len(data.validation[1])
    if spec.search.cross_validation is None and rows < FEW_VALIDATION_ROWS:
        warnings.warn(
            f"the validation split holds {rows} rows, so trial scores are noisy; search.cross_validation: K "
            "(such as 5) scores each trial by the mean over K folds of the train and validation rows",
            SearchWarning,
            stacklevel=4,
        )


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
        floats = values.dtype.kind == "f" and np.isfinite(values).all()
        advice = ", numbers to predict: use task 'regression'" if floats else ""
        problems.append(
            Problem(
                "task", "data_labels", f"{where} needs class ids 0, 1, 2, ...; the labels hold {bad}{advice}"
            )
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
