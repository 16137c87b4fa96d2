"""The options of a search: checked once, before any data is loaded or folder touched."""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from densespace._budgets import Target, check_target, check_time_limit
from densespace._errors import OptionError, show
from densespace._export import EXPORTS, ExportFormat
from densespace._results import TrialRecord
from densespace._search import TUNERS, TunerName
from densespace._spec import Spec, validate_spec

Verbosity = Literal[0, 1, 2]
Role = Literal["single", "chief", "worker"]
#: Which search checkpoints a finished search keeps (``search/trial_*/checkpoint*``).
KeepCheckpoints = Literal["all", "best", "none"]
KEEP_CHECKPOINTS: tuple[KeepCheckpoints, ...] = ("all", "best", "none")


@dataclass(frozen=True)
class Distributed:
    """This process's part in a keras-tuner chief/worker search.

    Attributes:
        role: ``chief`` serves trials; ``worker`` trains the ones it is handed.
        host: the chief's address.
        port: the chief's port.
        worker_id: a worker's name, unique among the workers (``chief`` for the chief).
    """

    role: Literal["chief", "worker"]
    host: str
    port: int
    worker_id: str

    @classmethod
    def from_options(
        cls, *, chief: str | None, worker: str | None, worker_id: str | None
    ) -> Distributed | None:
        """The role ``chief=`` / ``worker=`` / ``worker_id=`` ask for; None for neither.

        Raises:
            OptionError: The options contradict each other or an address or id is malformed.
        """
        if chief and worker:
            raise OptionError("{chief} and {worker} exclude each other", "chief", "worker")
        if worker_id is not None and not worker:
            raise OptionError("{worker_id} goes with {worker}", "worker_id", "worker")
        if worker and not worker_id:
            raise OptionError(
                "{worker} needs {worker_id}, a name unique among the workers", "worker", "worker_id"
            )
        if worker_id is not None and (
            not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", worker_id) or "chief" in worker_id
        ):
            raise OptionError(
                "{worker_id}: use letters, digits, '.', '_' and '-', without 'chief' "
                f"(received {worker_id[:80]!r})",
                "worker_id",
            )
        address = chief or worker
        if address is None:
            return None
        name = "chief" if chief else "worker"
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise OptionError(
                "{" + name + f"}}: expected HOST:PORT, such as 127.0.0.1:8000 (received {address[:80]!r})",
                name,
            )
        return cls("chief" if chief else "worker", host.strip("[]"), int(port), worker_id or "chief")

    def environment(self) -> dict[str, str]:
        """keras-tuner's ``KERASTUNER_*`` variables for this role."""
        return {
            "KERASTUNER_ORACLE_IP": self.host,
            "KERASTUNER_ORACLE_PORT": str(self.port),
            "KERASTUNER_TUNER_ID": self.worker_id,
        }


def role() -> Role:
    """This process's part in the search, by keras-tuner's environment variables (which
    ``Distributed`` sets, and users may set by hand)."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return "single"
    return "chief" if "chief" in os.environ.get("KERASTUNER_TUNER_ID", "") else "worker"


@dataclass(frozen=True, kw_only=True)
class SearchOptions:
    """What a search may be asked besides its spec and data, as given: the one list of a
    search's options. ``tune``'s keywords and the shortcuts' are checked against these fields,
    and ``densespace tune`` passes each of its flags named like one (tests/test_options.py);
    ``TuneOptions.create`` checks the values. ``tune`` documents each option."""

    tuner: TunerName | None = None
    max_trials: int | None = None
    epochs: int | None = None
    seed: int | None = None
    pack: int | Literal["auto", "off"] | None = None
    retrain_top: int = 1
    ensemble: int = 0
    out: str | os.PathLike[str] | None = None
    overwrite: bool = False
    verbose: Verbosity = 1
    on_trial_end: Callable[[TrialRecord], None] | None = None
    chief: str | None = None
    worker: str | None = None
    worker_id: str | None = None
    connect_timeout: float = 180.0
    callbacks: Sequence[Any] | None = None
    tensorboard: bool = False
    keep_checkpoints: KeepCheckpoints = "best"
    with_optimizer: bool = False
    retrain: bool = False
    time_limit: float | None = None
    stop_at: tuple[str, float] | Target | None = None
    enqueue: Sequence[str | os.PathLike[str]] = ()
    warm_start: str | os.PathLike[str] | None = None
    ignore: Sequence[str] = ()
    export: Sequence[ExportFormat] = ()


@dataclass(frozen=True)
class TuneOptions:
    """Everything ``tune`` was asked to do, checked.

    Attributes:
        spec: the effective spec (the overrides applied, ``ignore`` among them).
        retrain_top: how many of the best configurations to retrain (at least ``ensemble``).
        out: the results folder.
        overwrite: start over when ``out`` holds another search.
        verbose: 0 silent, 1 a line per trial, 2 also Keras' epoch lines.
        on_trial_end: called with each finished trial's record.
        distributed: the chief/worker role, None on a single machine.
        connect_timeout: seconds a worker keeps trying to reach its chief, and the longest it
            waits for each answer of the chief.
        callbacks: Keras callbacks, deep-copied for every trial and every retrained model.
        tensorboard: write TensorBoard logs under ``out/tensorboard``.
        keep_checkpoints: which search checkpoints to keep once the search is over.
        with_optimizer: save the retrained models with their optimizer state.
        retrain: retrain even when ``out`` holds this search finished.
        time_limit: seconds after which no new trial starts; None: no limit.
        stop_at: the score that ends the search once a completed trial reaches it; None: none.
        enqueue: frozen specs and results folders whose models are evaluated first.
        warm_start: a results folder whose scored trials the search starts from; None: none.
        ensemble: how many of the best retrained models ``ensemble.keras`` averages (0: none).
        export: the formats each retrained model is exported to, checked on the test split.
    """

    spec: Spec
    retrain_top: int
    out: Path
    overwrite: bool
    verbose: Verbosity
    on_trial_end: Callable[[TrialRecord], None] | None
    distributed: Distributed | None
    connect_timeout: float = 180.0
    callbacks: tuple[Any, ...] = ()
    tensorboard: bool = False
    keep_checkpoints: KeepCheckpoints = "best"
    with_optimizer: bool = False
    retrain: bool = False
    time_limit: float | None = None
    stop_at: Target | None = None
    enqueue: tuple[Path, ...] = ()
    warm_start: Path | None = None
    ensemble: int = 0
    export: tuple[ExportFormat, ...] = ()

    @classmethod
    def create(cls, spec: Spec, given: SearchOptions) -> TuneOptions:
        """Checks ``tune``'s options (see there) and applies the overrides to the spec.

        Raises:
            SpecError: An override breaks a rule of the spec.
            OptionError: Another option is invalid.
        """
        g = given
        _check_counts(g.retrain_top, g.ensemble)
        if g.verbose not in (0, 1, 2):
            raise OptionError(f"{{verbose}} must be 0, 1 or 2 (received {g.verbose!r})", "verbose")
        distributed = Distributed.from_options(chief=g.chief, worker=g.worker, worker_id=g.worker_id)
        if g.worker and g.overwrite:
            raise OptionError("{overwrite} is for the chief or a single machine, not a worker", "overwrite")
        if g.out is not None and not os.fspath(g.out):
            raise OptionError("{out} is empty: name a folder (default runs/<spec name>)", "out")
        timeout = g.connect_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 86400:
            raise OptionError(
                f"{{connect_timeout}} must be seconds in (0, 86400] (received {timeout!r})", "connect_timeout"
            )
        if g.keep_checkpoints not in KEEP_CHECKPOINTS:
            raise OptionError(
                f"{{keep_checkpoints}} must be 'all', 'best' or 'none' (received {g.keep_checkpoints!r})",
                "keep_checkpoints",
            )
        spec = apply_overrides(
            spec,
            tuner=g.tuner,
            max_trials=g.max_trials,
            epochs=g.epochs,
            seed=g.seed,
            ignore=_check_ignore(g.ignore),
            pack=g.pack,
        )
        enqueue, warm_start = _check_warm(spec, g.enqueue, g.warm_start, worker=g.worker is not None)
        return cls(
            spec,
            max(g.retrain_top, g.ensemble),
            Path(g.out) if g.out is not None else Path("runs") / spec.name,
            g.overwrite,
            g.verbose,
            g.on_trial_end,
            distributed,
            float(timeout),
            callbacks=check_callbacks(g.callbacks),
            tensorboard=bool(g.tensorboard),
            keep_checkpoints=g.keep_checkpoints,
            with_optimizer=bool(g.with_optimizer),
            retrain=bool(g.retrain),
            time_limit=check_time_limit(g.time_limit),
            stop_at=check_target(g.stop_at, spec.task),
            enqueue=enqueue,
            warm_start=warm_start,
            ensemble=g.ensemble,
            export=_check_export(g.export),
        )


def _check_export(formats: object) -> tuple[ExportFormat, ...]:
    """``export``: a sequence of distinct formats of ``EXPORTS``."""
    given = [formats] if isinstance(formats, str) else formats
    if (
        not isinstance(given, Sequence)
        or not all(isinstance(f, str) and f in EXPORTS for f in given)
        or len(set(given)) != len(given)
    ):
        raise OptionError(
            f"{{export}} must list distinct formats of {', '.join(map(repr, EXPORTS))} (received {show(formats)})",
            "export",
        )
    return tuple(given)


def _check_counts(retrain_top: object, ensemble: object) -> None:
    """``retrain_top`` is an integer >= 0, ``ensemble`` 0 (none) or an integer >= 2."""
    if isinstance(retrain_top, bool) or not isinstance(retrain_top, int) or retrain_top < 0:
        raise OptionError(
            f"{{retrain_top}} must be an integer >= 0 (received {retrain_top!r})", "retrain_top"
        )
    if isinstance(ensemble, bool) or not isinstance(ensemble, int) or ensemble == 1 or ensemble < 0:
        raise OptionError(
            f"{{ensemble}} must be 0 (none) or an integer >= 2 (received {ensemble!r})", "ensemble"
        )


def _check_warm(
    spec: Spec,
    enqueue: Sequence[str | os.PathLike[str]],
    warm_start: str | os.PathLike[str] | None,
    *,
    worker: bool,
) -> tuple[tuple[Path, ...], Path | None]:
    """``enqueue`` and ``warm_start`` as paths, for a tuner and a role that take them (their
    contents are read once the data is known: ``_run.warm``).

    Raises:
        OptionError: Either is given to a worker or a tuner that cannot evaluate given points
            first, ``enqueue`` is not a list of paths, or a path is empty.
    """
    if isinstance(enqueue, (str, bytes)) or not isinstance(enqueue, (list, tuple)):
        raise OptionError(
            f"{{enqueue}} must be a list of paths (received {type(enqueue).__name__})", "enqueue"
        )
    named = [(f"{{enqueue}}[{i}]", p) for i, p in enumerate(enqueue)]
    for where, path in [*named, *([("{warm_start}", warm_start)] if warm_start is not None else [])]:
        if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
            raise OptionError(f"{where} must be a path (received {show(path)})", "enqueue", "warm_start")
    paths = tuple(Path(p) for p in enqueue)
    folder = None if warm_start is None else Path(warm_start)
    for name, given in (("enqueue", bool(paths)), ("warm_start", folder is not None)):
        if not given:
            continue
        if worker:
            raise OptionError(f"{{{name}}} is for the chief or a single machine, not a worker", name)
        if spec.search.NO_POINTS is not None:
            raise OptionError(spec.search.points_refused("{" + name + "}"), name)
    return paths, folder


def _check_ignore(ignore: Sequence[str]) -> tuple[str, ...]:
    """``ignore=`` as a tuple of column names.

    Raises:
        OptionError: ``ignore`` is not a list of non-empty column names.
    """
    if (
        isinstance(ignore, str)
        or not isinstance(ignore, (list, tuple))
        or not all(isinstance(name, str) and name for name in ignore)
    ):
        raise OptionError(f"{{ignore}} must be a list of column names (received {show(ignore)})", "ignore")
    return tuple(ignore)


def check_callbacks(callbacks: Sequence[Any] | None) -> tuple[Any, ...]:
    """``callbacks=`` as a tuple, checked to be Keras callbacks that can be deep-copied (keras-tuner
    copies them for every trial, and so does retraining).

    Raises:
        OptionError: ``callbacks`` is not a list, an item is not a Keras callback, or one cannot be
            deep-copied.
    """
    if callbacks is None:
        return ()
    if not isinstance(callbacks, (list, tuple)):
        raise OptionError(
            f"{{callbacks}} must be a list of keras.callbacks.Callback (received {type(callbacks).__name__})",
            "callbacks",
        )
    for index, callback in enumerate(callbacks):
        # duck-typed: this module never imports Keras
        if not all(hasattr(callback, name) for name in ("set_model", "set_params", "on_epoch_end")):
            raise OptionError(
                f"{{callbacks}}[{index}] must be a keras.callbacks.Callback "
                f"(received {type(callback).__name__})",
                "callbacks",
            )
        try:
            copy.deepcopy(callback)
        except Exception as exc:  # whatever a callback's attributes raise when copied
            raise OptionError(
                f"{{callbacks}}[{index}] ({type(callback).__name__}) cannot be deep-copied, and every trial "
                f"gets a fresh copy ({type(exc).__name__}: {str(exc)[:120]})",
                "callbacks",
            ) from None
    return tuple(callbacks)


def apply_overrides(
    spec: Spec,
    *,
    tuner: TunerName | None = None,
    max_trials: int | None = None,
    epochs: int | None = None,
    seed: int | None = None,
    ignore: Sequence[str] = (),
    pack: int | Literal["auto", "off"] | None = None,
) -> Spec:
    """The spec with ``search`` and ``training`` options replaced, and the ``ignore`` columns typed
    ``ignore`` in ``input.columns``; the original is unchanged.

    Switching the tuner keeps the options every tuner shares (objective, seed,
    executions per trial, pack, ...) and drops the others.

    Raises:
        SpecError: An override breaks a rule of the spec (located as in the spec,
            for example ``search.max_trials``).
    """
    data = spec.model_dump()
    search = data["search"]
    if tuner is not None and tuner != search["tuner"]:
        search = {key: search[key] for key in TUNERS[search["tuner"]].section.COMMON} | {"tuner": tuner}
    if max_trials is not None:
        search["max_trials"] = max_trials
    if seed is not None:
        search["seed"] = seed
    if pack is not None:
        search["pack"] = pack
    data["search"] = search
    if epochs is not None:
        data["training"]["epochs"] = epochs
    if ignore:
        data["input"]["columns"] = (data["input"]["columns"] or {}) | dict.fromkeys(ignore, "ignore")
    return validate_spec(data, source="overrides")
