"""Seeing and reusing every trial: the DataFrame, report --json, compare, the plot, and $schema in specs."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import jsonschema
import pytest
from helpers import ROOT, spec_dict
from hypothesis import given
from hypothesis import strategies as st

import densespace
from densespace._cli import main
from densespace._report.dataframe import EXTRA_COLUMNS
from densespace._report.plot import figure, front, plot, sized_trials, trial_numbers
from densespace._report.text import compare
from densespace._results import Results, TrialRecord, TuneResult, better

PNG = b"\x89PNG\r\n\x1a\n"
SPEC = {
    "version": 1,
    "name": "small",
    "input": {"shape": [8]},
    "output": {"units": 3},
    "hidden": {"layers": {"min": 1, "max": 2}, "units": {"values": [4, 16]}},
}
TRIALS = [
    {
        "id": "0",
        "values": {"layers": 2, "units_0": 16, "units_1": 4},
        "status": "completed",
        "score": 1.2,
        "seconds": 2.0,
        "epochs": 3,
        "message": None,
    },
    {
        "id": "1",
        "values": {"layers": 1, "units_0": 4},
        "status": "failed",
        "score": None,
        "seconds": 0.5,
        "epochs": None,
        "message": "boom",
    },
    {
        "id": "2",
        "values": {"layers": 1, "units_0": 16},
        "status": "completed",
        "score": 0.9,
        "seconds": 1.5,
        "epochs": 3,
        "message": None,
    },
]
RESULTS = {
    "densespace": "0.1.0",
    "versions": {"python": "3.11.7"},
    "created": "2026-11-30T12:00:00+00:00",
    "spec": SPEC,
    "seed": 1,
    "tuner": "random",
    "objective": "val_loss",
    "task": "classification",
    "data": {"source": "synthetic", "train": 120, "validation": 40, "test": 40, "digest": "0" * 16},
    "trials": TRIALS,
    "best": [
        {
            "rank": 1,
            "trial": "2",
            "values": {"layers": 1, "units_0": 16},
            "test_metrics": {"loss": 0.95, "accuracy": 0.625},
            "parameters": 195,
            "epochs": 3,
            "model": "best-1.keras",
            "frozen_spec": "best-1.spec.json",
        }
    ],
    "cost": {"search_epochs": 6, "retrain_epochs": 3, "images_trained": 1080, "seconds": 12.3},
}


def _regression() -> dict:
    """A second run: a regression search by another tuner, with other test metrics."""
    other = copy.deepcopy(RESULTS)
    other.update(task="regression", tuner="bayesian", objective="val_mae")
    other["spec"] = {**SPEC, "name": "wide", "task": "regression", "output": {"units": 1}}
    other["trials"] = [{**TRIALS[0], "score": 0.41}]
    other["best"][0].update(trial="0", test_metrics={"loss": 0.25, "mae": 0.4})
    other["cost"] = {"search_epochs": 3, "retrain_epochs": 0, "images_trained": 360, "seconds": 101.6}
    return other


def _folder(path: Path, results: dict) -> Path:
    path.mkdir()
    (path / "results.json").write_text(json.dumps(results))
    return path


def _many(count: int) -> Results:
    """Results with ``count`` completed trials of varied sizes and scores."""
    shapes = [
        {"layers": 1, "units_0": 4},
        {"layers": 1, "units_0": 16},
        {"layers": 2, "units_0": 16, "units_1": 4},
    ]
    trials = [
        {**TRIALS[0], "id": f"{i:02d}", "values": shapes[i % 3], "score": 1 + ((i * 7) % 11) / 10}
        for i in range(count)
    ]
    return Results.model_validate({**RESULTS, "trials": trials, "best": []})


def test_trials_dataframe_has_a_row_per_trial_and_a_column_per_hyperparameter():
    """Results.trials_dataframe: the fixed columns, each hyperparameter (NaN where inactive), then the extras."""
    frame = Results.model_validate(RESULTS).trials_dataframe()
    extras = [name for name in EXTRA_COLUMNS if name in TrialRecord.model_fields]
    assert frame.columns.tolist() == [
        "id",
        "status",
        "score",
        "seconds",
        "epochs",
        "layers",
        "units_0",
        "units_1",
        *extras,
    ]
    assert frame["id"].tolist() == ["0", "1", "2"]
    assert frame["status"].tolist() == ["completed", "failed", "completed"]
    assert frame["score"].isna().tolist() == [False, True, False]
    assert frame.loc[[0, 2], "score"].tolist() == [1.2, 0.9]
    assert frame["seconds"].tolist() == [2.0, 0.5, 1.5]
    assert frame["layers"].tolist() == [2, 1, 1]
    assert frame["units_0"].tolist() == [16, 4, 16]
    assert frame["units_1"].isna().tolist() == [False, True, True] and frame.loc[0, "units_1"] == 4


def test_tune_result_trials_dataframe_uses_its_trials():
    """TuneResult.trials_dataframe has one row per trial of the result (a worker's too)."""
    trials = [TrialRecord.model_validate(t) for t in TRIALS[:2]]
    result = TuneResult(out=Path("."), record=None, trials=trials, worker="w1")
    frame = result.trials_dataframe()
    assert frame["id"].tolist() == ["0", "1"] and frame["units_1"].isna().tolist() == [False, True]


def test_trials_dataframe_without_pandas_says_how_to_install_it(monkeypatch):
    """Without pandas, trials_dataframe raises a one-line ModuleNotFoundError naming the extra."""
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ModuleNotFoundError) as info:
        Results.model_validate(RESULTS).trials_dataframe()
    assert str(info.value) == "trials_dataframe needs pandas: pip install 'densespace[dataframe]'"


def test_report_json_prints_the_checked_results(tmp_path, capsys):
    """report --json prints results.json as load_results reads it, as JSON."""
    out = _folder(tmp_path / "run", RESULTS)
    assert main(["report", str(out), "--json"]) == 0
    printed = capsys.readouterr().out
    assert printed == json.dumps(densespace.load_results(out).model_dump(mode="json"), indent=2) + "\n"
    assert json.loads(printed)["trials"][2]["score"] == 0.9


COMPARED = {
    120: [
        "run  name   task            tuner     objective  best    test accuracy  test mae  test loss  trials  "
        "epochs  seconds",
        "a    small  classification  random    val_loss   0.9000  0.6250                   0.9500     2/3     "
        "6+3     12",
        "b    wide   regression      bayesian  val_mae    0.4100                 0.4000    0.2500     1/1     "
        "3+0     102",
    ],
    80: [
        "run            a               b",
        "name           small           wide",
        "task           classification  regression",
        "tuner          random          bayesian",
        "objective      val_loss        val_mae",
        "best           0.9000          0.4100",
        "test accuracy  0.6250",
        "test mae                       0.4000",
        "test loss      0.9500          0.2500",
        "trials         2/3             1/1",
        "epochs         6+3             3+0",
        "seconds        12              102",
    ],
}


@pytest.mark.parametrize("columns", sorted(COMPARED))
def test_compare_prints_the_runs_side_by_side(tmp_path, capsys, monkeypatch, columns):
    """compare prints one row per folder with the union of the rank-1 test metrics, loss last, as
    wide as the terminal; turned (a column per run) when its rows cannot fit."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", str(columns))
    _folder(tmp_path / "a", RESULTS)
    _folder(tmp_path / "b", _regression())
    assert main(["compare", "a", "b"]) == 0
    assert capsys.readouterr().out.splitlines() == COMPARED[columns]


def test_compare_of_a_folder_without_results_is_one_line(tmp_path, capsys):
    """compare names a folder without results.json the way report does, exit 2."""
    a = _folder(tmp_path / "a", RESULTS)
    assert main(["compare", str(a), str(tmp_path / "none")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"densespace: error: {tmp_path / 'none' / 'results.json'} does not exist: "
        "is this a finished densespace tune --out folder?\n"
    )


def test_compare_refuses_labels_of_another_length():
    """compare with a label count unlike the run count raises ValueError saying both."""
    with pytest.raises(ValueError, match=r"^compare: expected one label per run \(1\), received 2$"):
        compare([Results.model_validate(RESULTS)], labels=["a", "b"])


BRIEF = (
    "'small': random search, 3 trials (2 completed), best val_loss 0.9000 (trial 2); best-1.keras: "
    "test accuracy 0.6250, loss 0.9500"
)
SUMMARY_HTML = (
    "<div><div><b>small</b>: random search, 3 trials (2 completed), task classification; best val_loss "
    "<b>0.9000</b> (trial 2)</div><div>data: synthetic (train 120, validation 40, test 40)</div><table><thead>"
    "<tr><th>rank</th><th>trial</th><th>test accuracy</th><th>test loss</th><th>parameters</th><th>model</th>"
    "<th>values</th></tr></thead><tbody><tr><td>1</td><td>2</td><td>0.6250</td><td>0.9500</td><td>195</td>"
    "<td>best-1.keras</td><td>layers=1 units_0=16</td></tr></tbody></table>"
)


def test_results_show_briefly_in_a_repl_and_as_a_table_in_a_notebook():
    """Results and TuneResult have a one-line repr and an HTML summary (TuneResult's says where the
    files are); a worker's says it holds no results."""
    results = Results.model_validate(RESULTS)
    result = TuneResult(out=Path("runs/small"), record=results, trials=results.trials)
    assert repr(results) == f"<Results {BRIEF}>"
    assert repr(result) == f"<TuneResult runs/small: {BRIEF}>"
    assert results._repr_html_() == SUMMARY_HTML + "</div>"
    assert result._repr_html_() == (
        SUMMARY_HTML
        + "<div>files in <code>runs/small</code>: report.md, scores.png, best-1.keras</div></div>"
    )
    worker = TuneResult(out=Path("runs/small"), record=None, trials=results.trials, worker="w1")
    assert repr(worker) == "<TuneResult worker w1: 3 trials run; the chief holds the results>"
    assert worker._repr_html_() == "<div>worker w1: 3 trials run; the chief holds the results</div>"


def test_results_plot_returns_the_figure():
    """Results.plot() is the figure of scores.png: one panel without parameter counts, two with."""
    assert len(Results.model_validate(RESULTS).plot().axes) == 1
    trials = [{**TRIALS[0], "parameters": 227}, TRIALS[1], TRIALS[2]]
    assert len(Results.model_validate({**RESULTS, "trials": trials}).plot().axes) == 2


def test_the_size_panel_plots_the_recorded_parameter_counts():
    """Scored trials with a recorded parameter count are plotted by size; the others are not."""
    trials = [{**TRIALS[0], "parameters": 227}, {**TRIALS[1], "parameters": 51}, TRIALS[2]]
    results = Results.model_validate({**RESULTS, "trials": trials})
    assert sized_trials(results) == [("0", 227, 1.2)]
    assert sized_trials(Results.model_validate(RESULTS)) == []


@pytest.mark.parametrize("count", [1, 12])
def test_plot_writes_a_png(tmp_path, count):
    """The plot of one trial and of a dozen is a PNG, written atomically (no temporary file left)."""
    path = tmp_path / "scores.png"
    plot(_many(count), path)
    data = path.read_bytes()
    assert len(data) > 0 and data.startswith(PNG)
    assert [p.name for p in tmp_path.iterdir()] == ["scores.png"]


def test_the_plot_numbers_trials_as_the_tables_do():
    """The score plot places each trial at its id (from 0, as the tables and trial lines number
    trials), labelled with it; warm-start trials come before 0."""
    warm = [{**TRIALS[0], "id": f"warm-{i:02d}", "warm_start": True} for i in range(2)]
    results = Results.model_validate({**RESULTS, "trials": [*warm, *TRIALS]})
    assert trial_numbers(results) == [-2, -1, 0, 1, 2]
    axes = figure(results).axes[0]
    assert [tick.get_text() for tick in axes.get_xticklabels()] == ["warm-00", "warm-01", "0", "1", "2"]
    assert list(axes.get_xticks()) == [-2, -1, 0, 1, 2]
    assert [tuple(p) for p in axes.collections[0].get_offsets()] == [(-2, 1.2), (-1, 1.2), (0, 1.2), (2, 0.9)]


def test_plot_without_parameter_counts_still_writes_a_png(tmp_path):
    """An old results file's spec skips the size panel, and a run without trials still plots."""
    for name, results in (
        ("old.png", {**RESULTS, "spec": {**SPEC, "retired": True}}),
        ("empty.png", {**RESULTS, "trials": [], "best": []}),
    ):
        plot(Results.model_validate(results), tmp_path / name)
        assert (tmp_path / name).read_bytes().startswith(PNG)


def test_front_examples():
    """A smaller model with an equal score, or an earlier one of the same size, takes a point off the front."""
    points = [(100, 0.5), (50, 0.5), (200, 0.7), (200, 0.7), (400, 0.6)]
    assert front(points, objective="val_accuracy") == [False, True, True, False, False]
    assert front(points, objective="val_loss") == [False, True, False, False, False]


@given(
    points=st.lists(st.tuples(st.integers(1, 6), st.sampled_from([0.1, 0.2, 0.3, 0.4])), max_size=12),
    objective=st.sampled_from(["val_loss", "val_accuracy"]),
)
def test_front_matches_brute_force(points, objective):
    """front agrees with the definition checked pair by pair."""

    def beaten(i: int) -> bool:
        (size, score) = points[i]
        return any(
            (other < size or (other == size and j < i))
            and (other_score == score or better(other_score, score, objective))
            for j, (other, other_score) in enumerate(points)
            if j != i
        )

    assert front(points, objective=objective) == [not beaten(i) for i in range(len(points))]


SCHEMA_URL = "https://densespace.dev/schemas/densespace-spec-v1.schema.json"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("spec.json", json.dumps({"$schema": SCHEMA_URL, **spec_dict()})),
        ("spec.yaml", f"$schema: {SCHEMA_URL}\nversion: 1\nname: t\nhidden: {{units: 8}}\n"),
    ],
    ids=["json", "yaml"],
)
def test_a_spec_may_name_its_schema(tmp_path, capsys, name, text):
    """A "$schema" key is accepted in JSON and YAML specs, kept in dumps and valid against the schema."""
    path = tmp_path / name
    path.write_text(text)
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: ok (1 configuration)\n"
    spec = densespace.load_spec(path)
    assert spec.schema_uri == SCHEMA_URL
    dumped = spec.model_dump(mode="json")
    assert next(iter(dumped)) == "$schema" and dumped["$schema"] == SCHEMA_URL and "schema_uri" not in dumped
    assert densespace.validate_spec(dumped) == spec
    assert densespace.validate_spec(json.loads(spec.model_dump_json())) == spec
    assert densespace.freeze(spec, {}).schema_uri == SCHEMA_URL
    jsonschema.validate(dumped, densespace.json_schema())


def test_a_spec_without_schema_dumps_without_it():
    """A spec without "$schema" dumps exactly as before: neither "$schema" nor "schema_uri" appears."""
    spec = densespace.validate_spec(spec_dict())
    assert spec.schema_uri is None
    assert not {"$schema", "schema_uri"} & set(spec.model_dump())
    assert "schema" not in spec.model_dump_json()


def test_schema_key_must_be_a_string():
    """A non-string "$schema" is located at $schema with what was received."""
    with pytest.raises(densespace.SpecError) as info:
        densespace.validate_spec({"$schema": 5, **spec_dict()})
    assert str(info.value) == "$schema: expected a string, received 5"


def test_schema_ids_are_urls():
    """Both committed schemas carry their https $id."""
    spec_schema = json.loads((ROOT / "schemas/densespace-spec-v1.schema.json").read_text())
    results_schema = json.loads((ROOT / "schemas/densespace-results-v1.schema.json").read_text())
    assert spec_schema["$id"] == SCHEMA_URL
    assert results_schema["$id"] == "https://densespace.dev/schemas/densespace-results-v1.schema.json"
