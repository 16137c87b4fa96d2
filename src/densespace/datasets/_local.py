"""Local data files, found and opened safely: a path resolved, then opened only when it is a regular file."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from densespace._errors import DatasetError


def resolve(source: str | os.PathLike[str]) -> Path:
    """``source`` with ``~`` expanded and symbolic links resolved, as errors and ``Dataset.source`` name it.

    Examples:
        >>> resolve("~").is_absolute()
        True
    """
    path = Path(source)
    try:
        path = path.expanduser()
    except RuntimeError as exc:  # "~user" with no such user, or "~" without a home folder
        raise DatasetError(f"{source}: cannot expand ~ ({exc})") from None
    try:
        return path.resolve()
    except RuntimeError:  # a loop of symbolic links: Python 3.11 and 3.12 say so here, 3.13 on reading
        raise DatasetError(f"{path}: cannot follow it: a loop of symbolic links") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read it ({exc.strerror or exc})") from None


def open_regular(path: Path, *, expected: str, limit: int | None = None) -> tuple[BinaryIO, int]:
    """``path`` opened for reading, and its size; anything but a regular file is refused unopened.

    A folder, a FIFO or a device is refused on its ``stat`` (a FIFO would block
    the open, a device would never end), and again on the open file, should it
    have changed in between; ``expected`` says what was expected instead, and a
    file over ``limit`` bytes is refused unread.

    Examples:
        >>> open_regular(Path("/"), expected="a CSV file")
        Traceback (most recent call last):
        ...
        densespace._errors.DatasetError: /: it is a folder; expected a CSV file
    """
    try:
        mode = path.stat().st_mode  # follows symbolic links, as the open does
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file; expected {expected}") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    _check_regular(path, mode, expected)
    try:
        # O_NONBLOCK: should the file become a FIFO after the stat, the open does not wait for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    stream = os.fdopen(fd, "rb")
    info = os.fstat(fd)
    try:
        _check_regular(path, info.st_mode, expected)
        if limit is not None and info.st_size > limit:
            raise DatasetError(
                f"{path}: {info.st_size:,} bytes is more than densespace reads from {expected} "
                f"(at most {limit:,} bytes)"
            )
    except DatasetError:
        stream.close()
        raise
    return stream, info.st_size


def _check_regular(path: Path, mode: int, expected: str) -> None:
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise DatasetError(f"{path}: it is a folder; expected {expected}")
    raise DatasetError(f"{path}: it is {file_kind(mode)}, not a regular file; expected {expected}")


def file_kind(mode: int) -> str:
    """What a file that is neither regular nor a folder is, in words."""
    kinds = [
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ]
    return next((kind for test, kind in kinds if test(mode)), f"of file type {stat.S_IFMT(mode):#o}")
