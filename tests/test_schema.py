"""The published JSON Schema: committed, complete, and in agreement with the models."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from helpers import EXAMPLES, ROOT
from helpers.corpus import INVALID

from densespace._spec import SCHEMA_FILE, json_schema, schema_text

SCHEMA = json_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def test_committed_schema_matches_the_models():
    """The file in schemas/ is exactly what the models generate (regenerate with `densespace schema`)."""
    assert (ROOT / SCHEMA_FILE).read_text() == schema_text()


def test_schema_is_valid_draft_2020_12_with_id_and_title():
    """The schema is itself valid and carries $id and a title."""
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["$id"] == "https://densespace.dev/schemas/densespace-spec-v1.schema.json"
    assert SCHEMA["title"] == "densespace spec v1"


def _properties(node, path=""):
    if isinstance(node, dict):
        for name, prop in node.get("properties", {}).items():
            yield f"{path}.{name}", prop
        for key, value in node.items():
            yield from _properties(value, f"{path}/{key}")
    elif isinstance(node, list):
        for value in node:
            yield from _properties(value, path)


def test_every_field_has_a_description():
    """Editors can show a description for every field (on the field or the object it refers to)."""
    missing = []
    for path, prop in _properties(SCHEMA):
        target = SCHEMA["$defs"][prop["$ref"].split("/")[-1]] if "$ref" in prop else prop
        if "description" not in prop and "description" not in target:
            missing.append(path)
    assert missing == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_validate_against_the_schema(path):
    """Every example is valid by the JSON Schema alone."""
    text = path.read_text()
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    assert list(VALIDATOR.iter_errors(data)) == []


@pytest.mark.parametrize("case", INVALID, ids=lambda c: c.id)
def test_schema_rejects_the_invalid_corpus_where_it_can(case):
    """The schema rejects each invalid spec whose rule JSON Schema can express, and only those."""
    rejected = not VALIDATOR.is_valid(case.spec)
    assert rejected == case.schema_rejects
