"""Seeing and reusing every trial: callbacks, TensorBoard, histories, progress, lean folders."""

from __future__ import annotations

import io
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

import keras
import keras_tuner
import numpy as np
import pytest
from helpers import ROOT, spec_dict, synthetic_data

import densespace
from densespace import OptionError, validate_spec
from densespace._cli import main
from densespace._files import MANIFEST_FILE, Ledger, write_text
from densespace._keras import io as model_io
from densespace._keras.hypermodel import for_evaluation
from densespace._results import ranked
from densespace._run import folder
from densespace._run import progress as progress_module
from densespace._run.options import SearchOptions, TuneOptions
from densespace._run.progress import LiveProgress, Progress
from densespace._space import resolve

TINY = spec_dict(
    input={"shape": [4, 4, 3]},
    hidden={"layers": {"min": 1, "max": 2}, "units": {"values": [4, 8]}},
    training={"epochs": 2, "batch_size": {"values": [16, 32]}},
    search={"tuner": "random", "max_trials": 3, "seed": 7},
)


class Recorder(keras.callbacks.Callback):
    """Keeps every copy that trained (class-level, so deep copies share the list) and its epochs."""

    trained: ClassVar[list[Recorder]] = []

    def on_train_begin(self, logs=None):
        self.epochs = 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1

    def on_train_end(self, logs=None):
        Recorder.trained.append(self)


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """One finished search with TensorBoard logs, a Recorder and two retrained models."""
    out = tmp_path_factory.mktemp("tracked")
    Recorder.trained = []
    original = Recorder()
    result = densespace.tune(
        validate_spec(TINY),
        data=synthetic_data(),
        out=out,
        retrain_top=2,
        verbose=0,
        tensorboard=True,
        callbacks=[original],
    )
    return result, original, list(Recorder.trained)


@pytest.mark.slow
def test_callbacks_get_a_fresh_copy_for_every_trial_and_retrained_model(tracked):
    """Each of the 3 trials and 2 retrained models trains with its own copy, never the original."""
    _, original, trained = tracked
    assert len(trained) == 5
    assert len({id(copy) for copy in trained}) == 5
    assert all(copy is not original for copy in trained)
    assert [copy.epochs for copy in trained] == [2, 2, 2, 2, 2]


@pytest.mark.slow
def test_results_json_keeps_history_best_epoch_and_parameters(tracked):
    """Every trial records its per-epoch metrics, the 1-based epoch of its score and its parameters."""
    result, _, _ = tracked
    results = json.loads((result.out / "results.json").read_text())
    spec = validate_spec(results["spec"])
    for trial in results["trials"]:
        history = trial["history"]
        assert sorted(history) == [
            "accuracy",
            "balanced_accuracy",
            "loss",
            "macro_f1",
            "val_accuracy",
            "val_balanced_accuracy",
            "val_loss",
            "val_macro_f1",
        ]
        assert [len(values) for values in history.values()] == [2] * 8
        assert trial["best_epoch"] == 1 + int(np.argmin(history["val_loss"]))
        assert history["val_loss"][trial["best_epoch"] - 1] == trial["score"]
        frozen = densespace.freeze(spec, trial["values"])
        assert trial["parameters"] == densespace.parameter_bounds(frozen)[0]
    assert [t.history for t in result.trials] == [t["history"] for t in results["trials"]]


@pytest.mark.slow
def test_results_without_the_new_trial_fields_still_load(tracked, tmp_path):
    """A results.json written before history, best_epoch and parameters existed validates, with None."""
    result, _, _ = tracked
    results = json.loads((result.out / "results.json").read_text())
    for trial in results["trials"]:
        for name in ("history", "best_epoch", "parameters"):
            del trial[name]
    (tmp_path / "results.json").write_text(json.dumps(results))
    loaded = densespace.load_results(tmp_path)
    assert {(t.history, t.best_epoch, t.parameters) for t in loaded.trials} == {(None, None, None)}


@pytest.mark.slow
def test_by_default_only_the_retrained_trials_keep_their_checkpoints(tracked):
    """keep_checkpoints="best" leaves the checkpoints of the retrained configurations' trials only."""
    result, _, _ = tracked
    best = ranked(result.trials, "val_loss")[:2]
    kept = sorted(p.parent.name for p in result.out.glob("search/trial_*/checkpoint*"))
    assert kept == sorted(f"trial_{t.id}" for t in best)
    assert len(list(result.out.glob("search/trial_*/trial.json"))) == 3


@pytest.mark.slow
def test_saved_models_reproduce_the_recorded_test_metrics(tracked):
    """The best-K.keras files, saved without optimizer state, evaluate to the recorded test metrics (Keras'
    own; the confusion-matrix ones from their predictions)."""
    from densespace._keras.metrics import scores

    result, _, _ = tracked
    test = synthetic_data().test
    for best in result.record.best:
        model = densespace.load_model(str(result.out / best.model))
        evaluated = model.evaluate(*test, batch_size=1024, return_dict=True, verbose=0)
        evaluated.update(scores(("balanced_accuracy", "macro_f1"), 10, model, test))
        assert evaluated == best.test_metrics


@pytest.mark.slow
def test_a_model_saved_without_optimizer_is_smaller_and_evaluates_the_same(tmp_path):
    """Without the optimizer the file is smaller, loads without warnings and evaluates identically."""
    data = synthetic_data()
    spec = validate_spec(TINY)
    hypermodel = densespace.build_hypermodel(spec, train_images=data.train[0])
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    hypermodel.fit(hp, model, *data.train, epochs=1, verbose=0)
    model = for_evaluation(model, spec, resolve(spec, hp.values))  # as retraining saves it
    model_io.save_model(model, tmp_path / "full.keras", optimizer=True)
    model_io.save_model(model, tmp_path / "lean.keras", optimizer=False)
    assert (tmp_path / "lean.keras").stat().st_size < (tmp_path / "full.keras").stat().st_size
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lean = densespace.load_model(str(tmp_path / "lean.keras"))
    assert [str(w.message) for w in caught if "optimizer" in str(w.message)] == []
    expected = model.evaluate(*data.test, return_dict=True, verbose=0)
    assert lean.evaluate(*data.test, return_dict=True, verbose=0) == expected
    assert type(lean.optimizer) is type(model.optimizer)
    assert lean.optimizer.get_config()["learning_rate"] == model.optimizer.get_config()["learning_rate"]


@pytest.mark.slow
def test_a_finished_run_retrains_nothing_unless_asked(tracked, tmp_path):
    """The same call on a finished folder returns it untouched; retrain=True retrains from the kept trials."""
    result, _, _ = tracked
    out = tmp_path / "copy"
    shutil.copytree(result.out, out)
    before = (out / "results.json").read_text()
    stamp = (out / "best-1.keras").stat().st_mtime_ns
    Recorder.trained = []
    again = densespace.tune(
        validate_spec(TINY), data=synthetic_data(), out=out, retrain_top=2, verbose=0, callbacks=[Recorder()]
    )
    assert Recorder.trained == []
    assert (out / "results.json").read_text() == before
    assert (out / "best-1.keras").stat().st_mtime_ns == stamp
    assert again.record == result.record
    assert again.test_metrics == result.test_metrics
    assert [b.model.count_params() for b in again.best] == [b.model.count_params() for b in result.best]

    redone = densespace.tune(
        validate_spec(TINY),
        data=synthetic_data(),
        out=out,
        retrain_top=2,
        verbose=0,
        callbacks=[Recorder()],
        retrain=True,
    )
    assert len(Recorder.trained) == 2  # the two retrained models; no trial ran again
    assert redone.trials == result.trials  # histories and all, read back from keras-tuner's trial files
    assert redone.test_metrics == result.test_metrics


@pytest.mark.slow
def test_keep_checkpoints_all_best_none(tmp_path):
    """keep_checkpoints "all" keeps every checkpoint; then "best" the best trial's, "none" none; trial.json stay."""
    spec, data, out = validate_spec(TINY), synthetic_data(), tmp_path / "run"
    result = densespace.tune(
        spec, data=data, out=out, epochs=1, retrain_top=0, verbose=0, keep_checkpoints="all"
    )

    def kept():
        return sorted(p.parent.name for p in out.glob("search/trial_*/checkpoint*"))

    assert kept() == ["trial_0", "trial_1", "trial_2"]
    densespace.tune(spec, data=data, out=out, epochs=1, retrain_top=0, verbose=0, keep_checkpoints="best")
    assert kept() == [f"trial_{ranked(result.trials, 'val_loss')[0].id}"]
    densespace.tune(spec, data=data, out=out, epochs=1, retrain_top=0, verbose=0, keep_checkpoints="none")
    assert kept() == []
    assert len(list(out.glob("search/trial_*/trial.json"))) == 3
    again = densespace.tune(spec, data=data, out=out, epochs=1, retrain_top=0, verbose=0)
    assert again.trials == result.trials


def test_pruning_deletes_only_checkpoint_files_densespace_wrote(tmp_path):
    """prune_checkpoints deletes the listed checkpoint files of the trials not kept, and nothing else."""
    with Ledger.open(tmp_path) as ledger:
        for trial in ("0", "1"):
            (tmp_path / f"search/trial_{trial}").mkdir(parents=True)
            for name in ("trial.json", "build_config.json", "checkpoint.weights.h5", "checkpoint.index"):
                write_text(tmp_path / f"search/trial_{trial}" / name, "x")
        write_text(tmp_path / "search/oracle.json", "{}")
        (tmp_path / "search/trial_0/checkpoint.mine").write_text("a person's")
        deleted = folder.prune_checkpoints(ledger, "search", keep={"1"})
    assert deleted == [
        tmp_path / "search/trial_0/checkpoint.index",
        tmp_path / "search/trial_0/checkpoint.weights.h5",
    ]
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == [
        MANIFEST_FILE,
        "search/oracle.json",
        "search/trial_0/build_config.json",
        "search/trial_0/checkpoint.mine",
        "search/trial_0/trial.json",
        "search/trial_1/build_config.json",
        "search/trial_1/checkpoint.index",
        "search/trial_1/checkpoint.weights.h5",
        "search/trial_1/trial.json",
    ]


class Locked(keras.callbacks.Callback):
    """A callback that cannot be deep-copied."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"callbacks": "x"}, "callbacks must be a list of keras.callbacks.Callback (received str)"),
        ({"callbacks": [object()]}, "callbacks[0] must be a keras.callbacks.Callback (received object)"),
        (
            {"callbacks": [Locked()]},
            "callbacks[0] (Locked) cannot be deep-copied, and every trial gets a fresh copy "
            "(TypeError: cannot pickle '_thread.lock' object)",
        ),
        ({"keep_checkpoints": "some"}, "keep_checkpoints must be 'all', 'best' or 'none' (received 'some')"),
    ],
)
def test_invalid_tracking_options(options, message):
    """Bad callbacks and keep_checkpoints are refused before anything runs, naming what was received."""
    with pytest.raises(OptionError) as info:
        TuneOptions.create(validate_spec(TINY), SearchOptions(**options))
    assert str(info.value) == message


def test_keep_checkpoints_error_names_the_flag_on_the_command_line():
    """The command line shows the same message with --keep-checkpoints."""
    with pytest.raises(OptionError) as info:
        TuneOptions.create(validate_spec(TINY), SearchOptions(keep_checkpoints="some"))  # type: ignore[arg-type]
    assert info.value.for_cli() == "--keep-checkpoints must be 'all', 'best' or 'none' (received 'some')"


def test_debug_after_the_command_shows_the_traceback(tmp_path, capsys):
    """--debug works after the command too: the error propagates instead of exit status 2."""
    path = tmp_path / "bad.json"
    path.write_text("{")
    assert main(["inspect", str(path)]) == 2
    capsys.readouterr()
    with pytest.raises(ValueError):
        main(["inspect", str(path), "--debug"])


def _record(trial_id: str, score: float) -> densespace.TrialRecord:
    return densespace.TrialRecord(
        id=trial_id, values={"units": 8}, status="completed", score=score, seconds=1.0, epochs=2, message=None
    )


def test_the_live_display_shows_trial_epoch_and_retraining():
    """In a terminal, the status area shows trial n/N with the best so far, the epoch, then retraining."""
    from rich.console import Console

    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    spec = validate_spec(TINY)
    progress = LiveProgress(
        spec, verbose=1, start=time.monotonic(), then=None, estimate=True, console=console
    )
    with progress.showing():
        progress(_record("0", 2.25))
        progress.epoch(1, 2)
        frame = _plain(console, progress)
        progress.retraining(1, 2, "0")
        progress.epoch(2, 2)
        retraining = _plain(console, progress)
    assert "[1/3] trial 0  units=8  val_loss=2.2500  best=2.2500" in console.file.getvalue()
    assert re.search(r"search .* trial 2/3  best val_loss=2\.2500  elapsed 0:0\d  left ~\d+:\d\d", frame)
    assert re.search(r" epoch 1/2$", frame, re.MULTILINE)
    assert re.search(r"retrain .* model 1/2 \(trial 0\)  elapsed 0:0\d", retraining)
    assert re.search(r" epoch 2/2$", retraining, re.MULTILINE)


def test_a_long_trial_line_breaks_between_words_at_80_columns(monkeypatch):
    """In an 80-column terminal a trial line longer than the terminal breaks at its spaces, the later
    lines indented: no number or name is cut in two."""
    from rich.console import Console

    console = Console(file=io.StringIO(), force_terminal=True, width=80)
    monkeypatch.setattr(progress_module, "time", SimpleNamespace(monotonic=lambda: 100.0))
    progress = LiveProgress(
        validate_spec(TINY), verbose=1, start=0.0, then=None, estimate=True, console=console
    )
    values = {f"units_{i}": 1024 for i in range(6)} | {"learning_rate": 0.000123456, "dropout": 0.25}
    progress(_record("0", 2.123456).model_copy(update={"values": values}))
    assert console.file.getvalue().splitlines() == [
        "[1/3] trial 0  units_0=1024 units_1=1024 units_2=1024 units_3=1024 units_4=1024",
        "    units_5=1024 learning_rate=0.0001235 dropout=0.25  val_loss=2.1235",
        "    best=2.1235  elapsed 1:40  left ~3:20",
    ]


def _plain(console, progress) -> str:
    """The status area as plain text."""
    with console.capture() as capture:
        console.print(progress.render())
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", capture.get()).rstrip()


def test_plain_progress_has_no_status_area(capsys):
    """Outside a terminal the progress is the trial lines only, as before."""
    progress = Progress(validate_spec(TINY), verbose=1, start=time.monotonic(), then=None, estimate=True)
    with progress.showing():
        progress.epoch(1, 2)
        progress(_record("0", 2.25))
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert re.fullmatch(
        r"\[1/3\] trial 0  units=8  val_loss=2\.2500  best=2\.2500  elapsed 0:00  left ~0:00", lines[0]
    )


@pytest.mark.slow
def test_command_line_prints_plain_lines_without_tensorflow_noise(tmp_path):
    """In a pipe, `densespace tune` prints today's lines only (no TensorFlow start-up messages); run
    again, it retrains nothing and prints the summary."""
    data = synthetic_data()
    np.savez(
        tmp_path / "data.npz",
        x_train=data.train[0],
        y_train=data.train[1],
        x_test=data.test[0],
        y_test=data.test[1],
    )
    (tmp_path / "spec.json").write_text(json.dumps(TINY))
    out = tmp_path / "run"
    command = [
        sys.executable, "-m", "densespace", "tune", str(tmp_path / "spec.json"), "--data", str(tmp_path / "data.npz"),
        "--max-trials", "2", "--epochs", "1", "--out", str(out),
    ]  # fmt: skip
    first = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert first.returncode == 0, first.stderr
    warning, *lines = first.stderr.splitlines()
    assert warning == (  # 12 validation rows of the 120 (the data's default 0.1)
        "densespace: warning: the validation split holds 12 rows, so trial scores are noisy; "
        "search.cross_validation: K (such as 5) scores each trial by the mean over K folds of the train "
        "and validation rows"
    )
    assert lines[0] == (
        f"planned: up to 2 trials, 2 training epochs in the search, then 1 x 1 epochs of retraining; results in {out}"
    )
    for number, line in enumerate(lines[1:3], 1):
        assert re.fullmatch(
            rf"\[{number}/2\] trial {number - 1}  .*  val_loss=\d\.\d{{4}}  best=\d\.\d{{4}}  "
            r"elapsed \d+:\d\d  left ~\d+:\d\d",
            line,
        ), line
    assert re.fullmatch(r"retraining #1: trial \d from scratch, 1 epochs", lines[3])
    assert len(lines) == 4, first.stderr
    stamp = (out / "best-1.keras").stat().st_mtime_ns

    second = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert second.returncode == 0, second.stderr
    assert second.stderr.splitlines()[0] == warning
    assert second.stderr.splitlines()[2:] == [
        f"{out} holds this search, finished: nothing to retrain; pass --retrain (retrain=True) to retrain"
    ]
    assert second.stdout.splitlines()[-1] == f"results: {out / 'report.md'}"
    assert (out / "best-1.keras").stat().st_mtime_ns == stamp


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_tensorboard_serves_every_trial_in_the_hparams_plugin(tracked):
    """The real TensorBoard server lists each trial with its active values and results.json's score."""
    result, _, _ = tracked
    results = json.loads((result.out / "results.json").read_text())
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "tensorboard"), "--logdir", str(result.out / "tensorboard"), "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def post(route: str, body: dict) -> dict:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/data/plugin/hparams/{route}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "text/plain"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    try:
        deadline = time.monotonic() + 120
        while True:  # the bodies TensorBoard's own HParams dashboard sends
            try:
                experiment = post("experiment", {"experimentName": "", "hparamsLimit": 1000})
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.5)
        columns = [{"hparam": h["name"], "includeInResult": True} for h in experiment["hparamInfos"]]
        columns += [{"metric": m["name"], "includeInResult": True} for m in experiment["metricInfos"]]
        statuses = ["STATUS_FAILURE", "STATUS_RUNNING", "STATUS_SUCCESS", "STATUS_UNKNOWN"]
        groups = post(
            "session_groups",
            {"experimentName": "", "allowedStatuses": statuses, "colParams": columns, "startIndex": 0,
             "sliceSize": 1000},
        )["sessionGroups"]  # fmt: skip
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/runs", timeout=30) as response:
            runs = json.loads(response.read())
    finally:
        server.kill()
        server.wait()
    spec = validate_spec(results["spec"])
    assert sorted(h["name"] for h in experiment["hparamInfos"]) == sorted(
        h.name for h in densespace.hyperparameters(spec)
    )
    assert [m["name"]["tag"] for m in experiment["metricInfos"]] == [
        "score", "loss", "accuracy", "balanced_accuracy", "macro_f1",
        "val_loss", "val_accuracy", "val_balanced_accuracy", "val_macro_f1",
    ]  # fmt: skip
    assert len(groups) == len(results["trials"]) == 3
    by_id = {group["name"]: group for group in groups}
    for trial in results["trials"]:
        group = by_id[trial["id"]]
        assert group["hparams"] == trial["values"]
        scores = [m["value"] for m in group["metricValues"] if m["name"]["tag"] == "score"]
        assert scores == [trial["score"]]
        assert [s["status"] for s in group["sessions"]] == ["STATUS_SUCCESS"]
    assert {"trial-0", "trial-1", "trial-2", "retrain-1", "retrain-2"} <= set(runs)
