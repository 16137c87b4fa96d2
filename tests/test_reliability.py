"""Nothing lost, nothing deleted, nothing hangs: the run folder, full disks, damaged state, peers."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from helpers import spec_dict, synthetic_data

import densespace
from densespace import OptionError, PeerError, ResourceError, RunFolderError, SpecError, validate_spec
from densespace._cli import main
from densespace._files import write_text
from densespace._run import folder

TINY = spec_dict(
    input={"shape": [4, 4, 3]},
    hidden={"units": {"values": [4, 8, 16]}},
    training={"epochs": 1, "batch_size": 32},
    search={"tuner": "random", "max_trials": 3, "seed": 5},
)


def _tune(out, **options):
    options.setdefault("verbose", 0)
    return densespace.tune(validate_spec(TINY), data=synthetic_data(), out=out, **options)


def _run_record():
    """A run.json densespace would write for TINY on the synthetic data."""
    data = synthetic_data()
    record = {
        "source": "synthetic",
        "train": len(data.train[1]),
        "validation": len(data.validation[1]),
        "test": len(data.test[1]),
        "digest": densespace.datasets.digest(data),
    }
    return {"spec": validate_spec(TINY).model_dump(mode="json"), "data": record}


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("", "line 1, column 1: invalid JSON (Expecting value); the file is damaged"),
        ("garbage", "line 1, column 1: invalid JSON (Expecting value); the file is damaged"),
        (
            '{"tool": "other"}',
            "is not a run file densespace wrote (spec: Field required); densespace never deletes a folder "
            "it did not write: choose a new or empty --out",
        ),
    ],
    ids=["empty", "garbage", "foreign"],
)
def test_overwrite_never_clears_a_folder_by_its_file_name(tmp_path, content, error):
    """A run.json densespace did not write is refused, with or without overwrite, and nothing is deleted."""
    (tmp_path / "run.json").write_text(content)
    (tmp_path / "thesis.tex").write_text("precious")
    with pytest.raises(RunFolderError) as info:
        _tune(tmp_path, overwrite=True)
    assert str(info.value).startswith(f"{tmp_path / 'run.json'}")
    assert str(info.value).endswith(error)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json", "thesis.tex"]


@pytest.mark.slow
def test_overwrite_deletes_only_what_densespace_wrote(tmp_path):
    """Starting over keeps files a person put beside densespace's own."""
    _tune(tmp_path, retrain_top=1)
    (tmp_path / "notes.txt").write_text("mine")
    other = spec_dict(**{**TINY, "search": {"tuner": "random", "max_trials": 2, "seed": 6}})
    densespace.tune(validate_spec(other), data=synthetic_data(), out=tmp_path, overwrite=True, verbose=0)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert len(densespace.load_results(tmp_path).trials) == 2


@pytest.mark.parametrize("place", ["cwd", "home"])
def test_overwrite_refuses_the_current_and_home_folders(tmp_path, monkeypatch, place):
    """--overwrite never clears the current folder or the home folder, even one holding a search."""
    (tmp_path / "run.json").write_text(json.dumps(_run_record()))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    out = "." if place == "cwd" else str(tmp_path)
    with pytest.raises(RunFolderError, match=r"^--overwrite refuses to clear the current folder"):
        _tune(out, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_empty_out_is_bad_input(tmp_path, capsys):
    """out="" (the current folder, by accident) is refused from Python and the CLI."""
    with pytest.raises(OptionError, match=r"^out is empty: name a folder \(default runs/<spec name>\)$"):
        _tune("")
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(TINY))
    assert main(["tune", str(spec), "--out", ""]) == 2
    assert (
        capsys.readouterr().err
        == "densespace: error: --out is empty: name a folder (default runs/<spec name>)\n"
    )


def test_out_naming_a_file_is_refused(tmp_path):
    """An --out that is a file is one RunFolderError."""
    (tmp_path / "f").write_text("x")
    with pytest.raises(RunFolderError, match=r"f is not a folder; choose a new or empty --out$"):
        _tune(tmp_path / "f")


def test_a_second_run_on_a_folder_in_use_is_refused(tmp_path):
    """While one run holds a folder, another is refused with the holder's process id."""
    claim = folder.prepare(tmp_path, folder.RunRecord.model_validate(_run_record()), overwrite=False)
    try:
        with pytest.raises(RunFolderError) as info:
            _tune(tmp_path)
        assert str(info.value) == (
            f"{tmp_path} is in use by another densespace run (process {os.getpid()}); wait for it to end "
            "or choose another --out"
        )
    finally:
        claim.release()


@pytest.mark.slow
def test_the_lock_of_a_killed_run_is_free(tmp_path):
    """A run killed with SIGKILL leaves no lock behind: the kernel releases it."""
    code = (
        "import sys, time; from pathlib import Path; from densespace._run import folder\n"
        "folder._lock(Path(sys.argv[1])); print('held', flush=True); time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "held\n"
    with pytest.raises(RunFolderError, match="in use by another densespace run"):
        folder._lock(tmp_path)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    os.close(folder._lock(tmp_path))


def test_an_atomic_write_that_fails_keeps_the_previous_version(tmp_path, monkeypatch):
    """A full disk while writing leaves the old file whole and no temporary file behind."""
    path = tmp_path / "results.json"
    write_text(path, "old")

    def full(descriptor):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        write_text(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


@pytest.mark.slow
def test_a_full_disk_while_writing_results_is_one_resource_error(tmp_path, monkeypatch):
    """ENOSPC while writing the results ends the run with a ResourceError saying what to do."""
    from densespace import _results

    def full(path, text):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(_results, "write_text", full)
    with pytest.raises(ResourceError) as info:
        _tune(tmp_path, retrain_top=0)
    assert str(info.value) == (
        f"the disk is full (OSError: [Errno 28] No space left on device: '{tmp_path / '.pending-results.json'}'); "
        f"{tmp_path} keeps the last complete state: make room and run the same command again to resume"
    )
    monkeypatch.undo()
    assert len(_tune(tmp_path, retrain_top=0).trials) == 3


def _out_of_memory():
    import tensorflow as tf

    return tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("error", "what"),
    [
        (lambda: OSError(errno.ENOSPC, "No space left on device"), "the disk is full"),
        (_out_of_memory, "out of memory"),
    ],
    ids=["disk-full", "tensorflow-out-of-memory"],
)
def test_a_machine_failure_during_a_trial_is_retried_on_resume(tmp_path, monkeypatch, error, what):
    """A trial stopped by a full disk or exhausted memory is not recorded as failed: the same call again runs it."""
    from densespace._keras.hypermodel import DenseHyperModel

    fit, calls = DenseHyperModel.fit, []

    def flaky(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise error()
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(DenseHyperModel, "fit", flaky)
    with pytest.raises(ResourceError, match=f"^{what} "):
        _tune(tmp_path, retrain_top=0)
    monkeypatch.undo()
    result = _tune(tmp_path, retrain_top=0)
    assert [t.status for t in result.trials] == ["completed"] * 3
    assert [t.id for t in result.trials] == sorted(t.id for t in result.trials)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "damage", "problem"),
    [
        ("trial_0/trial.json", lambda text: text[:20], "line 1, column "),
        ("trial_0/trial.json", lambda text: "{}", "not keras-tuner's state (no trial_id, status)"),
        ("oracle.json", lambda text: "[]", "not keras-tuner's state (a JSON list)"),
        ("tuner0.json", lambda text: "garbage", "line 1, column 1: invalid JSON"),
    ],
    ids=["truncated-trial", "empty-trial", "list-oracle", "garbage-tuner"],
)
def test_a_damaged_state_file_is_named_with_what_to_do(tmp_path, name, damage, problem):
    """A damaged keras-tuner state file blocks resuming with one line naming it and what to do."""
    _tune(tmp_path, retrain_top=0)
    damaged = tmp_path / "search" / name
    damaged.write_text(damage(damaged.read_text()))
    with pytest.raises(RunFolderError) as info:
        _tune(tmp_path, retrain_top=0)
    assert str(info.value).startswith(f"{damaged}: {problem}")
    assert str(info.value).endswith(
        f"the file is damaged; keras-tuner cannot resume the search in {tmp_path} from it: run again with "
        "--overwrite (overwrite=True) to start over"
    )


@pytest.mark.parametrize(
    ("patch", "problem"),
    [
        ({"input": {"shape": [8]}}, "input.shape: [8] does not match the train examples' shape [4, 4, 3]"),
        (
            {"input": {"shape": [4, 4, 3]}, "output": {"units": 5}},
            "output.units: 5 units cannot hold the data's 10 classes (labels 0..9)",
        ),
    ],
    ids=["shape", "classes"],
)
def test_a_spec_that_cannot_fit_the_data_is_refused_before_anything_is_written(tmp_path, patch, problem):
    """Shape and class count are checked against the data first, naming both, with nothing written."""
    spec = validate_spec(spec_dict(**patch))
    with pytest.raises(SpecError) as info:
        densespace.tune(spec, data=synthetic_data(), out=tmp_path / "out", verbose=0)
    assert str(info.value) == f"spec vs data: {problem}"
    assert not (tmp_path / "out").exists()


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_chief_refuses_a_port_in_use(tmp_path):
    """A chief whose port another process listens on is refused before anything is written."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(PeerError) as info:
            _tune(tmp_path / "out", chief=f"127.0.0.1:{port}")
    assert str(info.value) == (
        f"cannot serve the search on 127.0.0.1:{port}: Address already in use (another chief or program "
        "uses the port?); choose another --chief port"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_worker_without_a_chief_says_so_and_gives_up(tmp_path, capsys):
    """A worker whose chief never answers retries visibly, then gives up after connect_timeout."""
    port = _port()
    start = time.monotonic()
    with pytest.raises(PeerError) as info:
        _tune(tmp_path, worker=f"127.0.0.1:{port}", worker_id="w1", connect_timeout=2, verbose=1)
    assert time.monotonic() - start < 30
    assert str(info.value) == (
        f"the chief at 127.0.0.1:{port} did not answer for 2 s (Connection refused); start the chief first, "
        "check the address, or raise --connect-timeout"
    )
    lines = capsys.readouterr().err.splitlines()
    assert (
        f"worker: the chief at 127.0.0.1:{port} is not reachable (Connection refused); retrying in 1 s"
        in lines
    )


def test_astronomical_configuration_counts_are_printed_exactly(tmp_path, capsys):
    """A valid spec with more than 4,300 digits of configurations still validates and inspects."""
    block = {
        "layers": 100,
        "units": {"min": 1, "max": 16},
        "activation": {"values": ["relu", "elu", "tanh"]},
        "dropout": {"min": 0.0, "max": 0.9, "step": 0.001},
    }
    spec = spec_dict(input={"shape": [2]}, hidden=[block] * 10)
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(spec))
    count = densespace.configurations(validate_spec(spec))
    assert count is not None and count > 10**4300
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: ok (") and out.endswith(" configurations)\n")
    assert main(["inspect", str(path), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out, parse_int=str)["configurations"]
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        assert printed == str(count)
    finally:
        sys.set_int_max_str_digits(limit)


def test_trials_are_listed_in_creation_order():
    """keras-tuner's ids sort by number, not as text, whatever order a resumed oracle lists them in."""
    from densespace._keras.training import _creation_order

    trials = [
        densespace.TrialRecord(
            id=i, values={}, status="completed", score=1.0, seconds=1.0, epochs=1, message=None
        )
        for i in ["10", "9", "11", "0"]
    ]
    assert [t.id for t in sorted(trials, key=_creation_order)] == ["0", "9", "10", "11"]


@pytest.mark.slow
def test_a_run_folder_of_an_earlier_version_resumes(tmp_path):
    """A run.json written before a spec field existed is read with the field's default, not as a change."""
    _tune(tmp_path, retrain_top=0)
    record = json.loads((tmp_path / "run.json").read_text())
    del record["spec"]["task"]
    (tmp_path / "run.json").write_text(json.dumps(record))
    assert len(_tune(tmp_path, retrain_top=0).trials) == 3


def test_a_lock_file_that_is_a_link_is_never_followed(tmp_path):
    """A .densespace.lock planted as a symbolic link is refused, and the file it points to is untouched."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / ".densespace.lock").symlink_to(victim)
    with pytest.raises(RunFolderError, match=r"\.densespace\.lock: cannot use it as densespace's lock"):
        _tune(out)
    assert victim.read_text() == "precious"


@pytest.mark.slow
def test_retraining_cut_short_keeps_the_earlier_models(tmp_path, monkeypatch):
    """A retraining interrupted after its first model leaves the earlier models and results as they were."""
    _tune(tmp_path, retrain_top=2)
    before = {p.name: p.read_bytes() for p in tmp_path.glob("best-*")}
    from densespace._keras import training

    retrain, calls = training.retrain, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return retrain(*args, **kwargs)

    monkeypatch.setattr(training, "retrain", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _tune(tmp_path, retrain_top=2, retrain=True)
    assert {p.name: p.read_bytes() for p in tmp_path.glob("best-*")} == before
    monkeypatch.undo()
    result = _tune(tmp_path, retrain_top=2, retrain=True)
    assert sorted(p.name for p in tmp_path.glob("*best-*")) == [
        "best-1.keras",
        "best-1.spec.json",
        "best-2.keras",
        "best-2.spec.json",
    ]
    assert [b.rank for b in result.best] == [1, 2]


@pytest.mark.slow
def test_written_files_get_the_usual_permissions(tmp_path):
    """Atomic writes do not leave results readable by their owner alone (temporary files start at 0600)."""
    _tune(tmp_path, retrain_top=1)
    umask = os.umask(0)
    os.umask(umask)
    for name in ("results.json", "report.md", "best-1.keras", "best-1.spec.json", "run.json"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


def test_any_augmentation_needs_image_data(tmp_path):
    """A spec that leaves the shape to the data and asks for MixUp is refused on flat examples, with nothing written."""
    spec = validate_spec(spec_dict(input={"augmentation": {"mixup": 0.2}}))
    with pytest.raises(SpecError) as info:
        densespace.tune(spec, data=synthetic_data(shape=(8,)), out=tmp_path / "out", verbose=0)
    assert str(info.value) == (
        "spec vs data: input.augmentation: needs images [height, width, channels]; "
        "the data's examples have shape [8]"
    )
    assert not (tmp_path / "out").exists()
