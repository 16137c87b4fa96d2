"""How a space is searched: run keras-tuner on the data, retrain the best, keep the results.

This module orchestrates; the Keras work itself is done by ``densespace._keras``,
imported only when a search starts, so this module stays importable without
TensorFlow.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import re
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from densespace import _results, _space, datasets
from densespace._errors import DensespaceError, TuningError
from densespace._spec import Spec, validate_spec

TunerName = Literal["random", "bayesian", "hyperband"]

#: Options a search section keeps when the tuner is switched by an override.
_COMMON_SEARCH = ("objective", "seed", "executions_per_trial")


class Data(Protocol):
    """What ``tune`` needs of a dataset (``densespace.datasets.load_cifar10`` returns one)."""

    train: tuple[Any, Any]
    validation: tuple[Any, Any]
    test: tuple[Any, Any]


class SearchWarning(UserWarning):
    """A search will run, but not the way its spec suggests."""


def mostly_random(spec: Spec) -> str | None:
    """Why a BayesianOptimization search is mostly random, or None when it is not.

    The Gaussian process only proposes trials after ``num_initial_points``
    random ones (keras-tuner's default: 3 x the number of hyperparameters).
    """
    search = spec.search
    if search.tuner != "bayesian":
        return None
    dimensions = len(_space.hyperparameters(spec))
    initial = search.num_initial_points or max(3 * dimensions, 3)
    guided = max(search.max_trials - initial, 0)
    if guided * 2 >= search.max_trials:
        return None
    origin = (
        "search.num_initial_points"
        if search.num_initial_points
        else f"keras-tuner's default num_initial_points (3 x {dimensions} hyperparameters)"
    )
    return (
        f"{origin} = {initial} random trials leave {guided} of max_trials = {search.max_trials} "
        "to the Gaussian process: this search is mostly random"
    )


@dataclass
class BestModel:
    """One retrained configuration of the top ``retrain_top``."""

    rank: int
    trial_id: str
    values: dict[str, Any]
    test_metrics: dict[str, float]
    model: Any  #: the retrained ``keras.Model``
    frozen_spec: Spec
    parameters: int
    epochs: int


@dataclass
class TuneResult:
    """What ``tune`` hands back; ``results`` is what ``results.json`` holds."""

    out: Path
    results: dict[str, Any]
    best: list[BestModel] = field(default_factory=list)

    @property
    def best_hyperparameters(self) -> list[dict[str, Any]]:
        """The values of the retrained configurations, best first."""
        return [b.values for b in self.best]

    @property
    def best_models(self) -> list[Any]:
        """The retrained ``keras.Model`` objects, best first."""
        return [b.model for b in self.best]

    @property
    def test_metrics(self) -> list[dict[str, float]]:
        """Test-split metrics (``loss``, ``accuracy``) of the retrained models, best first."""
        return [b.test_metrics for b in self.best]


def apply_overrides(
    spec: Spec,
    *,
    tuner: TunerName | None = None,
    max_trials: int | None = None,
    epochs: int | None = None,
    seed: int | None = None,
) -> Spec:
    """The spec with ``search`` and ``training`` options replaced; the original is unchanged.

    Switching the tuner keeps the options every tuner shares (objective, seed,
    executions per trial) and drops the others.

    Raises:
        SpecError: An override breaks a rule of the spec (located as in the spec,
            for example ``search.max_trials``).
    """
    data = spec.model_dump()
    search = data["search"]
    if tuner is not None and tuner != search["tuner"]:
        search = {key: search[key] for key in _COMMON_SEARCH} | {"tuner": tuner}
    if max_trials is not None:
        search["max_trials"] = max_trials
    if seed is not None:
        search["seed"] = seed
    data["search"] = search
    if epochs is not None:
        data["training"]["epochs"] = epochs
    return validate_spec(data, source="overrides")


def tune(
    spec: Spec,
    *,
    data: Data,
    tuner: TunerName | None = None,
    max_trials: int | None = None,
    epochs: int | None = None,
    seed: int | None = None,
    retrain_top: int = 1,
    out: str | Path | None = None,
    overwrite: bool = False,
    verbose: Literal[0, 1, 2] = 1,
    on_trial_end: Callable[[dict[str, Any]], None] | None = None,
    chief: str | None = None,
    worker: str | None = None,
    worker_id: str | None = None,
) -> TuneResult:
    """Searches the space with keras-tuner, then retrains and tests the best configurations.

    The search validates on ``data.validation``; the top ``retrain_top``
    configurations are rebuilt from scratch, trained on ``data.train`` for the
    spec's epochs and evaluated once on ``data.test``. Everything is written
    to ``out`` (``results.json``, ``trials.csv``, ``report.md``, a ``.keras``
    model and a frozen spec per retrained model). Running again on the same
    ``out`` resumes an interrupted search.

    Args:
        spec: The search space.
        data: Train, validation and test splits (see ``densespace.datasets``).
        tuner: Overrides ``search.tuner``.
        max_trials: Overrides ``search.max_trials``.
        epochs: Overrides ``training.epochs``.
        seed: Overrides ``search.seed``.
        retrain_top: How many of the best configurations to retrain (0: none).
        out: The results folder; default ``runs/<spec name>``.
        overwrite: Start over even when ``out`` holds another search.
        verbose: 0 silent, 1 one line per trial, 2 also Keras' epoch lines.
        on_trial_end: Called with each finished trial's record (the ``trials``
            entries of ``results.json``), for example to log or monitor.
        chief: ``HOST:PORT`` to serve a distributed search on (keras-tuner's
            chief oracle): this process hands trials to workers, then retrains
            the best and writes the results (docs/distributed.md).
        worker: ``HOST:PORT`` of the chief: this process trains the trials it
            is handed; needs ``worker_id``. Without ``chief`` and ``worker``,
            keras-tuner's own ``KERASTUNER_*`` environment variables still apply.
        worker_id: This worker's name, unique among the workers; a worker
            restarted with the same id takes over its unfinished trial.

    Returns:
        The results, with the retrained models in memory; on a worker, only
        the trials it ran (``results["trials"]``).

    Raises:
        SpecError: An override is invalid.
        DensespaceError: ``out`` holds a different search and ``overwrite`` is False.
        TuningError: Every trial failed.

    Example:
        >>> from densespace.datasets import load_cifar10  # doctest: +SKIP
        >>> spec = densespace.load_spec("examples/seed-depth.json")  # doctest: +SKIP
        >>> result = densespace.tune(spec, data=load_cifar10(), max_trials=5)  # doctest: +SKIP
        >>> result.test_metrics[0]["accuracy"]  # doctest: +SKIP
        0.49
    """
    spec, environment = check_options(
        spec,
        tuner=tuner,
        max_trials=max_trials,
        epochs=epochs,
        seed=seed,
        retrain_top=retrain_top,
        chief=chief,
        worker=worker,
        worker_id=worker_id,
        overwrite=overwrite,
    )
    out = Path(out) if out is not None else Path("runs") / spec.name
    quiet = contextlib.redirect_stdout(io.StringIO()) if not verbose else contextlib.nullcontext()
    with _environment(environment), quiet:  # keras-tuner prints to stdout on its own
        role = _role()
        reason = mostly_random(spec)
        if reason and role != "worker":
            warnings.warn(reason, SearchWarning, stacklevel=2)
        data_info = {**_results.describe_data(data), "digest": datasets.digest(data)}
        _prepare(out, spec, data_info, overwrite=overwrite)

        from densespace import _keras

        if verbose:
            _announce(spec, role, out, retrain_top)
        start = time.monotonic()
        hypermodel = _keras.build_hypermodel(spec, train_images=data.train[0])
        if role != "single":
            hypermodel.fingerprint = f"spec:{_spec_digest(spec)}/data:{data_info['digest']}"
        progress = _Progress(spec, verbose=verbose, start=start, then=on_trial_end, estimate=role == "single")
        search_tuner = _keras.make_tuner(
            spec, hypermodel, directory=str(out), overwrite=overwrite, on_trial_end=progress
        )
        if role == "worker":
            _check_chief(_keras.chief_fingerprint(search_tuner), hypermodel.fingerprint)
        if role == "single":
            progress.resume(_keras.ended_trials(search_tuner))
        train = _keras.Batches(*data.train, seed=spec.search.seed)
        validation = _keras.Batches(*data.validation)
        found = _keras.search(
            search_tuner,
            train,
            validation,
            epochs=spec.training.epochs,
            verbose=verbose,
            worker=role == "worker",
        )
        if found is None:
            return TuneResult(
                out=out, results={"worker": os.environ["KERASTUNER_TUNER_ID"], "trials": progress.records}
            )
    trials = [_results.clean_trial(t) for t in found]
    completed = [t for t in trials if t["status"] == "completed"]
    if not completed:
        reasons = sorted({t["message"] or "no message" for t in trials})
        raise TuningError(f"all {len(trials)} trials failed: " + "; ".join(reasons))

    for stale in [*out.glob("best-*.keras"), *out.glob("best-*.spec.json")]:
        stale.unlink()
    best: list[BestModel] = []
    for rank, trial in enumerate(_results.ranked(completed, spec.search.objective)[:retrain_top], 1):
        if verbose:
            print(
                f"retraining #{rank}: trial {trial['id']} from scratch, {spec.training.epochs} epochs",
                file=sys.stderr,
            )
        model, metrics, trained = _keras.retrain(
            hypermodel,
            trial["values"],
            train,
            validation,
            data.test,
            epochs=spec.training.epochs,
            seed=(spec.search.seed or 0) + rank,
            verbose=verbose,
        )
        frozen = _space.freeze(spec, trial["values"])
        best.append(
            BestModel(
                rank,
                trial["id"],
                trial["values"],
                metrics,
                model,
                frozen,
                _space.parameter_bounds(frozen)[0],
                trained,
            )
        )
        _keras.save_model(model, str(out / _results.model_file(rank)))
        (out / _results.frozen_spec_file(rank)).write_text(frozen.model_dump_json(indent=2) + "\n")

    results = _results.assemble(
        spec, data_info, trials, best, seconds=time.monotonic() - start, versions=_keras.versions()
    )
    _results.write(out, results)
    return TuneResult(out=out, results=results, best=best)


def check_options(
    spec: Spec,
    *,
    tuner: TunerName | None,
    max_trials: int | None,
    epochs: int | None,
    seed: int | None,
    retrain_top: int,
    chief: str | None,
    worker: str | None,
    worker_id: str | None,
    overwrite: bool,
) -> tuple[Spec, dict[str, str]]:
    """Checks every option of ``tune`` that needs no data; returns the effective spec and
    the keras-tuner environment variables of the distributed role (empty for none).

    Raises:
        SpecError: An override is invalid.
        DensespaceError: Another option is.
    """
    if retrain_top < 0:
        raise DensespaceError(f"retrain_top must be >= 0 (received {retrain_top})")
    environment = _distributed_environment(chief=chief, worker=worker, worker_id=worker_id)
    if worker and overwrite:
        raise DensespaceError("--overwrite is for the chief or a single machine, not a worker")
    return apply_overrides(spec, tuner=tuner, max_trials=max_trials, epochs=epochs, seed=seed), environment


def _spec_digest(spec: Spec) -> str:
    return hashlib.sha256(spec.model_dump_json().encode()).hexdigest()[:16]


def _check_chief(chief: str | None, mine: str) -> None:
    """Refuses to work for a chief whose spec or data differ from this worker's."""
    if chief == mine:
        return
    if chief is None:
        raise DensespaceError("the chief is not a densespace search (it declares no fingerprint)")
    differ = [
        part
        for part, theirs, ours in zip(("spec", "data"), chief.split("/"), mine.split("/"), strict=False)
        if theirs != ours
    ]
    verb = "differs" if len(differ) == 1 else "differ"
    raise DensespaceError(
        f"this worker's {' and '.join(differ)} {verb} from the chief's (chief {chief}, worker {mine}); "
        "start workers with the chief's spec file, overrides and data"
    )


def _distributed_environment(
    *, chief: str | None, worker: str | None, worker_id: str | None
) -> dict[str, str]:
    """keras-tuner's variables for ``--chief`` / ``--worker``; empty when neither is given."""
    if chief and worker:
        raise DensespaceError("--chief and --worker exclude each other")
    if worker_id is not None and not worker:
        raise DensespaceError("--worker-id goes with --worker")
    if worker and not worker_id:
        raise DensespaceError("--worker needs --worker-id, a name unique among the workers")
    if worker_id is not None and (
        not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", worker_id) or "chief" in worker_id
    ):
        raise DensespaceError(
            f"--worker-id: use letters, digits, '.', '_' and '-', without 'chief' (received {worker_id!r})"
        )
    address = chief or worker
    if address is None:
        return {}
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        flag = "--chief" if chief else "--worker"
        raise DensespaceError(f"{flag}: expected HOST:PORT, such as 127.0.0.1:8000 (received {address!r})")
    return {
        "KERASTUNER_ORACLE_IP": host.strip("[]"),
        "KERASTUNER_ORACLE_PORT": port,
        "KERASTUNER_TUNER_ID": "chief" if chief else str(worker_id),
    }


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Sets environment variables for the duration of a block."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _role() -> Literal["single", "chief", "worker"]:
    """This process's part in the search, by keras-tuner's environment variables."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return "single"
    return "chief" if "chief" in os.environ.get("KERASTUNER_TUNER_ID", "") else "worker"


def _announce(spec: Spec, role: str, out: Path, retrain_top: int) -> None:
    trials, epochs = planned_budget(spec)
    if role == "worker":
        where = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
        print(
            f"worker {os.environ['KERASTUNER_TUNER_ID']}: training trials handed out by the chief at {where}",
            file=sys.stderr,
        )
        return
    print(
        f"planned: up to {trials} trials, {epochs} training epochs in the search, then "
        f"{retrain_top} x {spec.training.epochs} epochs of retraining; results in {out}",
        file=sys.stderr,
    )
    if role == "chief":
        print(
            f"chief: serving trials on {os.environ['KERASTUNER_ORACLE_IP']}:"
            f"{os.environ['KERASTUNER_ORACLE_PORT']} (keras-tuner's gRPC, no authentication: "
            "keep it on a private network); waiting for workers",
            file=sys.stderr,
        )


def _tuner_function(name: TunerName, title: str) -> Callable[..., TuneResult]:
    def run(spec: Spec, *, data: Data, **options: Any) -> TuneResult:
        return tune(spec, data=data, tuner=name, **options)

    run.__name__ = run.__qualname__ = {
        "random": "random_search",
        "bayesian": "bayesian_optimization",
        "hyperband": "hyperband",
    }[name]
    run.__doc__ = (
        f"``tune`` with keras-tuner's {title}; takes ``tune``'s options.\n\n"
        f"    Example:\n        >>> densespace.{run.__name__}(spec, data=data)  # doctest: +SKIP\n"
    )
    return run


random_search = _tuner_function("random", "RandomSearch")
bayesian_optimization = _tuner_function("bayesian", "BayesianOptimization")
hyperband = _tuner_function("hyperband", "Hyperband")


_RUN_FILE = "run.json"


def _prepare(out: Path, spec: Spec, data_info: dict[str, Any], *, overwrite: bool) -> None:
    """Makes ``out`` ready: new, resumable (same spec and data), or cleared when overwriting.

    A folder that exists, is not empty and holds no ``run.json`` is not a densespace
    results folder: it is never written into, let alone cleared.
    """
    run = {"spec": spec.model_dump(mode="json"), "data": data_info}
    marker = out / _RUN_FILE
    if out.exists() and not marker.exists() and any(out.iterdir()):
        raise DensespaceError(
            f"{out} is not empty and holds no densespace search ({_RUN_FILE}); choose a new or empty --out"
        )
    if marker.exists() and not overwrite:
        previous = json.loads(marker.read_text())
        changes = _differences(previous, run)
        if changes:
            raise DensespaceError(
                f"{out} holds a search of a different spec or data ({'; '.join(changes[:5])}); "
                "pass --overwrite (overwrite=True) to start over, or choose another --out"
            )
        return
    if overwrite and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(run, indent=2) + "\n")


def _differences(old: Any, new: Any, path: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            change
            for key in sorted(set(old) | set(new))
            for change in _differences(old.get(key), new.get(key), f"{path}.{key}" if path else key)
        ]
    return [] if old == new else [f"{path}: {json.dumps(old)} -> {json.dumps(new)}"]


class _Progress:
    """Prints one line per finished trial: values, score, best so far, time and estimate."""

    def __init__(
        self,
        spec: Spec,
        *,
        verbose: int,
        start: float,
        then: Callable[[dict[str, Any]], None] | None,
        estimate: bool,
    ) -> None:
        self.spec, self.verbose, self.start, self.then = spec, verbose, start, then
        self.planned = planned_budget(spec) if estimate else None
        self.records: list[dict[str, Any]] = []
        self.finished = 0
        self.epochs = 0  # the planned epochs this run's finished trials used up
        self.resumed_epochs = 0  # the same, for the trials an earlier run finished
        self.best: float | None = None

    def resume(self, trials: list[dict[str, Any]]) -> None:
        """Counts the trials an earlier run of this search finished: the numbering, the best
        score and the estimate go on from them."""
        for trial in trials:
            self.finished += 1
            self.resumed_epochs += self._planned_epochs(trial["values"])
            self._keep_best(trial["score"])

    def __call__(self, trial: dict[str, Any]) -> None:
        self.finished += 1
        self.epochs += self._planned_epochs(trial["values"])
        trial = _results.clean_trial(trial)
        self.records.append(trial)
        score = trial["score"]
        self._keep_best(score)
        if self.then is not None:
            self.then(trial)
        if not self.verbose:
            return
        elapsed = time.monotonic() - self.start
        values = " ".join(f"{k}={_results.show(v)}" for k, v in trial["values"].items())
        outcome = (
            f"{self.spec.search.objective}={score:.4f}"
            if score is not None
            else f"failed ({trial['message']})"
        )
        best = "" if self.best is None else f"  best={self.best:.4f}"
        position, left = f"[{self.finished}]", ""
        if self.planned is not None:
            trials, epochs = self.planned
            position = f"[{self.finished}/{trials}]"
            # by epochs, not trials: Hyperband's later trials train longer
            seconds = elapsed / self.epochs * max(epochs - self.resumed_epochs - self.epochs, 0)
            left = f"  left ~{_clock(seconds)}"
        print(
            f"{position} trial {trial['id']}  {values}  {outcome}{best}  elapsed {_clock(elapsed)}{left}",
            file=sys.stderr,
            flush=True,
        )

    def _keep_best(self, score: float | None) -> None:
        """Remembers ``score`` when it beats the best so far."""
        if score is not None and (
            self.best is None or _results.better(score, self.best, self.spec.search.objective)
        ):
            self.best = score

    def _planned_epochs(self, values: dict[str, Any]) -> int:
        """The epochs of the planned budget one trial stands for, whether it ran them all or not
        (early stopping, a failure)."""
        search = self.spec.search
        if search.tuner == "hyperband":
            epochs = values["tuner/epochs"] - values["tuner/initial_epoch"]
        else:
            epochs = self.spec.training.epochs
        return epochs * search.executions_per_trial


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def planned_budget(spec: Spec) -> tuple[int, int]:
    """The most trials and training epochs the search will run (before retraining).

    Hyperband follows keras-tuner's own bracket arithmetic: each round of a
    bracket trains ``size`` models, continuing the previous round's best from
    where they stopped.
    """
    search = spec.search
    if search.tuner != "hyperband":
        return search.max_trials, search.max_trials * spec.training.epochs * search.executions_per_trial
    trials = epochs = 0
    brackets = 0
    remaining = float(search.max_epochs)
    while remaining >= 1:
        remaining /= search.factor
        brackets += 1
    end_size = math.ceil(1 + math.log(search.max_epochs, search.factor))
    for bracket in range(brackets):
        for round_ in range(bracket + 1):
            size = math.ceil(end_size / (bracket + 1) * search.factor ** (bracket - round_))
            done = math.ceil(search.max_epochs / search.factor ** (bracket - round_ + 1)) if round_ else 0
            total = math.ceil(search.max_epochs / search.factor ** (bracket - round_))
            trials += size
            epochs += size * (total - done)
    return (
        trials * search.hyperband_iterations,
        epochs * search.hyperband_iterations * search.executions_per_trial,
    )
