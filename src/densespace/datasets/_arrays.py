"""Arrays checked and split three ways, stratified by class: ``from_arrays``, and the core every loader shares.

Every loader reads its source into ``Part`` s (an ``x`` and a ``y`` with the
names errors call them by) and hands them to ``assemble``, which checks them,
tells class labels from numbers to predict, holds out the test and validation
splits and keeps the ``limit`` subsets. ``load_cifar10`` uses ``_hold_out`` and
``_subset`` alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from densespace._errors import DatasetError, quote, show
from densespace.datasets._dataset import Dataset, DatasetKind, Split

ARRAYS_SOURCE = "in-memory arrays"
"""The ``source`` of a dataset made by ``from_arrays``."""

MAX_CLASSES = 100_000
"""The most classes a dataset's labels may hold (one output unit each); more are refused before any split."""

MAX_MAGNITUDE = 1e15
"""The largest magnitude of a feature or a number to predict: beyond it float32 training overflows
(squares and sums of squares pass float32's 3.4e38) and every model scores NaN."""

_NUMBERS_ADVICE = "; labels that are numbers to predict need a regression task"


@dataclass(frozen=True)
class Located:
    """Where a part's rows and columns lie in a CSV file, for errors to name the column and the line."""

    where: str  # "path: "
    lines: np.ndarray  # the line each row ends on
    columns: tuple[tuple[str, ...], tuple[str, ...]]  # the names of x's columns, and of y's


@dataclass(frozen=True)
class Part:
    """A pair of arrays as read, before any check, with the names errors give them."""

    x: Any
    y: Any
    x_name: str
    y_name: str
    split: str  # "training", "validation" or "test": the split it becomes
    located: Located | None = None  # for a CSV file: its columns and lines


def from_arrays(
    x: Any,
    y: Any,
    *,
    validation: float | Literal["test"] | tuple[Any, Any] = 0.1,
    test: float | tuple[Any, Any] = 0.2,
    limit: int | None = None,
    seed: int = 0,
    class_names: Sequence[str] | None = None,
    feature_names: Sequence[str] | None = None,
    target_names: Sequence[str] | None = None,
) -> Dataset:
    """Checks arrays and splits them into train, validation and test.

    Integer (or bool) labels of shape ``(N,)`` or ``(N, 1)`` are class ids
    ``0..k-1``: the splits are stratified by class and ``y`` becomes ``int64``.
    Float labels, and label matrices of shape ``(N, t)``, are numbers to
    predict: the splits are plain random ones and ``y`` becomes ``float32``
    (``(N, 1)`` flattened to ``(N,)``). ``x`` keeps its dtype.

    A pandas DataFrame ``x`` is a table: it keeps its column names and columns of
    any type, and ``y`` may hold text labels (``from_frame`` on ``x`` with ``y`` as its
    target column, named by ``y``'s name or ``"target"``; ``validation`` and ``test``
    must then be fractions, and the names are the table's own).

    Args:
        x: the inputs, one row per example: at least 2 dimensions, numbers; or a DataFrame.
        y: the labels or targets, one per row of ``x``.
        validation: the share of the training examples (those left after the
            test split) held out for validation, ``"test"`` to validate on the
            test split, or an ``(x, y)`` pair to validate on.
        test: the share of all examples held out for testing, or an ``(x, y)``
            pair to test on.
        limit: keep at most this many examples in each split, a stratified
            subset, for quick runs.
        seed: fixes which examples each split and each subset gets.
        class_names: names of the classes ``0..k-1`` (``k`` is then their
            number); by default ``"0"`` ... ``"k-1"``, where the labels must hold
            every id ``0..k-1``.
        feature_names: a name for each feature (``x.shape[1]`` of them, for 2-D ``x``).
        target_names: a name for each column of float targets.

    Returns:
        A ``Dataset`` of kind ``"arrays"`` whose source is ``"in-memory arrays"``.

    Raises:
        DatasetError: an option is out of range, or the arrays are not usable
            data: not numbers, NaN, infinite or beyond ``MAX_MAGNITUDE``, a
            constant number to predict, more than ``MAX_CLASSES`` classes (the
            message says which array, which rule, and what it holds).

    Examples:
        >>> import numpy as np
        >>> x = np.arange(200, dtype=np.float32).reshape(100, 2)
        >>> data = from_arrays(x, (x[:, 0] > 99).astype(int), validation=0.25, test=0.2)
        >>> [len(y) for _, y in (data.train, data.validation, data.test)], data.class_names
        ([60, 20, 20], ('0', '1'))
    """
    if is_frame(x):
        return _from_table(x, y, validation=validation, test=test, limit=limit, seed=seed)
    train = Part(x, y, "x", "y", "training")
    held: dict[str, Any] = {"validation": validation, "test": test}
    for name, value in held.items():
        if isinstance(value, tuple | list):
            if len(value) != 2:
                raise DatasetError(
                    f"{name} must be an (x, y) pair, got a {type(value).__name__} of {len(value)} items"
                )
            held[name] = Part(value[0], value[1], f"{name}[0]", f"{name}[1]", name)
    check_options(validation=held["validation"], test=held["test"], limit=limit, seed=seed, pairs=True)
    for option, names in (
        ("class_names", class_names),
        ("feature_names", feature_names),
        ("target_names", target_names),
    ):
        _check_names(option, names)
    return assemble(
        train,
        validation=held["validation"],
        test=held["test"],
        limit=limit,
        seed=seed,
        source=ARRAYS_SOURCE,
        kind="arrays",
        class_names=None if class_names is None else tuple(class_names),
        feature_names=None if feature_names is None else tuple(feature_names),
        target_names=None if target_names is None else tuple(target_names),
    )


def is_frame(value: object) -> bool:
    """Whether ``value`` is a table: a pandas DataFrame (told apart without importing pandas)."""
    return type(value).__name__ == "DataFrame" and hasattr(value, "iloc")


def _from_table(x: Any, y: Any, *, validation: Any, test: Any, limit: int | None, seed: int) -> Dataset:
    """``from_frame`` on the table ``x`` with ``y`` as its target column."""
    from densespace.datasets._frame import from_frame

    if not (validation == "test" or _is_fraction(validation)) or not _is_fraction(test):
        raise DatasetError("validation and test must be fractions when x is a DataFrame (or use from_frame)")
    name = str(getattr(y, "name", None) or "target")
    if name in x.columns:
        raise DatasetError(f"x has a column {quote(name, 60)!r} already, the name of y; rename y")
    frame = x.assign(**{name: np.asarray(y)})
    return from_frame(frame, target=name, validation=validation, test=test, limit=limit, seed=seed)


def check_options(
    *,
    validation: object,
    test: object = 0.2,
    limit: object = None,
    seed: object = 0,
    pairs: bool = False,
) -> None:
    """Refuses, before anything is read, a split share outside (0, 1), a limit below 1 or a negative seed.

    Examples:
        >>> check_options(validation=1.5)
        Traceback (most recent call last):
        ...
        densespace._errors.DatasetError: validation must be a fraction between 0 and 1 (exclusive) or 'test', got 1.5
    """
    pair = " or an (x, y) pair" if pairs else ""
    if validation != "test" and not isinstance(validation, Part) and not _is_fraction(validation):
        also = ", 'test'" + pair if pairs else " or 'test'"
        raise DatasetError(
            f"validation must be a fraction between 0 and 1 (exclusive){also}, got {show_option(validation)}"
        )
    if not isinstance(test, Part) and not _is_fraction(test):
        raise DatasetError(
            f"test must be a fraction between 0 and 1 (exclusive){pair}, got {show_option(test)}"
        )
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise DatasetError(f"limit must be a positive integer or None, got {show_option(limit)}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise DatasetError(f"seed must be a non-negative integer, got {show_option(seed)}")


def show_option(value: object) -> str:
    """An option's value as Python writes it, cut short."""
    return quote(repr(value), 60)


def _is_fraction(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1


def _check_names(option: str, names: object) -> None:
    """Refuses names that are not a sequence of distinct strings."""
    if names is None:
        return
    if (
        isinstance(names, str)
        or not isinstance(names, Sequence)
        or not all(isinstance(name, str) for name in names)
        or len(set(names)) != len(names)
        or not names
    ):
        raise DatasetError(f"{option} must be a non-empty sequence of distinct strings, got {show(names)}")


def assemble(
    train: Part,
    *,
    validation: float | Literal["test"] | Part,
    test: float | Part,
    limit: int | None,
    seed: int,
    source: str,
    kind: DatasetKind,
    where: str = "",
    noun: str = "examples",
    class_names: tuple[str, ...] | None = None,
    feature_names: tuple[str, ...] | None = None,
    target_names: tuple[str, ...] | None = None,
    hint: str = "",
    numbers: bool = False,
) -> Dataset:
    """Checks the parts read from a source, then holds out, subsets and returns the ``Dataset``.

    ``where`` (``"data.npz: "``) starts every error; ``noun`` (``"rows"``)
    counts examples in them; ``hint`` ends the error about classes too small
    to stratify; ``numbers`` reads integer labels as numbers to predict (a
    ``regression`` task), not class ids. Options must have passed ``check_options``.
    """
    parts = [train] + [part for part in (validation, test) if isinstance(part, Part)]
    splits = [_arrays(part, where) for part in parts]
    classes = not numbers and splits[0][1].dtype.kind in "biu" and splits[0][1].ndim == 1
    for part, (x, y) in zip(parts[1:], splits[1:], strict=True):
        _check_alike(part, x, y, train, splits[0], classes, where)
    if not classes:
        _check_targets(parts, splits, where, noun)
    names = _class_names(parts, splits, classes, class_names, target_names, where)
    splits = [(x, y.astype(np.int64 if classes else np.float32, copy=False)) for x, y in splits]
    _check_name_counts(splits[0], feature_names, target_names, train, where)
    if names is not None and limit is not None and limit < len(names):
        raise DatasetError(
            f"limit must be an integer of at least {len(names)} (one example per class) or None, got {limit}"
        )
    held = {part.split: split for part, split in zip(parts, splits, strict=True)}
    cuts = [name for name, value in (("validation", validation), ("test", test)) if _is_fraction(value)]
    if classes and cuts:
        _check_class_counts(train, held["training"][1], cuts, class_names, where, noun, hint)
    _split(
        held, validation, test, limit, np.random.default_rng(seed), classes=classes, noun=noun, where=where
    )
    test_split = (np.ascontiguousarray(held["test"][0]), held["test"][1])
    return Dataset(
        (np.ascontiguousarray(held["training"][0]), held["training"][1]),
        test_split
        if validation == "test"
        else (np.ascontiguousarray(held["validation"][0]), held["validation"][1]),
        test_split,
        class_names=names,
        source=source,
        kind=kind,
        feature_names=feature_names,
        target_names=target_names,
    )


def _split(
    held: dict[str, Split],
    validation: float | Literal["test"] | Part,
    test: float | Part,
    limit: int | None,
    rng: np.random.Generator,
    *,
    classes: bool,
    noun: str,
    where: str,
) -> None:
    """Holds the test and validation splits out of ``held["training"]`` where they are fractions
    (stratified by class when ``classes``), then keeps ``limit`` examples of each split."""
    if not isinstance(test, Part):
        held["training"], held["test"] = _hold_out(
            held["training"], test, rng, stratify=classes, name="test", noun=noun, where=where
        )
    if validation == "test":
        held["validation"] = held["test"]
    elif not isinstance(validation, Part):
        held["training"], held["validation"] = _hold_out(
            held["training"], validation, rng, stratify=classes, noun=f"training {noun}", where=where
        )
    if limit is not None:
        for name in ("training", "test", "validation")[: 2 if validation == "test" else 3]:
            held[name] = _subset(held[name], limit, rng, stratify=classes)


def _class_names(
    parts: list[Part],
    splits: list[Split],
    classes: bool,
    class_names: tuple[str, ...] | None,
    target_names: tuple[str, ...] | None,
    where: str,
) -> tuple[str, ...] | None:
    """The names of the classes 0..k-1 (``"0"``, ``"1"``, ... unless named), or None for float targets."""
    y_name = parts[0].y_name
    if not classes:
        if class_names is not None:
            raise DatasetError(
                f"{where}class_names name class ids, but {y_name} holds {_holds(splits[0][1])}"
            )
        return None
    if target_names is not None:
        raise DatasetError(f"{where}target_names name float targets, but {y_name} holds class ids")
    count = _check_labels(parts, splits, class_names, where)
    return class_names or tuple(str(label) for label in range(count))


def _arrays(part: Part, where: str) -> Split:
    """``part``'s arrays, checked one by one and against each other; ``y`` of shape (N, 1) flattened."""
    x = _as_array(part.x, part.x_name, where)
    y = _as_array(part.y, part.y_name, where)
    check_dtype(x.dtype, part.x_name, features=True, where=where)
    if x.ndim < 2:
        raise DatasetError(
            f"{where}{part.x_name} has shape {x.shape}: expected at least 2 dimensions, one row per "
            "example (reshape a single feature with x.reshape(-1, 1))"
        )
    check_dtype(y.dtype, part.y_name, features=False, where=where)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.reshape(-1)
    if y.ndim not in (1, 2):
        raise DatasetError(
            f"{where}{part.y_name} has shape {y.shape}: expected (N,) labels or targets, or (N, t) targets"
        )
    if len(x) != len(y):
        raise DatasetError(
            f"{where}{part.x_name} has {len(x)} rows but {part.y_name} has {len(y)}; "
            "they must match, one label per example"
        )
    if not len(x):
        raise DatasetError(
            f"{where}{part.x_name} has no rows (shape {x.shape}); the {part.split} split needs at least one example"
        )
    _check_finite(x, part.x_name, "features", where)
    _check_finite(y, part.y_name, "labels and targets", where)
    _check_magnitude(x, part, where)
    return x, y


def check_dtype(dtype: np.dtype, name: str, *, features: bool, where: str = "") -> None:
    """Refuses an array of anything but bool, integers and floats of at most 64 bits, which training takes.

    Examples:
        >>> check_dtype(np.dtype("complex64"), "x", features=True)
        Traceback (most recent call last):
        ...
        densespace._errors.DatasetError: x holds complex64 values; features must be numbers (bool, integer or float)
    """
    if dtype.kind in "biu" or (dtype.kind == "f" and dtype.itemsize <= 8):
        return
    rule = "features must be numbers (bool, integer or float)"
    if not features:
        rule = "labels must be integer class ids or float targets"
    wide = dtype.kind == "f"  # longdouble: numpy has it, TensorFlow does not
    tail = f"; floats wider than 64 bits are not taken: convert with {name}.astype('float64')" if wide else ""
    raise DatasetError(f"{where}{name} holds {quote(str(dtype), 60)} values; {rule}{tail}")


def _as_array(value: Any, name: str, where: str) -> np.ndarray:
    try:
        return np.asarray(value)
    except ValueError:  # ragged nested lists
        raise DatasetError(f"{where}{name} is not a rectangular array: its rows differ in length") from None


def _check_finite(array: np.ndarray, name: str, what: str, where: str) -> None:
    """Refuses NaN and infinity, counting them and naming the first row that holds one."""
    if array.dtype.kind != "f":
        return
    bad = ~np.isfinite(array.reshape(len(array), -1))
    count = int(np.count_nonzero(bad))
    if count:
        row = int(np.flatnonzero(bad.any(axis=1))[0])
        are = "values are" if count > 1 else "value is"
        raise DatasetError(
            f"{where}{name}: {count} {are} NaN or infinite, the first in {name}[{row}]; "
            f"{what} must be finite numbers"
        )


def _check_magnitude(array: np.ndarray, part: Part, where: str, *, targets: bool = False) -> None:
    """Refuses a value beyond ``MAX_MAGNITUDE``, naming the first (in row order) and where it is."""
    if array.dtype.kind == "b" or not array.size:
        return
    if array.min() >= -MAX_MAGNITUDE and array.max() <= MAX_MAGNITUDE:
        return
    rows = array.reshape(len(array), -1)
    row = int(np.flatnonzero(((rows > MAX_MAGNITUDE) | (rows < -MAX_MAGNITUDE)).any(axis=1))[0])
    column = int(np.flatnonzero(np.abs(rows[row].astype(np.float64)) > MAX_MAGNITUDE)[0])
    if part.located is not None:
        names, lines = part.located.columns[targets], part.located.lines
        place, whole = f"{part.located.where}column {names[column]!r}, line {lines[row]}", "column"
    else:
        index = (row, *np.unravel_index(column, array.shape[1:]))
        place, whole = (
            f"{where}{part.y_name if targets else part.x_name}[{', '.join(map(str, index))}]",
            "array",
        )
    raise DatasetError(
        f"{place}: {float(rows[row, column]):g} is beyond ±{MAX_MAGNITUDE:g}, where float32 training "
        f"overflows; rescale the {whole} (divide it by a power of ten, or take its logarithm)"
    )


def _check_targets(parts: list[Part], splits: list[Split], where: str, noun: str) -> None:
    """Refuses numbers to predict beyond ``MAX_MAGNITUDE``, and training targets that never vary."""
    for part, (_, y) in zip(parts, splits, strict=True):
        _check_magnitude(y, part, where, targets=True)
    y = splits[0][1].reshape(len(splits[0][1]), -1)
    if len(y) > 1 and np.array_equal(y.min(axis=0), y.max(axis=0)):
        shown = quote(", ".join(f"{value:g}" for value in y[0]), 60)
        raise DatasetError(
            f"{where}{parts[0].y_name}: all {len(y):,} {noun} have the same target ({shown}); a number to "
            "predict must vary, else every model learns the constant: check the target"
        )


def _holds(y: np.ndarray) -> str:
    return f"{y.dtype} targets" if y.ndim == 1 else f"{y.dtype} targets of shape (N, {y.shape[1]})"


def _check_alike(
    part: Part, x: np.ndarray, y: np.ndarray, train: Part, first: Split, classes: bool, where: str
) -> None:
    """Refuses a validation or test part whose features or labels differ in kind from the training part's."""
    if x.shape[1:] != first[0].shape[1:]:
        raise DatasetError(
            f"{where}{part.x_name} has rows of shape {x.shape[1:]} but {train.x_name} of shape "
            f"{first[0].shape[1:]}; every split needs the same features"
        )
    if classes and (y.dtype.kind not in "biu" or y.ndim != 1):
        raise DatasetError(
            f"{where}{part.y_name} holds {_holds(y)} but {train.y_name} class ids; "
            "every split needs labels of one kind"
        )
    if not classes and y.shape[1:] != first[1].shape[1:]:
        raise DatasetError(
            f"{where}{part.y_name} has shape {y.shape} but {train.y_name} {first[1].shape}; "
            "every split needs the same targets"
        )


def _check_labels(
    parts: list[Part], splits: list[Split], class_names: tuple[str, ...] | None, where: str
) -> int:
    """The number of classes k; refuses a label outside 0..k-1, naming the first."""
    if class_names is not None:
        count, rule = len(class_names), f"indexing the {len(class_names)} class_names"
    else:
        labels = np.unique(np.concatenate([y for _, y in splits]).astype(np.int64))
        count = len(labels)
        rule = f"and the labels hold k={count} distinct values"
    if count > MAX_CLASSES:
        raise too_many_classes(f"{where}{parts[0].y_name}", f"{count:,}")
    for part, (_, y) in zip(parts, splits, strict=True):
        outside = np.flatnonzero((y < 0) | (y >= count))
        if len(outside):
            row = int(outside[0])
            raise DatasetError(
                f"{where}{part.y_name}[{row}] is {int(y[row])}, outside 0..{count - 1}: integer labels "
                f"must be class ids 0..k-1, {rule}"
            )
    return count


def too_many_classes(place: str, count: str, advice: str = _NUMBERS_ADVICE) -> DatasetError:
    """The error for labels of more than ``MAX_CLASSES`` classes at ``place``; ``count`` says how many."""
    return DatasetError(
        f"{place} holds {count} classes; densespace trains on at most {MAX_CLASSES:,} (one output unit "
        f"each){advice}"
    )


def _check_name_counts(
    first: Split,
    feature_names: tuple[str, ...] | None,
    target_names: tuple[str, ...] | None,
    train: Part,
    where: str,
) -> None:
    x, y = first
    features = math.prod(x.shape[1:])
    if feature_names is not None and len(feature_names) != features:
        raise DatasetError(
            f"{where}{len(feature_names)} feature_names for the {features} features of each row of {train.x_name}"
        )
    targets = 1 if y.ndim == 1 else y.shape[1]
    if target_names is not None and len(target_names) != targets:
        raise DatasetError(
            f"{where}{len(target_names)} target_names for the {targets} target columns of {train.y_name}"
        )


def _check_class_counts(
    train: Part,
    labels: np.ndarray,
    cuts: list[str],
    class_names: tuple[str, ...] | None,
    where: str,
    noun: str,
    hint: str,
) -> None:
    """Refuses a class with fewer examples than the splits that a stratified split makes of it."""
    need = len(cuts) + 1
    counts = np.bincount(labels.astype(np.int64), minlength=len(class_names or ()))
    for label in np.flatnonzero(counts < need):
        if counts[label] == 0:
            continue  # a class named but absent: nothing to stratify
        shown = repr(class_names[label]) if class_names else str(label)
        into = "train, validation and test" if len(cuts) == 2 else f"train and {cuts[0]}"
        have = int(counts[label])
        raise DatasetError(
            f"{where}{train.y_name}: class {shown} has only {have} {noun if have > 1 else noun[:-1]}; "
            f"a stratified split into {into} needs at least {need} of each class{hint}"
        )


def _hold_out(
    train: Split,
    fraction: float,
    rng: np.random.Generator,
    *,
    stratify: bool = True,
    name: str = "validation",
    noun: str = "training images",
    where: str = "",
) -> tuple[Split, Split]:
    """Splits ``fraction`` of ``train`` off, stratified by class unless ``stratify`` is false."""
    total = len(train[1])
    count = round(total * fraction)
    if not 0 < count < total:
        raise DatasetError(
            f"{where}{name}={fraction} of {total} {noun} leaves {total - count} "
            f"for training and {count} for {name}; each needs at least one"
        )
    held = _first(train[1], count, rng, stratify=stratify)
    return _take(train, ~held), _take(train, held)


def _subset(split: Split, limit: int, rng: np.random.Generator, *, stratify: bool = True) -> Split:
    """At most ``limit`` examples of ``split``, stratified by class unless ``stratify`` is false."""
    if len(split[1]) <= limit:
        return split
    return _take(split, _first(split[1], limit, rng, stratify=stratify))


def _first(labels: np.ndarray, count: int, rng: np.random.Generator, *, stratify: bool) -> np.ndarray:
    """Which examples (a mask) are the first ``count`` of a random order of ``labels``: a
    permutation, or unless not ``stratify`` one whose every prefix keeps the class shares.

    The stratified order ranks each example by how far through its class it comes in a random
    permutation, ties kept in the permutation's order; its first ``count`` are those ranked below
    the ``count``-th rank, then as many of those at that rank as are missing, in the
    permutation's order: found in linear time (a partition, not a sort).
    """
    order = rng.permutation(len(labels))
    chosen = np.zeros(len(labels), dtype=bool)
    if not stratify:
        chosen[order[:count]] = True
        return chosen
    inverse = labels[order].astype(np.int64).reshape(-1)  # class ids 0..k-1, checked before any split
    counts = np.bincount(inverse)  # classes absent from ``labels`` count 0 and take no place
    ids = inverse.astype(np.uint16) if len(counts) <= 2**16 else inverse  # radix-sorted: linear time
    grouped = np.argsort(ids, kind="stable")  # positions in ``order``, class by class, each in that order
    sizes = np.repeat(counts, counts)  # the size of the class of each of ``grouped``
    rank = (np.arange(len(labels)) - np.repeat(np.cumsum(counts) - counts, counts) + 0.5) / sizes
    last = np.partition(rank, count - 1)[count - 1]  # how far through its class, 0..1: the count-th
    below = rank < last
    ties = np.sort(grouped[rank == last])  # at most one of each class
    chosen[order[grouped[below]]] = True
    chosen[order[ties[: count - int(below.sum())]]] = True
    return chosen


def _take(split: Split, chosen: np.ndarray) -> Split:
    """The examples ``chosen`` (a mask), kept in their original order."""
    return split[0][chosen], split[1][chosen]
