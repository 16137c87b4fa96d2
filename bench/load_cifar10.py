"""Times loading full CIFAR-10 from each local format against keras' own reader.

    python bench/load_cifar10.py [--cache DIR] [--repeats N]

Builds the official layouts once with ../shared/tools/build-cifar10 into
``--cache`` (default ~/.cache/densespace-bench/cifar10; reused when present),
then times, each in a fresh process so every run pays for fresh memory the way a
real first load does (the files themselves are in the page cache):

* ``load_cifar10(PATH, validation="test")`` from the python and binary versions,
  archived and extracted: the raw load, 50,000 + 10,000 contiguous images;
* keras' reader on the same python-version files: ``keras.src.datasets.cifar.load_batch``
  on all six batches plus the concatenation and transposition ``load_data`` does;
* ``load_cifar10(binary folder)`` with numpy's copy instead of the compiled
  ``densespace._interleave``, for what the extension is worth;
* ``load_cifar10(binary folder)`` with the default validation split, for its cost.

Writes bench/results/load_cifar10.json and .md: the median of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BUILD_TOOL = ROOT.parent / "shared" / "tools" / "build-cifar10"
RESULTS = ROOT / "bench" / "results"

# name: (what is timed, path inside the cache); "keras" runs keras' reader on the python folder.
CASES = {
    "keras": ("keras load_batch x6 + load_data's assembly", "cifar-10-batches-py"),
    "python-tar": ('load_cifar10(..., validation="test")', "cifar-10-python.tar.gz"),
    "python-dir": ('load_cifar10(..., validation="test")', "cifar-10-batches-py"),
    "binary-tar": ('load_cifar10(..., validation="test")', "cifar-10-binary.tar.gz"),
    "binary-dir": ('load_cifar10(..., validation="test")', "cifar-10-batches-bin"),
    "binary-dir-numpy": (
        'load_cifar10(..., validation="test"), numpy copy instead of the compiled one',
        "cifar-10-batches-bin",
    ),
    "binary-dir-split": ("load_cifar10(...), validation=0.1", "cifar-10-batches-bin"),
}


def main() -> None:
    """Builds the data if needed, times every case and writes the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("~/.cache/densespace-bench/cifar10"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--time-one", choices=CASES, help=argparse.SUPPRESS)  # worker mode
    args = parser.parse_args()
    cache = args.cache.expanduser()
    if args.time_one:
        print(json.dumps(_time_one(args.time_one, cache / CASES[args.time_one][1])))
        return
    _build(cache)
    _check_same_arrays(cache)
    load_before = os.getloadavg()[0]
    runs: dict[str, list[float]] = {name: [] for name in CASES}
    for repeat in range(args.repeats + 1):  # round-robin, so drift hits every case alike
        for name in CASES:
            seconds = _run_worker(name, cache)
            if repeat:  # the first round only warms the page cache
                runs[name].append(seconds)
    command = "python bench/load_cifar10.py" + "".join(f" {a}" for a in sys.argv[1:])
    report = _report(runs, command, args.cache, (load_before, os.getloadavg()[0]))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "load_cifar10.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "load_cifar10.md").write_text(_markdown(report))
    print(_markdown(report))


def _build(cache: Path) -> None:
    """Runs build-cifar10 into ``cache`` unless all four layouts are already there."""
    if all((cache / path).exists() for _, path in CASES.values()):
        return
    if not BUILD_TOOL.exists():
        sys.exit(f"{BUILD_TOOL} is missing: it builds the CIFAR-10 files this benchmark reads")
    print(f"building CIFAR-10 into {cache} (about 20 s)", file=sys.stderr)
    subprocess.run([sys.executable, str(BUILD_TOOL), str(cache)], check=True)


def _check_same_arrays(cache: Path) -> None:
    """Stops unless keras' reader and every format give the same full-size arrays."""
    from densespace.datasets import load_cifar10

    (x_train, y_train), (x_test, y_test) = _keras_load_data(cache / "cifar-10-batches-py")
    for name, (_, path) in CASES.items():
        if name != "keras":
            data = load_cifar10(cache / path, validation="test")
            same = [
                np.array_equal(a, b)
                for a, b in zip(
                    (*data.train, *data.test),
                    (x_train, y_train.ravel(), x_test, y_test.ravel()),
                    strict=True,
                )
            ]
            if not all(same) or len(data.train[1]) != 50_000:
                sys.exit(f"{cache / path}: differs from keras' reader, or is not full size")


def _run_worker(name: str, cache: Path) -> float:
    """Seconds that case ``name`` took in a fresh interpreter."""
    command = [sys.executable, __file__, "--cache", str(cache), "--time-one", name]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    return float(json.loads(run.stdout.splitlines()[-1]))


def _time_one(name: str, path: Path) -> float:
    """Times case ``name`` alone, in a process that imported Keras first, as a tuning run does."""
    import keras  # noqa: F401  (every case pays for the same import, before its clock starts)

    from densespace import _cifar10
    from densespace.datasets import load_cifar10

    if name.endswith("numpy"):
        _cifar10._to_channels_last = _cifar10._to_channels_last_numpy
    options: dict[str, Any] = {} if name.endswith("split") else {"validation": "test"}
    start = time.perf_counter()
    if name == "keras":
        _keras_load_data(path)
    else:
        load_cifar10(path, **options)
    return time.perf_counter() - start


def _keras_load_data(folder: Path) -> Any:
    """``keras.datasets.cifar10.load_data()`` minus its download, reading ``folder``."""
    from keras.src.datasets.cifar import load_batch

    x_train = np.empty((50000, 3, 32, 32), dtype="uint8")
    y_train = np.empty((50000,), dtype="uint8")
    for i in range(1, 6):
        (
            x_train[(i - 1) * 10000 : i * 10000, :, :, :],
            y_train[(i - 1) * 10000 : i * 10000],
        ) = load_batch(str(folder / f"data_batch_{i}"))
    x_test, y_test = load_batch(str(folder / "test_batch"))
    y_train = np.reshape(y_train, (len(y_train), 1))
    y_test = np.reshape(y_test, (len(y_test), 1))
    x_train = x_train.transpose(0, 2, 3, 1)
    x_test = x_test.transpose(0, 2, 3, 1)
    x_test = x_test.astype(x_train.dtype)
    y_test = y_test.astype(y_train.dtype)
    return (x_train, y_train), (x_test, y_test)


def _report(
    runs: dict[str, list[float]], command: str, cache: Path, load: tuple[float, float]
) -> dict[str, Any]:
    """The results as the JSON file holds them."""
    import keras

    medians = {name: statistics.median(seconds) for name, seconds in runs.items()}
    raw = medians["binary-dir"]
    return {
        "command": command,
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "cpu": _cpu_model(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "keras": keras.__version__,
            "channel_copy": _channel_copy(),
            "platform": platform.platform(),
            "load_average_before_after": load,
        },
        "data": f"{cache}: build-cifar10 output, 50,000 training and 10,000 test images",
        "method": (
            "each run in a fresh process that has imported keras (page cache warm, process "
            "memory fresh); "
            f"median of {len(runs['keras'])} runs after one warm-up round"
        ),
        "results": [
            {
                "case": name,
                "reads": path,
                "timed": timed,
                "seconds": round(medians[name], 4),
                "fastest": round(min(runs[name]), 4),
                "runs": [round(s, 4) for s in runs[name]],
                "speedup_vs_keras": round(medians["keras"] / medians[name], 2),
            }
            for name, (timed, path) in CASES.items()
        ],
        "split_seconds": round(medians["binary-dir-split"] - raw, 4),
    }


def _channel_copy() -> str:
    """Which copy ``load_cifar10`` uses to make channels-last images in this install."""
    from densespace import _cifar10

    if _cifar10._to_channels_last is _cifar10._to_channels_last_numpy:
        return "numpy (densespace._interleave was not built)"
    return "compiled (densespace._interleave)"


def _cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or "" where there is none."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    return next((line.split(":", 1)[1].strip() for line in lines if "model name" in line), "")


def _markdown(report: dict[str, Any]) -> str:
    """The results as a Markdown table with the command and machine above it."""
    machine = report["machine"]
    before, after = machine["load_average_before_after"]
    lines = [
        "# Loading CIFAR-10: densespace vs keras' reader",
        "",
        f"Command: `{report['command']}`",
        "",
        f"Machine: {machine['cpu'] or machine['processor']}, {machine['cores']} cores, "
        f"Python {machine['python']}, numpy {machine['numpy']}, keras {machine['keras']}; "
        f"1-minute load average {before:.2f} before, {after:.2f} after.",
        f"Method: {report['method']}.",
        f"Channels-last copy in this install: {machine['channel_copy']}.",
        "",
        "| case | reads | timed | seconds (median) | fastest run | speedup vs keras (medians) |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    for row in report["results"]:
        lines.append(
            f"| {row['case']} | `{row['reads']}` | `{row['timed']}` | {row['seconds']:.3f} | "
            f"{row['fastest']:.3f} | {row['speedup_vs_keras']:.2f}x |"
        )
    lines += [
        "",
        f"The stratified validation split adds {report['split_seconds']:.3f} s "
        "(binary-dir-split minus binary-dir).",
        "keras' reader returns a transposed, non-contiguous view of channel-major arrays;",
        "densespace returns contiguous channels-last arrays. The .tar.gz cases decompress",
        "gzip on every load; keras extracts its archive once, when it downloads it.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
