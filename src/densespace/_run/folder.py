"""The results folder: densespace's own, or left untouched.

densespace recognises a folder it wrote by its ``run.json`` (checked against the
``RunRecord`` model), never by a file name alone. A new or empty folder becomes a
run folder; one holding the same search is resumed; one holding another search
is cleared on request, and then only of the files densespace writes. Anything
else is refused without a write. While a run uses a folder it holds an exclusive
lock on ``.densespace.lock`` in it (``fcntl``: released on any exit, even SIGKILL).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import stat
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from densespace._errors import RunFolderError, SpecError, quote
from densespace._files import read_json, write_text
from densespace._report import PLOT_FILE, REPORT_FILE, TRIALS_FILE
from densespace._results import RESULTS_FILE, DataRecord, frozen_spec_file, model_file
from densespace._spec import validate_spec

RUN_FILE = "run.json"
LOCK_FILE = ".densespace.lock"
#: The largest ``run.json`` densespace reads (a spec and a data description).
MAX_RUN_BYTES = 16 << 20
#: What densespace writes into a results folder, and so what ``overwrite`` may delete.
#: The prefix of retrained models and frozen specs written before the last one is done.
PENDING = ".pending-"
OWNED = (RUN_FILE, RESULTS_FILE, TRIALS_FILE, REPORT_FILE, PLOT_FILE, "search", "tensorboard")
OWNED_PATTERNS = (model_file("*"), frozen_spec_file("*"), ".*.tmp", ".*.keras", f"{PENDING}best-*")
#: keras-tuner's checkpoint files in a trial folder (``checkpoint.weights.h5`` under Keras 3;
#: TensorFlow's ``checkpoint``, ``checkpoint.index``, ``checkpoint.data-*`` before).
CHECKPOINTS = "checkpoint*"


class RunRecord(BaseModel):
    """The content of ``run.json``: the effective spec and the data of a search."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    spec: dict[str, Any]
    data: DataRecord


@dataclass
class Claim:
    """An exclusive hold on a results folder; ``release`` ends it (process exit does too)."""

    descriptor: int

    def release(self) -> None:
        """Unlocks the folder."""
        os.close(self.descriptor)


def prepare(out: Path, run: RunRecord, *, overwrite: bool, lock: bool = True) -> Claim | None:
    """Makes ``out`` ready for the search that ``run`` describes, and claims it.

    Args:
        out: The results folder.
        run: The search's spec and data.
        overwrite: Start over when ``out`` holds another densespace search.
        lock: Claim the folder (False on a worker, which shares the chief's folder).

    Returns:
        The claim, to release when the run ends (None when ``lock`` is False).

    Raises:
        RunFolderError: ``out`` is not a folder, holds something densespace did not
            write, is in use by another run, or holds another search without ``overwrite``.
    """
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"{out} is not a folder; choose a new or empty --out")
    previous = _previous(out)
    if overwrite and previous is not None:
        _refuse_dangerous(out)
    out.mkdir(parents=True, exist_ok=True)
    claim = _claim(out) if lock else None
    try:
        if previous is not None and not overwrite:
            changes = _differences(_current(previous).model_dump(mode="json"), run.model_dump(mode="json"))
            if changes:
                raise RunFolderError(
                    f"{out} holds a search of a different spec or data ({'; '.join(changes[:5])}); "
                    "pass --overwrite (overwrite=True) to start over, or choose another --out"
                )
            return claim
        if previous is not None:
            _clear(out)
        write_text(out / RUN_FILE, json.dumps(run.model_dump(mode="json"), indent=2) + "\n")
    except BaseException:
        if claim is not None:
            claim.release()
        raise
    return claim


def prune_checkpoints(project: Path, *, keep: Collection[str]) -> list[Path]:
    """Deletes the checkpoint files of every trial of a keras-tuner project but those in ``keep``.

    A trial's ``trial.json`` (its values and metrics) always stays, so a finished
    search still resumes (to nothing left to run) and reports every trial.

    Args:
        project: keras-tuner's project folder (``out/search``).
        keep: The ids of the trials whose checkpoints stay.

    Returns:
        The files deleted.
    """
    deleted = []
    for trial in sorted(project.glob("trial_*")):
        if not trial.is_dir() or trial.is_symlink() or trial.name.removeprefix("trial_") in keep:
            continue
        for path in sorted(trial.glob(CHECKPOINTS)):
            if path.is_file() and not path.is_symlink():
                path.unlink()
                deleted.append(path)
    return deleted


def _previous(out: Path) -> RunRecord | None:
    """The search ``out`` holds; None for a missing or empty folder (or one holding only
    densespace's lock).

    Raises:
        RunFolderError: ``out`` holds files but no ``run.json`` that densespace wrote.
    """
    if not out.exists() or not any(p.name != LOCK_FILE for p in out.iterdir()):
        return None
    marker = out / RUN_FILE
    if not marker.exists():
        raise RunFolderError(
            f"{out} is not empty and holds no densespace search ({RUN_FILE}); choose a new or empty --out"
        )
    data = read_json(marker, limit=MAX_RUN_BYTES)
    try:
        return RunRecord.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "top level"
        raise RunFolderError(
            f"{marker} is not a run file densespace wrote ({where}: {quote(error['msg'])}); densespace "
            "never deletes a folder it did not write: choose a new or empty --out"
        ) from None


def _current(record: RunRecord) -> RunRecord:
    """``record`` with its spec read by this densespace, so that fields added since it was
    written (with their defaults) do not count as changes; as written when it no longer validates."""
    try:
        spec = validate_spec(record.spec).model_dump(mode="json")
    except SpecError:
        return record
    return record.model_copy(update={"spec": spec})


def _refuse_dangerous(out: Path) -> None:
    """Refuses to clear the current folder, the home folder or the root, whatever they hold."""
    resolved = out.resolve()
    for name, place in (
        ("the current folder", Path.cwd()),
        ("your home folder", Path.home()),
        ("/", Path("/")),
    ):
        if resolved == place.resolve():
            raise RunFolderError(f"--overwrite refuses to clear {name} ({out}); choose a dedicated --out")


def _claim(out: Path) -> Claim:
    """Locks ``out`` for this process, or says which process holds it."""
    lock = out / LOCK_FILE
    try:  # never through a link: the lock's content is rewritten
        descriptor = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    except OSError as exc:
        raise RunFolderError(
            f"{lock}: cannot use it as densespace's lock ({exc.strerror or exc}); it is not a file densespace "
            "wrote: remove it, or choose another --out"
        ) from None
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise RunFolderError(f"{lock}: not a regular file; remove it, or choose another --out")
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(descriptor, 32).decode("ascii", "replace").strip() or "unknown"
        os.close(descriptor)
        raise RunFolderError(
            f"{out} is in use by another densespace run (process {holder}); wait for it to end or choose "
            "another --out"
        ) from None
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    return Claim(descriptor)


def _clear(out: Path) -> None:
    """Deletes what densespace wrote in ``out``; anything else stays."""
    for path in [
        *(out / name for name in OWNED),
        *(p for pattern in OWNED_PATTERNS for p in out.glob(pattern)),
    ]:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def _differences(old: Any, new: Any, path: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            change
            for key in sorted(set(old) | set(new))
            for change in _differences(old.get(key), new.get(key), f"{path}.{key}" if path else key)
        ]
    where = quote(path if path.isprintable() else repr(path), 100)
    return [] if old == new else [f"{where}: {quote(json.dumps(old), 100)} -> {quote(json.dumps(new), 100)}"]
