"""Files densespace writes and reads back: atomic writes, bounded reads.

Every file densespace writes goes through ``write_text`` / ``write_bytes``: the
content lands in a temporary file beside the target, is flushed to disk, and
only then renamed over the target, so a crash or a full disk at any moment
leaves the previous version whole. Reads check that the path is a regular file
of a bounded size before reading it.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from densespace._errors import RunFolderError


def write_bytes(path: Path, data: bytes) -> None:
    """Replaces ``path`` with ``data`` atomically (temporary file, fsync, rename)."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(descriptor, shareable_mode())
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def shareable_mode() -> int:
    """The mode a plain ``open`` would give a new file (0o666 less the umask): temporary files
    start at 0o600, and the files they become should not."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_text(path: Path, text: str) -> None:
    """Replaces ``path`` with ``text`` (UTF-8) atomically."""
    write_bytes(path, text.encode("utf-8"))


class UnreadableFile(Exception):
    """A file that ``read_bytes`` refused or could not read; ``reason`` says why, without the path."""

    def __init__(self, reason: str, *, missing: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.missing = missing


def read_bytes(path: Path, *, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes.

    The path is checked with ``stat`` first, so a FIFO or a device (``/dev/zero``)
    is refused without being opened, and a file larger than ``limit`` without being read.

    Raises:
        UnreadableFile: ``path`` is missing, not a regular file, larger than
            ``limit``, or unreadable.
    """
    try:
        info = path.stat()
    except OSError as exc:
        raise UnreadableFile(exc.strerror or str(exc), missing=isinstance(exc, FileNotFoundError)) from None
    except (RuntimeError, ValueError) as exc:  # a symlink loop (Python 3.11), an embedded NUL
        raise UnreadableFile(str(exc)) from None
    if not stat.S_ISREG(info.st_mode):
        raise UnreadableFile("not a regular file")
    if info.st_size > limit:
        raise UnreadableFile(f"{info.st_size:,} bytes is larger than the {limit:,} bytes allowed")
    try:
        with path.open("rb") as stream:
            data = stream.read(limit + 1)
    except OSError as exc:
        raise UnreadableFile(exc.strerror or str(exc)) from None
    if len(data) > limit:  # it grew since stat
        raise UnreadableFile(f"larger than the {limit:,} bytes allowed")
    return data


def read_json(path: Path, *, limit: int, missing: str = "") -> Any:
    """The parsed JSON of a file densespace wrote, bounded by ``limit`` bytes.

    Raises:
        RunFolderError: The file is missing (with the ``missing`` hint), not a
            regular file, too large, not UTF-8 or not JSON; the message names the
            file and the place.
    """
    try:
        data = read_bytes(path, limit=limit)
    except UnreadableFile as exc:
        if exc.missing:
            raise RunFolderError(f"{path} does not exist" + (f": {missing}" if missing else "")) from None
        raise RunFolderError(f"{path}: {exc.reason}") from None
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RunFolderError(f"{path}: not UTF-8 text (byte {exc.start}); the file is damaged") from None
    except json.JSONDecodeError as exc:
        raise RunFolderError(
            f"{path}: line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg}); the file is damaged"
        ) from None
    except (RecursionError, ValueError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise RunFolderError(f"{path}: {reason}; the file is damaged") from None
