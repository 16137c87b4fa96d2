"""results.json: its published schema, and how densespace reads a folder's file back."""

from __future__ import annotations

import json

import jsonschema
import pytest
from helpers import ROOT

import densespace
from densespace._cli import main
from densespace._results import RESULTS_SCHEMA_FILE, Results, results_schema, results_schema_text

RESULTS = {
    "densespace": "0.1.0",
    "versions": {"python": "3.11.7"},
    "backend": "tensorflow",
    "created": "2026-11-30T12:00:00+00:00",
    "spec": {"version": 1, "name": "t", "hidden": {"units": 8}},
    "seed": 1,
    "tuner": "random",
    "objective": "val_loss",
    "task": "classification",
    "data": {
        "source": "synthetic",
        "train": 120,
        "validation": 40,
        "test": 40,
        "digest": "0" * 16,
        "kind": None,
        "class_names": None,
        "feature_names": None,
        "target_names": None,
    },
    "trials": [
        {
            "id": "0",
            "values": {"units": 8},
            "status": "completed",
            "score": 1.5,
            "seconds": 2.0,
            "epochs": 2,
            "message": None,
            "history": {"loss": [1.9, 1.6], "val_loss": [1.7, 1.5]},
            "best_epoch": 2,
            "parameters": 100,
            "warm_start": False,
            "fold_scores": [1.4, 1.6],
        }
    ],
    "best": [
        {
            "rank": 1,
            "trial": "0",
            "values": {"units": 8},
            "test_metrics": {"loss": 1.4, "accuracy": 0.5},
            "parameters": 100,
            "epochs": 2,
            "model": "best-1.keras",
            "frozen_spec": "best-1.spec.json",
        }
    ],
    "cost": {"search_epochs": 2, "retrain_epochs": 2, "images_trained": 480, "seconds": 4.0},
    "front": [{"trial": "0", "parameters": 100, "score": 1.5}],
    "stopped": "budget",
}


def test_committed_results_schema_matches_the_models():
    """schemas/densespace-results-v1.schema.json is what the models generate (`densespace schema --results`)."""
    assert (ROOT / RESULTS_SCHEMA_FILE).read_text() == results_schema_text()
    jsonschema.Draft202012Validator.check_schema(results_schema())


def test_results_round_trip_losslessly():
    """A results document validates, and dumps back to the same JSON."""
    assert Results.model_validate(RESULTS).model_dump(mode="json") == RESULTS


def test_an_older_results_file_without_a_backend_reads_with_none(tmp_path):
    """A results.json written before the backend was recorded reads, its backend None."""
    (tmp_path / "results.json").write_text(json.dumps({k: v for k, v in RESULTS.items() if k != "backend"}))
    assert densespace.load_results(tmp_path).backend is None


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            {"trials": [{**RESULTS["trials"][0], "status": "done"}]},
            "trials[0].status: expected one of 'completed', 'failed', 'running', 'stopped' or 'pruned', "
            'received "done"',
        ),
        ({"cost": "cheap"}, 'cost: expected an object, received "cheap"'),
        ({"extra": 1}, "extra: unknown key"),
        ({"data": {}}, "data.source: required key is missing"),
        ({"seed": "1"}, 'seed: expected an integer, received "1"'),
        (
            {"best": [{**RESULTS["best"][0], "rank": 0}]},
            "best[0].rank: Input should be greater than or equal to 1 (received 0)",
        ),
        (
            {"backend": "tensor flow"},
            "backend: expected a name: letters, digits and '_', at most 128 characters, received "
            '"tensor flow"',
        ),
    ],
    ids=["bad-status", "bad-cost", "unknown-key", "missing-key", "no-coercion", "bound", "bad-backend"],
)
def test_a_damaged_results_file_is_named_with_its_location(tmp_path, capsys, change, error):
    """report on a results.json outside the format names the file and the place, exit 2."""
    (tmp_path / "results.json").write_text(json.dumps({**RESULTS, **change}))
    assert main(["report", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"densespace: error: {tmp_path / 'results.json'}: not a densespace results file: {error}\n"
    )


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ('{"trials": [', "line 1, column 13: invalid JSON (Expecting value); the file is damaged"),
        ("[" * 100_000, "nested too deeply; the file is damaged"),
        (b"\xff\xfe", "not UTF-8 text (byte 0); the file is damaged"),
    ],
    ids=["truncated", "deep", "binary"],
)
def test_an_unreadable_results_file_is_one_line(tmp_path, content, error):
    """A truncated, absurdly nested or binary results.json is one RunFolderError naming the file."""
    path = tmp_path / "results.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(densespace.RunFolderError) as info:
        densespace.load_results(tmp_path)
    assert str(info.value) == f"{path}: {error}"


def test_a_results_folder_that_is_a_directory_is_refused(tmp_path, capsys):
    """report on a folder whose results.json is a directory says so, exit 2."""
    (tmp_path / "results.json").mkdir()
    assert main(["report", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"densespace: error: {tmp_path / 'results.json'}: not a regular file\n"


def test_load_results_returns_typed_records(tmp_path):
    """load_results reads a folder's results.json into Results."""
    (tmp_path / "results.json").write_text(json.dumps(RESULTS))
    results = densespace.load_results(tmp_path)
    assert results.trials[0].status == "completed" and results.best[0].test_metrics["accuracy"] == 0.5
