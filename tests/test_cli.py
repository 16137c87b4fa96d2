"""The command line: output, exit status, and no TensorFlow for the spec tools."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import get_args

import pytest
from helpers import EXAMPLES, ROOT, spec_dict

from densespace._cli import main
from densespace._spec import Activation, schema_text


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_validate_reports_each_file(tmp_path, capsys):
    """Valid files print ok, invalid ones one line per problem, and the status is 2."""
    good = _write(tmp_path, "good.json", spec_dict())
    bad = _write(
        tmp_path, "bad.json", spec_dict(hidden={"units": {"min": 512, "max": 64}, "activation": "rellu"})
    )
    assert main(["validate", str(good), str(bad)]) == 2
    out, err = capsys.readouterr()
    assert out == f"{good}: ok (1 configuration)\n"
    assert err.splitlines()[0] == f"{bad}: hidden.units: min (512) must be <= max (64)"
    activations = ", ".join(get_args(Activation))
    assert err.splitlines()[1] == (
        f"{bad}: hidden.activation: unknown value \"rellu\" (did you mean 'relu'?); "
        f"expected one of: {activations}"
    )
    assert len(err.splitlines()) == 2 and "Traceback" not in err


def test_validate_examples_exit_zero(capsys):
    """Every example validates."""
    examples = [str(p) for p in EXAMPLES]
    assert main(["validate", *examples]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(examples)


def test_schema_prints_the_committed_schema(capsys):
    """`densespace schema` prints the schema file's exact text."""
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == schema_text()


INSPECT_JSON = {
    "seed-random.json": (6, 512_000, 49_882, 920_842),
    "seed-baseline.json": (6, 512_000, 49_882, 920_842),
    "seed-depth-width.json": (5, 4_672, 201_482, 2_366_474),
    "seed-depth.json": (1, 19, 411_146, 708_362),
}


@pytest.mark.parametrize("name", INSPECT_JSON)
def test_inspect_json(name, capsys):
    """`inspect --json` prints one object with hyperparameters, configurations and parameter bounds."""
    assert main(["inspect", str(ROOT / "examples" / name), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (
        len(report["hyperparameters"]),
        report["configurations"],
        report["parameters"]["min"],
        report["parameters"]["max"],
    ) == INSPECT_JSON[name]


def test_inspect_text(capsys):
    """`inspect` lists each hyperparameter with its domain and condition."""
    assert main(["inspect", str(ROOT / "examples/seed-depth-width.json")]) == 0
    assert capsys.readouterr().out == (
        "seed-depth-width: 2-4 Dense layers of 64-512 units, elu\n"
        "hyperparameters (5):\n"
        "  layers   int 2..4\n"
        "  units_0  int 64..512 step 64\n"
        "  units_1  int 64..512 step 64\n"
        "  units_2  int 64..512 step 64  if layers in {3, 4}\n"
        "  units_3  int 64..512 step 64  if layers = 4\n"
        "configurations: 4,672\n"
        "trainable parameters: 201,482 to 2,366,474\n"
    )


def test_inspect_continuous_space(tmp_path, capsys):
    """A continuous space has null configurations in JSON."""
    path = _write(tmp_path, "c.json", spec_dict(hidden={"dropout": {"min": 0.0, "max": 0.5}}))
    assert main(["inspect", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["configurations"] is None
    assert report["hyperparameters"] == [
        {
            "name": "dropout_0",
            "location": "hidden.dropout",
            "values": None,
            "condition": None,
            "domain": {"min": 0.0, "max": 0.5, "step": None, "sampling": "linear"},
        }
    ]


def test_inspect_invalid_spec_exits_2(tmp_path, capsys):
    """An invalid spec given to inspect prints its problems and exits 2."""
    path = _write(tmp_path, "bad.yaml", "version: 1\nname: x\nhidden: {units: -1}\n")
    assert main(["inspect", str(path)]) == 2
    assert capsys.readouterr().err == f"{path}: hidden.units: must be >= 1 (received -1)\n"


def test_debug_shows_the_traceback(tmp_path):
    """With --debug the error propagates with its traceback."""
    path = _write(tmp_path, "bad.json", "{")
    with pytest.raises(ValueError):
        main(["--debug", "inspect", str(path)])


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["inspect"]])
def test_usage_errors_exit_2(argv, capsys):
    """Bad command lines exit 2 with a usage message."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "usage: densespace" in capsys.readouterr().err


@pytest.mark.slow
def test_spec_tools_never_import_tensorflow():
    """`import densespace`, validate, schema and inspect leave TensorFlow and Keras unimported."""
    example = str(ROOT / "examples/seed-depth-width.json")
    code = (
        "import sys, contextlib, io\n"
        "import densespace\n"
        "from densespace._cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main(['validate', {example!r}]) == 0\n"
        "    assert main(['schema']) == 0\n"
        f"    assert main(['inspect', {example!r}, '--json']) == 0\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in {'tensorflow', 'keras', 'keras_tuner'})\n"
        "print(loaded)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout == "[]\n"


@pytest.mark.slow
def test_python_dash_m_and_version():
    """`python -m densespace --version` works."""
    result = subprocess.run([sys.executable, "-m", "densespace", "--version"], capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, "densespace 0.1.0\n")


@pytest.mark.slow
def test_tune_and_report_from_the_command_line(tmp_path, capsys, monkeypatch):
    """`tune` reads $DENSESPACE_CIFAR10, applies overrides, writes results; `report` prints them again."""
    from helpers.cifar_archives import make_splits, write_binary

    monkeypatch.setenv("DENSESPACE_CIFAR10", str(write_binary(tmp_path, *make_splits())))
    spec = _write(
        tmp_path,
        "s.json",
        spec_dict(hidden={"units": {"values": [2, 3]}}, search={"max_trials": 9, "seed": 1}),
    )
    text = spec.read_text()
    out = tmp_path / "run"
    assert main(["tune", str(spec), "--max-trials", "2", "--epochs", "1", "--out", str(out)]) == 0
    printed, progress = capsys.readouterr()
    assert spec.read_text() == text
    assert progress.splitlines()[0] == (
        f"planned: up to 2 trials, 2 training epochs in the search, then 1 x 1 "
        f"epochs of retraining; results in {out}"
    )
    assert [line.split()[0] for line in progress.splitlines()[1:3]] == ["[1/2]", "[2/2]"]
    assert printed.splitlines()[0] == "t: random search, 2 trials (2 completed), objective val_loss"
    assert printed.splitlines()[-1] == f"results: {out / 'report.md'}"
    assert main(["report", str(out)]) == 0
    assert capsys.readouterr().out + f"results: {out / 'report.md'}\n" == printed


def test_report_of_a_folder_without_results(tmp_path, capsys):
    """`report` on a folder without results.json exits 2 with one line."""
    assert main(["report", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"densespace: error: {tmp_path / 'results.json'} does not exist: "
        "is this a finished densespace tune --out folder?\n"
    )


def test_tune_with_a_bad_data_source_exits_2(tmp_path, capsys):
    """A data source that is not CIFAR-10 is one error line and exit status 2."""
    spec = _write(tmp_path, "s.json", spec_dict())
    assert main(["tune", str(spec), "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("densespace: error: ") and len(err.splitlines()) == 1


@pytest.mark.slow
def test_tune_quiet_prints_nothing(tmp_path, capsys, monkeypatch):
    """`tune --quiet` prints nothing at all on success."""
    from helpers.cifar_archives import make_splits, write_binary

    data = write_binary(tmp_path, *make_splits())
    spec = _write(tmp_path, "s.json", spec_dict(search={"max_trials": 1}))
    assert (
        main(
            ["tune", str(spec), "--data", str(data), "--epochs", "1", "--quiet", "--out", str(tmp_path / "o")]
        )
        == 0
    )
    assert capsys.readouterr() == ("", "")
