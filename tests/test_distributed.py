"""Distributed tuning on keras-tuner's chief/worker engine, on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from helpers import ROOT, spec_dict, synthetic_data

import densespace
from densespace import DensespaceError, validate_spec
from densespace._run.options import Distributed

pytestmark = [pytest.mark.distributed, pytest.mark.slow]

SPEC = spec_dict(
    input={"shape": [4, 4, 3]},
    hidden={"layers": {"min": 1, "max": 2}, "units": {"values": [4, 8, 16]}},
    training={"epochs": 2, "batch_size": 16},
    search={"tuner": "random", "max_trials": 6, "seed": 1},
)

ROLE = """
import json, os, sys
sys.path.insert(0, {tests!r})
import densespace
from helpers import synthetic_data
spec = densespace.validate_spec(json.loads({spec!r}))
result = densespace.tune(spec, data=synthetic_data(train={train}), out={out!r}, retrain_top=1, verbose=0, **{options!r})
print("TRIALS " + json.dumps([t["id"] for t in result.results["trials"]]))
"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(tmp_path, spec, options, *, env=None, train=120):
    script = ROLE.format(
        tests=str(ROOT / "tests"),
        spec=json.dumps(spec),
        out=str(tmp_path / "out"),
        options=options,
        train=train,
    )
    return subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
    )


def _trials_of(process, timeout=120):
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-2000:]
    return json.loads(next(line for line in out.splitlines() if line.startswith("TRIALS "))[7:])


def test_chief_and_two_workers_run_every_trial_once(tmp_path):
    """Two workers share the trials, each trial runs once, and the chief writes the usual results."""
    port = _free_port()
    chief = _start(tmp_path, SPEC, {"chief": f"127.0.0.1:{port}"})
    first = _start(tmp_path, SPEC, {"worker": f"127.0.0.1:{port}", "worker_id": "w1"})
    by_hand = _start(
        tmp_path,
        SPEC,
        {},
        env={
            "KERASTUNER_ORACLE_IP": "127.0.0.1",
            "KERASTUNER_ORACLE_PORT": str(port),
            "KERASTUNER_TUNER_ID": "w2",
        },
    )
    ran = [_trials_of(first), _trials_of(by_hand)]
    everything = _trials_of(chief)
    assert all(ran), "both workers ran at least one trial"
    assert sorted(ran[0] + ran[1]) == sorted(everything) == [str(i) for i in range(6)]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [t["status"] for t in results["trials"]] == ["completed"] * 6
    assert all(t["seconds"] > 0 and t["epochs"] == 2 for t in results["trials"])
    assert all("/" not in name for t in results["trials"] for name in t["values"])
    assert [b["rank"] for b in results["best"]] == [1]
    for name in ("trials.csv", "report.md", "scores.png", "best-1.keras", "best-1.spec.json"):
        assert (tmp_path / "out" / name).exists()


def _ongoing(out):
    """The chief's trials in progress, by worker id (keras-tuner saves them as it hands them out)."""
    try:
        return json.loads((out / "search" / "oracle.json").read_text())["ongoing_trials"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return {}


def test_a_worker_killed_mid_trial_rejoins_and_the_search_completes(tmp_path):
    """SIGKILL one worker during a trial; the other goes on, and the worker restarted with
    the same id runs that trial again, so the search completes."""
    spec = dict(SPEC, training={"epochs": 15, "batch_size": 16})
    port = _free_port()
    chief = _start(tmp_path, spec, {"chief": f"127.0.0.1:{port}"})
    doomed = _start(tmp_path, spec, {"worker": f"127.0.0.1:{port}", "worker_id": "doomed"})
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and "doomed" not in _ongoing(tmp_path / "out"):
        time.sleep(0.05)
    os.kill(doomed.pid, signal.SIGKILL)  # at once: the trial it was handed is the one cut short
    doomed.wait()
    interrupted = _ongoing(tmp_path / "out")["doomed"]
    # the steady worker starts after the kill: it can neither take every trial first nor the cut one
    steady = _start(tmp_path, spec, {"worker": f"127.0.0.1:{port}", "worker_id": "steady"})
    again = _start(tmp_path, spec, {"worker": f"127.0.0.1:{port}", "worker_id": "doomed"})
    ran_again = _trials_of(again)
    ran = _trials_of(steady) + ran_again
    everything = _trials_of(chief, timeout=180)
    assert interrupted in ran_again
    assert sorted(everything) == sorted(ran) == [str(i) for i in range(6)]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [t["status"] for t in results["trials"]] == ["completed"] * 6


def test_a_worker_with_another_spec_is_refused(tmp_path):
    """A worker whose spec differs from the chief's is refused before it trains anything."""
    port = _free_port()
    chief = _start(tmp_path, SPEC, {"chief": f"127.0.0.1:{port}"})
    try:
        other = validate_spec(dict(SPEC, training={"epochs": 3, "batch_size": 16}))
        with pytest.raises(
            DensespaceError,
            match=r"^this worker's spec differs from the chief's \(chief spec:\w{16}/data:\w{16}, worker spec:",
        ):
            densespace.tune(
                other,
                data=synthetic_data(),
                out=tmp_path / "worker",
                verbose=0,
                worker=f"127.0.0.1:{port}",
                worker_id="w1",
            )
        assert "KERASTUNER_ORACLE_IP" not in os.environ
    finally:
        chief.kill()
        chief.wait()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"chief": "127.0.0.1:1", "worker": "127.0.0.1:1", "worker_id": "w"},
            "--chief and --worker exclude each other",
        ),
        ({"worker": "127.0.0.1:8000"}, "--worker needs --worker-id, a name unique among the workers"),
        ({"worker_id": "w1"}, "--worker-id goes with --worker"),
        (
            {"worker": "h:1", "worker_id": "chief2"},
            "--worker-id: use letters, digits, '.', '_' and '-', without 'chief' (received 'chief2')",
        ),
        (
            {"chief": "localhost"},
            "--chief: expected HOST:PORT, such as 127.0.0.1:8000 (received 'localhost')",
        ),
        (
            {"worker": "h:99999", "worker_id": "w"},
            "--worker: expected HOST:PORT, such as 127.0.0.1:8000 (received 'h:99999')",
        ),
    ],
)
def test_bad_distributed_options(options, message):
    """Bad --chief, --worker and --worker-id combinations are refused with one clear message."""
    with pytest.raises(densespace.OptionError) as info:
        Distributed.from_options(
            chief=options.get("chief"), worker=options.get("worker"), worker_id=options.get("worker_id")
        )
    assert info.value.for_cli() == message


def test_option_errors_name_python_keywords_in_python():
    """From Python, an option error names the keyword arguments, not the flags."""
    with pytest.raises(densespace.OptionError) as info:
        densespace.tune(validate_spec(SPEC), data=synthetic_data(), worker="127.0.0.1:8000")
    assert str(info.value) == "worker needs worker_id, a name unique among the workers"
    assert isinstance(info.value, ValueError)


def test_the_environment_of_a_role():
    """--chief and --worker set keras-tuner's own variables."""
    chief = Distributed.from_options(chief="0.0.0.0:8000", worker=None, worker_id=None)
    assert chief is not None and chief.environment() == {
        "KERASTUNER_ORACLE_IP": "0.0.0.0",
        "KERASTUNER_ORACLE_PORT": "8000",
        "KERASTUNER_TUNER_ID": "chief",
    }
    worker = Distributed.from_options(chief=None, worker="[::1]:9", worker_id="w-1")
    assert worker is not None and worker.environment() == {
        "KERASTUNER_ORACLE_IP": "::1",
        "KERASTUNER_ORACLE_PORT": "9",
        "KERASTUNER_TUNER_ID": "w-1",
    }


def test_braces_in_a_received_value_stay_as_they_are():
    """An option error quoting a received value with braces shows it, instead of failing to format."""
    with pytest.raises(densespace.OptionError) as info:
        Distributed.from_options(chief="{a}:{b}", worker=None, worker_id=None)
    assert info.value.for_cli() == "--chief: expected HOST:PORT, such as 127.0.0.1:8000 (received '{a}:{b}')"
    assert str(info.value) == "chief: expected HOST:PORT, such as 127.0.0.1:8000 (received '{a}:{b}')"
