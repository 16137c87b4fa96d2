"""Reading a spec: files, JSON and YAML text, parsed data -> a validated ``Spec``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from densespace._errors import Problem, SpecError
from densespace._spec.messages import problems, show
from densespace._spec.models import Spec


def load_spec(path: str | os.PathLike[str]) -> Spec:
    """Reads a spec from a JSON or YAML file (chosen by the file's suffix).

    Args:
        path: A ``.json``, ``.yaml`` or ``.yml`` file.

    Returns:
        The validated spec.

    Raises:
        SpecError: The file cannot be read or parsed, or the spec is invalid;
            ``problems`` holds one ``Problem`` (location, kind, message) each.

    Example:
        >>> spec = load_spec("examples/seed-depth.json")  # doctest: +SKIP
        >>> spec.search.tuner  # doctest: +SKIP
        'bayesian'
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise SpecError(
            [Problem("", "unreadable", f"cannot read file: {reason}")], source=str(path)
        ) from None
    suffix = path.suffix.lower()
    if suffix not in {".json", ".yaml", ".yml"}:
        raise SpecError(
            [Problem("", "file_type", f"unsupported file type '{suffix}': use .json, .yaml or .yml")],
            source=str(path),
        )
    return parse_spec(text, format="json" if suffix == ".json" else "yaml", source=str(path))


def parse_spec(text: str, *, format: Literal["json", "yaml"], source: str | None = None) -> Spec:
    """Parses and validates a spec from JSON or YAML text.

    YAML is read with ``yaml.safe_load``: tags that would construct objects are refused.

    Raises:
        SpecError: The text is malformed or the spec is invalid.
    """
    try:
        data = _parse_json(text) if format == "json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError, _DuplicateKey) as exc:
        raise SpecError([_parse_problem(exc)], source=source) from None
    return validate_spec(data, source=source)


def validate_spec(data: Any, *, source: str | None = None) -> Spec:
    """Validates parsed spec data (a dict) into a ``Spec``.

    Raises:
        SpecError: One problem per line, located the way the spec is written.
    """
    if not isinstance(data, dict):
        raise SpecError(
            [Problem("top level", "dict_type", f"expected an object, received {show(data)}")], source=source
        )
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(problems(exc), source=source) from None


class _DuplicateKey(ValueError):
    pass


def _parse_json(text: str) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in items:
            if key in result:
                raise _DuplicateKey(f"duplicate key '{key}'")
            result[key] = value
        return result

    return json.loads(text, object_pairs_hook=pairs)


def _parse_problem(exc: Exception) -> Problem:
    if isinstance(exc, json.JSONDecodeError):
        return Problem(f"line {exc.lineno}, column {exc.colno}", "invalid_json", f"invalid JSON: {exc.msg}")
    if isinstance(exc, _DuplicateKey):
        return Problem("", "duplicate_key", f"invalid JSON: {exc}")
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(exc, "problem", None) or str(exc)
    return Problem(where, "invalid_yaml", f"invalid YAML: {problem}")
