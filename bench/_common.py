"""What the benchmark scripts share: the command and machine they report, and the data they build."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BUILD_TOOL = ROOT.parent / "shared" / "tools" / "build-cifar10"
DATA_FOLDER = "cifar-10-batches-bin"


def command() -> str:
    """The command line that ran this script, as a user would type it from the repository root."""
    return " ".join(["python", f"bench/{Path(sys.argv[0]).name}", *sys.argv[1:]])


def machine() -> str:
    """Processor, cores and platform, in one line."""
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, no GPU, {platform.platform()}"
    )


def build(cache: Path) -> None:
    """Runs build-cifar10 into ``cache`` unless the folder this benchmark reads is there."""
    if (cache / DATA_FOLDER).exists():
        return
    if not BUILD_TOOL.exists():
        sys.exit(f"{BUILD_TOOL} is missing: it builds the CIFAR-10 files this benchmark reads")
    print(f"building CIFAR-10 into {cache} (about 20 s)", file=sys.stderr)
    subprocess.run([sys.executable, str(BUILD_TOOL), str(cache)], check=True)


def machine_and_versions() -> dict[str, Any]:
    """The machine and the versions the numbers were measured with."""
    import keras
    import keras_tuner
    import numpy as np
    import tensorflow as tf

    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    cpu = next((line.split(":", 1)[1].strip() for line in lines if "model name" in line), "")
    return {
        "cpu": cpu or platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_tuner": keras_tuner.__version__,
        "densespace": _revisions(),
    }


STARTED_AT: list[str] = []  # the revision when main() started


def _revisions() -> str:
    """The revision measured; both ends when the source changed during the run."""
    now = revision()
    started = STARTED_AT[0] if STARTED_AT else now
    return now if now == started else f"{started} at the start, {now} at the end"


def revision() -> str:
    """The commit of the densespace source measured, with "+changes" when src/ differs from it."""

    def git(*arguments: str) -> str:
        run = subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True)
        return run.stdout.strip() if run.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+changes" if git("status", "--porcelain", "--", "src") else "")


def prepare_data(cache: Path, limit: int, work: Path) -> dict[str, int]:
    """Saves the stratified ``limit`` subset every side of a benchmark reads to
    ``work/data.npz``; returns its split sizes."""
    import numpy as np

    from densespace.datasets import load_cifar10

    data = load_cifar10(cache / DATA_FOLDER, validation=0.1, limit=limit, seed=0)
    work.mkdir(parents=True, exist_ok=True)
    np.savez(
        work / "data.npz",
        x_train=data.train[0],
        y_train=data.train[1],
        x_val=data.validation[0],
        y_val=data.validation[1],
        x_test=data.test[0],
        y_test=data.test[1],
    )
    return {"train": len(data.train[1]), "validation": len(data.validation[1]), "test": len(data.test[1])}


def load_prepared(work: Path) -> Any:
    """The subset ``prepare_data`` saved, as an object with ``train``, ``validation``,
    ``test`` and ``source``, like ``load_cifar10``'s result."""
    from types import SimpleNamespace

    import numpy as np

    arrays = np.load(work / "data.npz")
    return SimpleNamespace(
        train=(arrays["x_train"], arrays["y_train"]),
        validation=(arrays["x_val"], arrays["y_val"]),
        test=(arrays["x_test"], arrays["y_test"]),
        source=str(work / "data.npz"),
    )
