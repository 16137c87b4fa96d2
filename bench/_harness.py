"""What every benchmark and experiment shares.

* the command line: ``parser`` (``--cache``, ``--results``, ``--work``) and ``run_script``;
* data: ``cifar10`` builds the official layouts once, ``prepare_data`` / ``load_prepared``
  hand one subset to fresh processes;
* fresh processes: ``start`` / ``fresh`` run the script's own worker function in a new
  interpreter and return the JSON it printed;
* results: ``Run`` records the command, machine and load, writes ``<name>.json`` and
  ``<name>.md`` atomically and checks the script's ``Target``s: a missed one makes the
  script exit with status 1;
* densespace's private modules: every access the scripts make, in one section at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before anything imports TensorFlow

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BUILD_TOOL = ROOT.parent / "shared" / "tools" / "build-cifar10"
BINARY = "cifar-10-batches-bin"
LAYOUTS = ("cifar-10-python.tar.gz", "cifar-10-binary.tar.gz", "cifar-10-batches-py", BINARY)
_WORKER = "--worker"  # the hidden first argument of a script started by ``start``
_RESULT = "bench-result: "  # the line a worker prints its JSON result on

# ------------------------------------------------------------------ command line


def parser(doc: str, *, work: bool = False) -> argparse.ArgumentParser:
    """A parser whose help is the script's docstring, with ``--cache`` and ``--results``
    (and ``--work`` when the script keeps scratch files)."""
    result = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    result.add_argument(
        "--cache",
        type=_path,
        default="~/.cache/densespace-bench/cifar10",
        help="where build-cifar10's output is (built there when missing)",
    )
    result.add_argument(
        "--results", type=_path, default=str(RESULTS), help="folder the JSON and Markdown are written to"
    )
    if work:
        result.add_argument(
            "--work", type=_path, default=str(ROOT / "bench" / "work"), help="folder for scratch files"
        )
    return result


def _path(text: str) -> Path:
    return Path(text).expanduser()


def run_script(main: Callable[[], int], worker: Callable[..., Any] | None = None) -> None:
    """The end of every script: ``worker`` in a process ``start`` made, else ``main``; exits
    with ``main``'s status."""
    if worker is not None and sys.argv[1:2] == [_WORKER]:
        print(_RESULT + json.dumps(worker(**json.loads(sys.argv[2]))), flush=True)
        sys.exit(0)
    sys.exit(main())


def command() -> str:
    """The command line that ran this script, as typed from the repository root."""
    script = Path(sys.argv[0]).resolve().relative_to(ROOT)
    return shlex.join(["python", str(script), *sys.argv[1:]])


# ------------------------------------------------------------------ data


def cifar10(cache: Path) -> Path:
    """``cache``, holding the four official layouts; runs build-cifar10 there when one is missing."""
    if not all((cache / layout).exists() for layout in LAYOUTS):
        if not BUILD_TOOL.exists():
            sys.exit(f"{BUILD_TOOL} is missing: it builds the CIFAR-10 files the benchmarks read")
        print(f"building CIFAR-10 into {cache} (about 20 s)", file=sys.stderr)
        subprocess.run([sys.executable, str(BUILD_TOOL), str(cache)], check=True)
    return cache


def prepare_data(cache: Path, limit: int | None, work: Path) -> dict[str, int]:
    """Saves the default split of the binary folder (``limit`` images per split at most,
    seed 0) to ``work/data.npz`` for ``load_prepared``; returns the split sizes."""
    import numpy as np

    from densespace.datasets import load_cifar10

    data = load_cifar10(cifar10(cache) / BINARY, validation=0.1, limit=limit, seed=0)
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
    """What ``prepare_data`` saved, with ``train``, ``validation``, ``test`` and ``source``
    like ``load_cifar10``'s result."""
    import numpy as np

    arrays = np.load(work / "data.npz")
    return SimpleNamespace(
        train=(arrays["x_train"], arrays["y_train"]),
        validation=(arrays["x_val"], arrays["y_val"]),
        test=(arrays["x_test"], arrays["y_test"]),
        source=str(work / "data.npz"),
    )


# ------------------------------------------------------------------ fresh processes


class Fresh:
    """A script's worker running in a new interpreter (see ``start``)."""

    def __init__(self, script: str, options: dict[str, Any]) -> None:
        self.name = f"{Path(script).name} {json.dumps(options)}"
        # A file, not a pipe: a full pipe would block the process. result() closes it.
        self._stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self._process = subprocess.Popen(
            [sys.executable, script, _WORKER, json.dumps(options)],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )

    def result(self) -> Any:
        """Waits for the process; the JSON its worker returned. Exits with the end of its
        stderr when it failed."""
        out, _ = self._process.communicate()
        self._stderr.seek(0)
        errors = self._stderr.read()
        self._stderr.close()
        lines = [line for line in out.splitlines() if line.startswith(_RESULT)]
        if self._process.returncode or not lines:
            sys.exit(f"{self.name} failed (exit {self._process.returncode}):\n{errors[-3000:]}")
        return json.loads(lines[-1].removeprefix(_RESULT))


def start(script: str, **options: Any) -> Fresh:
    """Starts ``python SCRIPT --worker OPTIONS``: ``run_script`` there calls the script's
    worker with ``options`` (JSON values) as keywords."""
    return Fresh(script, options)


def fresh(script: str, **options: Any) -> Any:
    """``start``, then wait for the result."""
    return start(script, **options).result()


# ------------------------------------------------------------------ profiles


class Profile:
    """Exclusive wall seconds and call counts of a few functions, patched in place."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self.seconds = dict.fromkeys(self.names, 0.0)
        self.calls = dict.fromkeys(self.names, 0)
        self._stack: list[float] = []

    def patch(self, owner: Any, attribute: str, name: str) -> None:
        """Replaces ``owner.attribute`` by a wrapper that counts its time under ``name``."""
        original = getattr(owner, attribute)
        profile = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            profile._stack.append(0.0)
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                nested = profile._stack.pop()
                profile.seconds[name] += elapsed - nested
                profile.calls[name] += 1
                if profile._stack:
                    profile._stack[-1] += elapsed

        setattr(owner, attribute, timed)

    def record(self) -> dict[str, dict[str, float]]:
        """Each name's exclusive seconds (rounded) and calls."""
        return {n: {"seconds": round(self.seconds[n], 3), "calls": self.calls[n]} for n in self.names}


# ------------------------------------------------------------------ targets


@dataclass(frozen=True)
class Target:
    """A figure a script promises: ``what`` must be ``op`` ``limit``."""

    what: str
    op: Literal["<=", ">="]
    limit: float

    def check(self, value: float | None, of: str = "") -> Check:
        """This target against a measured ``value`` (None: not measured) of ``of``
        (a spec, a side; empty when the target has one subject)."""
        return Check(self, value, of)


@dataclass(frozen=True)
class Check:
    """A target and the value measured for it."""

    target: Target
    value: float | None
    of: str

    @property
    def met(self) -> bool:
        if self.value is None:
            return False
        return self.value <= self.target.limit if self.target.op == "<=" else self.value >= self.target.limit

    def line(self) -> str:
        """Subject, figure, value, target and verdict, in one line."""
        value = "not measured" if self.value is None else f"{self.value:.4g}"
        subject = f"{self.of}: " if self.of else ""
        verdict = "met" if self.met else "MISSED"
        return (
            f"{subject}{self.target.what}: {value} (target {self.target.op} {self.target.limit:g}): {verdict}"
        )

    def record(self) -> dict[str, Any]:
        """The check as the JSON file holds it."""
        t = self.target
        return {
            "of": self.of,
            "what": t.what,
            "op": t.op,
            "limit": t.limit,
            "value": self.value,
            "met": self.met,
        }


# ------------------------------------------------------------------ tables


def number(value: Any, digits: int = 4) -> str:
    """A table cell: a float to ``digits`` places, an integer with thousands separators, "—" for None."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return f"{value:,}"


def active_units(values: dict[str, Any]) -> dict[str, Any]:
    """The values a ``layers``/``units_i`` configuration uses: a plain keras-tuner space keeps
    every ``units_i`` it has seen, also those of layers the model does not build."""
    return {k: v for k, v in values.items() if not k.startswith("units_") or int(k[6:]) < values["layers"]}


# ------------------------------------------------------------------ results


class Run:
    """One run of a script: what it writes and where, started when created.

    ``part``: a script with several parts (beyond.py) keeps one entry per part in its
    JSON and one ``## part`` section in its Markdown, replacing only the part that ran.
    """

    def __init__(self, name: str, title: str, results: Path, *, part: str | None = None) -> None:
        self.name, self.title, self.results, self.part = name, title, results, part
        self.command = command()
        self.date = datetime.now(UTC).isoformat(timespec="seconds")
        self._revision = revision()
        self._load = os.getloadavg()[0]

    def finish(self, figures: dict[str, Any], body: list[str], checks: Sequence[Check] = ()) -> int:
        """Writes ``<name>.json`` (command, date, machine, targets, figures) and ``<name>.md``
        (title, command, machine, ``body``, targets), prints the Markdown and returns the
        exit status: 1 when a target was missed."""
        now = revision()
        m = machine()
        m["revision"] = now if now == self._revision else f"{self._revision} at the start, {now} at the end"
        m["load_average"] = [self._load, os.getloadavg()[0]]
        record = {
            "command": self.command,
            "date": self.date,
            "machine": m,
            "targets": [c.record() for c in checks],
            "figures": figures,
        }
        section = [
            f"Command: `{self.command}` ({self.date})",
            "",
            f"Machine: {machine_line(m)}",
            "",
            *body,
        ]
        if checks:
            section += ["", "Targets:", "", *(f"- {c.line()}" for c in checks)]
        self.results.mkdir(parents=True, exist_ok=True)
        json_path, md_path = self.results / f"{self.name}.json", self.results / f"{self.name}.md"
        if self.part is None:
            text = "\n".join([f"# {self.title}", "", *section, ""])
        else:
            record = {**_read_json(json_path), self.part: record}
            section = [f"## {self.part}", "", *section]
            text = _with_section(md_path, f"# {self.title}", section)
        _write(json_path, json.dumps(record, indent=2, default=float) + "\n")
        _write(md_path, text)
        print("\n".join(section))
        missed = [c for c in checks if not c.met]
        for c in missed:
            print(f"target missed: {c.line()}", file=sys.stderr)
        return 1 if missed else 0


def machine() -> dict[str, Any]:
    """The processor, accelerators and library versions the numbers were measured with."""
    import keras
    import keras_tuner
    import numpy as np
    import tensorflow as tf

    import densespace

    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    cpu = next((line.split(":", 1)[1].strip() for line in lines if "model name" in line), "")
    return {
        "cpu": cpu or platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "gpus": len(tf.config.list_physical_devices("GPU")),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_tuner": keras_tuner.__version__,
        "densespace": densespace.__version__,
    }


def machine_line(m: dict[str, Any]) -> str:
    """``Run``'s machine record in one sentence."""
    gpus = f"{m['gpus']} GPU" if m["gpus"] else "no GPU"
    before, after = m["load_average"]
    return (
        f"{m['cpu']}, {m['cores']} cores, {gpus}, {m['platform']}; Python {m['python']}, "
        f"numpy {m['numpy']}, TensorFlow {m['tensorflow']}, keras {m['keras']}, "
        f"keras-tuner {m['keras_tuner']}; densespace {m['densespace']} at {m['revision']}; "
        f"1-minute load average {before:.2f} at the start, {after:.2f} at the end. "
        "Other work may share the machine: compare ratios measured in one run, not seconds."
    )


def revision() -> str:
    """The commit of the densespace source measured, with "+changes" when src/ differs from it."""

    def git(*arguments: str) -> str:
        run = subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True)
        return run.stdout.strip() if run.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+changes" if git("status", "--porcelain", "--", "src") else "")


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def _with_section(path: Path, title: str, section: list[str]) -> str:
    """The Markdown file at ``path`` (or a new one under ``title``) with ``section``
    replacing the one of the same heading, or appended."""
    text = path.read_text() if path.exists() else f"{title}\n"
    start = text.find(f"{section[0]}\n")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + text[end + 1 :] if end >= 0 else text[:start]
    return text.rstrip("\n") + "\n\n" + "\n".join(section) + "\n"


def _write(path: Path, text: str) -> None:
    """Writes ``text`` to a temporary file beside ``path``, then renames it over ``path``."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


# ------------------------------------------------------------------ densespace's private modules
# Every access the scripts make to a private module of densespace is here, so that a move
# inside the package is fixed in this section alone.


def apply_overrides(spec: Any, **overrides: Any) -> Any:
    """The spec with ``tuner``, ``max_trials``, ``epochs`` or ``seed`` replaced, as ``tune`` does."""
    from densespace._run.options import apply_overrides

    return apply_overrides(spec, **overrides)


def ranked(trials: list[dict[str, Any]], objective: str) -> list[dict[str, Any]]:
    """Completed trials, best first for ``objective``, one per configuration."""
    from densespace._results import TrialRecord, ranked

    return [t.model_dump() for t in ranked([TrialRecord.model_validate(t) for t in trials], objective)]


def show(value: Any) -> str:
    """A hyperparameter value, short, as densespace's reports write it."""
    from densespace._report import show

    return show(value)


def preload_tune() -> None:
    """Imports the modules ``tune`` imports when a search starts, so that no clock counts them."""
    from densespace._keras import training, tuners  # noqa: F401


def retrain(
    hypermodel: Any, values: dict[str, Any], data: Any, *, epochs: int, seed: int, callbacks: Any = ()
) -> Any:
    """One configuration rebuilt from scratch, trained on ``data.train`` (shuffled with
    ``seed``) as ``tune``'s retraining does, and tested once: (model, test metrics, epochs)."""
    from densespace._keras import training
    from densespace._keras.data import Batches

    return training.retrain(
        hypermodel,
        values,
        Batches(*data.train, seed=seed),
        Batches(*data.validation),
        data.test,
        epochs=epochs,
        seed=seed,
        verbose=0,
        callbacks=callbacks,
    )


def for_evaluation(model: Any, spec: Any, values: dict[str, Any]) -> Any:
    """The model compiled with plain sparse cross-entropy (no label smoothing), as densespace tests it."""
    import densespace
    from densespace._keras.hypermodel import for_evaluation

    return for_evaluation(model, spec, densespace.resolve(spec, values))


def memory_oracle(spec: Any, directory: Path) -> Any:
    """densespace's oracle of ``spec.search``, its space declared as a tuner would (no model built)
    and its state kept in memory only."""
    import keras_tuner

    from densespace._keras.hypermodel import DenseHyperModel
    from densespace._keras.oracle import make_oracle

    oracle = make_oracle(spec)
    oracle._set_project_dir(str(directory), "search")
    oracle._display.verbose = 0
    oracle.save = oracle._save_trial = lambda *args: None
    space = keras_tuner.HyperParameters()
    DenseHyperModel(spec).declare(space)
    oracle.update_space(space)
    return oracle
