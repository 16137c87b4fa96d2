"""Budgets of a search: time limits, target scores, why a search stopped, median pruning."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from helpers import spec_dict, synthetic_data
from helpers.oracles import drive, oracle

import densespace
from densespace import OptionError, SpecError, validate_spec
from densespace._budgets import (
    Limits,
    Target,
    check_target,
    median_by_epoch,
    parse_duration,
    parse_target,
    worse_than_median,
)
from densespace._cli import main
from densespace._results import TrialRecord, load_results, ranked
from densespace._run.options import SearchOptions, TuneOptions

TINY = spec_dict(
    input={"shape": [4, 4, 3]},
    hidden={"units": {"values": [4, 8]}},
    training={"epochs": 2, "batch_size": 32},
    search={"tuner": "random", "max_trials": 3, "seed": 7},
)


def _tune(tmp_path, spec=TINY, **options):
    return densespace.tune(
        validate_spec(spec), data=synthetic_data(), out=tmp_path / "run", verbose=0, **options
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("15m", 900.0), ("2h", 7200.0), ("1h30m", 5400.0), ("1.5m", 90.0)],
)
def test_durations_parse_to_seconds(text, seconds):
    """--time-limit reads plain seconds and h/m/s durations."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1h30", "m", "90 minutes", "-5", "1m2h"])
def test_malformed_durations_are_option_errors(text):
    """A malformed --time-limit names the flag and the examples of the format."""
    with pytest.raises(OptionError) as caught:
        parse_duration(text)
    assert caught.value.for_cli() == (
        f"--time-limit: expected a duration such as 90, 90s, 15m, 2h or 1h30m (received {text!r})"
    )


def test_targets_parse_and_reach_in_the_metric_direction():
    """--stop-at reads METRIC=VALUE; accuracies reach upwards, losses downwards."""
    assert parse_target("val_accuracy=0.9") == ("val_accuracy", 0.9)
    assert check_target(("val_loss", 1), "classification") == Target("val_loss", 1.0)
    assert [Target("val_accuracy", 0.9).reached(v) for v in (0.89, 0.9, 0.95)] == [False, True, True]
    assert [Target("val_loss", 0.5).reached(v) for v in (0.4, 0.5, 0.6)] == [True, True, False]


def test_option_errors_name_the_python_keyword(tmp_path):
    """time_limit and stop_at errors name the keyword and what was received."""
    spec = validate_spec(TINY)
    cases = [
        ({"time_limit": 0}, "time_limit must be seconds in (0, 31622400] (received 0)"),
        ({"time_limit": "1h"}, "time_limit must be seconds in (0, 31622400] (received '1h')"),
        (
            {"stop_at": "val_accuracy"},
            "stop_at must be a (metric, value) pair such as ('val_accuracy', 0.9) (received 'val_accuracy')",
        ),
        (
            {"stop_at": ("val_auc", 0.9)},
            "stop_at: classification records no metric 'val_auc'; expected one of: "
            "loss, accuracy, balanced_accuracy, macro_f1, val_loss, val_accuracy, val_balanced_accuracy, val_macro_f1",
        ),
    ]
    for options, message in cases:
        with pytest.raises(OptionError) as caught:
            TuneOptions.create(spec, SearchOptions(out=tmp_path, **options))
        assert str(caught.value) == message


def test_option_errors_name_the_flag_on_the_command_line(tmp_path, capsys):
    """The CLI shows --time-limit and --stop-at errors with the flags, before loading any data."""
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(TINY))
    assert main(["tune", str(path), "--time-limit", "soon"]) == 2
    assert capsys.readouterr().err == (
        "densespace: error: --time-limit: expected a duration such as 90, 90s, 15m, 2h or 1h30m "
        "(received 'soon')\n"
    )
    assert main(["tune", str(path), "--stop-at", "val_accuracy"]) == 2
    assert capsys.readouterr().err == (
        "densespace: error: --stop-at: expected METRIC=VALUE, such as val_accuracy=0.9 "
        "(received 'val_accuracy')\n"
    )
    assert main(["tune", str(path), "--stop-at", "val_rmse=0.1"]) == 2
    assert capsys.readouterr().err == (
        "densespace: error: --stop-at: classification records no metric 'val_rmse'; expected one of: "
        "loss, accuracy, balanced_accuracy, macro_f1, val_loss, val_accuracy, val_balanced_accuracy, val_macro_f1\n"
    )


@pytest.mark.slow
def test_the_time_limit_lets_the_running_trial_finish_and_still_retrains(tmp_path, monkeypatch):
    """Past the time limit no new trial starts: one trial ran, was retrained, and the stop is recorded."""
    ticks = iter([0.0])  # the start; the first trial starts unchecked, and later checks see 100 s
    monkeypatch.setattr("densespace._budgets.clock", lambda: next(ticks, 100.0))
    result = _tune(tmp_path, time_limit=50)
    assert [(t.id, t.status) for t in result.trials] == [("0", "completed")]
    assert [b.trial_id for b in result.best] == ["0"]
    assert load_results(result.out).stopped == "time_limit"


@pytest.mark.slow
def test_a_reached_target_stops_the_search_and_a_resumed_run_honours_it(tmp_path):
    """An easy target stops the search after its first trial, again when the same search resumes."""
    result = _tune(tmp_path, stop_at=("val_accuracy", 0.0))
    assert [t.id for t in result.trials] == ["0"]
    assert load_results(result.out).stopped == "target"
    again = _tune(tmp_path, stop_at=("val_accuracy", 0.0))
    assert [t.id for t in again.trials] == ["0"]
    assert load_results(again.out).stopped == "target"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("max_trials", "trials", "stopped"),
    [(2, ["0", "1"], "budget"), (5, ["0", "1"], "exhausted")],
)
def test_results_record_why_the_search_stopped(tmp_path, max_trials, trials, stopped):
    """max_trials used up is "budget"; a space of two configurations and five trials is "exhausted"."""
    spec = spec_dict(**{**TINY, "search": {**TINY["search"], "max_trials": max_trials}})
    result = _tune(tmp_path, spec)
    assert [t.id for t in result.trials] == trials
    assert json.loads((result.out / "results.json").read_text())["stopped"] == stopped


@pytest.mark.parametrize(
    ("search", "target", "proposed", "stopped"),
    [
        ({"tuner": "random", "max_trials": 2}, None, 2, "budget"),
        ({"tuner": "random", "max_trials": 5}, None, 2, "exhausted"),
        ({"tuner": "grid", "max_trials": 5}, None, 2, "exhausted"),
        ({"tuner": "random", "max_trials": 3}, Target("val_loss", 1.0), 1, "target"),
        ({"tuner": "random", "max_trials": 3}, Target("val_loss", 0.0), 2, "exhausted"),
    ],
    ids=["budget", "exhausted", "grid-exhausted", "target", "target-missed"],
)
def test_the_oracle_says_why_it_stopped(tmp_path, search, target, proposed, stopped):
    """A space of two configurations, driven with made-up scores under 1, stops for the reason its limits give."""
    spec = validate_spec(
        spec_dict(
            input={"shape": [4], "preprocessing": "none"},
            hidden={"units": {"values": [4, 8]}},
            search={**search, "seed": 7},
        )
    )
    limits = Limits(target=target)
    assert len(drive(oracle(spec, tmp_path, limits=limits))) == proposed
    assert limits.stopped == stopped


def test_the_median_is_taken_where_enough_earlier_trials_reached_the_epoch():
    """Each epoch's median needs three histories that reached it; NaN values do not count."""
    histories = [{1: 1.0, 2: 0.5, 3: 0.4}, {1: 3.0, 2: 0.9}, {1: 2.0, 2: 0.7}, {1: 9.0, 2: float("nan")}]
    assert median_by_epoch(histories) == {1: 2.5, 2: 0.7}
    assert median_by_epoch(histories, min_trials=1) == {1: 2.5, 2: 0.7, 3: 0.4}


def test_the_median_rule_prunes_only_worse_trials_after_the_warmup():
    """A trial is pruned past the warm-up when strictly worse than the median, in the objective's direction."""
    medians = {1: 2.0, 2: 1.0}
    loss = [
        worse_than_median(v, e, medians, objective="val_loss", warmup_epochs=1)
        for v, e in [(3.0, 1), (1.5, 2), (1.0, 2), (0.5, 2), (9.0, 3)]
    ]
    assert loss == [False, True, False, False, False]
    accuracy = worse_than_median(0.5, 2, {2: 0.6}, objective="val_accuracy", warmup_epochs=0)
    assert (accuracy, worse_than_median(0.7, 2, {2: 0.6}, objective="val_accuracy", warmup_epochs=0)) == (
        True,
        False,
    )


def test_the_pruning_callback_stops_training_and_says_when():
    """MedianPruning sets stop_training after the first epoch worse than the median."""
    from densespace._keras.callbacks import MedianPruning

    callback = MedianPruning("val_loss", {2: 1.0, 3: 0.8}, warmup_epochs=1)
    callback.set_model(SimpleNamespace(stop_training=False))
    callback.set_params({"epochs": 4})
    callback.on_epoch_end(0, {"val_loss": 5.0})  # within the warm-up
    callback.on_epoch_end(1, {"val_loss": 0.9})  # better than the median
    assert (callback.pruned_at, callback.model.stop_training) == (None, False)
    callback.on_epoch_end(2, {"val_loss": 0.85})
    assert (callback.pruned_at, callback.model.stop_training) == (3, True)


def test_the_last_epoch_is_never_pruned():
    """A trial worse than the median at its last epoch has trained fully: it is not pruned."""
    from densespace._keras.callbacks import MedianPruning

    callback = MedianPruning("val_loss", {2: 1.0}, warmup_epochs=1)
    callback.set_model(SimpleNamespace(stop_training=False))
    callback.set_params({"epochs": 2})
    callback.on_epoch_end(1, {"val_loss": 5.0})
    assert (callback.pruned_at, callback.model.stop_training) == (None, False)


def test_pruned_trials_are_never_ranked():
    """Ranking (and so retraining) skips pruned trials, even when their score is the best."""
    trials = [
        TrialRecord(id=i, values={"u": i}, status=s, score=v, seconds=1.0, epochs=e, message=None)
        for i, s, v, e in [("0", "completed", 0.5, 4), ("1", "pruned", 0.1, 2), ("2", "completed", 0.3, 4)]
    ]
    assert [t.id for t in ranked(trials, "val_loss")] == ["2", "0"]


@pytest.mark.slow
def test_trials_far_behind_the_median_are_pruned_and_not_retrained(tmp_path):
    """With an absurdly small learning rate among the choices, such trials are pruned early and never retrained."""
    spec = spec_dict(
        input={"shape": [4, 4, 3]},
        hidden={"units": {"values": [8, 16, 32, 64]}},
        optimizer={"learning_rate": {"values": [0.01, 1e-7]}},
        training={"epochs": 4, "batch_size": 16},
        search={"tuner": "random", "max_trials": 6, "seed": 3, "pruning": {"warmup_epochs": 1}},
    )
    result = _tune(tmp_path, spec)
    pruned = [t for t in result.trials if t.status == "pruned"]
    assert pruned
    assert all(t.values["learning_rate"] == 1e-7 and t.epochs < 4 for t in pruned)
    assert all(len(t.history["val_loss"]) == t.epochs for t in pruned)
    assert {b.trial_id for b in result.best}.isdisjoint(t.id for t in pruned)
    assert [t["status"] for t in json.loads((result.out / "results.json").read_text())["trials"]] == [
        t.status for t in result.trials
    ]


def test_hyperband_refuses_pruning_at_its_place():
    """search.pruning on Hyperband is a located spec error, from the spec or from --tuner."""
    message = (
        "search.pruning: Hyperband prunes by its own brackets: remove search.pruning, or use the random, "
        "bayesian or tpe tuner"
    )
    with pytest.raises(SpecError) as caught:
        validate_spec(spec_dict(search={"tuner": "hyperband", "pruning": {}}))
    assert str(caught.value) == message
    random = validate_spec(spec_dict(search={"pruning": {}}))
    with pytest.raises(SpecError) as caught:
        TuneOptions.create(random, SearchOptions(tuner="hyperband"))
    assert [p.location for p in caught.value.problems] == ["search.pruning"]


def test_limits_check_each_ended_trial_once():
    """The target is checked on trials not seen before; the time limit on the clock."""
    limits = Limits(time_limit=None, target=Target("val_accuracy", 0.9), start=0.0)
    assert limits.reason([("0", {"val_accuracy": 0.5})]) is None
    assert limits.reason([("0", {"val_accuracy": 0.5}), ("1", {"val_accuracy": 0.95})]) == "target"
