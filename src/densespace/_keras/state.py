"""keras-tuner's state files (``oracle.json``, ``trial.json``): written atomically, checked
before a search resumes from them."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from keras_tuner.src import utils as kt_utils
from keras_tuner.src.engine.hyperparameters import HyperParameters
from keras_tuner.src.engine.oracle import Display
from keras_tuner.src.engine.trial import Trial

from densespace._errors import RunFolderError, quote, show
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


#: keras-tuner's trial statuses (``TrialStatus``); a trial of any other is not one it wrote.
TRIAL_STATUSES = ("RUNNING", "IDLE", "INVALID", "STOPPED", "COMPLETED", "FAILED")
_NUMBER = (int, float)
#: The JSON types of the entries of ``oracle.json`` keras-tuner reads back: every oracle's
#: (required), then BayesianOptimization's, Hyperband's and densespace's TPE's (checked where present).
_ORACLE_TYPES: dict[str, tuple[type, ...]] = {
    "ongoing_trials": (dict,),
    "hyperparameters": (dict,),
    "start_order": (list,),
    "end_order": (list,),
    "run_times": (dict,),
    "retry_queue": (list,),
    "seed": (int,),
    "seed_state": (int,),
    "tried_so_far": (list,),
    "id_to_hash": (dict,),
    "display": (dict,),
}
_OPTIONAL_TYPES: dict[str, tuple[type, ...]] = {
    "num_initial_points": (int, type(None)),  # null: keras-tuner's default, counted as it proposes
    "alpha": _NUMBER,
    "beta": _NUMBER,
    "hyperband_iterations": (int,),
    "max_epochs": (int,),
    "min_epochs": (int,),
    "factor": (int,),
    "brackets": (list,),
    "current_bracket": (int,),
    "current_iteration": (int,),
    "infeasible": (list,),
}
#: The entries of ``oracle.json`` that name trials: each must be a trial of the project.
_TRIAL_LISTS = ("start_order", "end_order", "retry_queue")
_JSON_NAMES = {
    dict: "an object",
    list: "a list",
    int: "an integer",
    float: "a number",
    str: "a string",
    type(None): "null",
}


def check_state(project: Path) -> None:
    """Reads every state file of a keras-tuner project folder before keras-tuner does.

    Each ``trial_*/trial.json`` must be a trial keras-tuner can read, of its folder's id and
    one of ``TRIAL_STATUSES``; ``oracle.json`` must hold its entries with their types, naming
    only trials of the project.

    Raises:
        RunFolderError: A file is damaged (not JSON, or not the state keras-tuner wrote);
            the message names it, the field, and what to do.
    """
    try:
        trials = {_check_trial(path) for path in sorted(project.glob("trial_*/trial.json"))}
        for path in sorted(project.glob("tuner*.json")):
            _read_object(path)
        if (project / "oracle.json").exists():
            _check_oracle(project / "oracle.json", trials)
    except RunFolderError as exc:
        raise RunFolderError(
            f"{exc}; keras-tuner cannot resume the search in {project.parent} from it: "
            "run again with --overwrite (overwrite=True) to start over"
        ) from None


def _damaged(path: Path, what: str) -> RunFolderError:
    return RunFolderError(f"{path}: {what}; the file is damaged")


def _read_object(path: Path) -> dict[str, Any]:
    state = read_json(path, limit=MAX_STATE_BYTES)
    if not isinstance(state, dict):
        raise _damaged(path, f"not keras-tuner's state (a JSON {type(state).__name__})")
    return state


def _expect(path: Path, state: dict[str, Any], key: str, kinds: tuple[type, ...]) -> None:
    """Refuses an entry of a JSON type other than ``kinds`` (booleans are not numbers)."""
    value = state[key]
    if type(value) not in kinds and not (float in kinds and type(value) is int):
        wanted = " or ".join(_JSON_NAMES[kind] for kind in kinds)
        raise _damaged(path, f"{key} must be {wanted} (received {show(value)})")


def _readable(path: Path, what: str, read: Callable[[Any], Any], state: Any) -> None:
    """Refuses a part of a state file that keras-tuner's own ``read`` fails on."""
    try:
        read(state)
    except Exception as exc:  # whatever keras-tuner raises on it, it cannot resume from it
        raise _damaged(
            path, f"{what} cannot be read by keras-tuner ({type(exc).__name__}: {quote(str(exc))})"
        ) from None


def _check_trial(path: Path) -> str:
    """A trial's state checked; returns its id."""
    state = _read_object(path)
    missing = [key for key in ("trial_id", "status") if key not in state]
    if missing:
        raise _damaged(path, f"not keras-tuner's state (no {', '.join(missing)})")
    _expect(path, state, "trial_id", (str,))
    folder = path.parent.name.removeprefix("trial_")
    if state["trial_id"] != folder:
        raise _damaged(path, f"trial_id {show(state['trial_id'])} is not its folder's ({path.parent.name})")
    if state["status"] not in TRIAL_STATUSES:
        raise _damaged(
            path,
            f"status {show(state['status'])} is not a keras-tuner trial status ({', '.join(TRIAL_STATUSES)})",
        )
    _readable(path, "the trial", Trial.from_state, state)
    return folder


def _check_oracle(path: Path, trials: set[str]) -> None:
    """The oracle's state checked against the project's trials."""
    state = _read_object(path)
    missing = [key for key in _ORACLE_TYPES if key not in state]
    if missing:
        raise _damaged(path, f"not keras-tuner's state (no {', '.join(missing)})")
    for key, kinds in [*_ORACLE_TYPES.items(), *_OPTIONAL_TYPES.items()]:
        if key in state:
            _expect(path, state, key, kinds)
    _readable(path, "hyperparameters", HyperParameters.from_config, state["hyperparameters"])
    _readable(path, "display", Display(None).set_state, state["display"])
    named = [(f"ongoing_trials.{quote(str(k), 40)}", v) for k, v in state["ongoing_trials"].items()]
    named += [(f"{key}[{i}]", v) for key in _TRIAL_LISTS for i, v in enumerate(state[key])]
    for field, trial_id in named:
        if not isinstance(trial_id, str) or trial_id not in trials:
            raise _damaged(path, f"{field} names trial {show(trial_id)}, which the project does not hold")
    for i, values in enumerate(state.get("infeasible", [])):
        if not isinstance(values, dict):
            raise _damaged(path, f"infeasible[{i}] must be an object (received {show(values)})")
