"""The spec format (version 1): what is searched.

The pydantic models here are the single source of the format: validation, the
defaults, the JSON Schema in ``schemas/`` and the reference in ``docs/spec.md``
all follow from them.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import Discriminator, Field, Tag, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from densespace import _domains, _space
from densespace._domains import Strict, tunable
from densespace._errors import SpecError

#: Bounds that keep a spec from asking for an absurd model (documented in docs/spec.md).
MAX_BLOCKS = 10
MAX_LAYERS = 100
MAX_UNITS = 16384
MAX_INPUT_SIZE = 1 << 20
MAX_PARAMETERS = 100_000_000

Activation = Literal[
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "selu",
    "gelu",
    "silu",
    "swish",
    "mish",
    "tanh",
    "sigmoid",
    "hard_sigmoid",
    "softplus",
    "softsign",
    "linear",
]
OptimizerName = Literal["adam", "adamw", "nadam", "adamax", "rmsprop", "sgd", "adagrad"]
Objective = Literal["val_loss", "val_accuracy", "loss", "accuracy"]

Layers = tunable("Layers", int, ge=0, le=MAX_LAYERS)
Units = tunable("Units", int, ge=1, le=MAX_UNITS)
ActivationValue = tunable("Activation", Activation, ranged=False)
Dropout = tunable("Dropout", float, ge=0.0, lt=1.0)
BatchNorm = tunable("BatchNorm", bool, ranged=False)
L2 = tunable("L2", float, ge=0.0, le=1.0)
OptimizerValue = tunable("Optimizer", OptimizerName, ranged=False)
LearningRate = tunable("LearningRate", float, gt=0.0, le=10.0)
BatchSize = tunable("BatchSize", int, ge=1, le=65536)
Flip = tunable("Flip", bool, ranged=False)
Translate = tunable("Translate", float, ge=0.0, le=0.5)
Schedule = tunable("Schedule", Literal["constant", "cosine"], ranged=False)
LabelSmoothing = tunable("LabelSmoothing", float, ge=0.0, lt=1.0)


class Augmentation(Strict):
    """Random changes to the training images, inside the model (inactive at inference)."""

    flip: Flip = Field(False, description="Flip images left-right at random. Hyperparameter: `flip`.")
    translate: Translate = Field(
        0.0,
        description="Shift images by up to this fraction of their height and width, in "
        "[0, 0.5]; 0 adds no layer. Hyperparameter: `translate`.",
    )


class Input(Strict):
    """The input images and how they are preprocessed inside the model."""

    shape: list[Annotated[int, Field(ge=1, le=4096)]] = Field(
        [32, 32, 3],
        min_length=1,
        max_length=4,
        description="Shape of one input example; it is flattened before the first Dense layer.",
    )
    preprocessing: Literal["rescale", "standardize", "none"] = Field(
        "rescale",
        description="'rescale' divides by 255; 'standardize' is a per-channel Normalization "
        "layer adapted on the training split; 'none' feeds raw values. Built into the model, "
        "so a saved model takes raw uint8 images.",
    )
    augmentation: Augmentation = Field(
        Augmentation(),
        description="Training-time augmentation; needs an image shape [height, width, channels].",
    )

    @model_validator(mode="after")
    def _size(self) -> Input:
        size = math.prod(self.shape)
        if size > MAX_INPUT_SIZE:
            raise PydanticCustomError(
                "too_large", f"shape has {size:,} values; the limit is {MAX_INPUT_SIZE:,}"
            )
        if self.augmentation != Augmentation() and len(self.shape) != 3:
            raise PydanticCustomError(
                "augmentation",
                f"augmentation needs an image shape [height, width, channels] (received shape {self.shape})",
            )
        return self


class Block(Strict):
    """A run of Dense layers that share one description."""

    layers: Layers = Field(
        1, description=f"How many Dense layers (0 to {MAX_LAYERS}). Hyperparameter: `layers`."
    )
    units: Units = Field(
        description=f"Units of each Dense layer (1 to {MAX_UNITS}). "
        "Hyperparameter: `units_<i>` (`units` when shared)."
    )
    activation: ActivationValue = Field(
        "relu", description="Activation of each layer. Hyperparameter: `activation_<i>`."
    )
    dropout: Dropout = Field(
        0.0,
        description="Dropout rate after each layer, in [0, 1); "
        "0 adds no Dropout layer. Hyperparameter: `dropout_<i>`.",
    )
    batch_norm: BatchNorm = Field(
        False,
        description="BatchNormalization between each Dense "
        "layer (then without bias) and its activation. "
        "Hyperparameter: `batch_norm_<i>`.",
    )
    l2: L2 = Field(
        0.0,
        description="L2 penalty on each layer's kernel, in [0, 1]; 0 adds none. Hyperparameter: `l2_<i>`.",
    )
    shared: bool = Field(
        False,
        description="false: every layer gets its own hyperparameters "
        "(`units_0`, `units_1`, ...); true: one hyperparameter per field serves "
        "all layers of the block (`units`).",
    )


def _hidden_kind(value: Any) -> str:
    return "blocks" if isinstance(value, list) else "block"


Hidden = Annotated[
    Union[
        Annotated[Block, Tag("block")],
        Annotated[list[Block], Field(min_length=1, max_length=MAX_BLOCKS), Tag("blocks")],
    ],
    Discriminator(_hidden_kind),
]


class Output(Strict):
    """The classifier layer."""

    units: int = Field(10, ge=1, le=MAX_UNITS, description="Number of classes.")
    activation: Literal["softmax"] = Field("softmax", description="Output activation.")


class Optimizer(Strict):
    """The optimizer and its learning rate."""

    name: OptimizerValue = Field("adam", description="Keras optimizer. Hyperparameter: `optimizer`.")
    learning_rate: LearningRate = Field(
        0.001, description="Learning rate in (0, 10]. Hyperparameter: `learning_rate`."
    )
    schedule: Schedule = Field(
        "constant",
        description="'constant', or 'cosine': decay from the learning rate to 0 "
        "over the epochs of the run. Hyperparameter: `schedule`.",
    )


class EarlyStopping(Strict):
    """Stop training when the monitored metric stops improving (best weights restored)."""

    monitor: Literal["val_loss", "val_accuracy"] = Field("val_loss", description="Metric watched.")
    patience: int = Field(10, ge=0, le=10000, description="Epochs without improvement before stopping.")
    min_delta: float = Field(0.0, ge=0.0, description="Smallest change that counts as improvement.")


class Training(Strict):
    """How each model is trained."""

    epochs: int = Field(10, ge=1, le=10000, description="Epochs per trial and for retraining.")
    batch_size: BatchSize = Field(32, description="Batch size. Hyperparameter: `batch_size`.")
    label_smoothing: LabelSmoothing = Field(
        0.0,
        description="Label smoothing of the cross-entropy, in [0, 1). Hyperparameter: `label_smoothing`.",
    )
    early_stopping: EarlyStopping | None = Field(None, description="Optional early stopping.")


class _Search(Strict):
    objective: Objective = Field("val_loss", description="Metric the tuner optimizes.")
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="Seed of the tuner's sampling.")
    executions_per_trial: int = Field(
        1, ge=1, le=100, description="Models trained per trial (their scores are averaged)."
    )


class RandomSearch(_Search):
    """keras-tuner's RandomSearch."""

    tuner: Literal["random"] = Field("random", description="The search algorithm.")
    max_trials: int = Field(10, ge=1, le=100000, description="Number of trials.")


class BayesianSearch(_Search):
    """keras-tuner's BayesianOptimization (a Gaussian process)."""

    tuner: Literal["bayesian"] = Field(description="The search algorithm.")
    max_trials: int = Field(10, ge=1, le=100000, description="Number of trials.")
    num_initial_points: int | None = Field(
        None,
        ge=1,
        le=100000,
        description="Random trials before the Gaussian process takes over; "
        "default 3 x the number of hyperparameters (keras-tuner's).",
    )


class HyperbandSearch(_Search):
    """keras-tuner's Hyperband."""

    tuner: Literal["hyperband"] = Field(description="The search algorithm.")
    max_epochs: int = Field(100, ge=2, le=10000, description="Most epochs one model is trained.")
    factor: int = Field(3, ge=2, le=100, description="Reduction factor between brackets.")
    hyperband_iterations: int = Field(
        1, ge=1, le=100, description="Times the whole Hyperband algorithm is run."
    )


SEARCH_TAGS = ("random", "bayesian", "hyperband")


def _search_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("tuner", "random")
    return getattr(value, "tuner", None)


Search = Annotated[
    Union[
        Annotated[RandomSearch, Tag("random")],
        Annotated[BayesianSearch, Tag("bayesian")],
        Annotated[HyperbandSearch, Tag("hyperband")],
    ],
    Discriminator(_search_kind),
]


class Spec(Strict):
    """A densespace search-space spec, version 1."""

    version: Literal[1] = Field(description="Spec format version; this densespace reads 1.")
    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$",
        description="Name of the search; used as a directory name, so letters, digits, "
        "'-', '_' and single inner dots only.",
    )
    description: str = Field("", max_length=2000, description="Free text.")
    input: Input = Field(Input(), description="The input and its preprocessing.")
    hidden: Hidden = Field(description="One block or a list of blocks of Dense layers, in order.")
    output: Output = Field(Output(), description="The classifier layer.")
    optimizer: Optimizer = Field(Optimizer(), description="Optimizer settings.")
    training: Training = Field(Training(), description="Training settings.")
    search: Search = Field(RandomSearch(), description="The tuner and its options.")

    @property
    def blocks(self) -> list[Block]:
        """The hidden blocks as a list, whichever way they were written."""
        return self.hidden if isinstance(self.hidden, list) else [self.hidden]

    @model_validator(mode="after")
    def _size(self) -> Spec:
        if _domains.is_tunable(self.training.label_smoothing) and self.search.objective.endswith("loss"):
            raise PydanticCustomError(
                "smoothing_objective",
                f"training.label_smoothing is tuned, so objective '{self.search.objective}' would compare "
                "losses smoothed differently; use objective 'val_accuracy' or a constant label_smoothing",
            )
        largest = _space.parameter_bounds(self)[1]
        if largest > MAX_PARAMETERS:
            raise PydanticCustomError(
                "too_large",
                f"the largest model of this space has {largest:,} trainable parameters; "
                f"the limit is {MAX_PARAMETERS:,}",
            )
        return self


# --------------------------------------------------------------------------- loading


def load_spec(path: str | os.PathLike[str]) -> Spec:
    """Reads a spec from a JSON or YAML file (chosen by the file's suffix).

    Args:
        path: A ``.json``, ``.yaml`` or ``.yml`` file.

    Returns:
        The validated spec.

    Raises:
        SpecError: The file cannot be read or parsed, or the spec is invalid;
            ``problems`` holds one ``location: message`` line per problem.

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
        raise SpecError([f"cannot read file: {reason}"], source=str(path)) from None
    suffix = path.suffix.lower()
    if suffix not in {".json", ".yaml", ".yml"}:
        raise SpecError([f"unsupported file type '{suffix}': use .json, .yaml or .yml"], source=str(path))
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
        raise SpecError([_parse_problem(exc, format)], source=source) from None
    return validate_spec(data, source=source)


def validate_spec(data: Any, *, source: str | None = None) -> Spec:
    """Validates parsed spec data (a dict) into a ``Spec``.

    Raises:
        SpecError: One problem per line, located the way the spec is written.
    """
    if not isinstance(data, dict):
        raise SpecError([f"top level: expected an object, received {_show(data)}"], source=source)
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(format_errors(exc), source=source) from None


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


def _parse_problem(exc: Exception, format: str) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}"
    if isinstance(exc, _DuplicateKey):
        return f"invalid JSON: {exc}"
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = getattr(exc, "problem", None) or str(exc)
    return f"{where}invalid YAML: {problem}"


# ------------------------------------------------------------------- error messages


def format_errors(exc: ValidationError) -> list[str]:
    """One ``location: message`` line per pydantic error, in the user's own terms."""
    return [f"{_location(err['loc'])}: {_message(err)}" for err in exc.errors()]


def _location(loc: tuple[Any, ...]) -> str:
    """A pydantic location written as in the spec: union tags dropped, indices in brackets."""
    text, annotation = "", Spec
    for part in loc:
        tagged = part in _tags(annotation)
        annotation = None if annotation is None else _step(annotation, part)
        if tagged:
            continue
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "top level"


def _tags(annotation: Any) -> list[str]:
    """The tags of a tagged union (empty for anything else)."""
    return [tag for member in get_args(_strip(annotation)) for tag in _member_tags(member)]


def _member_tags(member: Any) -> list[str]:
    return [m.tag for m in getattr(member, "__metadata__", ()) if isinstance(m, Tag)]


def _show(value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        return repr(value)


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
        model = _model_at(loc[:-1])
        options = list(model.model_fields) if model else []
        hint = _suggest(loc[-1], options) or f" (allowed: {', '.join(options)})"
        return f"unknown key{hint}"
    if kind == "missing":
        return "required key is missing"
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        if loc == ("version",):
            return f"unsupported version {_show(value)}; this densespace reads version 1"
        if not options:  # a numeric literal
            return f"must be {ctx.get('expected')} (received {_show(value)})"
        return f"unknown value {_show(value)}{_suggest(value, options)}; expected one of: " + ", ".join(
            options
        )
    if kind == "union_tag_invalid" and ctx.get("tag") == "range":
        return f'takes a constant or a choice {{"values": [...]}}, not a range (received {_show(value)})'
    if kind == "union_tag_invalid":
        options = list(SEARCH_TAGS)
        return (
            f"unknown tuner {_show(ctx.get('tag'))}{_suggest(ctx.get('tag'), options)}; expected one of: "
            + ", ".join(options)
        )
    if kind == "union_tag_not_found":
        return f"expected an object, received {_show(value)}"
    if kind in _TYPE_NAMES:
        return f"expected {_TYPE_NAMES[kind]}, received {_show(value)}"
    if kind == "finite_number":
        return f"expected a finite number, received {_show(value)}"
    if kind in _COMPARISONS:
        limit = next(iter(ctx.values()))
        return f"must be {_COMPARISONS[kind]} {limit} (received {_show(value)})"
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
            f"unsafe name {_show(value)}: it becomes a directory name, so use letters, "
            "digits, '-', '_' and single inner dots (no '/', '\\' or '..')"
        )
    return f"{err['msg']} (received {_show(value)})" if kind not in _CUSTOM else err["msg"]


_CUSTOM = {
    "range_order",
    "log_sampling",
    "step",
    "duplicate",
    "bool_choice",
    "too_large",
    "augmentation",
    "smoothing_objective",
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
