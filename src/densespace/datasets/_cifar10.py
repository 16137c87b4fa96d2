"""Reads the official CIFAR-10 files, python and binary versions, safely and fast.

Only numpy and the standard library: reading local files never imports Keras.
Archives are streamed member by member, never extracted to disk; pickles go
through an unpickler that admits numpy's array reconstruction and nothing else.
"""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Literal

import numpy as np

from densespace._errors import DatasetError

CLASS_NAMES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip

Split = tuple[np.ndarray, np.ndarray]
"""Images ``uint8 (N, 32, 32, 3)`` and labels ``uint8 (N,)``."""

_Layout = Literal["binary", "python"]
_Batch = tuple[np.ndarray, np.ndarray]  # channel-major pixels (n, 3072), labels (n,)

_STEMS = (
    "data_batch_1",
    "data_batch_2",
    "data_batch_3",
    "data_batch_4",
    "data_batch_5",
    "test_batch",
)
_FILES: dict[_Layout, tuple[str, ...]] = {  # binary first: it is the faster one to read
    "binary": tuple(stem + ".bin" for stem in _STEMS),
    "python": _STEMS,
}
_INNER = (
    "cifar-10-batches-bin",
    "cifar-10-batches-py",
    "cifar-10-binary.tar.gz",
    "cifar-10-python.tar.gz",
)
_PIXELS = 32 * 32 * 3
_CHUNK = 1000  # images per transposing copy: stays in cache, and spreads over the cores
_RECORD = 1 + _PIXELS  # binary version: one label byte, then the pixels channel by channel

# numpy.core.multiarray._reconstruct (numpy._core in numpy 2), taken from numpy
# itself so the allow-list below needs no import by name.
_RECONSTRUCT = np.empty(0).__reduce__()[0]
_PICKLE_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}
_MEMBER_KINDS = {
    tarfile.SYMTYPE: "a symbolic link",
    tarfile.LNKTYPE: "a hard link",
    tarfile.CHRTYPE: "a character device",
    tarfile.BLKTYPE: "a block device",
    tarfile.FIFOTYPE: "a FIFO",
}

_EXPECTED = (
    "expected the python version (cifar-10-python.tar.gz or cifar-10-batches-py/) "
    "or the binary version (cifar-10-binary.tar.gz or cifar-10-batches-bin/) of CIFAR-10"
)


def read_cifar10(path: Path) -> tuple[Split, Split, str]:
    """Reads a local copy of CIFAR-10 in whichever official layout it is.

    Args:
        path: ``cifar-10-python.tar.gz`` or ``cifar-10-binary.tar.gz`` (any
            name: the members decide), an extracted ``cifar-10-batches-py/`` or
            ``cifar-10-batches-bin/`` (the files inside decide), or a folder
            holding one of those four under its official name.

    Returns:
        ``(train, test, source)``: the training and the test images in file
        order, and the path that was read.

    Raises:
        DatasetError: the path is missing, not CIFAR-10, damaged or unsafe.
    """
    try:
        if path.is_dir():
            names = {entry.name for entry in path.iterdir()}
            layout = _pick_layout(names, str(path))
            if layout is None:
                inner = next((path / name for name in _INNER if name in names), None)
                if inner is None:
                    raise DatasetError(f"{path}: no CIFAR-10 batches here; {_EXPECTED}")
                return read_cifar10(inner)
            batches = _read_folder(path, layout)
        elif path.exists():
            batches, layout = _read_archive(path)
        else:
            raise DatasetError(f"{path}: no such file or folder; {_EXPECTED}")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read it ({exc})") from exc
    parts = [batches[name] for name in _FILES[layout]]
    with ThreadPoolExecutor() as pool:  # numpy's copies release the GIL
        return _assemble(parts[:5], pool), _assemble(parts[5:], pool), str(path)


def _pick_layout(names: set[str], where: str) -> _Layout | None:
    """Returns the layout whose batch files ``names`` holds, None when it holds none."""
    for layout, files in _FILES.items():
        if names.intersection(files):
            missing = [name for name in files if name not in names]
            if missing:
                raise DatasetError(
                    f"{where}: the {layout} version of CIFAR-10 is missing {', '.join(missing)}"
                )
            return layout
    return None


def _read_folder(folder: Path, layout: _Layout) -> dict[str, _Batch]:
    """Decodes the six batch files of ``layout`` in ``folder``."""
    batches = {}
    for name in _FILES[layout]:
        path = folder / name
        if layout == "binary":
            batches[name] = _decode_binary(_map(path), str(path))
        else:
            with path.open("rb") as stream:
                batches[name] = _decode_python(stream, str(path))
    return batches


def _map(path: Path) -> np.ndarray:
    """The file's bytes, memory-mapped: the transposing copy then reads the page cache directly."""
    if path.stat().st_size == 0:  # mmap refuses empty files
        return np.empty(0, dtype=np.uint8)
    return np.memmap(path, dtype=np.uint8, mode="r")


def _read_archive(archive: Path) -> tuple[dict[str, _Batch], _Layout]:
    """Decodes the batches of a tar archive in one pass, without extracting it."""
    try:
        tar = tarfile.open(archive, "r:*")  # noqa: SIM115 - closed by the `with tar` below
    except tarfile.TarError as exc:
        raise DatasetError(f"{archive}: not a tar archive (or a truncated one); {_EXPECTED}") from exc
    batches: dict[str, _Batch] = {}
    with tar:
        try:
            for member in tar:
                _check_member(member, archive)
                name = PurePosixPath(member.name).name
                if not member.isfile() or (name not in _FILES["binary"] and name not in _STEMS):
                    continue
                if name in batches:
                    raise DatasetError(f"{archive}: holds {name} twice (again as {member.name})")
                raw = tar.extractfile(member).read()  # type: ignore[union-attr]  # a file has one
                where = f"{archive} (member {member.name})"
                if name.endswith(".bin"):
                    batches[name] = _decode_binary(np.frombuffer(raw, dtype=np.uint8), where)
                else:
                    batches[name] = _decode_python(io.BytesIO(raw), where)
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise DatasetError(f"{archive}: the archive is truncated or corrupt ({exc})") from exc
    layout = _pick_layout(set(batches), str(archive))
    if layout is None:
        raise DatasetError(f"{archive}: no CIFAR-10 batches among its members; {_EXPECTED}")
    return batches, layout


def _check_member(member: tarfile.TarInfo, archive: Path) -> None:
    """Refuses links, devices and paths that leave the archive's folder."""
    if not (member.isfile() or member.isdir()):
        kind = _MEMBER_KINDS.get(member.type, f"of tar type {member.type!r}")
        raise DatasetError(
            f"{archive}: refusing member {member.name!r}: it is {kind}, not a regular file or folder"
        )
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts:
        raise DatasetError(f"{archive}: refusing member {member.name!r}: its path leaves the archive")


def _check_labels(batch: _Batch, where: str) -> _Batch:
    """Returns ``batch`` when every label is a class id 0-9."""
    labels = batch[1]
    bad = np.flatnonzero((labels < 0) | (labels > 9))
    if bad.size:
        raise DatasetError(f"{where}: label {labels[bad[0]]} of image {bad[0]} is not a class id 0-9")
    return batch


def _decode_binary(raw: np.ndarray, where: str) -> _Batch:
    """Splits binary-version records into pixels and labels (views, no copy)."""
    if raw.size == 0 or raw.size % _RECORD:
        raise DatasetError(
            f"{where}: {raw.size} bytes is not a whole number of {_RECORD}-byte records "
            f"(1 label byte + {_PIXELS} pixel bytes each)"
        )
    records = raw.reshape(-1, _RECORD)
    return _check_labels((records[:, 1:], records[:, 0]), where)


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles what the official batches hold: dicts, lists, byte strings, numpy arrays."""

    def __init__(self, file: BinaryIO, where: str) -> None:
        super().__init__(file, encoding="bytes")
        self._where = where

    def find_class(self, module: str, name: str) -> Any:
        """Returns an allowed global; refuses every other one without importing it."""
        try:
            return _PICKLE_GLOBALS[module, name]
        except KeyError:
            raise DatasetError(
                f"{self._where}: refusing to unpickle the global {module}.{name}; CIFAR-10 "
                "batches only use numpy.core.multiarray._reconstruct, numpy.ndarray and numpy.dtype"
            ) from None


def _decode_python(stream: BinaryIO, where: str) -> _Batch:
    """Unpickles one python-version batch and checks its fields."""
    try:
        batch = _RestrictedUnpickler(stream, where).load()
    except DatasetError:
        raise
    except Exception as exc:  # a damaged pickle can fail in many ways; none runs code
        raise DatasetError(f"{where}: not a readable pickle ({type(exc).__name__}: {exc})") from exc
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        keys = list(batch) if isinstance(batch, dict) else None
        got = f"a dict with keys {keys}" if keys is not None else f"a {type(batch).__name__}"
        raise DatasetError(f"{where}: expected a dict with b'data' and b'labels', got {got}")
    pixels = batch[b"data"]
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8 or pixels.shape[1:] != (_PIXELS,):
        got = f"{pixels.dtype} {pixels.shape}" if isinstance(pixels, np.ndarray) else type(pixels).__name__
        raise DatasetError(f"{where}: b'data' must be a uint8 array of shape (N, {_PIXELS}), got {got}")
    labels = batch[b"labels"]
    if not isinstance(labels, list) or not all(type(label) is int for label in labels):
        raise DatasetError(f"{where}: b'labels' must be a list of int class ids")
    if len(labels) != len(pixels):
        raise DatasetError(f"{where}: {len(labels)} labels for {len(pixels)} images")
    # a pickle may hold the rows in Fortran order; the copy into images wants each row in one piece
    return _check_labels((np.ascontiguousarray(pixels), np.array(labels)), where)


def _assemble(batches: list[_Batch], pool: ThreadPoolExecutor) -> Split:
    """Concatenates batches into one split, transposing pixels to ``(N, 32, 32, 3)``."""
    images = np.empty((sum(len(labels) for _, labels in batches), 32 * 32, 3), dtype=np.uint8)
    sources, targets, start = [], [], 0
    for pixels, labels in batches:
        target = images[start : start + len(labels)]
        for offset in range(0, len(labels), _CHUNK):
            sources.append(pixels[offset : offset + _CHUNK])
            targets.append(target[offset : offset + _CHUNK])
        start += len(labels)
    list(pool.map(_to_channels_last, sources, targets))
    labels = np.concatenate([labels for _, labels in batches]).astype(np.uint8)
    return images.reshape(-1, 32, 32, 3), labels


def _to_channels_last(pixels: np.ndarray, target: np.ndarray) -> None:
    """Copies channel-major ``pixels (n, 3072)`` into ``target (n, 1024, 3)``."""
    planes = pixels.reshape(-1, 3, 32 * 32)
    for channel in range(3):  # a plane at a time: 3x faster than one transposing copy
        target[:, :, channel] = planes[:, channel]


__all__ = ["CLASS_NAMES", "Split", "read_cifar10"]
