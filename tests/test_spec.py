"""The spec format: valid specs, round trips, and the invalid corpus."""

from __future__ import annotations

import json
import os

import pydantic
import pytest
from helpers import EXAMPLES, spec_dict
from helpers.corpus import INVALID

import densespace
from densespace import SpecError, load_spec, parse_spec, validate_spec

VALID = [
    pytest.param(spec_dict(), id="minimal"),
    pytest.param(
        spec_dict(hidden={"units": {"min": 8, "max": 64, "step": 8}, "layers": {"values": [1, 3]}}),
        id="int-choice-count",
    ),
    pytest.param(
        spec_dict(hidden={"units": {"min": 8, "max": 64, "step": 2, "sampling": "log"}}), id="log-step"
    ),
    pytest.param(
        spec_dict(
            hidden={"dropout": {"min": 0, "max": 0.5, "step": 0.1}, "batch_norm": {"values": [False, True]}}
        ),
        id="float-step-bool-choice",
    ),
    pytest.param(
        spec_dict(
            hidden=[
                {"units": 8, "shared": True, "layers": {"min": 0, "max": 2}},
                {"units": {"values": [4, 8]}, "l2": {"min": 1e-5, "max": 1e-2, "sampling": "log"}},
            ]
        ),
        id="two-blocks",
    ),
    pytest.param(
        spec_dict(
            optimizer={
                "name": {"values": ["adam", "sgd"]},
                "learning_rate": {"min": 1e-4, "max": 1e-1, "sampling": "log"},
            },
            training={"batch_size": {"values": [32, 64]}, "early_stopping": {"patience": 3}},
        ),
        id="global-hyperparameters",
    ),
    pytest.param(spec_dict(search={"tuner": "hyperband", "max_epochs": 9, "factor": 3}), id="hyperband"),
    pytest.param(spec_dict(search={"tuner": "bayesian", "num_initial_points": 2, "seed": 1}), id="bayesian"),
    pytest.param(spec_dict(input={"shape": [28, 28], "preprocessing": "standardize"}), id="standardize"),
    pytest.param(spec_dict(name="a.b-c_1"), id="dotted-name"),
]


@pytest.mark.parametrize("data", VALID)
def test_valid_specs_round_trip_through_json(data):
    """A valid spec dumps to JSON that loads back to an equal object."""
    spec = validate_spec(data)
    again = parse_spec(spec.model_dump_json(), format="json")
    assert again == spec
    assert again.model_dump() == spec.model_dump()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_load_and_round_trip(path):
    """Every example loads and survives a dump-and-load round trip."""
    spec = load_spec(path)
    assert densespace.Spec.model_validate_json(spec.model_dump_json()) == spec


@pytest.mark.parametrize("path", [p for p in EXAMPLES if p.suffix == ".yaml"], ids=lambda p: p.name)
def test_yaml_twin_equals_json(path):
    """Each YAML example is the same spec as its JSON twin."""
    assert load_spec(path) == load_spec(path.with_suffix(".json"))


def test_spec_built_in_python_round_trips():
    """A spec built from the models dumps to JSON that loads back equal."""
    spec = densespace.Spec(
        version=1,
        name="py",
        hidden=[
            densespace.Block(units=densespace.IntRange(min=64, max=256, step=64), layers=2),
            densespace.Block(units=32, dropout=densespace.FloatRange(min=0.0, max=0.5)),
        ],
        search=densespace.BayesianSearch(tuner="bayesian", max_trials=5),
    )
    assert parse_spec(spec.model_dump_json(), format="json") == spec
    assert spec.blocks[1].dropout.size() is None


def test_defaults():
    """Omitted sections take the documented defaults."""
    spec = validate_spec(spec_dict())
    assert spec.input.shape is None and spec.input.example_shape == (32, 32, 3)
    assert spec.input.preprocessing == "auto" and spec.task == "classification"
    assert spec.output.units is None and spec.output_units == 10
    block = spec.blocks[0]
    assert (block.layers, block.activation, block.dropout, block.batch_norm, block.l2, block.shared) == (
        1,
        "relu",
        0.0,
        False,
        0.0,
        False,
    )
    assert (spec.optimizer.name, spec.optimizer.learning_rate) == ("adam", 0.001)
    assert (spec.training.epochs, spec.training.batch_size, spec.training.early_stopping) == (10, 32, None)
    assert spec.search == densespace.RandomSearch()


def test_specs_are_immutable():
    """A spec cannot be changed after validation."""
    spec = validate_spec(spec_dict())
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        spec.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize("case", INVALID, ids=lambda c: c.id)
def test_invalid_spec_reports_one_exact_problem(case):
    """Each invalid spec gets exactly its expected problem line."""
    with pytest.raises(SpecError) as info:
        validate_spec(case.spec)
    assert [str(p) for p in info.value.problems] == [case.problem]


def test_spec_error_is_a_value_error_listing_every_problem():
    """Several problems are all reported, one per line, prefixed by the source."""
    data = spec_dict(hidden={"units": 0, "dropout": 2.0}, search={"max_trials": 0})
    with pytest.raises(ValueError) as info:
        validate_spec(data, source="s.json")
    assert str(info.value).splitlines() == [
        "s.json: hidden.units: must be >= 1 (received 0)",
        "s.json: hidden.dropout: must be < 1.0 (received 2.0)",
        "s.json: search.max_trials: must be >= 1 (received 0)",
    ]
    assert isinstance(info.value, densespace.DensespaceError)


PARSE_ERRORS = [
    ("bad.json", '{"version": 1,\n  "name": }', "line 2, column 11: invalid JSON: Expecting value"),
    ("dup.json", '{"version": 1, "version": 1}', "invalid JSON: duplicate key 'version'"),
    (
        "bad.yaml",
        "version: 1\nhidden: [units: 8\n",
        "line 3, column 1: invalid YAML: expected ',' or ']', but got '<stream end>'",
    ),
    (
        "tag.yaml",
        "version: !!python/object/apply:os.system ['echo pwned']\n",
        "line 1, column 10: invalid YAML: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.system'",
    ),
    ("list.yaml", "- 1\n", "top level: expected an object, received [1]"),
    ("spec.txt", "{}", "unsupported file type '.txt': use .json, .yaml or .yml"),
]


@pytest.mark.parametrize(("name", "text", "problem"), PARSE_ERRORS, ids=[p[0] for p in PARSE_ERRORS])
def test_unreadable_files_report_where_and_why(tmp_path, name, text, problem):
    """Malformed, unsafe or unsupported files give one located problem."""
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert [str(p) for p in info.value.problems] == [problem]
    assert info.value.source == str(path)


def test_file_that_is_not_utf8(tmp_path):
    """A file that is not UTF-8 is a SpecError, not a crash."""
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"name": "caf\xe9"}')
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert [str(p) for p in info.value.problems] == [
        "cannot read file: 'utf-8' codec can't decode byte 0xe9 in position 13: invalid continuation byte"
    ]


def test_missing_file(tmp_path):
    """A missing file is a SpecError naming the file."""
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path / "nope.json")
    assert [str(p) for p in info.value.problems] == ["cannot read file: No such file or directory"]


def test_json_nan_is_refused(tmp_path):
    """NaN written in a JSON file is refused as a non-finite number."""
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(spec_dict(optimizer={"learning_rate": float("nan")})))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert [str(p) for p in info.value.problems] == [
        "optimizer.learning_rate: expected a finite number, received NaN"
    ]


def test_problems_are_records_with_location_kind_and_message():
    """Each problem says where, which rule and what, while str() keeps the one-line form."""
    with pytest.raises(SpecError) as info:
        validate_spec(spec_dict(hidden={"units": {"min": 512, "max": 64}, "dropuot": 0.1}))
    assert [(p.location, p.kind, p.message) for p in info.value.problems] == [
        ("hidden.units", "range_order", "min (512) must be <= max (64)"),
        ("hidden.dropuot", "extra_forbidden", "unknown key (did you mean 'dropout'?)"),
    ]
    assert str(info.value) == (
        "hidden.units: min (512) must be <= max (64)\nhidden.dropuot: unknown key (did you mean 'dropout'?)"
    )


BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 9 if previous else ['lol'] * 9)}]\n"
    for previous, name in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)


@pytest.mark.parametrize(
    ("text", "fmt", "problem"),
    [
        (
            "version: 1\nname: t\nname: u\nhidden: {units: 8}\n",
            "yaml",
            "line 3, column 1: invalid YAML: duplicate key 'name'",
        ),
        ("[" * 5000 + "]" * 5000, "json", "nested deeper than 64 levels"),
        ("a: " + "[" * 5000 + "]" * 5000, "yaml", "nested deeper than 64 levels"),
        ('{"a": ' + "[" * 70 + "]" * 70 + "}", "json", "top level: nested deeper than 64 levels"),
        (
            '{"version": 1, "hidden": {"units": ' + "9" * 5000 + "}}",
            "json",
            "holds a number of more than 4,300 digits",
        ),
        ("hidden: {units: " + "9" * 5000 + "}", "yaml", "holds a number of more than 4,300 digits"),
        (BOMB, "yaml", "top level: holds more than 1,000,000 values (YAML aliases count each time used)"),
        (
            '{"version": true, "name": "t", "hidden": {"units": 8}}',
            "json",
            "version: unsupported version true; this densespace reads version 1",
        ),
        (
            '{"version": 1.0, "name": "t", "hidden": {"units": 8}}',
            "json",
            "version: unsupported version 1.0; this densespace reads version 1",
        ),
    ],
    ids=[
        "yaml-duplicate-key",
        "json-deep",
        "yaml-deep",
        "deep-value",
        "json-huge-int",
        "yaml-huge-int",
        "alias-bomb",
        "version-true",
        "version-float",
    ],
)
def test_hostile_documents_get_one_bounded_problem(text, fmt, problem):
    """Duplicate keys, deep nesting, huge integers, alias bombs and non-integer versions are one located problem."""
    with pytest.raises(SpecError) as info:
        parse_spec(text, format=fmt)
    assert [str(p) for p in info.value.problems] == [problem]


def test_a_byte_order_mark_is_accepted_in_json_and_yaml(tmp_path):
    """A UTF-8 byte-order mark (Windows editors write one) is skipped in both formats."""
    for suffix, text in [
        (".json", '{"version": 1, "name": "t", "hidden": {"units": 8}}'),
        (".yaml", "version: 1\nname: t\nhidden: {units: 8}\n"),
    ]:
        path = tmp_path / f"spec{suffix}"
        path.write_bytes(b"\xef\xbb\xbf" + text.encode())
        assert load_spec(path).name == "t"


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: os.mkfifo(p), "cannot read file: not a regular file"),
        (lambda p: p.mkdir(), "cannot read file: not a regular file"),
        (
            lambda p: p.write_bytes(b" " * (10 * 2**20 + 1)),
            "cannot read file: 10,485,761 bytes is larger than the 10,485,760 bytes allowed",
        ),
        (lambda p: p.symlink_to("/dev/zero"), "cannot read file: not a regular file"),
        (lambda p: p.symlink_to(p), "cannot read file: Too many levels of symbolic links"),
    ],
    ids=["fifo", "folder", "too-large", "device", "symlink-loop"],
)
def test_spec_paths_that_are_not_small_regular_files_are_refused_unread(tmp_path, make, problem):
    """A FIFO, a folder, a device, a symlink loop or a file over 10 MB is refused without blocking or reading it."""
    path = tmp_path / "spec.json"
    make(path)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert [str(p) for p in info.value.problems] == [problem]


def test_a_million_bad_values_print_twenty_problems_and_a_count():
    """A spec with a million bad values lists the first 20 problems, then how many more there are."""
    with pytest.raises(SpecError) as info:
        validate_spec(spec_dict(hidden={"units": {"values": [0] * 1000}}))
    lines = str(info.value).splitlines()
    assert len(info.value.problems) == 1000
    assert lines[:2] == [
        "hidden.units.values[0]: must be >= 1 (received 0)",
        "hidden.units.values[1]: must be >= 1 (received 0)",
    ]
    assert len(lines) == 21 and lines[-1] == "and 980 more problems"


@pytest.mark.parametrize(
    ("key", "location"),
    [
        ("a\nfake.json: ok (1 configuration)", "'a\\nfake.json: ok (1 configuration)'"),
        ("k" * 5000, "k" * 197 + "..."),
    ],
    ids=["line-break", "huge"],
)
def test_unknown_keys_are_quoted_in_locations(key, location):
    """An unknown key with a line break cannot forge an output line, and a huge one is cut."""
    with pytest.raises(SpecError) as info:
        validate_spec(spec_dict(**{key: 1}))
    assert [p.location for p in info.value.problems] == [location]
    assert "\n" not in str(info.value)
