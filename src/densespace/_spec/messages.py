"""Pydantic's validation errors as ``Problem`` records in the spec's own terms."""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Any, get_args, get_origin

from pydantic import Tag, ValidationError

from densespace._blocks import BLOCKS
from densespace._domains import Strict
from densespace._errors import Problem, quote, show
from densespace._search import TUNERS
from densespace._spec.models import Spec


def problems(exc: ValidationError) -> list[Problem]:
    """One ``Problem`` per pydantic error, located and worded in the spec's own terms.

    The kind is pydantic's error type (``int_type``, ``extra_forbidden``, ...)
    or densespace's own rule (``range_order``, ``duplicate``, ...).
    """
    return [
        Problem(_location(err["loc"], err.get("ctx")), err["type"], _message(err)) for err in exc.errors()
    ]


def _location(loc: tuple[Any, ...], ctx: dict[str, Any] | None = None) -> str:
    """A pydantic location written as in the spec: union tags dropped, indices in brackets,
    and the ``field`` a section's own validator names (``_spec.models._located``) appended."""
    text = ""
    annotation: Any = Spec
    for part in loc:
        tagged = part in _tags(annotation)
        annotation = None if annotation is None else _step(annotation, part)
        if tagged:
            continue
        name = str(part) if str(part).isprintable() else repr(part)  # a key's line breaks stay visible
        text += f"[{part}]" if isinstance(part, int) else f".{name}" if text else name
    field = (ctx or {}).get("field")
    if field:
        text = f"{text}.{field}" if text else field
    return quote(text) or "top level"


def _tags(annotation: Any) -> list[str]:
    """The tags of a tagged union, optional or not (empty for anything else)."""
    members = [m for m in get_args(_strip(annotation)) if m is not type(None)]
    if len(members) == 1:
        return _tags(members[0])
    return [tag for member in members for tag in _member_tags(member)]


def _member_tags(member: Any) -> list[str]:
    return [m.tag for m in getattr(member, "__metadata__", ()) if isinstance(m, Tag)]


def _suggest(received: Any, options: list[str]) -> str:
    close = difflib.get_close_matches(str(received), options, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


_TYPE_NAMES = {
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "model_type": "an object",
    "dict_type": "an object",
    "model_attributes_type": "an object",
}
_COMPARISONS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}


def _message(err: Any) -> str:
    kind, value, ctx, loc = err["type"], err.get("input"), err.get("ctx") or {}, err["loc"]
    if kind == "extra_forbidden":
        return _unknown_key(loc)
    if kind == "missing":
        return "required key is missing"
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        if loc == ("version",):
            return f"unsupported version {show(value)}; this densespace reads version 1"
        if not options:  # a numeric literal
            return f"must be {ctx.get('expected')} (received {show(value)})"
        return f"unknown value {show(value)}{_suggest(value, options)}; expected one of: " + ", ".join(
            options
        )
    if kind == "union_tag_invalid" and ctx.get("tag") == "range":
        return f'takes a constant or a choice {{"values": [...]}}, not a range (received {show(value)})'
    if kind == "union_tag_invalid":
        what, options = (
            ("block kind", list(BLOCKS))
            if "_block_kind" in ctx.get("discriminator", "")
            else ("tuner", list(TUNERS))
        )
        return (
            f"unknown {what} {show(ctx.get('tag'))}{_suggest(ctx.get('tag'), options)}; expected one of: "
            + ", ".join(options)
        )
    if kind == "union_tag_not_found":
        return f"expected an object, received {show(value)}"
    if kind in _TYPE_NAMES:
        return f"expected {_TYPE_NAMES[kind]}, received {show(value)}"
    if kind == "finite_number":
        return f"expected a finite number, received {show(value)}"
    if kind in _COMPARISONS:
        limit = next(iter(ctx.values()))
        return f"must be {_COMPARISONS[kind]} {limit} (received {show(value)})"
    if kind == "too_short" and ctx["min_length"] == 1:
        return "must not be empty"
    if kind == "too_short":
        return f"must have at least {ctx['min_length']} items (received {ctx['actual_length']})"
    if kind == "too_long":
        return f"must have at most {ctx['max_length']} items (received {ctx['actual_length']})"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']} characters (received {len(value)})"
    if kind == "string_pattern_mismatch":
        return (
            f"unsafe name {show(value)}: it becomes a directory name, so use letters, "
            "digits, '-', '_' and single inner dots (no '/', '\\' or '..')"
        )
    return f"{err['msg']} (received {show(value)})" if kind not in _CUSTOM else err["msg"]


def _unknown_key(loc: tuple[Any, ...]) -> str:
    """The message of a key no model of its place has: a close name, the allowed ones, or the tuner it
    belongs to."""
    model = _model_at(loc[:-1])
    options = [f.alias or n for n, f in model.model_fields.items()] if model else []  # $schema
    owners = [t.name for t in TUNERS.values() if loc[-1] in t.section.model_fields]
    this = next((t.name for t in TUNERS.values() if t.section is model), None)
    if this is not None and owners:
        names = [repr(name) for name in owners]
        listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        plural = "s" if len(names) > 1 else ""
        return f"unknown key: an option of tuner{plural} {listed}; this search's tuner is {this!r}"
    hint = _suggest(loc[-1], options) or f" (allowed: {', '.join(options)})"
    return f"unknown key{hint}"


_CUSTOM = {
    "constraints",
    "blocks",
    "version",
    "range_order",
    "log_sampling",
    "step",
    "duplicate",
    "bool_choice",
    "too_large",
    "augmentation",
    "crop",
    "task_mixing",
    "tuned_loss_objective",
    "task_activation",
    "task_units",
    "task_loss",
    "task_smoothing",
    "task_class_weight",
    "task_metric",
    "tuner_space",
    "hyperband_pruning",
    "hyperband_folds",
    "hyperband_pack",
    "pack_executions",
    "pack_folds",
    "tuner_points",
    "point_value_type",
    "initial_points",
    "point_name",
    "point_inactive",
    "point_missing",
    "point_value",
    "point_infeasible",
}


def _model_at(loc: tuple[Any, ...]) -> type[Strict] | None:
    """The model class found at a pydantic error location (tags included)."""
    annotation: Any = Spec
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return None
    annotation = _strip(annotation)
    return annotation if isinstance(annotation, type) and issubclass(annotation, Strict) else None


def _strip(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _step(annotation: Any, part: Any) -> Any:
    annotation = _strip(annotation)
    if isinstance(annotation, type) and issubclass(annotation, Strict):
        field = annotation.model_fields.get(part)
        return None if field is None else field.annotation
    args = get_args(annotation)
    if get_origin(annotation) is list and isinstance(part, int):
        return args[0]
    for member in args:
        if part in _member_tags(member):
            return member
    members = [m for m in args if m is not type(None)]
    return _step(members[0], part) if len(members) == 1 else None
