"""Reading a spec: files, JSON and YAML text, parsed data -> a validated ``Spec``.

Every step is bounded: a spec file is read only when it is a regular file of at
most ``MAX_SPEC_BYTES``; its parsed value may hold at most ``MAX_VALUES`` values
(YAML aliases counted every time they are used) nested at most ``MAX_DEPTH``
deep; and problems quote received values cut to a few hundred characters.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from densespace._errors import Problem, SpecError, quote, show
from densespace._files import UnreadableFile, read_bytes
from densespace._spec.checks import space_problem
from densespace._spec.messages import problems
from densespace._spec.models import Spec

#: The largest spec file densespace reads (specs are a few kilobytes).
MAX_SPEC_BYTES = 10 << 20
#: The most values (objects, lists and scalars) a parsed spec may hold, aliases expanded.
MAX_VALUES = 1_000_000
#: The deepest nesting of objects and lists a spec may have (real specs nest 5 deep).
MAX_DEPTH = 64


def load_spec(path: str | os.PathLike[str]) -> Spec:
    """Reads a spec from a JSON or YAML file (chosen by the file's suffix).

    Args:
        path: A ``.json``, ``.yaml`` or ``.yml`` file: a regular file of at most
            10 MB, UTF-8 (a byte-order mark is allowed).

    Returns:
        The validated spec.

    Raises:
        SpecError: The file cannot be read or parsed, or the spec is invalid;
            ``problems`` holds one ``Problem`` (location, kind, message) each.

    Examples:
        >>> spec = load_spec("examples/seed-depth.json")
        >>> spec.search.tuner
        'bayesian'
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in {".json", ".yaml", ".yml"}:
        raise SpecError(
            [Problem("", "file_type", f"unsupported file type '{quote(suffix)}': use .json, .yaml or .yml")],
            source=str(path),
        )
    try:
        raw = read_bytes(path, limit=MAX_SPEC_BYTES)
    except UnreadableFile as exc:
        raise SpecError(
            [Problem("", "unreadable", f"cannot read file: {exc.reason}")], source=str(path)
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = Problem("", "unreadable", f"cannot read file: {exc}")
        raise SpecError([problem], source=str(path)) from None
    return parse_spec(text, format="json" if suffix == ".json" else "yaml", source=str(path))


def parse_spec(text: str, *, format: Literal["json", "yaml"], source: str | None = None) -> Spec:
    """Parses and validates a spec from JSON or YAML text.

    YAML is read with PyYAML's safe loader (tags that would construct objects are
    refused) and, like JSON, with duplicate keys refused.

    Raises:
        SpecError: The text is malformed or the spec is invalid.

    Examples:
        >>> parse_spec('{"version": 1, "name": "t", "hidden": {"units": 8}}', format="json").hidden.units
        8
    """
    text = text.removeprefix("\ufeff")
    try:
        data = _parse_json(text) if format == "json" else yaml.load(text, Loader=_Loader)
    except (json.JSONDecodeError, yaml.YAMLError, _DuplicateKey) as exc:
        raise SpecError([_parse_problem(exc)], source=source) from None
    except RecursionError:
        raise SpecError(
            [Problem("", "too_deep", f"nested deeper than {MAX_DEPTH} levels")], source=source
        ) from None
    except ValueError:  # Python refuses to read integers of more than 4,300 digits
        problem = Problem("", "invalid_number", "holds a number of more than 4,300 digits")
        raise SpecError([problem], source=source) from None
    return validate_spec(data, source=source)


def validate_spec(data: Any, *, source: str | None = None) -> Spec:
    """Validates parsed spec data (a dict) into a ``Spec``: its format (the models), then the
    rules of its space (``checks``).

    Raises:
        SpecError: One problem per line, located the way the spec is written.

    Examples:
        >>> validate_spec({"version": 1, "name": "t", "hidden": {"units": {"min": 8, "max": 64}}}).name
        't'
        >>> validate_spec({"version": 1, "name": "t", "hidden": {"units": 0}})
        Traceback (most recent call last):
        ...
        densespace._errors.SpecError: hidden.units: must be >= 1 (received 0)
    """
    if not isinstance(data, dict):
        raise SpecError(
            [Problem("top level", "dict_type", f"expected an object, received {show(data)}")], source=source
        )
    problem = _size_problem(data)
    if problem is not None:
        raise SpecError([problem], source=source)
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(problems(exc), source=source) from None
    problem = space_problem(spec)
    if problem is not None:
        raise SpecError([problem], source=source)
    return spec


def _size_problem(data: Any) -> Problem | None:
    """Why ``data`` is too large or too deep to be a spec, or None; stops counting at the limits."""
    count = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > MAX_VALUES:
            return Problem(
                "top level",
                "too_large",
                f"holds more than {MAX_VALUES:,} values (YAML aliases count each time used)",
            )
        if depth > MAX_DEPTH:
            return Problem("top level", "too_deep", f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return None


class _DuplicateKey(ValueError):
    pass


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key written twice in one mapping (merge keys aside)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{quote(str(key))}'", key_node.start_mark
                )
            seen.add(key if isinstance(key, (str, int, float, bool)) else id(key_node))
        return super().construct_mapping(node, deep=deep)


def _parse_json(text: str) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in items:
            if key in result:
                raise _DuplicateKey(f"duplicate key '{quote(key)}'")
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
    kind = "duplicate_key" if problem.startswith("duplicate key") else "invalid_yaml"
    return Problem(where, kind, f"invalid YAML: {quote(problem)}")
