"""``tune``: a thin front over the phases of a run.

options -> folder -> search -> retrain -> write. Each phase is a function of its
own; TensorFlow is imported only when the search phase starts, so this module
stays importable without it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import hashlib
import inspect
import io
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from densespace import _space, datasets
from densespace._budgets import Limits, Target
from densespace._errors import (
    DensespaceError,
    OptionError,
    ResourceError,
    RunFolderError,
    SearchWarning,
    TuningError,
    environmental,
    out_of_memory,
    quote,
)
from densespace._export import EXPORTS, ExportFormat, check_table_format, export
from densespace._files import Commit, Ledger, write_text
from densespace._folds import fold_rows
from densespace._report import write_report
from densespace._results import (
    ENSEMBLE_FILE,
    RESULTS_FILE,
    BestModel,
    BestRecord,
    DataRecord,
    EnsembleRecord,
    Results,
    TrialRecord,
    TuneResult,
    assemble,
    clean_values,
    frozen_spec_file,
    load_results,
    model_file,
    ranked,
    write_results,
)
from densespace._run import folder, peers, warm
from densespace._run.fit import fit_to_data, suggest_folds
from densespace._run.folder import PENDING
from densespace._run.heap import frozen_heap
from densespace._run.options import KeepCheckpoints, Role, SearchOptions, TuneOptions, Verbosity, role
from densespace._run.progress import LiveProgress, Progress, planned_budget
from densespace._run.quiet import quiet_tensorflow
from densespace._search import TunerName
from densespace._spec import Spec, load_spec
from densespace._tasks import TASKS
from densespace.datasets import Data

if TYPE_CHECKING:
    from densespace._keras.data import Batches
    from densespace._keras.hypermodel import DenseHyperModel
    from densespace._keras.tensorboard import Board


def tune(
    spec: Spec,
    *,
    data: Data,
    tuner: TunerName | None = None,
    max_trials: int | None = None,
    epochs: int | None = None,
    seed: int | None = None,
    pack: int | Literal["auto", "off"] | None = None,
    retrain_top: int = 1,
    ensemble: int = 0,
    out: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    verbose: Verbosity = 1,
    on_trial_end: Callable[[TrialRecord], None] | None = None,
    chief: str | None = None,
    worker: str | None = None,
    worker_id: str | None = None,
    connect_timeout: float = 180.0,
    callbacks: Sequence[Any] | None = None,
    tensorboard: bool = False,
    keep_checkpoints: KeepCheckpoints = "best",
    with_optimizer: bool = False,
    retrain: bool = False,
    time_limit: float | None = None,
    stop_at: tuple[str, float] | Target | None = None,
    enqueue: Sequence[str | os.PathLike[str]] = (),
    warm_start: str | os.PathLike[str] | None = None,
    ignore: Sequence[str] = (),
    export: Sequence[ExportFormat] = (),
) -> TuneResult:
    """Searches the space with keras-tuner, then retrains and tests the best configurations.

    The search validates on ``data.validation``; the top ``retrain_top``
    configurations are rebuilt from scratch, trained on ``data.train`` for the
    spec's epochs and evaluated once on ``data.test``. Everything is written
    to ``out`` (``results.json``, ``trials.csv``, ``report.md``, a ``.keras``
    model and a frozen spec per retrained model). Running again on the same
    ``out`` resumes an interrupted search; on a finished one it retrains nothing
    and returns what ``out`` holds (``retrain=True`` retrains); with a larger
    ``max_trials`` (nothing else changed) the search goes on, training only the new trials.

    Args:
        spec: The search space.
        data: Train, validation and test splits (see ``densespace.datasets``).
        tuner: Overrides ``search.tuner``.
        max_trials: Overrides ``search.max_trials``.
        epochs: Overrides ``training.epochs``.
        seed: Overrides ``search.seed``.
        pack: Overrides ``search.pack``: up to this many trials train together in one
            model (``"off"``: one model per trial; docs/tuning.md, "Packed trials").
        retrain_top: How many of the best configurations to retrain (0: none).
        ensemble: Also write ``ensemble.keras``, one plain Keras model averaging the outputs
            (probabilities; predictions for regression) of the best ``ensemble`` retrained
            models (2 or more; ``retrain_top`` is raised to it), tested once like them;
            0: none.
        out: The results folder; default ``runs/<spec name>``.
        overwrite: Start over even when ``out`` holds another search.
        verbose: 0 silent, 1 one line per trial, 2 also Keras' epoch lines.
        on_trial_end: Called with each finished trial's ``TrialRecord`` (the
            ``trials`` entries of ``results.json``), for example to log or monitor.
        chief: ``HOST:PORT`` to serve a distributed search on (keras-tuner's
            chief oracle): this process hands trials to workers, then retrains
            the best and writes the results (docs/distributed.md).
        worker: ``HOST:PORT`` of the chief: this process trains the trials it
            is handed; needs ``worker_id``. Without ``chief`` and ``worker``,
            keras-tuner's own ``KERASTUNER_*`` environment variables still apply.
        worker_id: This worker's name, unique among the workers; a worker
            restarted with the same id takes over its unfinished trial.
        connect_timeout: Seconds a worker keeps trying to reach its chief
            (saying so, with growing delays) before it gives up, and the longest it
            waits for each answer of the chief.
        callbacks: Keras callbacks for every trial and every retrained model, each
            model getting fresh deep copies (keras-tuner copies them for every trial).
        tensorboard: Write TensorBoard logs under ``out/tensorboard``: each trial's and
            retrained model's epochs, and the HParams plugin's view of the trials.
        keep_checkpoints: Which search checkpoints stay once the search is over:
            ``"best"`` those of the retrained configurations' trials (of the best one
            when ``retrain_top`` is 0), ``"all"``, or ``"none"``; ``trial.json`` files stay.
        with_optimizer: Save ``best-K.keras`` with the optimizer's state (to train on);
            by default without it, which makes the files smaller.
        retrain: Retrain even when ``out`` holds this search, finished and retrained.
        time_limit: Seconds after which no new trial starts (the running one finishes, and
            retraining still runs), counted from the start of this call: a resumed search
            gets the whole limit again.
        stop_at: ``(metric, value)``, such as ``("val_accuracy", 0.9)``: no new trial starts once
            a completed trial's value of the metric (an objective of the spec's task, at the
            trial's best epoch) reaches ``value`` (at least it, or at most it for a loss or error).
        enqueue: Frozen spec files (``best-1.spec.json``, or any spec without tuned values) and
            results folders (their retrained best models): their models are evaluated first, after
            ``search.initial_points``, each as the values of this space that build it (random and
            bayesian searches; a model that is not in this space is refused).
        warm_start: A results folder of an earlier search of the same space (the spec outside
            ``search``, and the objective) on the same data: its scored trials are handed to the
            tuner as trials of this search, without training them, and the search's ``max_trials``
            new trials come on top (random and bayesian searches). Its best configuration is
            retrained here if it stays the best.
        ignore: Columns of a table left out of the model (typed ``ignore`` in ``input.columns``).
        export: Formats (``"savedmodel"``, ``"tflite"``) each retrained model is also written in
            beside its ``.keras`` (``Results.export``), each checked on the test split; a table's
            model exports as a SavedModel only.

    Returns:
        The results, with the retrained models in memory; on a worker, only
        the trials it ran (``trials``).

    Raises:
        SpecError: An override is invalid.
        OptionError: Another option is, or an ``enqueue`` file or the ``warm_start`` folder cannot
            be used (the message says why).
        RunFolderError: ``out`` holds a different search and ``overwrite`` is False,
            something that is not a densespace search, or is in use by another run.
        PeerError: A worker's chief did not answer, or a chief's port is taken.
        TuningError: Every trial failed.
        ResourceError: The disk filled up or memory ran out (the folder keeps its
            last complete state; the same call resumes).

    Examples:
        >>> from densespace.datasets import load_cifar10  # doctest: +SKIP
        >>> spec = densespace.load_spec("examples/seed-depth.json")  # doctest: +SKIP
        >>> result = densespace.tune(spec, data=load_cifar10(), max_trials=5)  # doctest: +SKIP
        >>> result.test_metrics[0]["accuracy"]  # doctest: +SKIP
        0.49
    """
    # the keywords as given: tune's parameters are SearchOptions' fields (tests/test_options.py)
    given = {name: value for name, value in locals().items() if name not in ("spec", "data")}
    return run(TuneOptions.create(spec, SearchOptions(**given)), data)


def run(options: TuneOptions, data: Data, *, live: bool = False) -> TuneResult:
    """The phases of ``tune`` on checked options.

    ``live`` shows the progress as a live display (``LiveProgress``, in a terminal)
    besides the trial lines.

    Raises:
        ResourceError: The disk filled up or memory ran out; the folder keeps its last
            complete state, and running again resumes.
    """
    fitted, data = fit_to_data(options.spec, data)
    if fitted.input.columns is not None:  # refused before any training
        for format in options.export:
            check_table_format(format, option="export")
    suggest_folds(fitted, data)
    options = dataclasses.replace(options, spec=fitted)
    if options.verbose < 2:  # the data's errors came first: now TensorFlow loads, without its logs
        quiet_tensorflow()
    environment = options.distributed.environment() if options.distributed else {}
    quiet = contextlib.redirect_stdout(io.StringIO()) if not options.verbose else contextlib.nullcontext()
    with contextlib.ExitStack() as claimed:
        claimed.enter_context(frozen_heap())
        try:
            with _environment(environment), quiet:  # keras-tuner prints to stdout on its own
                search = _start(options, data, claimed, live=live)
                trials = _search(search)
                if trials is None:
                    return TuneResult(
                        out=options.out,
                        record=None,
                        trials=search.progress.records,
                        worker=os.environ["KERASTUNER_TUNER_ID"],
                    )
            _prune(search, trials)
            finished = None if options.retrain else _finished(search, trials)
            if finished is not None:
                return finished
            best = _retrain(search, trials)
            ensemble = _ensemble(search, best)
            results = _write(search, trials, best, None if ensemble is None else ensemble[0])
        except Exception as exc:
            if not environmental(exc):
                raise
            raise _resource_error(exc, options.out) from exc
    _exported(options, results, data)
    model = None if ensemble is None else ensemble[1]
    return TuneResult(out=options.out, record=results, trials=trials, best=best, ensemble=model)


def _exported(options: TuneOptions, results: Results, data: Data) -> None:
    """The export phase, once the folder is released: each retrained model in each format of
    ``export``, checked on the test split's rows."""
    for format in options.export:
        for best in results.best:
            path, difference = export(results, options.out, format=format, model=best.rank, data=data.test[0])
            if options.verbose:
                print(
                    f"wrote {path} (it predicts within {difference:.2g} of {best.model} on the test split)",
                    file=sys.stderr,
                )


def _resource_error(exc: BaseException, out: Path) -> ResourceError:
    what = "out of memory" if out_of_memory(exc) else "the disk is full"
    return ResourceError(
        f"{what} ({type(exc).__name__}: {quote(str(exc))}); {out} keeps the last complete state: "
        "make room and run the same command again to resume"
    )


def _write(
    search: _Search, trials: list[TrialRecord], best: list[BestModel], ensemble: EnsembleRecord | None
) -> Results:
    """The write phase: ``results.json`` and the report."""
    from densespace._keras.io import backend, versions

    options = search.options
    results = assemble(
        options.spec,
        search.data_record,
        trials,
        best,
        seconds=time.monotonic() - search.start,
        versions=versions(),
        backend=backend(),
        stopped=search.limits.stopped,
        ensemble=ensemble,
    )
    write_results(options.out, results, name=PENDING + RESULTS_FILE)
    _replace_results(search.ledger, [b.record() for b in best], ensemble=ensemble is not None)
    write_report(options.out, results)
    return results


def _replace_results(ledger: Ledger, best: list[BestRecord], *, ensemble: bool = False) -> None:
    """Puts the pending results and retrained models (and ensemble) in place of the earlier ones, as
    one decision (``Ledger.decide``): a kill leaves the earlier state whole, or the new one, completed
    on the next run. Earlier models of ranks no longer retrained, an earlier ensemble not made again,
    and every earlier export (``densespace export``: of a model replaced now) are deleted."""
    written = {RESULTS_FILE, *(name for b in best for name in (b.model, b.frozen_spec))}
    written |= {ENSEMBLE_FILE} if ensemble else set()
    patterns = (model_file("*"), frozen_spec_file("*"), ENSEMBLE_FILE)
    exports = [pattern.format(rank="*") for pattern in EXPORTS.values()]
    stale = [
        ledger.name(p)
        for p in ledger.listed()
        if (
            p.parent == ledger.root
            and any(fnmatch.fnmatchcase(p.name, pattern) for pattern in patterns)
            and p.name not in written
        )
        or any(fnmatch.fnmatchcase(ledger.name(p).split("/")[0], pattern) for pattern in exports)
    ]
    ledger.decide(Commit(replace=[(PENDING + name, name) for name in sorted(written)], delete=stale))


@dataclass
class _Search:
    """What the phases after ``_start`` share."""

    options: TuneOptions
    data: Data
    data_record: DataRecord
    role: Role
    ledger: Ledger
    start: float
    hypermodel: DenseHyperModel
    tuner: Any
    progress: Progress
    train: Batches
    validation: Batches
    board: Board | None = None
    limits: Limits = dataclasses.field(default_factory=Limits)


def _start(options: TuneOptions, data: Data, claimed: contextlib.ExitStack, *, live: bool = False) -> _Search:
    """The folder phase and the set-up of the search: the run folder ready and claimed
    (until ``claimed`` closes), the hypermodel and keras-tuner's tuner built, an earlier
    run's trials counted, the progress shown (until ``claimed`` closes)."""
    spec, this_role = options.spec, role()
    reason = spec.search.warning(len(_space.hyperparameters(spec)))
    if reason and this_role != "worker":
        warnings.warn(reason, SearchWarning, stacklevel=4)
    data_record = _data_record(data)
    points = warm.first_points(spec, options.enqueue) if this_role != "worker" else []
    resumed = options.warm_start is not None and not options.overwrite and warm.fed_already(options.out)
    earlier = (
        []
        if options.warm_start is None or resumed
        else warm.earlier_trials(spec, data_record, options.warm_start)
    )
    claim = _claim(options, data_record, this_role)
    claimed.callback(claim.release)

    from densespace._keras import data as batches
    from densespace._keras import oracle, state, tuners
    from densespace._keras import tensorboard as logs

    claimed.enter_context(state.atomic_state())
    if not options.overwrite:
        state.check_state(options.out / tuners.PROJECT)

    if options.verbose:
        _announce(spec, this_role, options.out, options.retrain_top, claim.grown)
    start = time.monotonic()
    hypermodel = _hypermodel(options, data, data_record, this_role)
    shown = LiveProgress if live and options.verbose else Progress
    progress = shown(
        spec, verbose=options.verbose, start=start, then=options.on_trial_end, estimate=this_role == "single"
    )
    limits = Limits(time_limit=options.time_limit, target=options.stop_at)
    board = logs.Board.started(options.out / logs.FOLDER, spec) if options.tensorboard else None
    folds = _folds(spec, data)
    tuner = _tuner(
        options, hypermodel, progress, board, None if this_role == "worker" else limits, points, folds
    )
    if options.warm_start is not None:
        _feed(tuner, earlier, options)
    if points and options.verbose:
        _say_first(len(points), len(oracle.due(tuner.oracle, points)))
    if this_role == "single":
        progress.resume(t for t in tuners.ended_trials(tuner) if not t.warm_start)
    claimed.enter_context(progress.showing())
    return _Search(
        options=options,
        data=data,
        data_record=data_record,
        role=this_role,
        ledger=claim.ledger,
        start=start,
        hypermodel=hypermodel,
        tuner=tuner,
        progress=progress,
        train=batches.Batches(*data.train, seed=spec.search.seed),
        validation=batches.Batches(*data.validation),
        board=board,
        limits=limits,
    )


def _hypermodel(
    options: TuneOptions, data: Data, data_record: DataRecord, this_role: Role
) -> DenseHyperModel:
    """The spec's hypermodel, fitted to the training split; a table's columns told as it encodes them,
    and for distributed tuning the fingerprint of the spec and data that workers check."""
    from densespace._keras import hypermodel as hypermodels

    spec = options.spec
    hypermodel = hypermodels.build_hypermodel(
        spec, train_images=data.train[0], train_targets=data.train[1], class_names=data_record.class_names
    )
    if options.verbose and hypermodel.encoding is not None and this_role != "worker":
        print(hypermodel.encoding.describe(), file=sys.stderr)
    if this_role != "single":
        hypermodel.fingerprint = f"spec:{_spec_digest(spec)}/data:{data_record.digest}"
    return hypermodel


def _folds(spec: Spec, data: Data) -> list[tuple[Batches, Batches]]:
    """The folds of ``search.cross_validation`` (none without it), the same on every run of the spec:
    shuffled with ``search.seed`` (or 0), stratified by class for classification and binary tasks."""
    from densespace._keras.data import fold_batches

    folds = spec.search.cross_validation
    if folds is None:
        return []
    labels = np.concatenate([np.asarray(data.train[1]), np.asarray(data.validation[1])])
    stratified = TASKS[spec.task].labels in ("ids", "binary")
    rows = fold_rows(labels, folds, stratified=stratified, seed=spec.search.seed or 0)
    return fold_batches(data.train, data.validation, rows, seed=spec.search.seed)


def _data_record(data: Data) -> DataRecord:
    """What ``run.json`` and ``results.json`` record of the data."""
    return DataRecord(
        source=str(getattr(data, "source", "in-memory arrays")),
        train=len(data.train[1]),
        validation=len(data.validation[1]),
        test=len(data.test[1]),
        digest=datasets.digest(data),
        kind=getattr(data, "kind", None),
        class_names=_names(data, "class_names"),
        feature_names=_names(data, "feature_names"),
        target_names=_names(data, "target_names"),
    )


def _claim(options: TuneOptions, data_record: DataRecord, this_role: Role) -> folder.Claim:
    """The results folder made ready and claimed (a chief's port checked free first; a worker's
    chief waited for after)."""
    if this_role == "chief":
        peers.check_port_free(os.environ["KERASTUNER_ORACLE_IP"], int(os.environ["KERASTUNER_ORACLE_PORT"]))
    run_record = folder.RunRecord(spec=options.spec.model_dump(mode="json"), data=data_record)
    claim = folder.prepare(options.out, run_record, overwrite=options.overwrite, lock=this_role != "worker")
    if this_role == "worker":
        try:
            peers.wait_for_chief(
                os.environ["KERASTUNER_ORACLE_IP"],
                int(os.environ["KERASTUNER_ORACLE_PORT"]),
                timeout=options.connect_timeout,
                verbose=options.verbose,
            )
        except BaseException:
            claim.release()
            raise
    return claim


def _tuner(
    options: TuneOptions,
    hypermodel: DenseHyperModel,
    progress: Progress,
    board: Board | None,
    limits: Limits | None,
    points: list[dict[str, Any]],
    folds: list[tuple[Batches, Batches]],
) -> Any:
    """keras-tuner's tuner of the search (``limits`` None on a worker, ``folds`` those of
    ``search.cross_validation``); a worker's calls to its chief bounded in time, and its chief
    checked to run the same search."""
    from densespace._keras import tuners

    tuner = tuners.make_tuner(
        options.spec,
        hypermodel,
        directory=str(options.out),
        on_trial_end=progress,
        on_epoch=progress.epoch,
        board=board,
        limits=limits,
        points=points,
        folds=folds,
    )
    if limits is None:  # a worker: the chief holds the limits
        tuners.bound_chief_calls(tuner, timeout=options.connect_timeout)
        _check_chief(tuners.chief_fingerprint(tuner), hypermodel.fingerprint)  # type: ignore[arg-type]
    return tuner


def _say_first(given: int, due: int) -> None:
    """Says how many given points the search evaluates first, and how many it evaluated already."""
    if due:
        skipped = given - due
        print(
            f"first: {due} given points (search.initial_points, then enqueue)"
            + (f"; {skipped} more evaluated already" if skipped else ""),
            file=sys.stderr,
        )


def _feed(tuner: Any, earlier: list[TrialRecord], options: TuneOptions) -> None:
    """Hands the warm-start trials to the tuner (``_keras.tuners.feed_earlier``), saying so."""
    from densespace._keras import tuners

    try:
        held = tuners.feed_earlier(tuner, earlier, str(options.warm_start))
    except ValueError as exc:
        raise OptionError(
            f"{{warm_start}} starts a new search, and {options.out}: {exc} (run again without "
            "{warm_start} to resume it, or with {overwrite} to start over)",
            "warm_start",
            "overwrite",
        ) from None
    if options.verbose:
        print(
            f"warm start: {held} trials scored in {options.warm_start}, handed to the tuner without training",
            file=sys.stderr,
        )


def _search(search: _Search) -> list[TrialRecord] | None:
    """The search phase: every trial (cleaned), or None on a worker."""
    from densespace._keras import training, tuners

    try:
        found = training.search(
            search.tuner,
            search.train,
            search.validation,
            epochs=search.options.spec.training.epochs,
            verbose=search.options.verbose,
            worker=search.role == "worker",
            callbacks=search.options.callbacks,
        )
    except tuners.EnvironmentFailure as exc:
        raise _resource_error(exc.cause, search.options.out) from exc.cause
    if found is None:
        return None
    trials = [t.model_copy(update={"values": clean_values(t.values)}) for t in found]
    if not trials:
        raise TuningError("the search ran no trial: keras-tuner found no configuration left to try")
    if not any(t.status == "completed" for t in trials):
        reasons = sorted({t.message or "no message" for t in trials})
        raise TuningError(f"all {len(trials)} trials failed: " + "; ".join(reasons))
    return trials


def _retrain(search: _Search, trials: list[TrialRecord]) -> list[BestModel]:
    """The retrain phase: the top configurations rebuilt, trained from scratch, tested
    once, and saved with their frozen specs."""
    from densespace._keras import io as model_io
    from densespace._keras import training

    options, spec, out = search.options, search.options.spec, search.options.out
    best: list[BestModel] = []
    top = ranked(trials, spec.search.objective)[: options.retrain_top]
    for rank, trial in enumerate(top, 1):
        search.progress.retraining(rank, len(top), trial.id)
        if options.verbose:
            print(
                f"retraining #{rank}: trial {trial.id} from scratch, {spec.training.epochs} epochs",
                file=sys.stderr,
            )
        model, metrics, trained = training.retrain(
            search.hypermodel,
            trial.values,
            search.train,
            search.validation,
            search.data.test,
            epochs=spec.training.epochs,
            seed=(spec.search.seed or 0) + rank,
            verbose=options.verbose,
            rank=rank,
            callbacks=options.callbacks,
            on_epoch=search.progress.epoch,
            board=search.board,
        )
        frozen = _space.freeze(spec, trial.values)
        parameters = _space.parameter_bounds(frozen)[0]
        best.append(BestModel(rank, trial.id, trial.values, metrics, model, frozen, parameters, trained))
        # written aside: until every model and the results are written, the folder keeps the earlier ones
        model_io.save_model(model, out / (PENDING + model_file(rank)), optimizer=options.with_optimizer)
        write_text(out / (PENDING + frozen_spec_file(rank)), frozen.model_dump_json(indent=2) + "\n")
    return best


def _ensemble(search: _Search, best: list[BestModel]) -> tuple[EnsembleRecord, Any] | None:
    """The ensemble phase (``ensemble=K``): the best K retrained models averaged in one model,
    tested once and saved aside like them; None when none is asked for."""
    from densespace._keras import io as model_io
    from densespace._keras.ensemble import ensemble

    options = search.options
    if not options.ensemble:
        return None
    members = best[: options.ensemble]
    if len(members) < 2:
        warnings.warn(
            f"no ensemble: ensemble={options.ensemble} averages retrained models, and the search "
            f"retrained {len(members)} (it found fewer configurations to retrain)",
            SearchWarning,
            stacklevel=2,
        )
        return None
    model, metrics = ensemble([b.model for b in members], options.spec, search.data.test)
    model_io.save_model(model, options.out / (PENDING + ENSEMBLE_FILE))
    record = EnsembleRecord(
        members=[b.rank for b in members],
        test_metrics={k: v for k, v in metrics.items() if math.isfinite(v)},  # strict JSON
    )
    return record, model


def _prune(search: _Search, trials: list[TrialRecord]) -> None:
    """Deletes the search checkpoints ``keep_checkpoints`` does not keep (the search is over:
    resuming it runs nothing, and retraining starts from scratch)."""
    from densespace._keras import tuners

    options = search.options
    if options.keep_checkpoints == "all":
        return
    keep: set[str] = set()
    if options.keep_checkpoints == "best":
        best = ranked(trials, options.spec.search.objective)[: max(options.retrain_top, 1)]
        keep = {t.id for t in best}
    folder.prune_checkpoints(search.ledger, tuners.PROJECT, keep=keep)


def _finished(search: _Search, trials: list[TrialRecord]) -> TuneResult | None:
    """What ``out`` holds when this search is finished there already: the same trials, and the
    same configurations retrained, their files in place; None when retraining is due."""
    from densespace._keras import io as model_io

    options, out = search.options, search.options.out
    try:
        record = load_results(out)
    except RunFolderError:
        return None
    wanted = [t.id for t in ranked(trials, options.spec.search.objective)[: options.retrain_top]]
    same_trials = [(t.id, t.status, t.score) for t in record.trials] == [
        (t.id, t.status, t.score) for t in trials
    ]
    files = [out / name for b in record.best for name in (b.model, b.frozen_spec)]
    files += [out / ENSEMBLE_FILE] if options.ensemble else []
    members = record.ensemble.members if record.ensemble else []
    same_ensemble = members == list(range(1, options.ensemble + 1))
    if (
        not same_trials
        or not same_ensemble
        or [b.trial for b in record.best] != wanted
        or not all(f.is_file() for f in files)
    ):
        return None
    write_report(out, record)  # the report follows results.json (a kill may have come between them)
    if options.verbose:
        print(
            f"{out} holds this search, finished: nothing to retrain; pass --retrain (retrain=True) to retrain",
            file=sys.stderr,
        )
    best = [
        BestModel(
            b.rank,
            b.trial,
            b.values,
            b.test_metrics,
            model_io.load_model(out / b.model),
            load_spec(out / b.frozen_spec),
            b.parameters,
            b.epochs,
        )
        for b in record.best
    ]
    model = model_io.load_model(out / ENSEMBLE_FILE) if options.ensemble else None
    return TuneResult(out=out, record=record, trials=list(record.trials), best=best, ensemble=model)


def _names(data: Data, attribute: str) -> list[str] | None:
    names = getattr(data, attribute, None)
    return None if names is None else [str(name) for name in names]


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


def _announce(
    spec: Spec, this_role: Role, out: Path, retrain_top: int, grown: tuple[int, int] | None
) -> None:
    trials, epochs = planned_budget(spec)
    if grown is not None:
        print(f"going on with the search in {out}: max_trials {grown[0]} -> {grown[1]}", file=sys.stderr)
    address = f"{os.environ.get('KERASTUNER_ORACLE_IP')}:{os.environ.get('KERASTUNER_ORACLE_PORT')}"
    if this_role == "worker":
        print(
            f"worker {os.environ['KERASTUNER_TUNER_ID']}: training trials handed out by the chief at {address}",
            file=sys.stderr,
        )
        return
    print(
        f"planned: up to {trials} trials, {epochs} training epochs in the search, then "
        f"{retrain_top} x {spec.training.epochs} epochs of retraining; results in {out}",
        file=sys.stderr,
    )
    if this_role == "chief":
        print(
            f"chief: serving trials on {address} (keras-tuner's gRPC, no authentication: "
            "keep it on a private network); waiting for workers",
            file=sys.stderr,
        )


class TunerFunction(Protocol):
    """A shortcut for one tuner: ``tune`` with ``tuner`` fixed, every other option the same."""

    def __call__(
        self,
        spec: Spec,
        *,
        data: Data,
        max_trials: int | None = None,
        epochs: int | None = None,
        seed: int | None = None,
        pack: int | Literal["auto", "off"] | None = None,
        retrain_top: int = 1,
        ensemble: int = 0,
        out: str | os.PathLike[str] | None = None,
        overwrite: bool = False,
        verbose: Verbosity = 1,
        on_trial_end: Callable[[TrialRecord], None] | None = None,
        chief: str | None = None,
        worker: str | None = None,
        worker_id: str | None = None,
        connect_timeout: float = 180.0,
        callbacks: Sequence[Any] | None = None,
        tensorboard: bool = False,
        keep_checkpoints: KeepCheckpoints = "best",
        with_optimizer: bool = False,
        retrain: bool = False,
        time_limit: float | None = None,
        stop_at: tuple[str, float] | Target | None = None,
        enqueue: Sequence[str | os.PathLike[str]] = (),
        warm_start: str | os.PathLike[str] | None = None,
        ignore: Sequence[str] = (),
        export: Sequence[ExportFormat] = (),
    ) -> TuneResult: ...


def shortcut(name: TunerName) -> TunerFunction:
    """The public shortcut of a registry entry (``densespace.random_search``, ...): ``tune`` with
    ``tuner`` fixed, its signature and documentation ``tune``'s but ``tuner`` (what ``help``, IDEs
    and the API page show)."""
    from densespace._search import TUNERS

    entry = TUNERS[name]

    def run_tuner(spec: Spec, *, data: Data, **options: Any) -> TuneResult:
        return tune(spec, data=data, tuner=name, **options)

    run_tuner.__name__ = run_tuner.__qualname__ = entry.function
    signature = inspect.signature(tune)
    run_tuner.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p for p in signature.parameters.values() if p.name != "tuner"]
    )
    algorithm = (entry.section.__doc__ or entry.name).splitlines()[0].rstrip(".")
    sections = (tune.__doc__ or "").split("\n\n    Args:\n", 1)[-1].split("\n\n    Examples:\n", 1)[0]
    arguments = "".join(
        line for line in sections.splitlines(keepends=True) if not line.startswith("        tuner:")
    )
    run_tuner.__doc__ = (
        f"``tune`` with {algorithm}: every option of ``tune`` but ``tuner``, which is ``{name!r}``.\n\n"
        f"    Args:\n{arguments}\n\n"
        f"    Examples:\n        >>> densespace.{entry.function}(spec, data=data, max_trials=5)  # doctest: +SKIP\n"
    )
    return run_tuner


random_search = shortcut("random")
bayesian_optimization = shortcut("bayesian")
hyperband = shortcut("hyperband")
grid_search = shortcut("grid")
tpe = shortcut("tpe")
