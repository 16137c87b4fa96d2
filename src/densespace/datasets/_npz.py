"""A dataset saved with ``numpy.savez``: its arrays found by key, their sizes checked before they are read."""

from __future__ import annotations

import difflib
import lzma
import math
import os
import zipfile
import zlib
from typing import Any, BinaryIO, Literal

import numpy as np

from densespace._errors import DatasetError, quote
from densespace.datasets._arrays import Part, assemble, check_dtype, check_options
from densespace.datasets._dataset import Dataset
from densespace.datasets._local import open_regular, resolve

MAX_NPZ_BYTES = 8 * 2**30
"""The most bytes the arrays of one ``.npz`` file may take once loaded (8 GiB), read from their
headers before any array is: a small compressed file can hold a huge array of zeros."""

KEYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test", "x", "y")
"""The arrays ``load_npz`` reads; ``x`` and ``y`` are other names for ``x_train`` and ``y_train``."""

_EXPECTED = "a .npz file (numpy.savez) holding x_train, y_train, x_test, y_test (and x_val, y_val), or x, y"
_SPLITS = {"train": "training", "val": "validation", "test": "test"}
# what zipfile and numpy raise on a damaged file, RuntimeError for an encrypted member or a compression
# feature zipfile lacks (NotImplementedError) among them, and the decompressors' own errors
_DAMAGED = (OSError, ValueError, EOFError, RuntimeError, zipfile.BadZipFile, zlib.error, lzma.LZMAError)
_MAX_DIRECTORY = 2**20  # bytes of zip directory read, which zipfile holds as ~10 times as many in objects
_MAX_RATIO = {zipfile.ZIP_STORED: 1, zipfile.ZIP_DEFLATED: 1032}  # the most a byte expands to, by method


def load_npz(
    path: str | os.PathLike[str],
    *,
    validation: float | Literal["test"] = 0.1,
    test: float = 0.2,
    limit: int | None = None,
    seed: int = 0,
    numbers: bool = False,
) -> Dataset:
    """Loads arrays saved with ``numpy.savez`` (or ``savez_compressed``) and splits them three ways.

    The file holds ``x_train``, ``y_train`` and, optionally, ``x_test``,
    ``y_test`` and ``x_val``, ``y_val``; ``x``, ``y`` may stand for ``x_train``,
    ``y_train``. A split the file lacks is held out of the training arrays,
    stratified by class for integer labels: test first, then validation. The
    arrays follow the rules of ``from_arrays``. Nothing is unpickled
    (``allow_pickle=False``), and the arrays' headers are read first: arrays
    of a dtype training cannot take, of a shape their member does not hold, or
    that would take more than ``MAX_NPZ_BYTES`` together are refused unread.

    Args:
        path: the ``.npz`` file.
        validation: the share of the training examples held out for validation
            when the file holds no ``x_val``, or ``"test"`` to validate on the test split.
        test: the share of all examples held out for testing when the file holds no ``x_test``.
        limit: keep at most this many examples in each split, a stratified subset.
        seed: fixes which examples each split and each subset gets.
        numbers: integer labels are numbers to predict (a ``regression`` task), not class ids.

    Returns:
        A ``Dataset`` of kind ``"npz"`` whose source is the resolved path.

    Raises:
        DatasetError: the file is missing, not a ``.npz`` file, damaged, too
            large, holds other keys, or arrays that break the rules of ``from_arrays``.

    Examples:
        >>> import numpy as np, tempfile
        >>> x = np.arange(40.0).reshape(20, 2)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     np.savez(f"{folder}/d.npz", x_train=x, y_train=x[:, 0] % 2 > 0, x_test=x[:4], y_test=[0, 1, 0, 1])
        ...     data = load_npz(f"{folder}/d.npz", validation=0.2)
        >>> [len(y) for _, y in (data.train, data.validation, data.test)], data.class_names
        ([16, 4, 4], ('0', '1'))
    """
    check_options(validation=validation, test=test, limit=limit, seed=seed)
    where = resolve(path)
    stream, _ = open_regular(where, expected=_EXPECTED)
    with stream:
        arrays = _read(stream, f"{where}: ")
    parts = {}
    for short, split in _SPLITS.items():
        x_key, y_key = ("x", "y") if short == "train" and "x" in arrays else (f"x_{short}", f"y_{short}")
        if x_key in arrays:
            parts[short] = Part(arrays[x_key], arrays[y_key], x_key, y_key, split)
    chosen_validation: Any = parts.get("val", validation) if validation != "test" else "test"
    return assemble(
        parts["train"],
        validation=chosen_validation,
        test=parts.get("test", test),
        limit=limit,
        seed=seed,
        source=str(where),
        kind="npz",
        where=f"{where}: ",
        numbers=numbers,
    )


def _read(stream: BinaryIO, where: str) -> dict[str, np.ndarray]:
    """The arrays of the file open as ``stream``, keys checked, headers checked, then loaded."""
    if not zipfile.is_zipfile(stream):
        raise DatasetError(f"{where}not a .npz file (a zip archive of .npy arrays); expected {_EXPECTED}")
    # zipfile's own reading of the end record (private, but there since Python 2), before it reads the directory
    directory = zipfile._EndRecData(stream)[zipfile._ECD_SIZE]  # type: ignore[attr-defined]
    if directory > _MAX_DIRECTORY:
        raise DatasetError(
            f"{where}its zip directory takes {directory:,} bytes, more than the {_MAX_DIRECTORY:,} densespace "
            f"reads; the directory of {len(KEYS)} arrays takes a few hundred"
        )
    stream.seek(0)
    try:
        with np.load(stream, allow_pickle=False) as npz:
            keys = list(npz.files)
            _check_keys(keys, where)
            _check_headers(npz, keys, where)
            return {key: npz[key] for key in keys}
    except DatasetError:
        raise
    except _DAMAGED as exc:
        raise DatasetError(f"{where}the file is damaged ({quote(str(exc))})") from None


def _check_keys(keys: list[str], where: str) -> None:
    """Refuses keys other than ``KEYS``, arrays without their pair, and files with no training arrays."""
    for key in keys:
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1)
            guess = f" (did you mean {close[0]!r}?)" if close else ""
            raise DatasetError(f"{where}unexpected array {quote(key, 60)!r}{guess}; expected {_keys_rule()}")
    for key in keys:
        pair = ("y" + key[1:]) if key.startswith("x") else ("x" + key[1:])
        if pair not in keys:
            raise DatasetError(f"{where}holds {key} but no {pair}; arrays come in pairs: {_keys_rule()}")
    if "x" in keys and "x_train" in keys:
        raise DatasetError(f"{where}holds both x and x_train; x, y are another name for x_train, y_train")
    if "x" not in keys and "x_train" not in keys:
        shown = ", ".join(keys) or "no arrays"
        raise DatasetError(f"{where}holds {shown}; expected {_keys_rule()}")


def _keys_rule() -> str:
    return "x_train, y_train, and optionally x_test, y_test and x_val, y_val (or x, y for x_train, y_train)"


def _check_headers(npz: Any, keys: list[str], where: str) -> None:
    """Refuses, unread, arrays of other things than numbers, forged shapes, and more than ``MAX_NPZ_BYTES``.

    Each array's header must declare a shape of non-negative sizes whose bytes
    are the member's size in the zip directory, a size its compressed bytes
    can expand to; so no array is allocated that its file does not hold.
    """
    names, members, total = set(npz.zip.namelist()), [], 0
    for key in keys:
        info = npz.zip.getinfo(f"{key}.npy" if f"{key}.npy" in names else key)
        with npz.zip.open(info) as stream:
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
            offset = stream.tell()
        if dtype.hasobject:
            raise DatasetError(
                f"{where}{key} is an array of Python objects, which only unpickling could read; "
                "densespace reads arrays of numbers only"
            )
        check_dtype(dtype, key, features=key.startswith("x"), where=where)
        if any(size < 0 for size in shape):
            raise DatasetError(
                f"{where}{key}: its header declares the shape {quote(str(shape), 60)}; the file is damaged: save the arrays again"
            )
        declared = math.prod(shape) * dtype.itemsize
        members.append((key, info, offset, declared, shape))
        total += declared
    if total > MAX_NPZ_BYTES:
        raise DatasetError(
            f"{where}its arrays would take {total:,} bytes once loaded; densespace loads at most "
            f"{MAX_NPZ_BYTES:,} bytes (8 GiB) from a .npz file"
        )
    for member in members:
        _check_member(*member, where)


def _check_member(
    key: str, info: zipfile.ZipInfo, offset: int, declared: int, shape: tuple[int, ...], where: str
) -> None:
    """Refuses a member whose header, size in the zip directory and compressed size disagree."""
    if info.file_size != offset + declared:
        raise DatasetError(
            f"{where}{key}: its header declares the shape {quote(str(shape), 60)}, {declared:,} bytes, but the zip directory "
            f"gives it {info.file_size - offset:,} bytes; the file is damaged: save the arrays again"
        )
    ratio = _MAX_RATIO.get(info.compress_type)
    if ratio is not None and info.file_size > ratio * info.compress_size:
        raise DatasetError(
            f"{where}{key}: the zip directory says {info.compress_size:,} compressed bytes expand to "
            f"{info.file_size:,}, more than {ratio} times as many; the file is damaged: save the arrays again"
        )
