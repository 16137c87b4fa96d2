"""Hostile results files: read in one bounded pass, refused on one located line, shown as text only."""

from __future__ import annotations

import copy
import json
import math
import time
from pathlib import Path

import pytest
from helpers import spec_dict
from pydantic import ValidationError
from test_results import RESULTS

import densespace
from densespace._cli import main
from densespace._errors import printable
from densespace._report.text import compare, report_markdown, summary
from densespace._results import (
    MAX_EPOCHS,
    MAX_TRIALS,
    MAX_VALUES,
    READING,
    BestModel,
    Results,
    TrialRecord,
    results_schema,
    write_results,
)
from densespace._run.progress import Progress

TRIAL = RESULTS["trials"][0]
BEST = RESULTS["best"][0]


def _folder(path: Path, results: dict) -> Path:
    """A results folder holding ``results`` as its results.json."""
    path.mkdir(exist_ok=True)
    (path / "results.json").write_text(json.dumps(results))
    return path


def _refusal(tmp_path: Path, capsys: pytest.CaptureFixture[str], results: dict, *command: str) -> str:
    """What ``densespace report`` (or another command) prints on standard error for ``results``,
    after checking that it is one line and exit 2."""
    folder = _folder(tmp_path / "run", results)
    assert main([*(command or ("report",)), str(folder)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "\x1b" not in err
    prefix = f"densespace: error: {folder / 'results.json'}: not a densespace results file: "
    assert err.startswith(prefix)
    return err[len(prefix) : -1]


def _nested(depth: int) -> dict:
    """Objects nested ``depth`` deep."""
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def _with(**trial: object) -> dict:
    """RESULTS with its trial changed."""
    return {**RESULTS, "trials": [{**TRIAL, **trial}]}


@pytest.mark.parametrize(
    ("results", "problem"),
    [
        (
            _with(id="../x"),
            "trials[0].id: expected a trial id: letters, digits, '-' and '_', at most 128 characters, "
            'received "../x"',
        ),
        (
            _with(id=""),
            "trials[0].id: expected a trial id: letters, digits, '-' and '_', at most 128 "
            'characters, received ""',
        ),
        (
            _with(id="0\n1"),
            "trials[0].id: expected a trial id: letters, digits, '-' and '_', at most 128 "
            'characters, received "0\\n1"',
        ),
        (
            {**RESULTS, "trials": [TRIAL, {**TRIAL, "values": {"units": 16}}]},
            'trials[1].id: "0" is the id of an earlier trial (ids are unique)',
        ),
        (
            {**RESULTS, "best": [{**BEST, "trial": "a b"}]},
            "best[0].trial: expected a trial id: letters, digits, '-' and '_', at most 128 characters, "
            'received "a b"',
        ),
        (
            {**RESULTS, "front": [{"trial": "..", "parameters": 1, "score": 1.0}]},
            "front[0].trial: expected a trial id: letters, digits, '-' and '_', at most 128 characters, "
            'received ".."',
        ),
        (
            {**RESULTS, "best": [{**BEST, "model": "../../escape.keras"}]},
            'best[0].model: expected best-1.keras, the file of rank 1, received "../../escape.keras"',
        ),
        (
            {**RESULTS, "best": [{**BEST, "frozen_spec": "best-2.spec.json"}]},
            'best[0].frozen_spec: expected best-1.spec.json, the file of rank 1, received "best-2.spec.json"',
        ),
        (
            _with(values={"units": _nested(300)}),
            "trials[0].values.units: expected a number, a string or true/false, received "
            + json.dumps(_nested(300))[:197]
            + "...",
        ),
        (
            _with(values={"units\x1b]0;owned\x07": 8}),
            "trials[0].values.units\\x1b]0;owned\\x07: expected a name: letters, digits and '_', at most 128 "
            'characters, received "units\\u001b]0;owned\\u0007"',
        ),
        (
            {**RESULTS, "best": [{**BEST, "test_metrics": {"loss\n": 1.0}}]},
            "best[0].test_metrics.loss\\n: expected a name: letters, digits and '_', at most 128 characters, "
            'received "loss\\n"',
        ),
        ({**RESULTS, "spec": _nested(100)}, "spec: nested deeper than 64 levels"),
    ],
    ids=[
        "path-id",
        "empty-id",
        "newline-id",
        "duplicate-id",
        "best-trial",
        "front-trial",
        "model-path",
        "frozen-spec-rank",
        "nested-value",
        "escape-in-name",
        "newline-in-metric",
        "deep-spec",
    ],
)
def test_hostile_records_are_refused_on_one_located_line(tmp_path, capsys, results, problem):
    """Ids, file names, value names and nesting that densespace never writes are one located line, exit 2."""
    assert _refusal(tmp_path, capsys, results) == problem


def test_a_deeply_nested_value_is_refused_before_report_json(tmp_path, capsys):
    """report --json on values nested 300 deep (once exit 1 in serialization) is one located line, exit 2."""
    problem = _refusal(tmp_path, capsys, _with(values={"units": _nested(300)}), "report", "--json")
    assert problem.startswith("trials[0].values.units: expected a number, a string or true/false")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            json.dumps(_with(score=1.0)).replace('"score": 1.0', '"score": -Infinity'),
            "trials[0].score: expected a finite number, received -Infinity",
        ),
        (
            json.dumps(_with(score=1.0)).replace('"score": 1.0', '"score": NaN'),
            "trials[0].score: expected a finite number, received NaN",
        ),
        (
            json.dumps(_with(score=1.0)).replace('"score": 1.0', '"score": 1e999'),
            "trials[0].score: expected a finite number, received Infinity",
        ),
        (
            json.dumps(RESULTS).replace("[1.7, 1.5]", "[1.7, NaN]"),
            "trials[0].history.val_loss[1]: expected a finite number, received NaN",
        ),
        (
            json.dumps(RESULTS).replace('"accuracy": 0.5', '"accuracy": Infinity'),
            "best[0].test_metrics.accuracy: expected a finite number, received Infinity",
        ),
        (
            json.dumps(RESULTS).replace('"seconds": 4.0', '"seconds": NaN'),
            "cost.seconds: expected a finite number, received NaN",
        ),
    ],
    ids=["minus-infinity-score", "nan-score", "overflow-score", "nan-history", "infinite-metric", "nan-cost"],
)
def test_numbers_that_are_not_finite_are_refused_on_read(tmp_path, text, problem):
    """NaN, Infinity and overflowing numbers (a warm start's scores too) are refused, located."""
    (tmp_path / "results.json").write_text(text)
    with pytest.raises(densespace.RunFolderError) as info:
        densespace.load_results(tmp_path)
    assert str(info.value) == f"{tmp_path / 'results.json'}: not a densespace results file: {problem}"


def test_a_run_records_numbers_that_are_not_finite_as_strict_json(tmp_path):
    """A score that is not finite is written as null, such a test metric or history metric is left
    out: results.json is strict JSON that reads back."""
    trial = TrialRecord(
        **{**TRIAL, "score": math.nan, "history": {"loss": [1.0, 0.5], "val_loss": [1.0, math.inf]}}
    )
    best = BestModel(1, "0", {"units": 8}, {"loss": math.inf, "accuracy": 0.5}, None, None, 100, 2)
    results = Results.model_validate(RESULTS).model_copy(update={"trials": [trial], "best": [best.record()]})
    write_results(tmp_path, results)

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in results.json")

    written = json.loads((tmp_path / "results.json").read_text(), parse_constant=refuse)
    assert written["trials"][0]["score"] is None and written["trials"][0]["history"] == {"loss": [1.0, 0.5]}
    assert written["best"][0]["test_metrics"] == {"accuracy": 0.5}
    assert densespace.load_results(tmp_path) == results


def test_many_bad_trials_stop_at_the_first(tmp_path):
    """A file of a hundred thousand bad trials is refused at trials[0] with one error collected."""
    data = {**RESULTS, "trials": [0] * 100_000}
    with pytest.raises(ValidationError) as info:
        Results.model_validate(data, strict=True, context=READING)
    assert info.value.error_count() == 1
    (tmp_path / "results.json").write_text(json.dumps(data))
    with pytest.raises(densespace.RunFolderError, match=r"trials\[0\]: expected an object, received 0$"):
        densespace.load_results(tmp_path)


@pytest.mark.parametrize(
    ("trial", "problem"),
    [
        (
            {"history": {"loss": [1.0] * (MAX_EPOCHS + 1)}},
            "trials[0].history.loss: more than 10,000 entries; densespace reads no more",
        ),
        (
            {"values": {f"v{i}": i for i in range(MAX_VALUES + 1)}},
            "trials[0].values: more than 10,000 entries; densespace reads no more",
        ),
    ],
    ids=["history", "values"],
)
def test_records_over_the_caps_are_refused(tmp_path, capsys, trial, problem):
    """A history longer than MAX_EPOCHS or more than MAX_VALUES values is refused at the cap."""
    assert _refusal(tmp_path, capsys, _with(**trial)) == problem


def test_the_trial_cap_is_in_the_schema():
    """results.json lists at most MAX_TRIALS trials, and the published schema says so."""
    assert results_schema()["properties"]["trials"]["maxItems"] == MAX_TRIALS == 200_000


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain name", "plain name"),
        ("title\x1b]0;owned\x07", "title\\x1b]0;owned\\x07"),
        ("clear\x1b[2J", "clear\\x1b[2J"),
        ("two\nlines\r", "two\\nlines\\r"),
        ("c1 \x9b control", "c1 \\x9b control"),
        ("bidi \u202eexe.txt", "bidi \\u202eexe.txt"),
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("café ünïcode", "café ünïcode"),
    ],
)
def test_printable_escapes_what_a_terminal_would_act_on(text, shown):
    """printable writes control, C1, bidi and format characters as escapes and leaves text be."""
    assert printable(text) == shown


HOSTILE = "evil\x1b]0;owned\x07\n<img src=x onerror=alert(1)>|```"


def _hostile() -> Results:
    """Valid results whose spec name and a string value carry escapes, markup and a fence."""
    results = copy.deepcopy(RESULTS)
    results["spec"]["name"] = HOSTILE
    results["data"]["source"] = HOSTILE
    results["trials"][0]["values"]["activation"] = HOSTILE
    results["best"][0]["values"]["activation"] = HOSTILE
    return Results.model_validate(results)


@pytest.mark.parametrize("columns", [80, 250])
def test_report_and_compare_show_file_text_escaped(tmp_path, capsys, monkeypatch, columns):
    """report and compare print names, sources and values from a results file with escapes, one line
    each where the terminal is wide enough (wrapped at its spaces in a narrower one)."""
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.chdir(tmp_path)  # the folder's path is shown, and a path has no space to break at
    folder = Path("run")
    folder.mkdir()
    write_results(folder, _hostile())
    for command in (["report", str(folder)], ["compare", str(folder)]):
        assert main(command) == 0
        out = capsys.readouterr().out
        assert "\x1b" not in out and "\x07" not in out
        assert "evil\\x1b]0;owned\\x07\\n<img" in out
        assert max(len(line) for line in out.splitlines()) <= columns
    if columns > 200:
        assert summary(_hostile()).count("\n") == summary(Results.model_validate(RESULTS)).count("\n")
        assert compare([_hostile()]).count("\n") == 2


def test_report_markdown_shows_file_text_as_text():
    """report.md escapes HTML, table pipes and line breaks, and fences the summary beyond its backticks."""
    lines = report_markdown(_hostile()).splitlines()
    assert [line for line in lines if line.startswith("```")] == ["````", "````"]
    start, end = lines.index("````"), len(lines) - lines[::-1].index("````")
    markdown = [*lines[:start], *lines[end:]]  # the summary is a code block: literal text
    plain = report_markdown(Results.model_validate(RESULTS)).splitlines()
    assert len(markdown) == len(plain) - plain.index("```", plain.index("```") + 1) + plain.index("```") - 1
    assert markdown[0] == r"# evil\\x1b\]0;owned\\x07\\n&lt;img src=x onerror=alert(1)&gt;\|\`\`\`"
    assert not any("<img" in line for line in markdown)
    rows = [line for line in markdown if line.startswith("| 0 |")]
    assert len(rows) == 1 and rows[0].replace("\\|", "").count("|") == 7


def test_notebook_views_show_file_text_escaped():
    """repr and the HTML summary of results show a hostile name, source and value escaped: no
    control character, no markup."""
    results = _hostile()
    shown = results._repr_html_()
    assert "\x1b" not in repr(results) and "\n" not in repr(results)
    assert "\x1b" not in shown and "<img" not in shown
    assert "<b>evil\\x1b]0;owned\\x07\\n&lt;img src=x onerror=alert(1)&gt;|```</b>" in shown


def test_a_progress_line_shows_a_failure_message_escaped(capsys):
    """A failed trial's message (which may quote the data) prints escaped, on one line."""
    spec = densespace.validate_spec(spec_dict())
    progress = Progress(spec, verbose=1, start=time.monotonic(), then=None, estimate=False)
    progress(TrialRecord(**{**TRIAL, "status": "failed", "score": None, "message": "bad\x1b[2Jcolumn\nx"}))
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "failed (bad\\x1b[2Jcolumn\\nx)" in err


def test_an_error_naming_a_hostile_path_is_one_escaped_line(tmp_path, capsys):
    """Any error message the CLI prints has its control characters escaped, so it stays one line."""
    folder = tmp_path / "run\x1b[2J\nx"
    assert main(["report", str(folder)]) == 2
    assert capsys.readouterr().err == (
        f"densespace: error: {tmp_path}/run\\x1b[2J\\nx/results.json does not exist: "
        "is this a finished densespace tune --out folder?\n"
    )
