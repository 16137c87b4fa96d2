"""Fuzz tests: damaged CIFAR-10 archives, CSV and .npz files and spec files give a short error,
never a crash or a hang."""

from __future__ import annotations

import gzip
import io
import json
import random
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from helpers.cifar_archives import deadline, make_splits, write_binary, write_python, write_tar

from densespace._cli import main
from densespace._errors import DatasetError, SearchWarning, printable
from densespace.datasets import load, load_cifar10

MAX_STDERR = 4096  # bytes of stderr (or of an error message) a damaged input may cause at most
ARCHIVE_CASES = 40
DATA_CASES = 60
SPEC_CASES = 40


def mutate(data: bytes, rng: random.Random, hot: list[int], inserts: list[bytes]) -> bytes:
    """``data`` with one to three random corruptions, half of them near an offset in ``hot``."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        if not out:
            break
        near = rng.choice(hot) if hot and rng.random() < 0.5 else rng.randrange(len(out))
        at = min(max(near + rng.randrange(-8, 600), 0), len(out) - 1)
        size = rng.choice([1, 2, 4, 16, 512, 4096])
        action = rng.choice(["flip", "truncate", "duplicate", "zero", "insert", "delete"])
        if action == "flip":
            for i in range(at, min(at + size, len(out))):
                out[i] ^= 1 << rng.randrange(8)
        elif action == "truncate":
            del out[at:]
        elif action == "duplicate":
            out[at:at] = out[at : at + size]
        elif action == "zero":
            out[at : at + size] = bytes(len(out[at : at + size]))
        elif action == "insert":
            out[at:at] = rng.choice(inserts)
        else:
            del out[at : at + size]
    return bytes(out)


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A tiny python-version and binary-version tar, plain and gzipped, by name."""
    root = tmp_path_factory.mktemp("archives")
    train, test = make_splits()
    tars: dict[str, bytes] = {}
    for layout, write in (("python", write_python), ("binary", write_binary)):
        folder = write(root / layout, train, test)
        tars[f"{layout}-tar"] = write_tar(folder, root / f"{layout}.tar", "").read_bytes()
        tars[f"{layout}-tgz"] = write_tar(folder, root / f"{layout}.tgz").read_bytes()
    return tars


ARCHIVE_INSERTS = [
    b"\xff" * 12,
    b"77777777777",  # an octal size field's worth of sevens
    b"\x80" + b"\xff" * 11,  # a base-256 size
    b"ustar\x0000",
    b"\x80\x02}q\x00(",  # a pickle's opening
    b"\x1f\x8b\x08\x00",
]


@pytest.mark.parametrize("case", range(ARCHIVE_CASES))
def test_damaged_archive_loads_or_raises_dataset_error(
    case: int, archives: dict[str, bytes], tmp_path: Path
) -> None:
    """A randomly damaged archive either loads or raises one short DatasetError line, quickly."""
    rng = random.Random(case)
    name = rng.choice(sorted(archives))
    data = archives[name.replace("tgz", "tar")]
    # damage the tar itself (headers every 512 bytes, pickles after them) and then gzip it, or the gzip bytes
    layer = rng.choice(["tar", "tar-then-gzip", "gzip"]) if name.endswith("tgz") else "tar"
    hot = [i for i in range(0, len(data), 512) if data[i + 257 : i + 262] == b"ustar"]
    if layer == "gzip":
        source = mutate(archives[name], rng, [0, 10], ARCHIVE_INSERTS)
    else:
        source = mutate(data, rng, hot, ARCHIVE_INSERTS)
        source = gzip.compress(source, mtime=0) if layer == "tar-then-gzip" else source
    path = tmp_path / "cifar.tar.gz"
    path.write_bytes(source)
    with deadline(10):
        try:
            load_cifar10(path, validation="test")
        except DatasetError as exc:
            message = str(exc)
            assert len(message) < MAX_STDERR and "\n" not in message, message[:300]


@pytest.fixture(scope="module")
def data_files() -> dict[str, bytes]:
    """A tiny CSV file (a target of three classes) and .npz file (plain and compressed), by name."""
    x = np.random.default_rng(0).normal(size=(30, 3))
    rows = "".join(f"{a:.3f},{b:.3f},{c:.3f},{'xyz'[i % 3]}\n" for i, (a, b, c) in enumerate(x))
    files = {"csv": f"a,b,c,y\n{rows}".encode()}
    for name, save in (("npz", np.savez), ("npz-compressed", np.savez_compressed)):
        stream = io.BytesIO()
        save(stream, x=x, y=np.arange(30) % 3)
        files[name] = stream.getvalue()
    return files


DATA_INSERTS = [
    b"\0",
    b'"',
    b"\xff",
    b"\xef\xbb\xbf",
    b"\r",
    b"\n\n",
    b",",
    b"1e39",
    b"3e38",
    b"nan",
    b"-",
    b"\xff" * 8,
    b"\x93NUMPY\x01\x00",
    b"{'descr': '<g16', 'fortran_order': False, 'shape': (-1, 3), }",
    b"(2147483647, 2147483647)",
    b"PK\x03\x04",
]


@pytest.mark.parametrize("case", range(DATA_CASES))
def test_damaged_csv_or_npz_loads_or_raises_dataset_error(
    case: int, data_files: dict[str, bytes], tmp_path: Path
) -> None:
    """A randomly damaged CSV or .npz file either loads or raises one short DatasetError, quickly."""
    rng = random.Random(case)
    name = rng.choice(sorted(data_files))
    data = data_files[name]
    hot = [found.start() for found in re.finditer(rb"PK\x01\x02|PK\x03\x04|\x93NUMPY|\n", data)]
    path = tmp_path / ("d.csv" if name == "csv" else "d.npz")
    path.write_bytes(mutate(data, rng, hot, DATA_INSERTS))
    with deadline(10), warnings.catch_warnings():
        warnings.simplefilter("ignore", SearchWarning)  # a damaged row may lose its target: left out
        try:
            load(path, target="y" if name == "csv" else None, numbers=rng.random() < 0.3)
        except DatasetError as exc:
            message = printable(str(exc))
            assert len(message) < MAX_STDERR, message[:300]


SPEC = {
    "version": 1,
    "name": "fuzz",
    "input": {"shape": [32, 32, 3], "preprocessing": "rescale"},
    "hidden": {"layers": {"min": 1, "max": 3}, "units": {"values": [64, 128]}, "activation": "relu"},
    "optimizer": {"name": "adam", "learning_rate": 0.001},
    "training": {"epochs": 2, "batch_size": 32},
    "search": {"tuner": "random", "max_trials": 2, "seed": 1},
}
SPEC_YAML = """\
version: 1
name: fuzz
input: {shape: [32, 32, 3], preprocessing: rescale}
hidden: &block
  layers: {min: 1, max: 3}
  units: {values: [64, 128]}
  activation: relu
optimizer: {name: adam, learning_rate: 0.001}
training: {epochs: 2, batch_size: 32}
search: {tuner: random, max_trials: 2, seed: 1}
"""
SPEC_INSERTS = [
    "{",
    "}",
    "[",
    "]",
    '"',
    "'",
    ":",
    ",",
    "\\",
    "\x00",
    "\u2028",
    "\ufeff",
    "é",
    "😀",
    "-",
    "?",
    "*",
    "&",
    "!",
    "%",
    "|",
    ">",
    "\t",
    "\n  ",
    "9" * 400,
    "1e999",
    "-1e-999",
    "NaN",
    "Infinity",
    ".inf",
    "null",
    "true",
    "[" * 50,
    "{" * 50,
    "*block",
    "&a [*a]",
    "<<: *block\n",
    "!!python/object:os.system",
    "!!binary aGVsbG8=",
    '"\\ud800"',
    "\x85",
]


def spec_case(case: int) -> tuple[str, str]:
    """Case ``case``'s file suffix and text: the small valid spec, JSON or YAML, randomly damaged."""
    rng = random.Random(case)
    suffix = rng.choice([".json", ".yaml"])
    text = json.dumps(SPEC, indent=2) if suffix == ".json" else SPEC_YAML
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(text) + 1)
        if rng.random() < 0.3:
            text = text[:at] + text[at + rng.randint(1, 20) :]
        else:
            text = text[:at] + rng.choice(SPEC_INSERTS) + text[at:]
    return suffix, text


# deliberate worst cases, beside the random ones: each (suffix, text)
HOSTILE_SPECS: dict[str, tuple[str, str]] = {
    "json-deep-nesting": (
        ".json",
        '{"version": 1, "name": "t", "hidden": ' + "[" * 100_000 + "]" * 100_000 + "}",
    ),
    "yaml-deep-nesting": (".yaml", "version: 1\nname: t\nhidden: " + "[" * 5_000 + "]" * 5_000 + "\n"),
    "json-huge-integer": (".json", '{"version": 1, "name": "t", "hidden": {"units": ' + "9" * 5_000 + "}}"),
    "yaml-huge-integer": (".yaml", "version: 1\nname: t\nhidden: {units: " + "9" * 5_000 + "}\n"),
    "json-huge-float": (".json", '{"version": 1, "name": "t", "hidden": {"units": 1e999}}'),
    "yaml-billion-laughs": (
        ".yaml",
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8))
        + "version: 1\nname: t\nhidden: *i\n",
    ),
    "yaml-alias-as-key": (".yaml", "version: 1\nname: t\nx: &k [1]\nhidden: {units: 8, *k : 1}\n"),
    "yaml-python-tag": (
        ".yaml",
        "version: 1\nname: !!python/object/apply:os.system [true]\nhidden: {units: 8}\n",
    ),
    "json-lone-surrogate": (".json", '{"version": 1, "name": "\\ud800", "hidden": {"units": 8}}'),
    "not-utf8": (".json", '{"version": 1, "name": "\udcff"}'),
    "long-line": (".json", '{"version": 1, "name": "' + "x" * 1_000_000 + '", "hidden": {"units": 8}}'),
}
SPEC_PARAMS = [pytest.param(*spec_case(case), id=f"random-{case}") for case in range(SPEC_CASES)]
SPEC_PARAMS += [pytest.param(suffix, text, id=name) for name, (suffix, text) in HOSTILE_SPECS.items()]


@pytest.mark.parametrize(("suffix", "text"), SPEC_PARAMS)
def test_damaged_spec_exits_0_or_2_with_a_short_message(
    suffix: str, text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`densespace validate` on a damaged spec exits 0 or 2, quickly, with no traceback and little stderr."""
    path = tmp_path / f"spec{suffix}"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with deadline(5):
        status = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert status in (0, 2), err[:500]
    assert "Traceback" not in out + err
    assert len(err.encode()) < MAX_STDERR, err[:500]
