"""Files densespace writes and reads back: atomic writes, bounded reads, and the manifest.

Every file densespace writes goes through ``write_text`` / ``write_bytes``: the
content lands in a temporary file beside the target, is flushed to disk, and
only then renamed over the target, so a crash or a full disk at any moment
leaves the previous version whole. Reads check that the path is a regular file
of a bounded size before reading it.

Inside a results folder in use (``Ledger.open``), every file densespace writes is first
listed in the folder's manifest (``.densespace-manifest.json``, written atomically, checked
on read), and a file that is there already but not listed is never overwritten. Deleting
(``--overwrite``, retraining, checkpoint clean-up) goes through ``Ledger.remove``, which
deletes only listed files: whatever a person put in the folder stays.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from densespace._errors import RunFolderError, quote

#: The manifest of a results folder: what densespace wrote in it.
MANIFEST_FILE = ".densespace-manifest.json"
#: The largest manifest densespace reads (a million paths fit in far less).
MAX_MANIFEST_BYTES = 128 << 20
#: Most files a manifest lists.
MAX_MANIFEST_FILES = 1_000_000
#: The temporary files of ``write_bytes`` and ``save_model``: ``.<name>.<8 random>.tmp|.keras``.
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.(?:tmp|keras)")


def write_bytes(path: Path, data: bytes) -> None:
    """Replaces ``path`` with ``data`` atomically (temporary file, fsync, rename); inside a results
    folder in use, listed in its manifest first.

    Raises:
        RunFolderError: ``path`` is in a results folder in use, exists, and densespace did not write it.
    """
    claim(path)
    _replace(path, data)


def _replace(path: Path, data: bytes) -> None:
    """Replaces ``path`` with ``data`` atomically."""
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


def _relative(value: str) -> str:
    """A manifest entry, checked: a relative POSIX path inside the folder, in normal form."""
    path = PurePosixPath(value)
    if not value or path.is_absolute() or ".." in path.parts or str(path) != value or "\0" in value:
        raise ValueError(f"not a relative path inside the folder: {quote(repr(value), 100)}")
    return value


class Commit(BaseModel):
    """Renames and deletions decided together (retraining's new models and results over the old
    ones): once written in the manifest they are carried out, on the next run if not this one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    replace: list[tuple[str, str]] = Field(description="(pending file, file it replaces), relative paths.")
    delete: list[str] = Field(description="Files to delete, relative paths.")


class Manifest(BaseModel):
    """The content of ``.densespace-manifest.json``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(1, ge=1, le=1)
    files: list[str] = Field(max_length=MAX_MANIFEST_FILES, description="Relative paths, sorted.")
    commit: Commit | None = None


#: The ledgers of the results folders in use in this process, by folder.
_OPEN: dict[Path, Ledger] = {}


class Ledger:
    """The manifest of a results folder, kept in memory and written on each change.

    Workers of a distributed search may share a folder with their chief: each change is merged
    into the file under an exclusive ``flock`` of the folder, so none is lost.
    """

    def __init__(self, root: Path, manifest: Manifest) -> None:
        self.root = root
        self.files = set(manifest.files)
        self.commit = manifest.commit
        self._written = set(manifest.files)  # as last read or written: what a merge compares with
        self._carried = False  # a commit was carried out here: a merge must not bring it back
        self._identity = _identity(root / MANIFEST_FILE)  # of the file as last read or written

    @classmethod
    @contextlib.contextmanager
    def open(cls, root: Path, *, adopt: Iterable[str] = ()) -> Iterator[Ledger]:
        """The folder's ledger, in use (``write_bytes`` and ``claim`` list files in it) until the
        block ends. A folder without a manifest starts one, listing ``adopt`` (the files an older
        densespace wrote there)."""
        ledger = cls(root, _read_manifest(root))
        fresh = [name for name in adopt if (root / name).exists()]
        if fresh and not (root / MANIFEST_FILE).exists():
            ledger.files.update(fresh)
            ledger._save()
        key = _absolute(root)
        _OPEN[key] = ledger
        try:
            yield ledger
        finally:
            _OPEN.pop(key, None)

    def name(self, path: Path) -> str:
        """``path`` as a manifest entry."""
        return _absolute(path).relative_to(_absolute(self.root)).as_posix()

    def owns(self, path: Path) -> bool:
        """Whether densespace wrote ``path``."""
        return self.name(path) in self.files

    def claim(self, path: Path) -> None:
        """Lists ``path`` as densespace's before it is written.

        Raises:
            RunFolderError: ``path`` exists and is not listed (densespace did not write it), or a
                link in the folder leads it out of the folder.
        """
        if not self._inside(path):
            raise RunFolderError(
                f"{path}: a link in {self.root} leads out of it, and densespace writes only inside its "
                "results folder: remove the link, or choose another --out"
            )
        name = self.name(path)
        if name in self.files:
            return
        if os.path.lexists(path):
            self._refresh()  # another process (a chief, a worker) may have listed it since
        if name in self.files:
            return
        if os.path.lexists(path):
            raise RunFolderError(
                f"{path} is not a file densespace wrote, and densespace would write it: move it out of "
                f"{self.root}, or choose another --out"
            )
        self.files.add(name)
        self._save()

    def adopt(self, paths: Iterable[Path]) -> None:
        """Lists files densespace had a library write under names of the library's choosing."""
        names = {self.name(path) for path in paths} - self.files
        if names:
            self.files |= names
            self._save()

    def remove(self, paths: Iterable[Path]) -> list[Path]:
        """Deletes those of ``paths`` densespace wrote (never a file it did not, nor through a link
        in the folder), then the folders left empty by it; returns the files deleted."""
        deleted, listed = [], len(self.files)
        for path in paths:
            if self.owns(path) and self._inside(path):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    deleted.append(path)
                self.files.discard(self.name(path))
        if len(self.files) != listed or self._carried:
            self._save()
        self._prune_folders({p.parent for p in deleted})
        return deleted

    def listed(self, under: str = "") -> list[Path]:
        """The files listed (under a relative folder), sorted."""
        prefix = f"{under.rstrip('/')}/" if under else ""
        return [self.root / name for name in sorted(self.files) if name.startswith(prefix)]

    def decide(self, commit: Commit) -> None:
        """Writes ``commit`` into the manifest (the moment it is decided), then carries it out."""
        for _, final in commit.replace:
            self.claim(self.root / final)
        self.commit = commit
        self._save()
        self.carry_out()

    def carry_out(self) -> None:
        """Carries out the decided commit, if any (again after a kill: each step can be redone)."""
        if self.commit is None:
            return
        for pending, final in self.commit.replace:
            if (self.root / pending).exists():
                os.replace(self.root / pending, self.root / final)
            self.files.discard(pending)
        commit, self.commit, self._carried = self.commit, None, True
        self.remove(self.root / name for name in commit.delete)

    def clean_temporaries(self) -> list[Path]:
        """Deletes the temporary files a kill left beside the files densespace wrote."""
        folders: dict[Path, set[str]] = {}
        for name in self.files:
            path = self.root / name
            folders.setdefault(path.parent, set()).add(path.name)
        deleted = []
        for folder, names in folders.items():
            with contextlib.suppress(OSError):
                for entry in os.scandir(folder):
                    match = _TEMPORARY.fullmatch(entry.name)
                    if match and match["name"] in names and entry.is_file(follow_symlinks=False):
                        os.unlink(entry.path)
                        deleted.append(Path(entry.path))
        return deleted

    def _inside(self, path: Path) -> bool:
        """Whether ``path``'s folder is the results folder or one in it (no link leads out)."""
        return path.parent.resolve().is_relative_to(self.root.resolve())

    def _prune_folders(self, folders: set[Path]) -> None:
        root = self.root.resolve()
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            while folder.resolve() != root and folder.resolve().is_relative_to(root):
                try:
                    folder.rmdir()  # only when empty
                except OSError:
                    break
                folder = folder.parent

    def _save(self) -> None:
        """Writes the manifest, merged with what other processes listed since."""
        path = self.root / MANIFEST_FILE
        with self._locked():
            self._merge()
            manifest = Manifest(files=sorted(self.files), commit=self.commit)
            _replace(path, (manifest.model_dump_json(indent=1) + "\n").encode("utf-8"))
            self._written, self._identity = set(self.files), _identity(path)

    def _refresh(self) -> None:
        """Takes in what other processes listed since this ledger last read or wrote the manifest."""
        with self._locked():
            self._merge()
            self._written, self._identity = set(self.files), _identity(self.root / MANIFEST_FILE)

    def _merge(self) -> None:
        """This ledger's changes since it last read or wrote, over the manifest's current content."""
        if _identity(self.root / MANIFEST_FILE) in (None, self._identity):  # nobody wrote it since
            return
        theirs = _read_manifest(self.root)
        added, removed = self.files - self._written, self._written - self.files
        self.files = (set(theirs.files) - removed) | added
        if self.commit is None and not self._carried:
            self.commit = theirs.commit

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """An exclusive ``flock`` of the folder while the block runs (the manifest's writers take turns)."""
        descriptor = os.open(self.root, os.O_RDONLY)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)


def claim(path: Path) -> None:
    """Lists ``path`` in the manifest of the results folder in use that holds it (if any) before
    it is written.

    Raises:
        RunFolderError: ``path`` exists and densespace did not write it.
    """
    ledger = _ledger_of(path)
    if ledger is not None:
        ledger.claim(path)


def adopt(paths: Iterable[Path]) -> None:
    """Lists files a library just wrote for densespace under names of its own choosing (TensorBoard's
    event files) in the manifest of the results folder in use that holds them (if any)."""
    for ledger, group in _by_ledger(paths):
        ledger.adopt(group)


def remove(paths: Iterable[Path]) -> None:
    """Deletes those of ``paths`` that densespace wrote in the results folder in use that holds them;
    outside one, nothing."""
    for ledger, group in _by_ledger(paths):
        ledger.remove(group)


def _by_ledger(paths: Iterable[Path]) -> list[tuple[Ledger, list[Path]]]:
    """``paths`` grouped by the ledger of the results folder in use that holds them (others left out)."""
    groups: dict[int, tuple[Ledger, list[Path]]] = {}
    for path in paths:
        ledger = _ledger_of(path)
        if ledger is not None:
            groups.setdefault(id(ledger), (ledger, []))[1].append(path)
    return list(groups.values())


def _ledger_of(path: Path) -> Ledger | None:
    """The ledger of the results folder in use that holds ``path``."""
    for folder in _absolute(path).parents:
        ledger = _OPEN.get(folder)
        if ledger is not None:
            return ledger
    return None


def temporary_of(name: str) -> str | None:
    """The file a temporary file of ``write_bytes`` or ``save_model`` named ``name`` is written for;
    None when ``name`` is not one."""
    match = _TEMPORARY.fullmatch(name)
    return None if match is None else match["name"]


def _identity(path: Path) -> tuple[int, int, int] | None:
    """What tells one version of a file from another (inode, size, modification time); None when
    there is none."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns


def _absolute(path: Path) -> Path:
    """``path`` made absolute without following links (how ledgers are keyed and compared)."""
    return Path(os.path.abspath(path))


def _read_manifest(root: Path) -> Manifest:
    """The folder's manifest, checked; an empty one when there is none."""
    path = root / MANIFEST_FILE
    if not os.path.lexists(path):
        return Manifest(files=[])
    data = read_json(path, limit=MAX_MANIFEST_BYTES)
    try:
        manifest = Manifest.model_validate(data)
        for name in [*manifest.files, *_commit_names(manifest.commit)]:
            _relative(name)
    except (ValidationError, ValueError) as exc:
        reason = (
            f"{'.'.join(map(str, exc.errors()[0]['loc'])) or 'top level'}: {exc.errors()[0]['msg']}"
            if isinstance(exc, ValidationError)
            else str(exc)
        )
        raise RunFolderError(
            f"{path}: not a manifest densespace wrote ({quote(reason)}); densespace deletes nothing in "
            "a folder whose manifest is damaged: remove the folder by hand, or choose another --out"
        ) from None
    return manifest


def _commit_names(commit: Commit | None) -> list[str]:
    if commit is None:
        return []
    return [name for pair in commit.replace for name in pair] + commit.delete
