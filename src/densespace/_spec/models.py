"""The spec format (version 1): the pydantic models of what is searched.

These models are the single source of the format: validation, the defaults, the
JSON Schema in ``schemas/`` and the reference in ``docs/spec.md`` all follow
from them. The ``search`` section's models come from the tuner registry
(``densespace._tuners``).
"""

from __future__ import annotations

import difflib
import math
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import ConfigDict, Discriminator, Field, Tag, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from densespace import _domains, _points, _space
from densespace._domains import Choice, FloatRange, IntRange, Strict, tunable
from densespace._errors import Problem, SpecError, show
from densespace._tasks import TASKS, LossName, Task, TaskName
from densespace._tuners import MAX_PARAMETERS, TUNERS, Constraints, SearchSection

#: Bounds that keep a spec from asking for an absurd model (documented in docs/spec.md).
MAX_BLOCKS = 10
MAX_LAYERS = 100
MAX_UNITS = 16384
MAX_INPUT_SIZE = 1 << 20
# MAX_PARAMETERS = 100,000,000 comes from densespace._tuners, whose Constraints it bounds.
#: A list of constant blocks (what ``freeze`` writes: one block per run of identical
#: layers) may have one block per layer of the largest searched model, and at most
#: that many layers in all.
MAX_TOTAL_LAYERS = MAX_BLOCKS * MAX_LAYERS
#: The example shape counted (``inspect``) when the spec leaves ``input.shape`` to the data: CIFAR-10's.
DEFAULT_SHAPE = (32, 32, 3)

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
ScheduleName = Literal["constant", "cosine"]

if TYPE_CHECKING:  # what each tunable field holds, as mypy sees it
    Layers = int | IntRange | Choice
    Units = int | IntRange | Choice
    ActivationValue = Activation | Choice
    Dropout = float | FloatRange | Choice
    BatchNorm = bool | Choice
    L2 = float | FloatRange | Choice
    OptimizerValue = OptimizerName | Choice
    LearningRate = float | FloatRange | Choice
    BatchSize = int | IntRange | Choice
    Flip = bool | Choice
    Translate = float | FloatRange | Choice
    Schedule = ScheduleName | Choice
    LabelSmoothing = float | FloatRange | Choice
    RegressionLoss = LossName | Choice
else:  # what pydantic validates: the same, each value within the field's bounds
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
    Schedule = tunable("Schedule", ScheduleName, ranged=False)
    LabelSmoothing = tunable("LabelSmoothing", float, ge=0.0, lt=1.0)
    RegressionLoss = tunable("Loss", LossName, ranged=False)


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

    shape: list[Annotated[int, Field(ge=1, le=4096)]] | None = Field(
        None,
        min_length=1,
        max_length=4,
        description="Shape of one input example; it is flattened before the first Dense layer. "
        f"Default: the data's; counted as {list(DEFAULT_SHAPE)} without data.",
    )
    preprocessing: Literal["rescale", "standardize", "none"] = Field(
        "rescale",
        description="'rescale' divides by 255 (for uint8 images); 'standardize' is a Normalization "
        "layer adapted on the training split, per channel for images and per feature for flat "
        "inputs; 'none' feeds raw values. Built into the model, so a saved model takes raw inputs.",
    )
    augmentation: Augmentation = Field(
        Augmentation(),
        description="Training-time augmentation; needs an image shape [height, width, channels].",
    )

    @property
    def example_shape(self) -> tuple[int, ...]:
        """The shape of one example: ``shape``, or the one counted without data."""
        return DEFAULT_SHAPE if self.shape is None else tuple(self.shape)

    @model_validator(mode="after")
    def _size(self) -> Input:
        if self.shape is None:
            return self
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
        Annotated[list[Block], Field(min_length=1, max_length=MAX_TOTAL_LAYERS), Tag("blocks")],
    ],
    Discriminator(_hidden_kind),
]


class Output(Strict):
    """The output layer: its size and activation follow the task and the data."""

    units: int | None = Field(
        None,
        ge=1,
        le=MAX_UNITS,
        description="Output units: classes (classification), 1 (binary), labels (multilabel) or "
        "targets (regression). Default: the data's; counted as 10 (classification) or 1 without data.",
    )
    activation: Literal["softmax", "sigmoid", "linear"] | None = Field(
        None,
        description="Output activation; default the task's (softmax for classification, sigmoid for "
        "binary and multilabel, linear for regression), and only that one is accepted.",
    )


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

    monitor: str = Field(
        "val_loss", description="Metric watched: val_loss, or val_<metric> of the task (val_accuracy, ...)."
    )
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
    loss: RegressionLoss | None = Field(
        None,
        description="Regression only: 'mse' (default), 'mae' or 'huber', on standardized targets. "
        "Hyperparameter: `loss`.",
    )
    early_stopping: EarlyStopping | None = Field(None, description="Optional early stopping.")


def _search_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("tuner", "random")
    return getattr(value, "tuner", None)


if TYPE_CHECKING:
    Search = SearchSection
else:
    Search = Annotated[
        Union[tuple(Annotated[t.section, Tag(t.name)] for t in TUNERS.values())],
        Discriminator(_search_kind),
    ]


class Spec(Strict):
    """A densespace search-space spec, version 1."""

    # ``$schema`` is dumped under its alias, and only when set (dumps of other specs are unchanged)
    model_config = ConfigDict(serialize_by_alias=True)

    schema_uri: str | None = Field(
        None,
        alias="$schema",
        max_length=2000,
        exclude_if=lambda value: value is None,
        description="The JSON Schema that editors check the file against (its $id URL or a path); "
        "densespace ignores it.",
    )
    version: Literal[1] = Field(description="Spec format version; this densespace reads 1.")
    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$",
        description="Name of the search; used as a directory name, so letters, digits, "
        "'-', '_' and single inner dots only.",
    )
    description: str = Field("", max_length=2000, description="Free text.")
    task: TaskName = Field(
        "classification",
        description="What the model predicts: 'classification' (one class of several: softmax), "
        "'binary' (yes or no: one sigmoid unit), 'multilabel' (several yes-or-no labels: a sigmoid "
        "unit each) or 'regression' (numbers: linear units, one per target).",
    )
    input: Input = Field(Input(), description="The input and its preprocessing.")
    hidden: Hidden = Field(description="One block or a list of blocks of Dense layers, in order.")
    output: Output = Field(Output(), validate_default=True, description="The output layer.")
    optimizer: Optimizer = Field(Optimizer(), description="Optimizer settings.")
    training: Training = Field(Training(), validate_default=True, description="Training settings.")
    search: Search = Field(
        TUNERS["random"].section(), validate_default=True, description="The tuner and its options."
    )

    @field_validator("version", mode="before")
    @classmethod
    def _integer_version(cls, value: Any) -> Any:
        if type(value) is not int:  # Literal[1] alone would take true and 1.0
            raise PydanticCustomError(
                "version", f"unsupported version {show(value)}; this densespace reads version 1"
            )
        return value

    @field_validator("output")
    @classmethod
    def _output_fits_task(cls, output: Output, info: ValidationInfo) -> Output:
        task = TASKS.get(info.data.get("task", ""))
        if task is None:
            return output
        if output.activation not in (None, task.activation):
            raise _located(
                "activation",
                "task_activation",
                f"'{output.activation}' does not fit task '{task.name}', whose output is '{task.activation}'",
            )
        if output.units == 1 and task.name == "classification":
            raise _located(
                "units",
                "task_units",
                "a classification head of 1 unit always predicts its one class; for two classes use "
                "task 'binary' (one sigmoid unit)",
            )
        if output.units not in (None, 1) and task.name == "binary":
            raise _located(
                "units", "task_units", f"task 'binary' has 1 output unit (received {output.units})"
            )
        return output

    @field_validator("training")
    @classmethod
    def _training_fits_task(cls, training: Training, info: ValidationInfo) -> Training:
        task = TASKS.get(info.data.get("task", ""))
        if task is None:
            return training
        if training.loss is not None and task.name != "regression":
            raise _located(
                "loss", "task_loss", f"applies to task 'regression' only (this spec's task is '{task.name}')"
            )
        if training.label_smoothing != 0.0 and task.name != "classification":
            raise _located(
                "label_smoothing",
                "task_smoothing",
                f"applies to task 'classification' only (this spec's task is '{task.name}')",
            )
        stopping = training.early_stopping
        if stopping is not None and stopping.monitor not in task.objectives():
            raise _located("early_stopping.monitor", "task_metric", _unknown_metric(stopping.monitor, task))
        return training

    @field_validator("search")
    @classmethod
    def _objective_fits_task(cls, search: SearchSection, info: ValidationInfo) -> SearchSection:
        task = TASKS.get(info.data.get("task", ""))
        if task is not None and search.objective not in task.objectives():
            raise _located("objective", "task_metric", _unknown_metric(search.objective, task))
        training = info.data.get("training")
        if training is None or not search.objective.endswith("loss"):
            return search
        for field, what in (("label_smoothing", "losses smoothed differently"), ("loss", "different losses")):
            if _domains.is_tunable(getattr(training, field)):
                raise _located(
                    "objective",
                    "tuned_loss_objective",
                    f"training.{field} is tuned, so objective '{search.objective}' would compare {what}; "
                    f"use an objective of a metric (such as '{_metric_objective(task)}') or a constant {field}",
                )
        return search

    @property
    def output_units(self) -> int:
        """The output units: ``output.units``, or the task's count without data."""
        return TASKS[self.task].units if self.output.units is None else self.output.units

    @property
    def blocks(self) -> list[Block]:
        """The hidden blocks as a list, whichever way they were written."""
        return self.hidden if isinstance(self.hidden, list) else [self.hidden]

    @field_validator("hidden")
    @classmethod
    def _blocks(cls, hidden: Block | list[Block]) -> Block | list[Block]:
        if not isinstance(hidden, list) or len(hidden) <= MAX_BLOCKS:
            return hidden
        if not all(_space.is_constant(block) for block in hidden):
            raise PydanticCustomError(
                "blocks",
                f"must have at most {MAX_BLOCKS} blocks (received {len(hidden)}); "
                "only constant blocks, as in a frozen spec, may be more",
            )
        layers = sum(_domains.bounds(block.layers)[1] for block in hidden)  # constants here
        if layers > MAX_TOTAL_LAYERS:
            raise PydanticCustomError(
                "blocks", f"the blocks have {layers:,} layers in all; the limit is {MAX_TOTAL_LAYERS:,}"
            )
        return hidden

    @model_validator(mode="after")
    def _size(self) -> Spec:
        largest = _space.parameter_bounds(self)[1]
        if largest > MAX_PARAMETERS:
            raise PydanticCustomError(
                "too_large",
                f"the largest model of this space has {largest:,} trainable parameters; "
                f"the limit is {MAX_PARAMETERS:,}",
            )
        return self

    @model_validator(mode="after")
    def _tuner_fits_space(self) -> Spec:
        """A tuner that cannot search the space refuses it (a grid search, a continuous range)."""
        problem = self.search.unsearchable(self)
        if problem is not None:
            raise _located("search.tuner", "tuner_space", problem)
        return self

    @model_validator(mode="after")
    def _feasible(self) -> Spec:
        """A space whose ``search.constraints`` allow no configuration is refused (counted only
        when constraints are set, and only once the input shape is known: a spec that leaves it
        to the data is counted when the data fits it in)."""
        if not self.search.constraints.active or self.input.shape is None:
            return self
        try:
            feasible = _space.feasible_space(self)
        except SpecError as exc:
            [problem] = exc.problems
            raise _located(problem.location, problem.kind, problem.message) from None
        if feasible.parameters is None:
            raise _located("search.constraints", "constraints", _infeasible(self))
        return self

    @model_validator(mode="after")
    def _initial_points(self) -> Spec:
        """Each of ``search.initial_points`` is a point of the space (``_points.check_point``),
        none twice, and there are no more of them than trials."""
        points = self.search.initial_points
        trials = getattr(self.search, "max_trials", len(points))
        if len(points) > trials:
            raise _located(
                "search.initial_points",
                "initial_points",
                f"{len(points)} points, more than search.max_trials ({trials})",
            )
        seen: dict[str, int] = {}
        for i, values in enumerate(points):
            location = f"search.initial_points[{i}]"
            try:
                point = _points.check_point(self, values, location=location)
            except SpecError as exc:
                problem = exc.problems[0]
                raise _located(problem.location, problem.kind, problem.message) from None
            key = repr(sorted(point.items()))
            if key in seen:
                raise _located(location, "duplicate", f"the same point as search.initial_points[{seen[key]}]")
            seen[key] = i
        return self


_NO_FUNNEL = "no configuration of this space is a funnel (every hidden layer no wider than the one before it)"


def _infeasible(spec: Spec) -> str:
    """Why no configuration of ``spec`` satisfies its constraints."""
    constraints = spec.search.constraints
    if constraints.funnel:
        held = _space.feasible_space(spec, Constraints(funnel=True)).parameters
        if held is None:
            return _NO_FUNNEL
        what, holder = "funnel configuration", "the funnel configurations hold"
    else:
        held, what, holder = _space.parameter_bounds(spec), "configuration", "the space holds"
    low, high = constraints.min_parameters, constraints.max_parameters
    if low is not None and high is not None:
        wanted = f"between {low:,} and {high:,}"
    else:
        wanted = f"at least {low:,}" if low is not None else f"at most {high:,}"
    span = f"only {held[0]:,}" if held[0] == held[1] else f"{held[0]:,} to {held[1]:,}"
    return f"no {what} of this space has {wanted} trainable parameters ({holder} {span})"


def unshaped_infeasible(spec: Spec) -> SpecError:
    """The error of a spec that leaves ``input.shape`` to the data and whose ``search.constraints``
    allow no configuration on ``DEFAULT_SHAPE``, the shape counted without data (validation leaves
    such constraints to the data; ``inspect``, which counts on that shape, refuses the spec)."""
    return SpecError(
        [
            Problem(
                "search.constraints",
                "constraints",
                f"{_infeasible(spec)} on the input shape {list(DEFAULT_SHAPE)}, counted as the spec "
                "sets no input.shape; set input.shape to the data's",
            )
        ]
    )


def _located(field: str, kind: str, message: str) -> PydanticCustomError:
    """An error of a section's ``field`` raised by the section's validator (``problems``
    appends ``field`` to the location)."""
    return PydanticCustomError(kind, message, {"field": field})


def _unknown_metric(name: str, task: Task) -> str:
    close = difflib.get_close_matches(name, task.objectives(), n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"{show(name)} is not recorded for task '{task.name}'{hint}; expected one of: " + ", ".join(
        task.objectives()
    )


def _metric_objective(task: Task | None) -> str:
    return f"val_{(task or TASKS['classification']).metrics[0]}"
