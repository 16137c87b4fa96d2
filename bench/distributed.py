"""Times one search with one and with two worker processes on keras-tuner's chief/worker engine.

    python bench/distributed.py [--cache DIR] [--results DIR] [--work DIR]
                                [--trials 8] [--epochs 2] [--limit 2000] [--repeats 1]

The same search (``examples/seed-depth-width.json``, RandomSearch, seed 1) runs
three ways on this machine, each process fresh: in one process (no chief), as a
chief with one worker, and as a chief with two workers. Reported: wall seconds
from starting the chief to its exit (the chief retrains nothing: ``retrain_top=0``),
the ratio two workers / one worker, and the coordination seconds per trial on a
worker: its time inside ``densespace.tune`` (hypermodel, data pipeline, connecting,
every gRPC exchange, training) between the end of its first trial and the end
of its last, minus the seconds those trials report, divided by their number
(start-up, which includes waiting for the chief to come up, is left out).
keras-tuner's chief checks for the end of the search every 20 s once a worker has
been told to stop; that wait is part of the wall time and is shown apart.

No target: how much a second worker helps depends on the machine. Writes
results/distributed.json and .md.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _harness

SPEC = "examples/seed-depth-width.json"


def main() -> int:
    """Runs the three configurations and writes the results."""
    parser = _harness.parser(__doc__, work=True)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=2000, help="images per split")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    if args.trials < 4:
        parser.error("--trials must be at least 4: coordination is timed between a worker's trials")
    run = _harness.Run(
        "distributed",
        "One search, one vs two worker processes (keras-tuner chief/worker on loopback)",
        args.results,
    )
    work = args.work / "distributed"
    _harness.prepare_data(args.cache, args.limit, work)
    runs: dict[str, list[dict[str, Any]]] = {
        "single process": [],
        "chief + 1 worker": [],
        "chief + 2 workers": [],
    }
    for _ in range(args.repeats):
        for name, workers in zip(runs, (0, 1, 2), strict=True):
            runs[name].append(_search(args, work, workers))
            print(f"{name}: {runs[name][-1]['wall']:.1f} s", file=sys.stderr)

    def median(name: str, key: Callable[[dict[str, Any]], float]) -> float:
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
    budget = {"trials": args.trials, "epochs": args.epochs, "limit": args.limit, "repeats": args.repeats}
    figures = {"budget": budget, "runs": runs, "table": table, "ratio_two_over_one": ratio}
    body = [
        f"Budget: `{SPEC}`, RandomSearch, {args.trials} trials x {args.epochs} epochs, "
        f"`limit={args.limit}` images per split, no retraining; median of {args.repeats} run(s).",
        "",
        "| run | wall s | of which end-of-search wait s | coordination s per trial |",
        "| --- | ---: | ---: | ---: |",
        *(
            f"| {name} | {row['wall']:.1f} | {row['end_wait']:.1f} | {row['coordination_per_trial']:.2f} |"
            for name, row in table.items()
        ),
        "",
        f"**Wall time ratio, two workers / one worker: {ratio:.2f}** (on 2 cores each worker already "
        "uses both through TensorFlow, so little gain is expected).",
        "",
        "Coordination per trial: on each worker, the time from the end of its first trial to the end of its "
        "last, minus the seconds those trials report, over their number (start-up left out). "
        "End-of-search wait: from the last worker's exit to the chief's (keras-tuner polls every 20 s).",
    ]
    return run.finish(figures, body)


def _search(args: argparse.Namespace, work: Path, workers: int) -> dict[str, Any]:
    """One search with ``workers`` worker processes (0: a single process); wall seconds and
    each worker's trial ends."""

    def role(out: str, **options: str) -> _harness.Fresh:
        return _harness.start(
            __file__,
            work=str(work),
            out=out,
            trials=args.trials,
            epochs=args.epochs,
            options=options,
        )

    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "out")
        start = time.monotonic()
        if workers == 0:
            single = role(out).result()
            return {"wall": time.monotonic() - start, "workers": [single]}
        address = f"127.0.0.1:{_port()}"
        chief = role(out, chief=address)
        processes = [role(out, worker=address, worker_id=f"w{i}") for i in range(workers)]
        figures = [p.result() for p in processes]
        workers_done = time.monotonic()
        chief.result()
        end = time.monotonic()
        return {"wall": end - start, "end_wait": end - workers_done, "workers": figures}


def _port() -> int:
    """A free port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _coordination(run: dict[str, Any]) -> float:
    """Seconds per trial between a worker's trials that are not spent in them (after its first trial)."""
    gaps, count = 0.0, 0
    for figures in run["workers"]:
        ends = figures["ends"]
        if len(ends) < 2:  # a worker that ran one trial or none has no gap to time
            continue
        gaps += ends[-1][0] - ends[0][0] - sum(seconds for _, seconds in ends[1:])
        count += len(ends) - 1
    return gaps / count


def _worker(work: str, out: str, trials: int, epochs: int, options: dict[str, Any]) -> dict[str, Any]:
    """One process of the search (single, chief or worker, after ``options``); when each
    of its trials ended, and the seconds each reports."""
    import densespace

    data = _harness.load_prepared(Path(work))
    spec = densespace.load_spec(_harness.ROOT / SPEC)
    ends: list[tuple[float, float]] = []
    densespace.tune(
        spec,
        data=data,
        tuner="random",
        max_trials=trials,
        epochs=epochs,
        seed=1,
        retrain_top=0,
        out=out,
        verbose=0,
        on_trial_end=lambda trial: ends.append((time.monotonic(), trial.seconds)),
        **options,
    )
    return {"ends": ends}


if __name__ == "__main__":
    _harness.run_script(main, worker=_worker)
