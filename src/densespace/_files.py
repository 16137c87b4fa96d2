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
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """Replaces ``path`` with ``text`` (UTF-8) atomically."""
    write_bytes(path, text.encode("utf-8"))


def read_bytes(
    path: Path, *, limit: int, error: type[Exception] = RunFolderError, missing: str = ""
) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes.

    Raises:
        error: ``path`` is missing (with the ``missing`` hint), not a regular
            file (a folder, a FIFO, a device), larger than ``limit``, or unreadable.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise error(f"{path} does not exist" + (f": {missing}" if missing else "")) from None
    except OSError as exc:
        raise error(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{path}: not a regular file")
    if info.st_size > limit:
        raise error(f"{path}: {info.st_size:,} bytes is larger than the {limit:,} bytes allowed")
    try:
        with path.open("rb") as stream:
            data = stream.read(limit + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if len(data) > limit:  # grew since stat
        raise error(f"{path}: larger than the {limit:,} bytes allowed")
    return data


def read_json(path: Path, *, limit: int, missing: str = "") -> Any:
    """The parsed JSON of a file densespace wrote, bounded by ``limit`` bytes.

    Raises:
        RunFolderError: The file is missing, not a regular file, too large,
            not UTF-8 or not JSON; the message names the file and the place.
    """
    data = read_bytes(path, limit=limit, missing=missing)
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RunFolderError(f"{path}: not UTF-8 text (byte {exc.start}); the file is damaged") from None
    except json.JSONDecodeError as exc:
        raise RunFolderError(
            f"{path}: line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg}); the file is damaged"
        ) from None
    except RecursionError:
        raise RunFolderError(f"{path}: JSON nested too deeply; the file is damaged") from None
