"""docs/spec.md against the code: fields, defaults, bounds, names, limits, examples and transcripts."""

from __future__ import annotations

import doctest
import io
import json
import re
import shlex
from typing import get_args

import pytest
from helpers import ROOT
from helpers.corpus import INVALID
from pydantic import BaseModel

import densespace
from densespace import _space, _spec
from densespace._blocks import BLOCKS
from densespace._cli import main
from densespace._search import TUNERS

DOC_PATH = ROOT / "docs" / "spec.md"
DOC = DOC_PATH.read_text(encoding="utf-8")
SCHEMA = densespace.json_schema()

#: Heading of each section table in the doc -> the models whose fields it lists.
SECTIONS = {
    "Top level": [_spec.Spec],
    "`input`": [_spec.Input],
    "`input.augmentation`": [_spec.Augmentation],
    "`hidden`": [_spec.Block],
    "Residual blocks": [BLOCKS["residual"]],
    "`output`": [_spec.Output],
    "`optimizer`": [_spec.Optimizer],
    "`training`": [_spec.Training],
    "`training.early_stopping`": [_spec.EarlyStopping],
    "`search`": [entry.section for entry in TUNERS.values()],
}
BOUND_KEYS = (
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
)


def _section(title: str) -> str:
    """The doc's text under the heading ``title`` (## to ####), up to the next heading."""
    match = re.search(rf"^#{{2,4}} {re.escape(title)}\n(.*?)(?=^#{{2,4}} |\Z)", DOC, re.M | re.S)
    assert match, f"docs/spec.md has no section {title!r}"
    return match.group(1)


def _table(text: str, column: str | None = None) -> list[dict[str, str]]:
    """The rows of the first Markdown table in ``text`` (that has ``column``), as header -> cell."""
    lines = text.splitlines()
    for start, line in enumerate(lines):
        if not line.startswith("|"):
            continue
        header = _cells(line)
        if column is not None and column not in header:
            continue
        rows = []
        for row in lines[start + 2 :]:
            if not row.startswith("|"):
                break
            rows.append(dict(zip(header, _cells(row), strict=False)))
        return rows
    raise AssertionError(f"no table{f' with a {column!r} column' if column else ''} found")


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _rows_by_key(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {next(iter(row.values())): row for row in rows}


def _schema_object(model: type[BaseModel]) -> dict:
    return SCHEMA if model is _spec.Spec else SCHEMA["$defs"][model.__name__]


def _bounds(node) -> list[float]:
    """Every bound in a property's schema, not following references or defaults."""
    found = []
    if isinstance(node, dict):
        found += [node[key] for key in BOUND_KEYS if key in node]
        for key, value in node.items():
            if key != "default":
                found += _bounds(value)
    elif isinstance(node, list):
        for value in node:
            found += _bounds(value)
    return found


def _written(number: float, text: str) -> bool:
    """Whether ``number`` appears in ``text`` as a whole number (``16,384`` or ``16384``; ``1`` for 1.0)."""
    forms = {str(number), f"{number:,}"}
    if float(number).is_integer():
        forms |= {str(int(number)), f"{int(number):,}"}
    return any(re.search(rf"(?<![\d,.]){re.escape(form)}(?![\d,]|\.\d)", text) for form in forms)


def _property_names(node) -> set[str]:
    names = set()
    if isinstance(node, dict):
        names |= set(node.get("properties", {}))
        for value in node.values():
            names |= _property_names(value)
    elif isinstance(node, list):
        for value in node:
            names |= _property_names(value)
    return names


def test_every_schema_property_is_documented():
    """Every property name anywhere in the JSON Schema appears in docs/spec.md in backticks."""
    names = _property_names(SCHEMA)
    assert len(names) > 30
    assert sorted(n for n in names if f"`{n}`" not in DOC) == []


def test_allow_lists_are_documented():
    """Every activation and optimizer name of the allow-lists is in the doc's allow-list table."""
    rows = _rows_by_key(_table(_section("Allow-lists and safety")))
    for field, literal in (
        ("`hidden.activation`", _spec.Activation),
        ("`optimizer.name`", _spec.OptimizerName),
    ):
        listed = set(re.findall(r"`([^`]+)`", rows[field]["allowed values"]))
        assert sorted(set(get_args(literal)) - listed) == [], field


def test_limits_table_matches_the_constants():
    """Each MAX_* constant of densespace._spec has a Limits row with its value written with thousands separators."""
    constants = {name: getattr(_spec, name) for name in dir(_spec) if name.startswith("MAX_")}
    assert len(constants) >= 5
    for name, value in constants.items():
        assert re.search(rf"^\| `{name}` \| {re.escape(f'{value:,}')} \|", DOC, re.M), name


@pytest.mark.parametrize("title", SECTIONS)
def test_section_table_lists_every_field_with_its_default(title):
    """A section's table has one row per field with 'required' or the default (a field one search model defaults shows it)."""
    rows = _rows_by_key(_table(_section(title), column="default"))
    fields = {}
    for model in SECTIONS[title]:
        for name, field in model.model_fields.items():
            if name not in fields or fields[name].is_required():
                fields[name] = field
    for name, field in fields.items():
        row = rows.get(f"`{field.alias or name}`")  # Spec.schema_uri is written `$schema`
        assert row is not None, f"{title}: no row for {name}"
        if field.is_required():
            assert "required" in row["default"], f"{title}.{name}"
        elif not isinstance(field.default, BaseModel):
            assert f"`{json.dumps(field.default)}`" in row["default"], f"{title}.{name}"


@pytest.mark.parametrize("title", SECTIONS)
def test_section_table_shows_the_bounds_and_tunability(title):
    """Every numeric bound of a field's schema is in its bounds cell; ranges, choices and hyperparameters match."""
    rows = _rows_by_key(_table(_section(title), column="bounds"))
    for model in SECTIONS[title]:
        for name, prop in _schema_object(model)["properties"].items():
            row = rows[f"`{name}`"]
            missing = [b for b in _bounds(prop) if not _written(b, row["bounds"])]
            assert missing == [], f"{title}.{name}: bounds {missing} not in {row['bounds']!r}"
            if "tunable" not in row:
                continue
            shapes = [prop, *prop.get("anyOf", [])]  # an optional tunable field: anyOf [oneOf, null]
            refs = [m.get("$ref", "") for shape in shapes for m in shape.get("oneOf", [])]
            ranged = any(r.endswith("Range") for r in refs)
            chosen = any(r.endswith("Choice") for r in refs)
            assert ("range" in row["tunable"]) == ranged, f"{title}.{name}"
            assert ("choice" in row["tunable"]) == chosen, f"{title}.{name}"
            if "hyperparameter" in row and (ranged or chosen):
                assert row["hyperparameter"].startswith("`"), f"{title}.{name}"


def test_examples_table_matches_the_examples():
    """Every examples/*.json is in the examples table with its real configuration count and parameter range."""
    rows = _rows_by_key(_table(_section("The examples"), column="configurations"))
    paths = sorted((ROOT / "examples").glob("*.json"))
    assert len(paths) >= 4
    for path in paths:
        row = rows.get(f"`{path.name}`")
        assert row is not None, path.name
        spec = densespace.load_spec(path)
        low, high = _space.parameter_bounds(spec)
        assert row["configurations"] == f"{_space.configurations(spec):,}", path.name
        assert row["trainable parameters"] == f"{low:,} to {high:,}", path.name


def test_error_table_quotes_real_messages():
    """Each message in the errors table is one the invalid-spec corpus really produces."""
    rows = _table(_section("Errors"), column="message")
    problems = {case.problem for case in INVALID}
    assert len(rows) >= 10
    quoted = [row["message"].strip("`") for row in rows]
    assert [m for m in quoted if m not in problems] == []


def _fences() -> list[tuple[str, str]]:
    return re.findall(r"^```(\w*)\n(.*?)^```$", DOC, re.M | re.S)


def test_cli_transcripts_match_the_cli(tmp_path, monkeypatch, capsys):
    """Each `$ densespace ...` block prints exactly what the CLI prints (a spec shown just above is its file)."""
    checked, data = 0, None
    for lang, body in _fences():
        if lang in ("json", "yaml"):
            data = body
            continue
        if lang != "console" or not body.startswith("$ densespace "):
            continue
        command, _, expected = body.partition("\n")
        args = shlex.split(command)[2:]
        if (ROOT / args[-1]).exists():
            monkeypatch.chdir(ROOT)
        else:
            assert data is not None, command
            (tmp_path / args[-1]).write_text(data, encoding="utf-8")
            monkeypatch.chdir(tmp_path)
        status = main(args)
        out, err = capsys.readouterr()
        assert (out + err).splitlines() == expected.splitlines(), command
        assert status == (2 if err else 0), command
        checked += 1
    assert checked >= 4


def test_python_examples_run(monkeypatch):
    """The ```pycon blocks pass as doctests, run from the repository root."""
    monkeypatch.chdir(ROOT)
    text = "\n".join(body for lang, body in _fences() if lang == "pycon")
    assert text.count(">>>") >= 10
    test = doctest.DocTestParser().get_doctest(text, {}, "docs/spec.md", str(DOC_PATH), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report = io.StringIO()
    runner.run(test, out=report.write)
    assert runner.failures == 0, report.getvalue()


def test_recipes_quote_the_recommended_spec(monkeypatch, capsys):
    """docs/recipes.md shows the recommended spec's inspect output and planned budget as they are."""
    monkeypatch.chdir(ROOT)
    text = (ROOT / "docs" / "recipes.md").read_text(encoding="utf-8")
    assert main(["inspect", "examples/cifar10-dense.json"]) == 0
    assert (
        f"```console\n$ densespace inspect examples/cifar10-dense.json\n{capsys.readouterr().out}```" in text
    )
    spec = densespace.load_spec(ROOT / "examples" / "cifar10-dense.json")
    trials, epochs = densespace.planned_budget(spec)
    assert (
        f"The search plans {trials} Hyperband trials and {epochs} training epochs (`max_epochs` "
        f"{spec.search.max_epochs}, `factor` {spec.search.factor}), then retrains the best configuration "
        f"for {spec.training.epochs} epochs."
    ) in " ".join(text.split())
