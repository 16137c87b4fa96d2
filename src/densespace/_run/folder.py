"""The results folder: densespace's own, or left untouched.

densespace recognises a folder it wrote by its ``run.json`` (checked against the
``RunRecord`` model), never by a file name alone. A new or empty folder becomes a
run folder; one holding the same search is resumed, and goes on with a larger
``search.max_trials`` (nothing else changed); one holding another search
is cleared on request, and then only of the files its manifest lists (``_files.Ledger``:
every file densespace wrote there). Anything else is refused without a write. While a run
uses a folder it holds an exclusive lock on ``.densespace.lock`` in it (``fcntl``: released
on any exit, even SIGKILL).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import stat
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from densespace._errors import RunFolderError, SpecError, printable, quote
from densespace._files import MANIFEST_FILE, Ledger, read_json, temporary_of, write_text
from densespace._report import PLOT_FILE, REPORT_FILE, TRIALS_FILE
from densespace._results import RESULTS_FILE, DataRecord, load_results
from densespace._spec import validate_spec

RUN_FILE = "run.json"
LOCK_FILE = ".densespace.lock"
#: The largest ``run.json`` densespace reads (a spec and a data description).
MAX_RUN_BYTES = 16 << 20
#: The prefix of retrained models, frozen specs and results written before the last one is done.
PENDING = ".pending-"
#: Files densespace wrote in every results folder before it kept a manifest (adopted into one).
_EARLIER = (RUN_FILE, RESULTS_FILE, TRIALS_FILE, REPORT_FILE, PLOT_FILE)
#: The start of keras-tuner's checkpoint files in a trial folder (``checkpoint.weights.h5`` under
#: Keras 3; TensorFlow's ``checkpoint``, ``checkpoint.index``, ``checkpoint.data-*`` before).
CHECKPOINTS = "checkpoint"


class RunRecord(BaseModel):
    """The content of ``run.json``: the effective spec and the data of a search."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    spec: dict[str, Any]
    data: DataRecord


@dataclass
class Claim:
    """A results folder in use: its manifest open (``ledger``) and, unless on a worker, an
    exclusive lock; ``release`` ends both (process exit ends the lock too)."""

    ledger: Ledger
    held: contextlib.ExitStack
    #: ``(earlier, now)`` ``max_trials`` when the run goes on with the folder's search, larger.
    grown: tuple[int, int] | None = None

    def release(self) -> None:
        """Closes the manifest and unlocks the folder."""
        self.held.close()


def prepare(out: Path, run: RunRecord, *, overwrite: bool, lock: bool = True) -> Claim:
    """Makes ``out`` ready for the search that ``run`` describes, and claims it.

    Args:
        out: The results folder.
        run: The search's spec and data.
        overwrite: Start over when ``out`` holds another densespace search.
        lock: Lock the folder (False on a worker, which shares the chief's folder).

    Returns:
        The claim, to release when the run ends.

    Raises:
        RunFolderError: ``out`` is not a folder or cannot be made one, holds something densespace
            did not write, is in use by another run, or holds another search without ``overwrite``.
    """
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"{out} is not a folder; choose a new or empty --out")
    previous = _previous(out)
    if overwrite and previous is not None:
        _refuse_dangerous(out)
    _make(out)
    held = contextlib.ExitStack()
    if lock:
        held.callback(os.close, _lock(out))
    try:
        claim = Claim(held.enter_context(Ledger.open(out, adopt=_earlier_files(out))), held)
        if lock:  # not on a worker: the chief may be writing in the folder
            claim.ledger.carry_out()  # a retraining's decided replacement, cut short
            claim.ledger.remove(p for p in claim.ledger.listed() if p.name.startswith(PENDING))  # undecided
            claim.ledger.clean_temporaries()
        if previous is not None and not overwrite:
            earlier, wanted = _current(previous).model_dump(mode="json"), run.model_dump(mode="json")
            changes = _differences(earlier, wanted)
            if changes and not _goes_on(earlier, wanted):
                raise RunFolderError(
                    f"{out} holds a search of a different spec or data ({'; '.join(changes[:5])}); only a "
                    "larger search.max_trials goes on with it: pass --overwrite (overwrite=True) to start "
                    f"over, or choose another --out (--warm-start {out} starts from its trials)"
                )
            if changes and lock:  # more trials: the search goes on, and run.json says how far
                claim.grown = (
                    earlier["spec"]["search"]["max_trials"],
                    wanted["spec"]["search"]["max_trials"],
                )
                write_text(out / RUN_FILE, json.dumps(wanted, indent=2) + "\n")
            return claim
        if previous is not None:
            claim.ledger.remove(claim.ledger.listed())
        write_text(out / RUN_FILE, json.dumps(run.model_dump(mode="json"), indent=2) + "\n")
    except BaseException:
        held.close()
        raise
    return claim


@contextlib.contextmanager
def finished(out: Path) -> Iterator[Ledger]:
    """A finished results folder, locked and its manifest open, to add files to (exports).

    Raises:
        RunFolderError: ``out`` is in use by another run, or its lock cannot be taken.
    """
    with contextlib.ExitStack() as held:
        held.callback(os.close, _lock(out))
        yield held.enter_context(Ledger.open(out, adopt=_earlier_files(out)))


def prune_checkpoints(ledger: Ledger, project: str, *, keep: Collection[str]) -> list[Path]:
    """Deletes the checkpoint files densespace wrote for every trial of a keras-tuner project but
    those in ``keep``.

    A trial's ``trial.json`` (its values and metrics) always stays, so a finished
    search still resumes (to nothing left to run) and reports every trial.

    Args:
        ledger: The results folder's manifest.
        project: keras-tuner's project folder in it (``search``).
        keep: The ids of the trials whose checkpoints stay.

    Returns:
        The files deleted.
    """
    kept = {f"trial_{trial_id}" for trial_id in keep}
    return ledger.remove(
        path
        for path in ledger.listed(project)
        if path.name.startswith(CHECKPOINTS)
        and path.parent.name.startswith("trial_")
        and path.parent.name not in kept
        and path.parent.parent == ledger.root / project
    )


def _make(out: Path) -> None:
    """Creates ``out`` (and its parents), saying why it cannot be."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        writable = os.access(out, os.W_OK | os.X_OK)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise
        raise RunFolderError(
            f"{out}: cannot create the results folder ({exc.strerror or exc}); choose another --out"
        ) from None
    if not writable:
        raise RunFolderError(f"{out}: the results folder is not writable; choose another --out")


def _earlier_files(out: Path) -> list[str]:
    """What a densespace without a manifest wrote in ``out``: its fixed files, the retrained models
    its results list, and keras-tuner's state and checkpoints."""
    if not (out / RUN_FILE).exists() or (out / MANIFEST_FILE).exists():
        return []
    names = list(_EARLIER)
    with contextlib.suppress(RunFolderError):
        names += [name for best in load_results(out).best for name in (best.model, best.frozen_spec)]
    project = out / "search"
    state = [*project.glob("oracle.json"), *project.glob("tuner*.json"), *project.glob("trial_*/trial.json")]
    checkpoints = project.glob(f"trial_*/{CHECKPOINTS}*")
    return names + [PurePosixPath(p.relative_to(out)).as_posix() for p in [*state, *checkpoints]]


def _previous(out: Path) -> RunRecord | None:
    """The search ``out`` holds; None for a missing or empty folder (or one holding only
    densespace's lock).

    Raises:
        RunFolderError: ``out`` holds files but no ``run.json`` that densespace wrote.
    """
    if not out.exists() or all(_starting(p.name) for p in out.iterdir()):
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


def _starting(name: str) -> bool:
    """Whether ``name`` is what a run starting in the folder writes before ``run.json`` is in place:
    the lock, the manifest, or a temporary file of either file (a worker may look meanwhile)."""
    return name in (LOCK_FILE, MANIFEST_FILE) or temporary_of(name) in (RUN_FILE, MANIFEST_FILE)


def _current(record: RunRecord) -> RunRecord:
    """``record`` with its spec read by this densespace, so that fields added since it was
    written (with their defaults) do not count as changes; as written when it no longer validates."""
    try:
        spec = validate_spec(record.spec).model_dump(mode="json")
    except SpecError:
        return record
    return record.model_copy(update={"spec": spec})


def _goes_on(earlier: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether the search ``wanted`` (a run record, as JSON) is the ``earlier`` one with a larger
    ``search.max_trials`` and nothing else changed: the run goes on with the earlier trials (the
    oracle reads ``max_trials`` from the spec, never from its saved state)."""
    before, after = earlier["spec"]["search"].get("max_trials"), wanted["spec"]["search"].get("max_trials")
    if not isinstance(before, int) or not isinstance(after, int) or after <= before:
        return False
    search = {**earlier["spec"]["search"], "max_trials": after}
    return {**earlier, "spec": {**earlier["spec"], "search": search}} == wanted


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


def _lock(out: Path) -> int:
    """Locks ``out`` for this process (the descriptor of the lock, to close), or says which process
    holds it."""
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
    return descriptor


def _differences(old: Any, new: Any, path: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            change
            for key in sorted(set(old) | set(new))
            for change in _differences(old.get(key), new.get(key), f"{path}.{key}" if path else key)
        ]
    where = quote(printable(path), 100)
    return [] if old == new else [f"{where}: {quote(json.dumps(old), 100)} -> {quote(json.dumps(new), 100)}"]
