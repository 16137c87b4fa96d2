"""Warm starts: points of the space, initial points, enqueued models and an earlier run's trials."""

from __future__ import annotations

import itertools
import json
import math

import pytest
from helpers import spec_dict, synthetic_data
from hypothesis import given, reject
from hypothesis import strategies as st
from pydantic import ValidationError

import densespace
from densespace import OptionError, SpecError, validate_spec
from densespace._cli import main
from densespace._domains import Choice, FloatRange, IntRange, same
from densespace._points import check_point, point_of
from densespace._report import summary
from densespace._run.options import SearchOptions, TuneOptions

# ------------------------------------------------------------------ domain membership


@pytest.mark.parametrize(
    ("domain", "value", "own"),
    [
        (IntRange(min=64, max=512, step=64), 128, 128),
        (IntRange(min=64, max=512, step=64), 100, None),
        (IntRange(min=64, max=512, step=64), 128.0, None),
        (IntRange(min=64, max=512, step=64), 576, None),
        (IntRange(min=1, max=1000, sampling="log"), 37, 37),
        (IntRange(min=2, max=64, step=2, sampling="log"), 16, 16),
        (IntRange(min=2, max=64, step=2, sampling="log"), 24, None),
        (FloatRange(min=0.0, max=0.5, step=0.1), 0.3, 0.30000000000000004),
        (FloatRange(min=0.0, max=0.5, step=0.1), 0.35, None),
        (FloatRange(min=1e-4, max=1e-1, sampling="log"), 3e-3, 3e-3),
        (FloatRange(min=1e-4, max=1e-1, sampling="log"), 0.2, None),
        (FloatRange(min=0.0, max=1.0), 1, 1.0),
        (FloatRange(min=0.0, max=1.0), math.nan, None),
        (FloatRange(min=0.0, max=1.0), True, None),
        (Choice(values=["relu", "elu"]), "elu", "elu"),
        (Choice(values=[0.0, 0.5]), 0, 0.0),
        (Choice(values=[1, 2]), True, None),
        (Choice(values=[True, False]), 1, None),
    ],
)
def test_a_domain_matches_its_own_values_only(domain, value, own):
    """member() returns the domain's own value equal to a given one, and None for anything else."""
    found = domain.member(value)
    assert found == own and type(found) is type(own)


@given(
    low=st.integers(-50, 50),
    span=st.integers(0, 60),
    step=st.integers(1, 7),
    probe=st.integers(-60, 120),
)
def test_integer_membership_is_the_expanded_list(low, span, step, probe):
    """An integer range holds a value exactly when its expansion lists it."""
    domain = IntRange(min=low, max=low + span, step=step)
    assert (domain.member(probe) is not None) == (probe in domain.expand())


@given(
    low=st.floats(-10, 10),
    step=st.floats(0.01, 3),
    count=st.integers(1, 40),
    sampling=st.sampled_from(["linear", "log", "reverse_log"]),
)
def test_every_stepped_float_value_is_its_own_member(low, step, count, sampling):
    """Each value keras-tuner computes for a stepped float range is found again, exactly."""
    if sampling != "linear":
        low, step = abs(low) + 0.1, step + 1.01
    high = low + step * (count - 1) if sampling == "linear" else low * step ** (count - 1)
    try:
        domain = FloatRange(min=low, max=high, step=step, sampling=sampling)
    except ValidationError:  # steps below the precision of floats: not a range
        reject()
    for value in domain.expand():
        assert domain.member(value) == value


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [(1, 1, True), (1, 1.0, False), (1.0, 1, True), (True, 1, False), ("a", "a", True)],
)
def test_values_are_the_same_only_of_the_same_kind(a, b, expected):
    """same() tells an integer from a float and a boolean from a number."""
    assert same(a, b) is expected


# ------------------------------------------------------------------ points of a space

SPACE = validate_spec(
    spec_dict(
        input={"shape": [6]},
        hidden=[
            {"layers": {"min": 0, "max": 2}, "units": {"values": [4, 8]}, "dropout": {"values": [0.0, 0.5]}},
            {"layers": {"min": 1, "max": 2}, "units": {"values": [4, 8]}, "shared": True},
        ],
        optimizer={"learning_rate": {"min": 0.001, "max": 0.1, "sampling": "log"}},
    )
)


def _every_point(spec):
    """Every configuration of a finite space (the learning rate pinned), by brute force."""
    names = {h.name: h for h in densespace.hyperparameters(spec)}
    finite = [h for h in names.values() if h.name != "learning_rate"]
    for combo in itertools.product(
        *[h.domain.expand() if hasattr(h.domain, "expand") else h.domain.values for h in finite]
    ):
        values = dict(zip([h.name for h in finite], combo, strict=True)) | {"learning_rate": 0.01}
        active = {
            n: v
            for n, v in values.items()
            if names[n].condition is None or values[names[n].condition.parent] in names[n].condition.values
        }
        yield active


def test_every_frozen_model_maps_back_to_a_point_that_builds_it():
    """point_of(freeze(values)) gives values that resolve to the same model, for every configuration."""
    seen = 0
    for values in _every_point(SPACE):
        model = densespace.resolve(densespace.freeze(SPACE, values), {})
        point = point_of(SPACE, model)
        assert densespace.resolve(SPACE, point) == model
        assert check_point(SPACE, point, location="p") == point
        seen += 1
    assert seen > 50


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (
            {"hidden": [{"layers": 5, "units": 4}]},
            "it has 5 hidden layers; this space's models have 1 to 4",
        ),
        (
            {"hidden": [{"layers": 1, "units": 16}]},
            "its hidden layer 1's units is 16, not a value of hidden[1].units (choice 4|8)",
        ),
        (
            {"hidden": [{"layers": 1, "units": 4, "activation": "elu"}]},
            'its hidden layer 1\'s activation is "elu"; this space\'s hidden[1].activation is "relu"',
        ),
        (
            {"hidden": [{"layers": 1, "units": 4, "dropout": 0.2}]},
            "its hidden layer 1's dropout is 0.2; this space's hidden[1].dropout is 0.0",
        ),
        (
            {"hidden": [{"layers": 1, "units": 4}], "optimizer": {"learning_rate": 0.5}},
            "its learning_rate is 0.5, not a value of optimizer.learning_rate (float 0.001..0.1 (log))",
        ),
    ],
)
def test_a_model_outside_the_space_says_what_differs(model, message):
    """point_of names the first field of the model that the space cannot hold."""
    frozen = validate_spec(spec_dict(input={"shape": [6]}, **model))
    with pytest.raises(ValueError) as caught:
        point_of(SPACE, densespace.resolve(frozen, {}))
    assert str(caught.value) == message


def test_a_shared_block_cannot_take_layers_of_different_widths():
    """A model whose layers differ where the space shares one value has no point."""
    spec = validate_spec(
        spec_dict(input={"shape": [6]}, hidden={"layers": 2, "units": {"values": [4, 8]}, "shared": True})
    )
    frozen = validate_spec(
        spec_dict(input={"shape": [6]}, hidden=[{"layers": 1, "units": 8}, {"layers": 1, "units": 4}])
    )
    with pytest.raises(ValueError) as caught:
        point_of(spec, densespace.resolve(frozen, {}))
    assert str(caught.value) == "the layers of the shared block hidden would need units 8 and 4"


def test_freeze_drops_the_initial_points():
    """A frozen spec keeps no initial points: they name the searched space's hyperparameters."""
    spec = validate_spec(
        spec_dict(hidden={"units": {"values": [4, 8]}}, search={"initial_points": [{"units_0": 8}]})
    )
    assert densespace.freeze(spec, {"units_0": 4}).search.initial_points == []


# ------------------------------------------------------------------ searches

TINY = spec_dict(
    input={"shape": [4, 4, 3]},
    hidden={"layers": {"min": 1, "max": 2}, "units": {"values": [4, 8, 16]}},
    training={"epochs": 1, "batch_size": 32},
    search={"tuner": "random", "max_trials": 3, "seed": 5},
)
POINTS = [{"layers": 2, "units_0": 16, "units_1": 4}, {"layers": 1, "units_0": 4}]


def _tune(out, spec=TINY, **options):
    options.setdefault("verbose", 0)
    return densespace.tune(validate_spec(spec), data=synthetic_data(), out=out, **options)


@pytest.fixture(scope="module")
def earlier(tmp_path_factory):
    """A finished 3-trial search with one retrained model, to enqueue and warm-start from."""
    out = tmp_path_factory.mktemp("earlier") / "run"
    _tune(out)
    return out


@pytest.mark.slow
def test_initial_points_are_trained_first_in_order(tmp_path):
    """The spec's initial points are the search's first trials, then the tuner's own follow."""
    spec = spec_dict(**{**TINY, "search": {**TINY["search"], "initial_points": POINTS}})
    result = _tune(tmp_path / "run", spec)
    assert [t.values for t in result.trials[:2]] == POINTS
    assert len(result.trials) == 3 and result.trials[2].values not in POINTS


class Cut(Exception):
    """Stands for a run stopped after a trial (a kill, a Ctrl-C)."""


def _cut(trial):
    raise Cut(trial.id)


@pytest.mark.slow
def test_a_resumed_search_does_not_train_an_initial_point_again(tmp_path):
    """After a cut, the search goes on with the next due point instead of repeating one."""
    spec = spec_dict(**{**TINY, "search": {**TINY["search"], "initial_points": POINTS}})
    with pytest.raises(Cut):
        _tune(tmp_path / "run", spec, on_trial_end=_cut)
    result = _tune(tmp_path / "run", spec)
    assert [t.values for t in result.trials[:2]] == POINTS


@pytest.mark.slow
def test_enqueued_frozen_specs_and_results_folders_come_first(tmp_path, earlier):
    """--enqueue takes a frozen spec file and a results folder's best, as points of this space."""
    frozen = tmp_path / "frozen.json"
    frozen.write_text(
        json.dumps(
            spec_dict(
                input={"shape": [4, 4, 3]}, hidden=[{"layers": 1, "units": 16}, {"layers": 1, "units": 8}]
            )
        )
    )
    result = _tune(tmp_path / "run", enqueue=[frozen, earlier])
    best = densespace.load_results(earlier).best[0].values
    assert [t.values for t in result.trials[:2]] == [{"layers": 2, "units_0": 16, "units_1": 8}, best]


@pytest.mark.parametrize(
    ("written", "message"),
    [
        (
            {"hidden": {"units": {"values": [4, 8]}}},
            "--enqueue: {file} is not a frozen spec: it still tunes units_0 (write constants, or name a results folder)",
        ),
        (
            {"hidden": {"layers": 3, "units": 4}},
            "--enqueue: {file}: its model is not in this space: it has 3 hidden layers; this space's models have 1 to 2",
        ),
        (
            {"hidden": {"units": 4}, "version": 2},
            "--enqueue: {file}: version: unsupported version 2; this densespace reads version 1",
        ),
    ],
)
def test_an_enqueued_file_that_does_not_fit_is_one_line(tmp_path, capsys, written, message):
    """A file --enqueue cannot use is refused before anything is written, naming it and why."""
    path = tmp_path / "model.json"
    path.write_text(json.dumps(spec_dict(input={"shape": [4, 4, 3]}, **written)))
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(TINY))
    data = tmp_path / "data.npz"
    _write_npz(data)
    code = main(
        ["tune", str(spec), "--data", str(data), "--out", str(tmp_path / "run"), "--enqueue", str(path)]
    )
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [f"densespace: error: {message.format(file=path)}"]
    assert not (tmp_path / "run").exists()


def _write_npz(path):
    import numpy as np

    data = synthetic_data()
    np.savez(path, x_train=data.train[0], y_train=data.train[1], x_test=data.test[0], y_test=data.test[1])


@pytest.mark.slow
def test_an_enqueued_model_outside_the_constraints_is_refused(tmp_path, earlier):
    """A results folder whose best breaks this search's constraints is named with its size."""
    best = densespace.load_results(earlier).best[0]
    parameters = best.parameters
    widths = [best.values[f"units_{i}"] for i in range(best.values["layers"])]
    high = densespace.parameter_bounds(validate_spec(TINY))[1]
    bound = {"min_parameters": parameters + 1} if parameters < high else {"max_parameters": parameters - 1}
    spec = spec_dict(**{**TINY, "search": {**TINY["search"], "constraints": bound}})
    with pytest.raises(OptionError) as caught:
        _tune(tmp_path / "run", spec, enqueue=[earlier])
    assert str(caught.value) == (
        f"enqueue: {earlier} (best #1) is a model outside search.constraints ({parameters:,} trainable "
        f"parameters, hidden widths {widths})"
    )


@pytest.mark.slow
def test_more_points_than_trials_are_refused(tmp_path, earlier):
    """Initial and enqueued points together may not outnumber max_trials."""
    spec = spec_dict(**{**TINY, "search": {**TINY["search"], "max_trials": 2, "initial_points": POINTS}})
    best = densespace.load_results(earlier).best[0].values
    if best in POINTS:
        pytest.skip("the earlier run's best is one of the initial points")
    with pytest.raises(OptionError) as caught:
        _tune(tmp_path / "run", spec, enqueue=[earlier])
    assert str(caught.value) == "enqueue: 3 points to evaluate first, more than search.max_trials (2)"


@pytest.mark.slow
def test_a_warm_start_feeds_the_earlier_trials_without_training_them(tmp_path, earlier):
    """The earlier run's scored trials join the search untrained, and max_trials new ones follow."""
    before = densespace.load_results(earlier).trials
    result = _tune(tmp_path / "run", warm_start=earlier)
    warm = [t for t in result.trials if t.warm_start]
    scored = [t for t in before if t.status == "completed"]
    assert [(t.id, t.values, t.score, t.history) for t in warm] == [
        (f"warm-{i:02d}", t.values, t.score, {"val_loss": t.history["val_loss"]})
        for i, t in enumerate(scored)
    ]
    assert all(t.epochs == 0 and t.seconds == 0 for t in warm)
    assert warm[0].message == f"scored in {earlier} (trial {before[0].id}); not trained in this search"
    new = [t for t in result.trials if not t.warm_start]
    assert len(new) == 3 and all(t.epochs == 1 for t in new)
    assert {json.dumps(t.values, sort_keys=True) for t in new}.isdisjoint(
        json.dumps(t.values, sort_keys=True) for t in warm
    )
    assert result.record is not None and result.record.cost.search_epochs == 3
    fed = len(warm)
    assert summary(result.record, width=120).splitlines()[0] == (
        f"t: random search, {fed + 3} trials ({fed + 3} completed, {fed} from a warm start), objective val_loss"
    )


@pytest.mark.slow
def test_a_resumed_warm_start_does_not_feed_twice(tmp_path, earlier):
    """Running the same warm-started search again adds nothing: it is finished."""
    first = _tune(tmp_path / "run", warm_start=earlier)
    again = _tune(tmp_path / "run", warm_start=earlier)
    assert [t.id for t in again.trials] == [t.id for t in first.trials]


@pytest.mark.slow
def test_a_search_under_way_cannot_be_warm_started(tmp_path, earlier):
    """--warm-start on a folder holding this search's own trials is refused, saying how to go on."""
    with pytest.raises(Cut):
        _tune(tmp_path / "run", on_trial_end=_cut)
    with pytest.raises(OptionError) as caught:
        _tune(tmp_path / "run", warm_start=earlier)
    assert caught.value.for_cli() == (
        f"--warm-start starts a new search, and {tmp_path / 'run'}: its folder holds 1 trials of this search "
        "already (run again without --warm-start to resume it, or with --overwrite to start over)"
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"hidden": {"units": {"values": [4, 8]}}},
            "searched another space, so its scores do not carry over: hidden.units.values "
            "([4, 8, 16] there, [4, 8] here)",
        ),
        (
            {"training": {"epochs": 2}},
            "searched another space, so its scores do not carry over: training.epochs (1 there, 2 here)",
        ),
        (
            {"search": {"objective": "val_accuracy"}},
            'searched another space, so its scores do not carry over: search.objective ("val_loss" there, '
            '"val_accuracy" here)',
        ),
    ],
)
def test_a_warm_start_from_another_space_says_which_part_differs(tmp_path, earlier, change, message):
    """A warm start is refused when the earlier run's spec differs outside the search's own options."""
    from helpers import merge

    with pytest.raises(OptionError) as caught:
        _tune(tmp_path / "run", merge(TINY, change), warm_start=earlier)
    assert str(caught.value) == f"warm_start: {earlier} {message}"
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_warm_start_from_other_data_is_refused(tmp_path, earlier):
    """The earlier run's data digest must be this run's."""
    with pytest.raises(OptionError, match=r"searched other data, so its scores do not carry over: digest "):
        densespace.tune(
            validate_spec(TINY),
            data=synthetic_data(seed=1),
            out=tmp_path / "run",
            verbose=0,
            warm_start=earlier,
        )


def test_a_warm_start_from_a_folder_without_results_is_one_line(tmp_path):
    """A folder that is no results folder is named with what is missing."""
    with pytest.raises(OptionError) as caught:
        _tune(tmp_path / "run", warm_start=tmp_path)
    assert str(caught.value) == (
        f"warm_start: {tmp_path}/results.json does not exist: is this a finished densespace tune --out folder?"
    )


@pytest.mark.parametrize("tuner", ["hyperband", "grid"])
@pytest.mark.parametrize("option", ["enqueue", "warm_start"])
def test_tuners_that_choose_every_model_refuse_given_ones(tuner, option):
    """Hyperband and grid searches refuse --enqueue and --warm-start like initial_points."""
    value = ["x.json"] if option == "enqueue" else "x"
    with pytest.raises(OptionError) as caught:
        TuneOptions.create(validate_spec(TINY), SearchOptions(tuner=tuner, **{option: value}))
    reason = validate_spec(merge_tuner(tuner)).search.NO_POINTS
    assert caught.value.for_cli() == (
        f"{reason}: remove --{option.replace('_', '-')}, or use the random, bayesian or tpe tuner"
    )


def merge_tuner(tuner):
    """TINY with another tuner (its options dropped)."""
    return {**TINY, "search": {"tuner": tuner}}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"enqueue": "best.json"}, "enqueue must be a list of paths (received str)"),
        ({"enqueue": [""]}, 'enqueue[0] must be a path (received "")'),
        ({"warm_start": 3}, "warm_start must be a path (received 3)"),
        (
            {"enqueue": ["a.json"], "worker": "127.0.0.1:1", "worker_id": "w"},
            "enqueue is for the chief or a single machine, not a worker",
        ),
    ],
)
def test_malformed_warm_start_options_are_option_errors(options, message):
    """enqueue and warm_start are checked before anything is loaded."""
    with pytest.raises(OptionError) as caught:
        TuneOptions.create(validate_spec(TINY), SearchOptions(**options))
    assert str(caught.value) == message


def test_initial_points_spec_errors_locate_the_point():
    """A point's problem is reported at its place in search.initial_points."""
    spec = spec_dict(
        **{**TINY, "search": {**TINY["search"], "initial_points": [POINTS[0], {"layers": 1, "units_0": 5}]}}
    )
    with pytest.raises(SpecError) as caught:
        validate_spec(spec)
    assert (
        str(caught.value)
        == "search.initial_points[1].units_0: 5 is not a value of hidden.units (choice 4|8|16)"
    )


def test_a_warm_start_folder_that_is_not_a_run_is_one_line_on_the_command_line(tmp_path, capsys):
    """densespace tune --warm-start names the flag and the missing results file, exit 2."""
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(TINY))
    data = tmp_path / "data.npz"
    _write_npz(data)
    code = main(
        [
            "tune",
            str(spec),
            "--data",
            str(data),
            "--out",
            str(tmp_path / "run"),
            "--warm-start",
            str(tmp_path),
        ]
    )
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"densespace: error: --warm-start: {tmp_path}/results.json does not exist: "
        "is this a finished densespace tune --out folder?"
    ]


def test_points_are_compared_without_bookkeeping_values():
    """A trial whose values carry a distributed search's fingerprint still counts as the point's."""
    from types import SimpleNamespace

    from densespace._keras.oracle import due

    trial = SimpleNamespace(
        hyperparameters=SimpleNamespace(values={"units_0": 8, "densespace/fingerprint": "f"})
    )
    oracle = SimpleNamespace(trials={"0": trial})
    assert due(oracle, [{"units_0": 8}, {"units_0": 4}]) == [{"units_0": 4}]


def _edited_copy(earlier, tmp_path, edit):
    """A copy of the earlier run folder whose results.json ``edit`` changed."""
    import shutil

    copy = tmp_path / "edited"
    shutil.copytree(earlier, copy)
    record = json.loads((copy / "results.json").read_text())
    edit(record)
    (copy / "results.json").write_text(json.dumps(record))
    return copy


@pytest.mark.slow
@pytest.mark.parametrize(
    ("values", "problem"),
    [
        (
            {"layers": 1, "units_0": 5},
            "trials[0].values.units_0: 5 is not a value of hidden.units (choice 4|8|16)",
        ),
        ({"layers": 1}, "trials[0].values: no value for units_0 (hidden.units, choice 4|8|16)"),
        (
            {"layers": 1, "units_0": 4, "bogus": 1},
            "trials[0].values.bogus: not a hyperparameter of this space (its hyperparameters: layers, units_0, "
            "units_1)",
        ),
    ],
)
def test_a_warm_start_from_a_damaged_results_file_is_one_line(tmp_path, earlier, values, problem):
    """Trial values that are no point of the space are refused, naming the file and the place."""

    def damage(record):
        record["trials"][0]["values"] = values

    copy = _edited_copy(earlier, tmp_path, damage)
    with pytest.raises(OptionError) as caught:
        _tune(tmp_path / "run", warm_start=copy)
    assert str(caught.value) == f"warm_start: {copy}/results.json: {problem}"


@pytest.mark.slow
def test_warm_start_trials_outside_the_constraints_are_left_out(tmp_path, earlier):
    """Only the earlier trials within this search's constraints are fed."""
    trials = [t for t in densespace.load_results(earlier).trials if t.status == "completed"]
    smallest = min(t.parameters for t in trials)
    spec = spec_dict(**{**TINY, "search": {**TINY["search"], "constraints": {"max_parameters": smallest}}})
    result = _tune(tmp_path / "run", spec, warm_start=earlier)
    assert {t.message for t in result.trials if t.warm_start} == {
        f"scored in {earlier} (trial {t.id}); not trained in this search"
        for t in trials
        if t.parameters == smallest
    }


@pytest.mark.slow
def test_a_warm_started_search_resumes_without_reading_the_earlier_run_again(tmp_path, earlier):
    """After a cut, the same command resumes even when the earlier folder changed or is gone."""
    import shutil

    copy = tmp_path / "earlier"
    shutil.copytree(earlier, copy)
    with pytest.raises(Cut):
        _tune(tmp_path / "run", warm_start=copy, on_trial_end=_cut)
    shutil.rmtree(copy)
    result = _tune(tmp_path / "run", warm_start=copy)
    assert sum(not t.warm_start for t in result.trials) == 3


@pytest.mark.slow
def test_the_schema_key_does_not_make_another_space(tmp_path, earlier):
    """A spec that names its JSON Schema warm-starts from a run whose spec did not."""
    spec = {**TINY, "$schema": "https://densespace.dev/schemas/densespace-spec-v1.schema.json"}
    result = _tune(tmp_path / "run", spec, warm_start=earlier)
    assert any(t.warm_start for t in result.trials)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda record: record["best"][0].update(values={}),
            "best[0].values: no value for layers (hidden.layers, int 1..2)",
        ),
        (
            lambda record: record["spec"]["hidden"].update(units={"values": [4, 4]}),
            "spec.hidden.units.values: duplicate value 4",
        ),
    ],
)
def test_an_enqueued_damaged_results_folder_is_one_line(tmp_path, earlier, edit, message):
    """A results folder whose best values or spec are damaged is refused, naming the file and the place."""
    copy = _edited_copy(earlier, tmp_path, edit)
    with pytest.raises(OptionError) as caught:
        _tune(tmp_path / "run", enqueue=[copy])
    assert str(caught.value) == f"enqueue: {copy}/results.json: {message}"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("ids", "where"),
    [
        (["", "01", "02"], "trials[0].id"),
        (["/../../../victim/search/trial_0", "01", "02"], "trials[0].id"),
        (["00", "x" * 300, "02"], "trials[1].id"),
        (["00", "0\n<img src=x onerror=alert(1)>", "02"], "trials[1].id"),
        (["00", "00", "02"], "trials[1].id"),
    ],
    ids=["empty", "path", "long", "markup", "duplicate"],
)
def test_a_warm_start_never_makes_a_path_of_a_recorded_trial_id(tmp_path, earlier, ids, where):
    """Recorded ids that are no trial ids are refused before anything is written, here or elsewhere."""
    victim = tmp_path / "victim/search/trial_0"
    victim.mkdir(parents=True)
    (victim / "trial.json").write_text("theirs")

    def damage(record):
        for trial, trial_id in zip(record["trials"], ids, strict=True):
            trial["id"] = trial_id

    copy = _edited_copy(earlier, tmp_path, damage)
    with pytest.raises(OptionError) as caught:
        _tune(tmp_path / "run", warm_start=copy)
    assert str(caught.value).startswith(
        f"warm_start: {copy}/results.json: not a densespace results file: {where}: "
    )
    assert "\n" not in str(caught.value)
    assert (victim / "trial.json").read_text() == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edited", "victim"]


@pytest.mark.slow
def test_warm_start_trials_are_numbered_by_densespace(tmp_path, earlier):
    """Fed trials live in search/trial_warm-NN folders, whatever the earlier run called them."""
    _tune(tmp_path / "run", warm_start=earlier)
    fed = sorted(p.name for p in (tmp_path / "run/search").glob("trial_warm-*"))
    scored = [t for t in densespace.load_results(earlier).trials if t.status == "completed"]
    assert fed == [f"trial_warm-{i:02d}" for i in range(len(scored))]


@pytest.mark.slow
def test_a_history_longer_than_the_epochs_is_refused(tmp_path, earlier):
    """A warm-start trial whose history outlasts training.epochs is a damaged file, named as such."""

    def damage(record):
        record["trials"][0]["history"]["val_loss"] *= 5

    copy = _edited_copy(earlier, tmp_path, damage)
    with pytest.raises(OptionError) as caught:
        _tune(tmp_path / "run", warm_start=copy)
    assert str(caught.value) == (
        f"warm_start: {copy}/results.json: trials[0].history.val_loss: 5 epochs, more than training.epochs (1); "
        "the file is damaged"
    )
