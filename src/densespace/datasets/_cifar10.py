"""Reads the official CIFAR-10 files, python and binary versions, safely and fast.

Only numpy and the standard library: reading local files never imports Keras.
Archives are streamed member by member, never extracted to disk; pickles go
through an unpickler that admits numpy's array reconstruction and nothing else.

Every read is bounded by what CIFAR-10 can hold, and checked before it happens:
a batch file or member larger than a batch, a sparse member, too many members,
tar headers or decompressed data beyond what the official archives need, and
anything that is not a regular file (a FIFO, a device) are refused unread.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import io
import lzma
import math
import os
import pickle
import stat
import tarfile
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Literal

import numpy as np

from densespace._errors import DatasetError, quote
from densespace.datasets._local import file_kind

CLASS_NAMES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
"""The ten class names, indexed by label id."""

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

# The bounds below are read at call time (the tests lower them to keep their files tiny).
_MAX_RECORDS = 10_000
"""Images in one official batch: a binary batch is at most 30,730,000 bytes."""
_PICKLE_ALLOWANCE = 2**20
"""Bytes a python batch may hold beyond the 30,730,000 of a binary one: its labels, file
names and pickle opcodes take about 306,000 bytes in the official files."""
_MAX_PICKLE_OPS = 1_000_000
"""Pickle opcodes run per python batch at most: an official batch runs about 30,000, and the
pure-Python unpickler takes some 0.4 us each (a 31 MB file of one-byte opcodes would take 7 s)."""
_MAX_MEMBERS = 1000
"""Members read from an archive at most: the official ones hold 9."""
_MAX_HEADER = 64 * 1024
"""Bytes of tar headers read for one member at most: the official archives use 512."""
_MAX_ARCHIVE_FILES = 16
"""An archive's tar stream is read up to this many python batches' worth of bytes: room for
both versions in one archive, with their meta and readme files (the official ones need under 6)."""

_GZIP, _BZIP2, _XZ = b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00"
_USTAR = slice(257, 262)  # where a plain tar's first header says b"ustar"

_MEMBER_KINDS = {
    tarfile.SYMTYPE: "a symbolic link",
    tarfile.LNKTYPE: "a hard link",
    tarfile.CHRTYPE: "a character device",
    tarfile.BLKTYPE: "a block device",
    tarfile.FIFOTYPE: "a FIFO",
}
_LOOP = "cannot follow it: a loop of symbolic links"

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
        DatasetError: the path is missing, not CIFAR-10, damaged, unsafe or
            larger than CIFAR-10 can be.
    """
    return _read(path, look_inside=True)


def _read(path: Path, *, look_inside: bool) -> tuple[Split, Split, str]:
    """``read_cifar10``; ``look_inside`` lets a folder without batches name the copy it holds."""
    try:
        try:
            mode = path.stat().st_mode  # opens nothing: a FIFO or a device is refused unread
        except (FileNotFoundError, NotADirectoryError):
            raise DatasetError(f"{path}: no such file or folder; {_EXPECTED}") from None
        if stat.S_ISDIR(mode):
            names = {name for name in _LOOKED_FOR if os.path.lexists(path / name)}
            layout = _pick_layout(names, str(path))
            if layout is None:
                inner = next((path / name for name in _INNER if name in names), None)
                if inner is None or not look_inside:  # one level only: a link to the folder is no loop
                    raise DatasetError(f"{path}: no CIFAR-10 batches here; {_EXPECTED}")
                return _read(inner, look_inside=False)
            batches = _read_folder(path, layout)
        elif stat.S_ISREG(mode):
            batches, layout = _read_archive(path)
        else:
            raise DatasetError(f"{path}: it is {file_kind(mode)}, not a regular file or folder; {_EXPECTED}")
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DatasetError(f"{exc.filename or path}: {_LOOP}") from None
        raise DatasetError(f"{path}: cannot read it ({exc})") from exc
    parts = [batches[name] for name in _FILES[layout]]
    with ThreadPoolExecutor() as pool:  # numpy's copies release the GIL
        return _assemble(parts[:5], pool), _assemble(parts[5:], pool), str(path)


_LOOKED_FOR = (*_FILES["binary"], *_FILES["python"], *_INNER)


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


def _binary_limit() -> int:
    """The most bytes a binary batch holds: 30,730,000."""
    return _MAX_RECORDS * _RECORD


def _python_limit() -> int:
    """The most bytes a python batch may hold, and so any file of either version: 31,778,576."""
    return _binary_limit() + _PICKLE_ALLOWANCE


def _check_binary_size(size: int, where: str) -> None:
    """Refuses a binary batch of ``size`` bytes that is not 1 to 10,000 whole records."""
    limit = _binary_limit()
    if size > limit:
        raise DatasetError(
            f"{where}: {size} bytes is more than a batch of the binary version holds "
            f"(at most {limit:,} bytes: {_MAX_RECORDS:,} records of {_RECORD} bytes)"
        )
    if size <= 0 or size % _RECORD:
        raise DatasetError(
            f"{where}: {size} bytes is not a whole number of {_RECORD}-byte records "
            f"(1 label byte + {_PIXELS} pixel bytes each)"
        )


def _check_python_size(size: int, where: str) -> None:
    """Refuses a python batch of more than ``_python_limit()`` bytes."""
    limit = _python_limit()
    if size > limit:
        raise DatasetError(
            f"{where}: {size} bytes is more than a batch of the python version holds (at most "
            f"{limit:,} bytes: the {_binary_limit():,} of a binary batch and {_PICKLE_ALLOWANCE:,} "
            "for file names and pickle opcodes)"
        )


def _open_regular(path: Path) -> tuple[io.BufferedReader, int]:
    """``path`` opened for reading, and its size; refuses anything but a regular file unopened."""
    mode = path.stat().st_mode  # follows symbolic links, as the open does
    if not stat.S_ISREG(mode):
        raise DatasetError(f"{path}: it is {file_kind(mode)}, not a regular file")
    # O_NONBLOCK: should the file become a FIFO after the stat, the open does not wait for a writer
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    stream = os.fdopen(fd, "rb")
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        stream.close()
        raise DatasetError(f"{path}: it is {file_kind(info.st_mode)}, not a regular file")
    return stream, info.st_size


def _read_folder(folder: Path, layout: _Layout) -> dict[str, _Batch]:
    """Decodes the six batch files of ``layout`` in ``folder``, each checked for size before it is read."""
    batches = {}
    for name in _FILES[layout]:
        path = folder / name
        where = str(path)
        stream, size = _open_regular(path)
        with stream:
            if layout == "binary":
                _check_binary_size(size, where)
                # mapped, not read: the transposing copy then reads the page cache directly
                batches[name] = _decode_binary(
                    np.memmap(stream, dtype=np.uint8, mode="r", shape=(size,)), where
                )
                continue
            _check_python_size(size, where)
            batches[name] = _decode_python(io.BufferedReader(_Capped(stream, size), 1 << 16), where)
    return batches


class _Capped(io.RawIOBase):
    """A file read no further than the ``size`` bytes its size check saw, should it grow since."""

    def __init__(self, stream: io.BufferedReader, size: int) -> None:
        self._raw = stream.raw  # nothing read through the buffer yet: read past it, a block at a time
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with memoryview(buffer) as view:
            count = self._raw.readinto(view[: self._left]) or 0
        self._left -= count
        return count


class _TarStream:
    """An archive's tar stream, decompressed, that refuses to be read past what CIFAR-10 needs.

    Outside ``data()`` tarfile reads tar headers: at most ``_MAX_HEADER`` bytes of them per
    member (``next_member()`` starts the count again), so that no pax, long-name or sparse
    header can claim gigabytes. Inside ``data(limit)`` a member's bytes are read, at most
    ``limit`` at once. Reading or skipping past ``_MAX_ARCHIVE_FILES`` python batches' worth
    of bytes is refused, so that no member list or padding is decompressed for minutes.
    """

    def __init__(self, stream: BinaryIO | io.BufferedIOBase, archive: Path) -> None:
        self._stream = stream
        self._archive = archive
        self._position = 0
        self._header = 0
        self._data_limit: int | None = None
        self._limit = _MAX_ARCHIVE_FILES * _python_limit()

    def next_member(self) -> None:
        """Starts counting the tar headers of the next member."""
        self._header = 0

    @contextmanager
    def data(self, limit: int) -> Iterator[None]:
        """Lets tarfile read a member's bytes, at most ``limit`` at once."""
        self._data_limit = limit
        try:
            yield
        finally:
            self._data_limit = None

    def seekable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:
        raise io.UnsupportedOperation("an archive is only read")

    def close(self) -> None:
        """Leaves the stream to whoever opened it."""

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            self._check_position(offset)
        self._position = self._stream.seek(offset, whence)
        self._check_position(self._position)
        return self._position

    def read(self, size: int = -1) -> bytes:
        if size < 0:  # tarfile always says how much it wants; "all of it" could be gigabytes
            raise io.UnsupportedOperation("an archive's tar stream is read a known size at a time")
        if self._data_limit is None:
            self._header += size
            if self._header > _MAX_HEADER:
                raise DatasetError(
                    f"{self._archive}: a member's tar headers take {self._header} bytes, more than "
                    f"the {_MAX_HEADER:,} allowed (a CIFAR-10 member needs 512)"
                )
        elif size > self._data_limit:
            raise DatasetError(f"{self._archive}: refusing to read {size} bytes of a member at once")
        data = self._stream.read(size)
        self._position += len(data)
        self._check_position(self._position)
        return data

    def _check_position(self, position: int) -> None:
        if position > self._limit:
            raise DatasetError(
                f"{self._archive}: holds more than {self._limit:,} bytes of tar data, more than "
                f"CIFAR-10 needs ({_MAX_ARCHIVE_FILES} files of at most {_python_limit():,} bytes)"
            )


# Errors of a damaged archive: tarfile's own, the decompressors' (gzip's BadGzipFile and bz2's
# "Invalid data stream" are OSErrors), and the ValueError of a malformed pax number.
_DAMAGED = (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError, ValueError)


def _open_tar(archive: Path, stack: ExitStack) -> tuple[tarfile.TarFile, _TarStream]:
    """Opens ``archive`` as a tar file, its compression told by its first bytes, not by trying each."""
    raw, _ = _open_regular(archive)
    stack.enter_context(raw)
    head = raw.read(_USTAR.stop)
    raw.seek(0)
    stream: BinaryIO | io.BufferedIOBase
    if head.startswith(_GZIP):
        stream = stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))
    elif head.startswith(_BZIP2):
        stream = stack.enter_context(bz2.BZ2File(raw))
    elif head.startswith(_XZ):
        stream = stack.enter_context(lzma.LZMAFile(raw))  # noqa: SIM115 - closed by the stack
    elif head[_USTAR] == b"ustar":
        stream = raw
    else:
        raise DatasetError(f"{archive}: not a tar archive (or a truncated one); {_EXPECTED}")
    tar_stream = _TarStream(stream, archive)
    try:
        tar = tarfile.open(fileobj=tar_stream, mode="r:")  # noqa: SIM115 - closed by the stack
    except DatasetError:
        raise
    except _DAMAGED as exc:
        raise DatasetError(f"{archive}: not a tar archive (or a truncated one); {_EXPECTED}") from exc
    return stack.enter_context(tar), tar_stream


def _read_archive(archive: Path) -> tuple[dict[str, _Batch], _Layout]:
    """Decodes the batches of a tar archive in one pass, without extracting it."""
    batches: dict[str, _Batch] = {}
    with ExitStack() as stack:
        tar, stream = _open_tar(archive, stack)
        try:
            for count, member in enumerate(tar, start=1):
                if count > _MAX_MEMBERS:
                    raise DatasetError(
                        f"{archive}: holds more than {_MAX_MEMBERS:,} members (the CIFAR-10 archives hold 9)"
                    )
                limit = _check_member(member, archive)
                name = PurePosixPath(member.name).name
                if member.isfile() and (name in _FILES["binary"] or name in _STEMS):
                    if name in batches:
                        raise DatasetError(f"{archive}: holds {name} twice (again as {_shown(member.name)})")
                    batches[name] = _read_member(tar, member, stream, limit, archive)
                stream.next_member()
        except DatasetError:
            raise
        except _DAMAGED as exc:
            reason = quote(str(exc) or type(exc).__name__)
            raise DatasetError(f"{archive}: the archive is truncated or corrupt ({reason})") from exc
    layout = _pick_layout(set(batches), str(archive))
    if layout is None:
        raise DatasetError(f"{archive}: no CIFAR-10 batches among its members; {_EXPECTED}")
    return batches, layout


def _read_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, stream: _TarStream, limit: int, archive: Path
) -> _Batch:
    """Decodes one batch member, reading at most ``limit`` bytes of it."""
    where = f"{archive} (member {_shown(member.name)})"
    with stream.data(limit):
        raw = tar.extractfile(member).read(limit + 1)  # type: ignore[union-attr]  # a file has one
    if len(raw) != member.size:
        raise DatasetError(f"{where}: holds {len(raw)} bytes where its header says {member.size}")
    if member.name.endswith(".bin"):
        return _decode_binary(np.frombuffer(raw, dtype=np.uint8), where)
    return _decode_python(io.BytesIO(raw), where)


def _shown(name: str) -> str:
    """A member name as a message shows it: cut short, and quoted when it holds odd characters."""
    return quote(name if name.isprintable() else repr(name))


def _check_member(member: tarfile.TarInfo, archive: Path) -> int:
    """Refuses sparse members, links, devices, paths that leave the archive's folder and files
    larger than CIFAR-10's; returns the most bytes the member may hold."""
    refusing = f"{archive}: refusing member {quote(repr(member.name))}"
    if member.issparse():
        raise DatasetError(f"{refusing}: it is a sparse file, which CIFAR-10 archives never hold")
    if not (member.isfile() or member.isdir()):
        kind = _MEMBER_KINDS.get(member.type, f"of tar type {member.type!r}")
        raise DatasetError(f"{refusing}: it is {kind}, not a regular file or folder")
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts:
        raise DatasetError(f"{refusing}: its path leaves the archive")
    if member.size < 0:
        raise DatasetError(f"{refusing}: its header says it holds {member.size} bytes")
    where = f"{archive} (member {_shown(member.name)})"
    if member.isfile() and path.name in _FILES["binary"]:
        _check_binary_size(member.size, where)
        return _binary_limit()
    if member.isfile() and path.name in _STEMS:
        _check_python_size(member.size, where)
    elif member.size > _python_limit():
        raise DatasetError(
            f"{refusing}: it is {member.size} bytes, more than any file of CIFAR-10 "
            f"(at most {_python_limit():,} bytes)"
        )
    return _python_limit()


def _check_labels(batch: _Batch, where: str) -> _Batch:
    """Returns ``batch`` when every label is a class id 0-9."""
    labels = batch[1]
    bad = np.flatnonzero((labels < 0) | (labels > 9))
    if bad.size:
        raise DatasetError(f"{where}: label {labels[bad[0]]} of image {bad[0]} is not a class id 0-9")
    return batch


def _decode_binary(raw: np.ndarray, where: str) -> _Batch:
    """Splits binary-version records into pixels and labels (views, no copy)."""
    _check_binary_size(raw.size, where)
    records = raw.reshape(-1, _RECORD)
    return _check_labels((records[:, 1:], records[:, 0]), where)


class _NdarrayGlobal:
    """Stands in for ``numpy.ndarray``: only ``_reconstruct`` may be given it."""

    def __setstate__(self, state: object) -> None:  # also keeps pickle's BUILD off the class
        raise pickle.UnpicklingError("numpy.ndarray has no state to set")


class _PickledDtype:
    """Stands in for ``numpy.dtype``: records the type's name and byte order, and resolves them
    only to a numeric numpy type (never an object, string or structured one)."""

    _name: object = None
    _order: object = "|"

    def __init__(self, name: object = None, align: object = False, copy: object = True) -> None:
        self._name = name

    def __setstate__(self, state: object) -> None:
        # (version, byte order, subarray, names, fields, ...): only plain types have no subarray or fields
        if not isinstance(state, tuple) or len(state) < 5 or state[2:5] != (None, None, None):
            raise pickle.UnpicklingError("refusing a structured or malformed numpy dtype")
        self._order = state[1]

    def resolve(self) -> np.dtype[Any]:
        """The numeric numpy type pickled; refuses every other kind."""
        name, order = self._name, self._order
        name = name.decode("ascii", "replace") if isinstance(name, bytes) else name
        order = order.decode("ascii", "replace") if isinstance(order, bytes) else order
        if not isinstance(name, str) or len(name) > 8 or order not in ("<", ">", "|", "="):
            raise pickle.UnpicklingError("refusing a malformed numpy dtype")
        try:
            dtype = np.dtype(name)
        except TypeError:
            raise pickle.UnpicklingError(f"{quote(repr(name))} is not a numpy dtype") from None
        if dtype.kind not in "biufc" or dtype.fields is not None or dtype.subdtype is not None:
            raise pickle.UnpicklingError(
                f"refusing a numpy array of dtype {dtype}; CIFAR-10 batches hold numeric arrays"
            )
        return dtype.newbyteorder(order) if order in "<>" else dtype


class _PickledArray:
    """Stands in for numpy's ``_reconstruct``: builds the array from its pickled state, checked,
    with ``numpy.frombuffer``, so that no shape, dtype or length a file claims is trusted."""

    array: np.ndarray | None = None

    def __init__(self, subtype: object = None, shape: object = None, dtype: object = None) -> None:
        if subtype is not _NdarrayGlobal:
            raise pickle.UnpicklingError("numpy's _reconstruct only builds numpy.ndarray here")

    def __setstate__(self, state: object) -> None:
        # (version, shape, dtype, is_fortran, bytes), or the same without the version
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise pickle.UnpicklingError("a numpy array's state must be (version, shape, dtype, order, data)")
        shape, dtype, fortran, data = state[-4:]
        if not (
            isinstance(shape, tuple)
            and len(shape) <= 8
            and all(type(n) is int and 0 <= n < 2**40 for n in shape)
        ):
            raise pickle.UnpicklingError("a numpy array's shape must be a few sizes")
        if not isinstance(dtype, _PickledDtype):
            raise pickle.UnpicklingError("a numpy array's dtype must be a numpy.dtype")
        resolved = dtype.resolve()
        if type(fortran) is not bool or not isinstance(data, bytes):
            raise pickle.UnpicklingError("a numpy array's state must be (version, shape, dtype, order, data)")
        if math.prod(shape) * resolved.itemsize != len(data):
            raise pickle.UnpicklingError(
                f"a numpy array of shape {shape} and dtype {resolved} needs "
                f"{math.prod(shape) * resolved.itemsize} bytes, got {len(data)}"
            )
        flat = np.frombuffer(data, dtype=resolved) if data else np.empty(0, dtype=resolved)
        self.array = flat.reshape(shape, order="F" if fortran else "C")


_PICKLE_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _PickledArray,
    ("numpy._core.multiarray", "_reconstruct"): _PickledArray,
    ("numpy", "ndarray"): _NdarrayGlobal,
    ("numpy", "dtype"): _PickledDtype,
}


class _CountedDispatch(dict[int, Any]):
    """The unpickler's opcode table, counting the opcodes looked up and refusing too many."""

    def __init__(self, table: dict[int, Any], where: str) -> None:
        super().__init__(table)
        self._left = _MAX_PICKLE_OPS
        self._where = where

    def __getitem__(self, opcode: int) -> Any:
        self._left -= 1
        if self._left < 0:
            raise DatasetError(
                f"{self._where}: runs more than {_MAX_PICKLE_OPS:,} pickle opcodes; an official "
                "batch runs about 30,000"
            )
        return super().__getitem__(opcode)


class _RestrictedUnpickler(pickle._Unpickler):
    """Unpickles what the official batches hold: dicts, lists, byte strings, numpy arrays.

    The pure-Python unpickler, not the C one: its memo is a dict, where the C one's is an
    array that a 10-byte pickle can grow to 32 GiB (``LONG_BINPUT`` with a 2**32 index).
    It is no slower on the official (protocol 2) files. numpy's globals are replaced by
    stand-ins that check what they build, since numpy's own trust their arguments: an
    object array whose state holds fewer items than its shape says crashes the interpreter.
    """

    def __init__(self, file: BinaryIO, where: str) -> None:
        super().__init__(file, encoding="bytes")
        self._where = where
        # load() looks opcodes up in self.dispatch: a table of this unpickler's own counts them
        self.dispatch = _CountedDispatch(pickle._Unpickler.dispatch, where)  # type: ignore[misc]

    def find_class(self, module: str, name: str) -> Any:
        """Returns an allowed global; refuses every other one without importing it."""
        try:
            return _PICKLE_GLOBALS[module, name]
        except (KeyError, TypeError):
            raise DatasetError(
                f"{self._where}: refusing to unpickle the global {quote(f'{module}.{name}')}; CIFAR-10 "
                "batches only use numpy.core.multiarray._reconstruct, numpy.ndarray and numpy.dtype"
            ) from None


def _decode_python(stream: BinaryIO, where: str) -> _Batch:
    """Unpickles one python-version batch and checks its fields."""
    try:
        batch = _RestrictedUnpickler(stream, where).load()
    except DatasetError:
        raise
    except Exception as exc:  # a damaged pickle can fail in many ways; none runs code
        reason = str(exc) or ("the pickle ends early" if isinstance(exc, EOFError) else "no detail")
        raise DatasetError(f"{where}: not a readable pickle ({type(exc).__name__}: {quote(reason)})") from exc
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        keys = quote(repr(list(batch)[:20])) if isinstance(batch, dict) else None
        got = f"a dict with keys {keys}" if keys is not None else f"a {type(batch).__name__}"
        raise DatasetError(f"{where}: expected a dict with b'data' and b'labels', got {got}")
    pixels = batch[b"data"]
    if isinstance(pixels, _PickledArray):
        pixels = pixels.array if pixels.array is not None else "a numpy array without its data"
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8 or pixels.shape[1:] != (_PIXELS,):
        if isinstance(pixels, np.ndarray):
            got = f"{pixels.dtype} {pixels.shape}"
        else:
            got = pixels if isinstance(pixels, str) else type(pixels).__name__
        raise DatasetError(f"{where}: b'data' must be a uint8 array of shape (N, {_PIXELS}), got {got}")
    labels = batch[b"labels"]
    if not isinstance(labels, list) or not all(type(label) is int for label in labels):
        raise DatasetError(f"{where}: b'labels' must be a list of int class ids")
    if len(labels) != len(pixels):
        raise DatasetError(f"{where}: {len(labels)} labels for {len(pixels)} images")
    bad = next((i for i, label in enumerate(labels) if not 0 <= label <= 9), None)
    if bad is not None:
        label = labels[bad]
        shown = (
            str(label)
            if label.bit_length() <= 64
            else f"{'-' if label < 0 else ''}2**{label.bit_length() - 1}+"
        )
        raise DatasetError(f"{where}: label {shown} of image {bad} is not a class id 0-9")
    # a pickle may hold the rows in Fortran order; the copy into images wants each row in one piece
    return np.ascontiguousarray(pixels), np.array(labels, dtype=np.uint8)


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
