"""keras-tuner's state files (``oracle.json``, ``trial.json``): written atomically, checked
before a search resumes from them."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from keras_tuner.src import utils as kt_utils

from densespace._errors import RunFolderError
from densespace._files import read_json, write_text

#: The largest keras-tuner state file densespace reads back (they hold a few kilobytes a trial).
MAX_STATE_BYTES = 256 << 20


def _save_json(path: str, obj: Any) -> str:
    """keras-tuner's ``utils.save_json``, written to a temporary file and renamed into place."""
    text = json.dumps(obj)
    write_text(Path(path), text)
    return text


@contextlib.contextmanager
def atomic_state() -> Iterator[None]:
    """While the block runs, keras-tuner's JSON state files are replaced atomically, so a
    kill or a full disk at any moment leaves their previous version whole."""
    original = kt_utils.save_json
    kt_utils.save_json = _save_json
    try:
        yield
    finally:
        kt_utils.save_json = original


#: Keys keras-tuner's state files must hold for it to resume from them.
_EXPECTED_KEYS = {"oracle.json": ("ongoing_trials", "tried_so_far"), "trial.json": ("trial_id", "status")}


def check_state(project: Path) -> None:
    """Reads every state file of a keras-tuner project folder before keras-tuner does.

    Raises:
        RunFolderError: A file is damaged (not JSON, or not the object keras-tuner
            wrote); the message names it and what to do.
    """
    paths = [project / "oracle.json", *project.glob("tuner*.json"), *project.glob("trial_*/trial.json")]
    for path in sorted(paths):
        if not path.exists():
            continue
        try:
            state = read_json(path, limit=MAX_STATE_BYTES)
            if not isinstance(state, dict):
                raise RunFolderError(
                    f"{path}: not keras-tuner's state (a JSON {type(state).__name__}); the file is damaged"
                )
            missing = [key for key in _EXPECTED_KEYS.get(path.name, ()) if key not in state]
            if missing:
                raise RunFolderError(
                    f"{path}: not keras-tuner's state (no {', '.join(missing)}); the file is damaged"
                )
        except RunFolderError as exc:
            raise RunFolderError(
                f"{exc}; keras-tuner cannot resume the search in {project.parent} from it: run again with "
                "--overwrite (overwrite=True) to start over"
            ) from None
