"""The manifest: densespace deletes and overwrites only files it wrote, and replaces results as one step."""

from __future__ import annotations

import errno
import importlib
import json
import shutil

import pytest
from helpers import spec_dict, synthetic_data

import densespace
from densespace import ResourceError, RunFolderError, validate_spec
from densespace._cli import main
from densespace._files import MANIFEST_FILE, Commit, Ledger, _read_manifest, write_text
from densespace._report import REPORT_FILE, report_markdown
from densespace._run import folder

TINY = spec_dict(
    input={"shape": [4, 4, 3]},
    hidden={"units": {"values": [4, 8, 16]}},
    training={"epochs": 1, "batch_size": 32},
    search={"tuner": "random", "max_trials": 2, "seed": 5},
)
#: Files a person keeps in a results folder, some named like densespace's own.
PERSONAL = {
    "best-friend.keras": "a model of mine",
    "best-of-2024.spec.json": "{}",
    ".notes.tmp": "notes",
    ".backup.keras": "backup",
    ".pending-best-ideas.txt": "ideas",
    "my_data.csv": "a,b",
    "search/my_notes.txt": "notes",
    "tensorboard/my_own_logs/x": "logs",
}


def _tune(out, spec=TINY, **options):
    options.setdefault("verbose", 0)
    return densespace.tune(validate_spec(spec), data=synthetic_data(), out=out, **options)


def _put(out, files):
    for name, text in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)


def _kept(out, files):
    return {name: (out / name).read_text() for name in files if (out / name).is_file()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished 2-trial search with two retrained models and TensorBoard logs."""
    out = tmp_path_factory.mktemp("finished") / "run"
    _tune(out, retrain_top=2, tensorboard=True)
    return out


def _copy(finished, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    return out


@pytest.mark.slow
def test_overwrite_and_retrain_keep_every_file_a_person_put_in_the_folder(tmp_path, finished):
    """--retrain and --overwrite delete densespace's files only, whatever the others are called."""
    out = _copy(finished, tmp_path)
    _put(out, PERSONAL)
    _tune(out, retrain_top=2, retrain=True)
    assert _kept(out, PERSONAL) == PERSONAL
    other = spec_dict(**{**TINY, "search": {**TINY["search"], "seed": 6, "max_trials": 1}})
    _tune(out, other, overwrite=True, tensorboard=True)
    assert _kept(out, PERSONAL) == PERSONAL
    assert not (out / "best-2.keras").exists() and (out / "best-1.keras").is_file()
    assert len(densespace.load_results(out).trials) == 1


@pytest.mark.slow
def test_overwrite_deletes_every_file_densespace_wrote(tmp_path, finished):
    """Starting over leaves none of the earlier search's files, and no folder it emptied."""
    out = _copy(finished, tmp_path)
    record = folder.RunRecord.model_validate(json.loads((out / "run.json").read_text()))
    claim = folder.prepare(out, record, overwrite=True)
    claim.release()
    assert sorted(p.name for p in out.iterdir()) == sorted([".densespace.lock", MANIFEST_FILE, "run.json"])


@pytest.mark.slow
def test_a_file_densespace_would_write_but_did_not_is_never_overwritten(tmp_path, finished):
    """Retraining stops at a best-2.keras a person put there, and the folder stays as it was."""
    out = _copy(finished, tmp_path)
    with Ledger.open(out) as ledger:
        ledger.remove([out / "best-2.keras"])  # then a person puts a model of theirs under that name
    (out / "best-2.keras").write_text("mine")
    before = (out / "results.json").read_text()
    with pytest.raises(RunFolderError) as caught:
        _tune(out, retrain_top=2, retrain=True)
    assert str(caught.value) == (
        f"{out / 'best-2.keras'} is not a file densespace wrote, and densespace would write it: move it "
        f"out of {out}, or choose another --out"
    )
    assert (out / "best-2.keras").read_text() == "mine"
    assert (out / "results.json").read_text() == before


def test_a_decided_replacement_cut_short_is_completed_by_the_next_run(tmp_path):
    """New results and models decided in the manifest replace the earlier ones on the next run."""
    with Ledger.open(tmp_path) as ledger:
        for name, text in {
            "best-1.keras": "old",
            "best-2.keras": "old",
            ".pending-best-1.keras": "new",
        }.items():
            write_text(tmp_path / name, text)
        ledger.commit = Commit(replace=[(".pending-best-1.keras", "best-1.keras")], delete=["best-2.keras"])
        ledger._save()  # the decision is written; then the process is killed
    with Ledger.open(tmp_path) as ledger:
        ledger.carry_out()
        assert ledger.listed() == [tmp_path / "best-1.keras"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["best-1.keras", MANIFEST_FILE])
    assert (tmp_path / "best-1.keras").read_text() == "new"


@pytest.mark.slow
def test_a_full_disk_while_retraining_keeps_the_earlier_models_and_results(tmp_path, finished, monkeypatch):
    """ENOSPC while saving the second model leaves the earlier models, results and report whole."""
    from densespace._keras import io as model_io

    out = _copy(finished, tmp_path)
    before = {name: (out / name).read_bytes() for name in ("best-1.keras", "best-2.keras", "results.json")}
    save, saved = model_io.save_model, []

    def full_disk(model, path, **options):
        if saved:
            raise OSError(errno.ENOSPC, "No space left on device")
        saved.append(path)
        save(model, path, **options)

    monkeypatch.setattr(model_io, "save_model", full_disk)
    with pytest.raises(ResourceError, match="keeps the last complete state"):
        _tune(out, retrain_top=2, retrain=True)
    assert {name: (out / name).read_bytes() for name in before} == before
    monkeypatch.undo()
    result = _tune(out, retrain_top=2)  # the same command again: nothing pending is left behind
    assert not list(out.glob(".pending-*")) and len(result.best) == 2


@pytest.mark.slow
def test_the_report_follows_results_json_after_a_kill_between_them(tmp_path, finished, monkeypatch):
    """A run killed after results.json and before report.md is healed by the next run's report."""
    tune_module = importlib.import_module("densespace._run.tune")
    out = _copy(finished, tmp_path)

    def killed(out, results):
        raise KeyboardInterrupt

    monkeypatch.setattr(tune_module, "write_report", killed)
    with pytest.raises(KeyboardInterrupt):
        _tune(out, retrain_top=1, retrain=True)
    monkeypatch.undo()
    results = densespace.load_results(out)
    assert [b.rank for b in results.best] == [1] and not (out / "best-2.keras").exists()
    _tune(out, retrain_top=1)
    assert (out / REPORT_FILE).read_text() == report_markdown(results)


@pytest.mark.slow
def test_temporary_files_of_a_killed_write_are_deleted_and_a_persons_are_not(tmp_path, finished):
    """A kill's .scores.png.<random>.tmp goes at the next start; .notes.tmp and .x.y.tmp stay."""
    out = _copy(finished, tmp_path)
    leftovers = [".scores.png.a1b2c3d4.tmp", ".results.json.zz_9xk2m.tmp", ".best-1.keras.k2k2k2k2.keras"]
    _put(out, dict.fromkeys(leftovers, "partial"))
    _put(
        out, {".notes.tmp": "mine", ".my-data.csv.abcdefgh.tmp": "mine", ".scores.png.long-name.tmp": "mine"}
    )
    record = folder.RunRecord.model_validate(json.loads((out / "run.json").read_text()))
    folder.prepare(out, record, overwrite=False).release()
    assert not any((out / name).exists() for name in leftovers)
    assert _kept(out, [".notes.tmp", ".my-data.csv.abcdefgh.tmp", ".scores.png.long-name.tmp"]) == {
        ".notes.tmp": "mine",
        ".my-data.csv.abcdefgh.tmp": "mine",
        ".scores.png.long-name.tmp": "mine",
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    ("manifest", "reason"),
    [
        ("[]", "top level: Input should be a valid dictionary or instance of Manifest"),
        ('{"files": ["../victim/run.json"]}', "not a relative path inside the folder: '../victim/run.json'"),
        ('{"files": ["/etc/passwd"]}', "not a relative path inside the folder: '/etc/passwd'"),
        ('{"files": ["a/./b"]}', "not a relative path inside the folder: 'a/./b'"),
        ('{"files": ["x"], "extra": 1}', "extra: Extra inputs are not permitted"),
        (
            '{"files": [], "commit": {"replace": [["a", "../b"]], "delete": []}}',
            "not a relative path inside the folder: '../b'",
        ),
    ],
    ids=["list", "parent", "absolute", "dot", "unknown-key", "commit-parent"],
)
def test_a_damaged_manifest_is_refused_and_nothing_is_deleted(tmp_path, finished, manifest, reason):
    """A manifest densespace did not write is one RunFolderError, and --overwrite deletes nothing."""
    out = _copy(finished, tmp_path)
    (out / MANIFEST_FILE).write_text(manifest)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    with pytest.raises(RunFolderError) as caught:
        _tune(out, overwrite=True)
    assert str(caught.value) == (
        f"{out / MANIFEST_FILE}: not a manifest densespace wrote ({reason}); densespace deletes nothing in a "
        "folder whose manifest is damaged: remove the folder by hand, or choose another --out"
    )
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


@pytest.mark.slow
def test_a_folder_of_an_older_densespace_is_adopted_by_its_fixed_names(tmp_path, finished):
    """A results folder written before manifests existed gets one listing densespace's files only."""
    out = _copy(finished, tmp_path)
    (out / MANIFEST_FILE).unlink()
    _put(out, PERSONAL)
    record = folder.RunRecord.model_validate(json.loads((out / "run.json").read_text()))
    folder.prepare(out, record, overwrite=True).release()
    assert _kept(out, PERSONAL) == PERSONAL
    assert not (out / "best-1.keras").exists() and not (out / "search/oracle.json").exists()


def _unwritable(path, *args, **kwargs):
    raise PermissionError(errno.EACCES, "Permission denied", str(path))


@pytest.mark.parametrize("case", ["under-a-file", "read-only"])
def test_an_out_that_cannot_be_created_is_one_line(tmp_path, capsys, monkeypatch, case):
    """--out under a file or a read-only folder is a RunFolderError at exit 2, naming the folder."""
    import numpy as np

    (tmp_path / "afile").write_text("x")
    out, reason = tmp_path / "afile/sub", "Not a directory"
    if case == "read-only":  # as root, a folder's mode does not stop a write: its refusal stands in
        monkeypatch.setattr("pathlib.Path.mkdir", _unwritable)
        out, reason = tmp_path / "ro/sub", "Permission denied"
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(TINY))
    x, y = synthetic_data().train
    np.savez(tmp_path / "data.npz", x=x, y=y)
    assert main(["tune", str(spec), "--data", str(tmp_path / "data.npz"), "--out", str(out), "--quiet"]) == 2
    assert capsys.readouterr().err == (
        f"densespace: error: {out}: cannot create the results folder ({reason}); choose another --out\n"
    )


def test_two_processes_sharing_a_folder_keep_what_the_other_listed_or_removed(tmp_path):
    """A chief and a worker listing files in one folder each keep the other's changes."""
    chief = Ledger(tmp_path, _read_manifest(tmp_path))
    chief.claim(tmp_path / "a")
    chief.claim(tmp_path / "gone")
    worker = Ledger(tmp_path, _read_manifest(tmp_path))  # another process, started later
    worker.claim(tmp_path / "b")
    chief.remove([tmp_path / "gone"])
    worker.claim(tmp_path / "c")
    chief.claim(tmp_path / "d")
    assert json.loads((tmp_path / MANIFEST_FILE).read_text())["files"] == ["a", "b", "c", "d"]


def test_a_link_out_of_the_folder_is_never_written_through(tmp_path):
    """A folder of the results linked elsewhere is refused before a file is written through it."""
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "run").mkdir()
    (tmp_path / "run/search").symlink_to(tmp_path / "elsewhere")
    with Ledger.open(tmp_path / "run"), pytest.raises(RunFolderError) as caught:
        write_text(tmp_path / "run/search/oracle.json", "{}")
    assert str(caught.value) == (
        f"{tmp_path / 'run/search/oracle.json'}: a link in {tmp_path / 'run'} leads out of it, and densespace "
        "writes only inside its results folder: remove the link, or choose another --out"
    )
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_a_worker_starting_beside_its_chief_takes_the_folder_as_new(tmp_path):
    """A folder holding only a starting run's lock, manifest and their temporary files is a new folder."""
    (tmp_path / ".densespace.lock").write_text("1\n")
    (tmp_path / MANIFEST_FILE).write_text('{"files": ["run.json"]}')
    (tmp_path / ".run.json.abcd1234.tmp").write_text("{")
    (tmp_path / f".{MANIFEST_FILE}.zz9k2m1a.tmp").write_text("{")
    record = folder.RunRecord.model_validate(
        {"spec": validate_spec(TINY).model_dump(mode="json"), "data": _data_record()}
    )
    folder.prepare(tmp_path, record, overwrite=False, lock=False).release()
    assert json.loads((tmp_path / "run.json").read_text()) == record.model_dump(mode="json")


def test_a_file_another_process_listed_since_is_written_over(tmp_path):
    """A ledger reads the manifest again before refusing a file another process listed and wrote."""
    mine = Ledger(tmp_path, _read_manifest(tmp_path))
    theirs = Ledger(tmp_path, _read_manifest(tmp_path))
    theirs.claim(tmp_path / "run.json")
    (tmp_path / "run.json").write_text("{}")
    mine.claim(tmp_path / "run.json")
    assert mine.owns(tmp_path / "run.json")


def _data_record():
    data = synthetic_data()
    return {
        "source": "synthetic",
        "train": len(data.train[1]),
        "validation": len(data.validation[1]),
        "test": len(data.test[1]),
        "digest": densespace.datasets.digest(data),
    }
