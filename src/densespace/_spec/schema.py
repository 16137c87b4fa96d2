"""The published JSON Schema (draft 2020-12) of the spec format, generated from the models."""

from __future__ import annotations

import json
from typing import Any

from densespace._spec.models import Spec

SCHEMA_ID = "https://densespace.dev/schemas/densespace-spec-v1.schema.json"
SCHEMA_FILE = "schemas/densespace-spec-v1.schema.json"


def json_schema() -> dict[str, Any]:
    """The JSON Schema of spec version 1, with ``$id``, title and field descriptions.

    Examples:
        >>> json_schema()["$schema"]
        'https://json-schema.org/draft/2020-12/schema'
    """
    schema = Spec.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "densespace spec v1",
    }


def schema_text() -> str:
    """The schema exactly as committed in ``schemas/`` (sorted keys, trailing newline)."""
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
