"""Times one search with one and with two worker processes on keras-tuner's chief/worker engine.

    python bench/distributed.py [--data PATH] [--trials 8] [--epochs 2] [--limit 2000] [--repeats 1]

The same search (``examples/seed-depth-width.json``, RandomSearch, seed 1) runs
three ways on this machine, each process fresh: in one process (no chief), as a
chief with one worker, and as a chief with two workers. Reported: wall seconds
from starting the chief to its exit (the chief retrains nothing: ``retrain_top=0``),
the ratio two workers / one worker, and the coordination seconds per trial on a
worker: its time inside ``densespace.tune`` (hypermodel, data pipeline, connecting,
every gRPC exchange, training) between the end of its first trial and the end
of its last, minus the seconds those trials report, divided by their number
(start-up, which includes waiting for the chief to come up, is left out). keras-tuner's chief checks for the end of the search every 20 s once
a worker has been told to stop; that wait is part of the wall time and is shown apart.

Writes bench/results/distributed.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SPEC = ROOT / "examples" / "seed-depth-width.json"

ROLE = """
import json, sys, time
import densespace
from densespace.datasets import load_cifar10
data = load_cifar10({data!r}, limit={limit}, seed=0)
spec = densespace.load_spec({spec!r})
ends = []
densespace.tune(spec, data=data, tuner="random", max_trials={trials}, epochs={epochs}, seed=1,
                retrain_top=0, out={out!r}, verbose=0, on_trial_end=lambda t: ends.append((time.monotonic(), t["seconds"])),
                **{options!r})
print("RESULT " + json.dumps({{"ends": ends}}))
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: argparse.Namespace, out: Path, options: dict) -> subprocess.Popen:
    script = ROLE.format(
        data=args.data,
        limit=args.limit,
        spec=str(SPEC),
        trials=args.trials,
        epochs=args.epochs,
        out=str(out),
        options=options,
    )
    return subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


def _result(process: subprocess.Popen) -> dict:
    out, _ = process.communicate()
    if process.returncode:
        raise SystemExit(f"a process failed with status {process.returncode}")
    return json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])


def _run(args: argparse.Namespace, workers: int) -> dict:
    """One search with ``workers`` worker processes (0: a single process); wall seconds and worker figures."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        start = time.monotonic()
        if workers == 0:
            single = _result(_start(args, out, {}))
            return {"wall": time.monotonic() - start, "workers": [single]}
        address = f"127.0.0.1:{_port()}"
        chief = _start(args, out, {"chief": address})
        processes = [_start(args, out, {"worker": address, "worker_id": f"w{i}"}) for i in range(workers)]
        figures = [_result(p) for p in processes]
        workers_done = time.monotonic()
        _result(chief)
        end = time.monotonic()
        return {"wall": end - start, "end_wait": end - workers_done, "workers": figures}


def _coordination(run: dict) -> float:
    """Seconds per trial between a worker's trials that are not spent in them (after its first trial)."""
    gaps, count = 0.0, 0
    for figures in run["workers"]:
        ends = figures["ends"]
        gaps += ends[-1][0] - ends[0][0] - sum(seconds for _, seconds in ends[1:])
        count += len(ends) - 1
    return gaps / count


def main() -> None:
    """Runs the three configurations and writes the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", default=str(Path("~/.cache/densespace-bench/cifar10/cifar-10-batches-bin").expanduser())
    )
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    runs: dict[str, list[dict]] = {"single process": [], "chief + 1 worker": [], "chief + 2 workers": []}
    for _ in range(args.repeats):
        for name, workers in zip(runs, (0, 1, 2), strict=False):
            runs[name].append(_run(args, workers))
            print(f"{name}: {runs[name][-1]['wall']:.1f} s", file=sys.stderr)

    def median(name: str, key) -> float:
        return statistics.median(key(r) for r in runs[name])

    table = {
        name: {
            "wall": median(name, lambda r: r["wall"]),
            "end_wait": median(name, lambda r: r.get("end_wait", 0.0)),
            "coordination_per_trial": median(name, _coordination),
        }
        for name in runs
    }
    ratio = table["chief + 2 workers"]["wall"] / table["chief + 1 worker"]["wall"]
    command, machine = _common.command(), _common.machine()
    report = {
        "command": command,
        "machine": machine,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "budget": vars(args),
        "runs": runs,
        "table": table,
        "ratio_two_over_one": ratio,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "distributed.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# One search, one vs two worker processes (keras-tuner chief/worker on loopback)",
        "",
        f"Command: `{command}` ({report['date']})",
        "",
        f"Machine: {machine}. Other work may have shared it.",
        "",
        f"Budget: `{SPEC.relative_to(ROOT)}`, RandomSearch, {args.trials} trials x {args.epochs} epochs, "
        f"`limit={args.limit}` images per split, no retraining; median of {args.repeats} run(s).",
        "",
        "| run | wall s | of which end-of-search wait s | coordination s per trial |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, row in table.items():
        lines.append(
            f"| {name} | {row['wall']:.1f} | {row['end_wait']:.1f} | {row['coordination_per_trial']:.2f} |"
        )
    lines += [
        "",
        f"**Wall time ratio, two workers / one worker: {ratio:.2f}** (2 cores: each worker already "
        "uses both through TensorFlow, so little gain is expected).",
        "",
        "Coordination per trial: on each worker, the time from the end of its first trial to the end of its "
        "last, minus the seconds those trials report, over their number (start-up left out). "
        "End-of-search wait: from the last worker's exit to the chief's (keras-tuner polls every 20 s).",
        "",
    ]
    (RESULTS / "distributed.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
