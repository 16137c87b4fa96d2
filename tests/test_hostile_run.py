"""Hostile runs: silent chiefs, damaged keras-tuner state, grids of infeasible points, huge numbers."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path
from types import SimpleNamespace

import grpc
import keras_tuner
import pytest
from helpers import spec_dict, synthetic_data
from helpers.oracles import drive, oracle
from keras_tuner.src.distribute.oracle_client import OracleClient

import densespace
from densespace import PeerError, RunFolderError, _space
from densespace._cli import main
from densespace._keras.oracle import ORACLE_CLASSES
from densespace._keras.state import check_state
from densespace._keras.tuners import ChiefLost, bound_chief_calls

ADVICE = (
    "check that the chief runs (restarted on the same --out, it resumes the search; then restart this "
    "worker with the same --worker-id), or raise --connect-timeout"
)


def _client(monkeypatch: pytest.MonkeyPatch, port: int, timeout: float) -> OracleClient:
    """keras-tuner's client of a chief on loopback ``port``, its calls bounded by ``timeout``."""
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", str(port))
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "w1")
    client = OracleClient(None)
    bound_chief_calls(SimpleNamespace(oracle=client), timeout=timeout)
    return client


@pytest.mark.parametrize("listening", [True, False], ids=["silent-chief", "dead-chief"])
@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda c: c.get_space(), "GetSpace"),
        (lambda c: c.create_trial("w1"), "CreateTrial"),
        (lambda c: c.get_best_trials(3), "GetBestTrials"),
    ],
    ids=["get_space", "create_trial", "get_best_trials"],
)
def test_a_chief_that_never_answers_ends_the_worker_with_a_peer_error(monkeypatch, listening, call, name):
    """A chief that accepts and never answers, or is gone, fails each call after the deadline."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
        if listening:
            server.listen()  # accepts connections (the kernel's backlog), never answers
        else:
            server.close()
        client = _client(monkeypatch, port, timeout=1)
        with pytest.raises(PeerError) as info:
            call(client)
    assert str(info.value) == (
        f"the chief at 127.0.0.1:{port} did not answer this worker's {name} call within 1 s; {ADVICE}"
    )


class _Failed(grpc.RpcError):
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNKNOWN

    def details(self) -> str:
        return "Exception calling application: boom"


def test_a_chief_call_gets_the_deadline_and_its_failure_ends_the_search(monkeypatch):
    """Each call goes out with the deadline instead of keras-tuner's hour; a failed one is fatal."""
    received = []

    def get_space(request, **options):
        received.append(options)
        raise _Failed()

    client = _client(monkeypatch, 9, timeout=7)
    client.stub._stub = SimpleNamespace(GetSpace=get_space)
    with pytest.raises(ChiefLost) as info:
        client.get_space()
    assert received == [{"wait_for_ready": True, "timeout": 7}]
    assert str(info.value) == (
        "the chief at 127.0.0.1:9 failed this worker's GetSpace call (UNKNOWN: Exception calling "
        f"application: boom); {ADVICE}"
    )
    assert isinstance(info.value, keras_tuner.errors.FatalError)  # keras-tuner re-raises it


def _grid_spec(hidden: object, constraints: dict[str, object]) -> densespace.Spec:
    return densespace.validate_spec(
        spec_dict(
            input={"shape": [4], "preprocessing": "none"},
            output={"units": 2},
            hidden=hidden,
            search={"tuner": "grid", "max_trials": 100_000, "constraints": constraints},
        )
    )


def _proposals(spec: densespace.Spec, directory: Path) -> list[dict[str, object]]:
    """Every point a grid oracle proposes, each trial ended at once (nothing built, trained or saved)."""
    return drive(oracle(spec, directory, saved=False))


@pytest.mark.parametrize(
    ("hidden", "constraints"),
    [
        (
            {
                "layers": {"min": 1, "max": 3},
                "units": {"values": [2, 4, 8]},
                "batch_norm": {"values": [False, True]},
                "activation": {"values": ["relu", "elu"]},
            },
            {"funnel": True, "min_parameters": 60, "max_parameters": 150},
        ),
        (
            [
                {"layers": {"min": 0, "max": 2}, "units": {"values": [2, 8]}},
                {"layers": {"min": 1, "max": 2}, "units": {"values": [2, 4, 8]}, "shared": True},
            ],
            {"funnel": True, "min_parameters": 40},
        ),
    ],
    ids=["one-block", "shared-block"],
)
def test_the_grid_proposes_exactly_the_feasible_points_in_grid_order(tmp_path, hidden, constraints):
    """Skipping sub-grids leaves keras-tuner's grid order and its feasible points unchanged."""
    spec = _grid_spec(hidden, constraints)
    every = _proposals(_grid_spec(hidden, {}), tmp_path / "all")
    proposed = _proposals(spec, tmp_path / "feasible")
    assert proposed == [values for values in every if densespace.feasible(spec, values)]
    assert len(proposed) == densespace.feasible_configurations(spec)


def test_a_grid_skips_a_large_infeasible_sub_grid_in_a_few_counts(tmp_path, monkeypatch):
    """262,141 infeasible points before the 3 feasible ones take a bounded number of exact counts."""
    spec = _grid_spec({"layers": 3, "units": {"min": 1, "max": 64}}, {"min_parameters": 8700})
    counts = []
    count = _space.feasible_space
    monkeypatch.setattr(_space, "feasible_space", lambda *a, **k: counts.append(1) or count(*a, **k))
    proposed = _proposals(spec, tmp_path)
    assert proposed == [
        {"units_0": 63, "units_1": 64, "units_2": 64},
        {"units_0": 64, "units_1": 64, "units_2": 63},
        {"units_0": 64, "units_1": 64, "units_2": 64},
    ]
    assert len(counts) < 2_000  # about 3 bisection steps per value of each of the 3 widths


def _grid_oracle(directory: Path) -> keras_tuner.Oracle:
    oracle = ORACLE_CLASSES["grid"](
        objective="val_loss", spec=densespace.validate_spec(spec_dict(search={"tuner": "grid"}))
    )
    oracle._set_project_dir(str(directory), "search")
    oracle._display.verbose = 0
    space = oracle.get_space()
    space.Choice("a", [1, 2])
    space.Choice("b", [3, 4, 5])
    oracle.update_space(space)
    return oracle


def _run(oracle: keras_tuner.Oracle, trials: int, *, last_unfinished: bool = False) -> list[tuple[int, int]]:
    """The values of up to ``trials`` trials the oracle proposes, each ended (the last one left
    running with ``last_unfinished``), its state saved after each."""
    seen: list[tuple[int, int]] = []
    for _ in range(trials):
        trial = oracle.create_trial("tuner0")
        if trial.status != "RUNNING":
            break
        seen.append((trial.hyperparameters.values["a"], trial.hyperparameters.values["b"]))
        if not (last_unfinished and len(seen) == trials):
            oracle.update_trial(trial.trial_id, {"val_loss": 1.0})
            trial.status = "COMPLETED"
            oracle.end_trial(trial)
        oracle.save()
    return seen


@pytest.mark.parametrize(
    ("last_unfinished", "after"),
    [(False, [(2, 3), (2, 4), (2, 5)]), (True, [(1, 5), (2, 3), (2, 4), (2, 5)])],
    ids=["ended", "killed-mid-trial"],
)
def test_a_reloaded_grid_goes_on_where_it_stopped(tmp_path, last_unfinished, after):
    """A grid search resumed from its folder runs the rest of the grid (keras-tuner alone stops or fails)."""
    assert _run(_grid_oracle(tmp_path), 3, last_unfinished=last_unfinished) == [(1, 3), (1, 4), (1, 5)]
    again = _grid_oracle(tmp_path)
    again.reload()
    assert _run(again, 10) == after


@pytest.mark.slow
def test_a_time_limit_spent_before_the_first_trial_still_runs_one(tmp_path, monkeypatch):
    """A search whose set-up outlasts the time limit runs its first trial, then stops for the limit."""
    monkeypatch.setattr("densespace._budgets.clock", iter(range(0, 10**6, 100)).__next__)
    spec = densespace.validate_spec(
        spec_dict(
            input={"shape": [4, 4, 3]},
            hidden={"units": {"values": [4, 8]}},
            training={"epochs": 1, "batch_size": 32},
            search={"tuner": "grid"},
        )
    )
    result = densespace.tune(
        spec, data=synthetic_data(), out=tmp_path, time_limit=13, retrain_top=0, verbose=0
    )
    assert len(result.trials) == 1
    assert result.record is not None and result.record.stopped == "time_limit"


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A keras-tuner project as a search leaves it: trial 0 completed, trial 1 running."""
    oracle = keras_tuner.oracles.RandomSearchOracle(objective="val_loss", max_trials=3, seed=1)
    oracle._set_project_dir(str(tmp_path_factory.mktemp("state")), "search")
    oracle._display.verbose = 0
    space = oracle.get_space()
    space.Int("units", 1, 4)
    oracle.update_space(space)
    trial = oracle.create_trial("tuner0")
    oracle.update_trial(trial.trial_id, {"val_loss": 0.5})
    trial.status = "COMPLETED"
    oracle.end_trial(trial)
    oracle.create_trial("tuner0")
    oracle.save()
    return Path(oracle._project_dir)


def _set(name: str, key: str, value: object):
    def damage(project: Path) -> None:
        path = project / name
        content = json.loads(path.read_text())
        content[key] = value
        path.write_text(json.dumps(content))

    return damage


@pytest.mark.parametrize(
    ("damage", "name", "problem"),
    [
        (
            _set("trial_1/trial.json", "trial_id", "0"),
            "trial_1/trial.json",
            'trial_id "0" is not its folder\'s (trial_1)',
        ),
        (
            _set("trial_0/trial.json", "status", "EXPLODED"),
            "trial_0/trial.json",
            'status "EXPLODED" is not a keras-tuner trial status (RUNNING, IDLE, INVALID, STOPPED, COMPLETED, FAILED)',
        ),
        (
            _set("trial_0/trial.json", "metrics", []),
            "trial_0/trial.json",
            "the trial cannot be read by keras-tuner (TypeError: list indices must be integers or slices, not str)",
        ),
        (
            _set("oracle.json", "ongoing_trials", []),
            "oracle.json",
            "ongoing_trials must be an object (received [])",
        ),
        (_set("oracle.json", "seed", "1"), "oracle.json", 'seed must be an integer (received "1")'),
        (_set("oracle.json", "end_order", {}), "oracle.json", "end_order must be a list (received {})"),
        (
            _set("oracle.json", "ongoing_trials", {"tuner0": "7"}),
            "oracle.json",
            'ongoing_trials.tuner0 names trial "7", which the project does not hold',
        ),
        (
            _set("oracle.json", "start_order", ["0", 1]),
            "oracle.json",
            "start_order[1] names trial 1, which the project does not hold",
        ),
        (
            _set("oracle.json", "display", {"search_start": "soon", "trial_start": {}, "trial_number": {}}),
            "oracle.json",
            "display cannot be read by keras-tuner (ValueError: Invalid isoformat string: 'soon')",
        ),
        (_set("oracle.json", "infeasible", {}), "oracle.json", "infeasible must be a list (received {})"),
        (
            _set("oracle.json", "infeasible", [{"units": 1}, 2]),
            "oracle.json",
            "infeasible[1] must be an object (received 2)",
        ),
    ],
    ids=[
        "trial-id",
        "status",
        "metrics",
        "ongoing-type",
        "seed-type",
        "order-type",
        "unknown-ongoing",
        "unknown-started",
        "display",
        "infeasible-type",
        "infeasible-entry",
    ],
)
def test_damaged_keras_tuner_state_is_refused_naming_the_file_and_field(
    state, tmp_path, damage, name, problem
):
    """Damaged keras-tuner state is refused before keras-tuner reads it, in one line with what to do."""
    check_state(state)  # the state as keras-tuner left it passes
    project = tmp_path / "search"
    shutil.copytree(state, project)
    damage(project)
    with pytest.raises(RunFolderError) as info:
        check_state(project)
    assert str(info.value) == (
        f"{project / name}: {problem}; the file is damaged; keras-tuner cannot resume the search in "
        f"{tmp_path} from it: run again with --overwrite (overwrite=True) to start over"
    )


HUGE = 10**400


@pytest.mark.parametrize(
    ("domain", "name", "value", "of"),
    [
        (
            {"units": {"min": 64, "max": 512, "step": 64}},
            "units_0",
            HUGE,
            "hidden.units (int 64..512 step 64)",
        ),
        (
            {"units": {"min": 8, "max": 64, "sampling": "log", "step": 2}},
            "units_0",
            -HUGE,
            "hidden.units (int 8..64 step 2 (log))",
        ),
        (
            {"units": 8, "dropout": {"min": 0.0, "max": 0.5, "step": 0.1}},
            "dropout_0",
            HUGE,
            "hidden.dropout (float 0.0..0.5 step 0.1)",
        ),
        (
            {"units": 8, "dropout": {"min": 0.0, "max": 0.5}},
            "dropout_0",
            HUGE,
            "hidden.dropout (float 0.0..0.5)",
        ),
        ({"units": {"values": [8, 16]}}, "units_0", HUGE, "hidden.units (choice 8|16)"),
    ],
    ids=["int-step", "int-log", "float-step", "float-continuous", "choice"],
)
def test_a_huge_integer_in_an_initial_point_is_a_located_problem(tmp_path, capsys, domain, name, value, of):
    """An initial point's 400-digit integer is one located line at exit 2, not an OverflowError."""
    path = tmp_path / "spec.json"
    path.write_text(
        json.dumps(spec_dict(hidden=domain, search={"tuner": "random", "initial_points": [{name: value}]}))
    )
    assert main(["validate", str(path)]) == 2
    shown = str(value)[:197] + "..."
    assert capsys.readouterr().err == (
        f"{path}: search.initial_points[0].{name}: {shown} is not a value of {of}\n"
    )


@pytest.mark.parametrize("json_flag", [[], ["--json"]], ids=["plain", "json"])
def test_inspect_names_constraints_that_no_model_meets_on_the_assumed_shape(tmp_path, capsys, json_flag):
    """Without input.shape, inspect counts on CIFAR-10's shape and says when nothing is left there."""
    path = tmp_path / "spec.json"
    path.write_text(
        json.dumps(
            spec_dict(
                hidden={"layers": {"min": 2, "max": 4}, "units": {"min": 64, "max": 512, "step": 64}},
                search={"constraints": {"max_parameters": 100_000}},
            )
        )
    )
    assert main(["validate", str(path)]) == 0  # left to the data
    capsys.readouterr()
    assert main(["inspect", str(path), *json_flag]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"{path}: search.constraints: no configuration of this space has at most 100,000 trainable "
        "parameters (the space holds 201,482 to 2,366,474) on the input shape [32, 32, 3], counted as "
        "the spec sets no input.shape; set input.shape to the data's\n"
    )
