"""The spec format (version 1): the pydantic models of what is searched.

These models are the single source of the format: validation, the defaults, the
JSON Schema in ``schemas/`` and the reference in ``docs/spec.md`` all follow
from them. The ``hidden`` blocks' models come from the block registry
(``densespace._blocks``), the ``search`` section's from the tuner registry
(``densespace._search``). The models check the format only; the rules that need
the space worked out are ``densespace._spec.checks``, which ``validate_spec`` runs next.
"""

from __future__ import annotations

import difflib
import math
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import ConfigDict, Discriminator, Field, Tag, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from densespace import _domains
from densespace._blocks import BLOCKS
from densespace._blocks.base import MAX_LAYERS, MAX_UNITS, BlockModel
from densespace._domains import Choice, FloatRange, IntRange, Strict, tunable
from densespace._errors import show
from densespace._search import TUNERS, SearchSection
from densespace._tasks import TASKS, LossName, Task, TaskName

#: Bounds that keep a spec from asking for an absurd model (documented in docs/spec.md); a
#: block's own bounds (``MAX_LAYERS``, ``MAX_UNITS``) are in ``densespace._blocks.base``.
MAX_BLOCKS = 10
MAX_INPUT_SIZE = 1 << 20
#: A list of constant blocks (what ``freeze`` writes: one block per run of identical
#: layers) may have one block per layer of the largest searched model, and at most
#: that many layers in all.
MAX_TOTAL_LAYERS = MAX_BLOCKS * MAX_LAYERS
#: The example shape counted (``inspect``) when the spec leaves ``input.shape`` to the data: CIFAR-10's.
DEFAULT_SHAPE = (32, 32, 3)
#: The most padding ``input.augmentation.crop`` takes, and the largest MixUp and CutMix alpha.
MAX_CROP = 1024
MAX_ALPHA = 100.0

OptimizerName = Literal["adam", "adamw", "nadam", "adamax", "rmsprop", "sgd", "adagrad", "lion"]
ScheduleName = Literal["constant", "cosine"]

if TYPE_CHECKING:  # what each tunable field holds, as mypy sees it
    OptimizerValue = OptimizerName | Choice
    LearningRate = float | FloatRange | Choice
    BatchSize = int | IntRange | Choice
    Flip = bool | Choice
    Translate = float | FloatRange | Choice
    Crop = int | IntRange | Choice
    Alpha = float | FloatRange | Choice
    Schedule = ScheduleName | Choice
    WeightDecay = float | FloatRange | Choice
    Warmup = float | FloatRange | Choice
    LabelSmoothing = float | FloatRange | Choice
    RegressionLoss = LossName | Choice
else:  # what pydantic validates: the same, each value within the field's bounds
    OptimizerValue = tunable("Optimizer", OptimizerName, ranged=False)
    LearningRate = tunable("LearningRate", float, gt=0.0, le=10.0)
    BatchSize = tunable("BatchSize", int, ge=1, le=65536)
    Flip = tunable("Flip", bool, ranged=False)
    Translate = tunable("Translate", float, ge=0.0, le=0.5)
    Crop = tunable("Crop", int, ge=0, le=MAX_CROP)
    Alpha = tunable("Alpha", float, ge=0.0, le=MAX_ALPHA)
    Schedule = tunable("Schedule", ScheduleName, ranged=False)
    WeightDecay = tunable("WeightDecay", float, ge=0.0, le=1.0)
    Warmup = tunable("Warmup", float, ge=0.0, lt=1.0)
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
    crop: Crop = Field(
        0,
        description="Pad images by this many pixels of zeros and crop them back at random (a "
        "random whole-pixel shift), less than the height and width; 0 adds no layer. "
        "Hyperparameter: `crop`.",
    )
    mixup: Alpha = Field(
        0.0,
        description="MixUp's alpha: blend each training example and its label with another's, "
        "weight from Beta(alpha, alpha); 0: none. Classification only. Hyperparameter: `mixup`.",
    )
    cutmix: Alpha = Field(
        0.0,
        description="CutMix's alpha: paste a box of another training example, labels mixed by its "
        "area, from Beta(alpha, alpha); 0: none (with mixup too, each batch gets one of the two). "
        "Classification only. Hyperparameter: `cutmix`.",
    )


ColumnTypeName = Literal["numeric", "boolean", "categorical", "date", "ignore"]


class Input(Strict):
    """The inputs (images, arrays or the columns of a table) and how they are preprocessed inside the model."""

    shape: list[Annotated[int, Field(ge=1, le=4096)]] | None = Field(
        None,
        min_length=1,
        max_length=4,
        description="Shape of one input example; it is flattened before the first Dense layer. "
        "For a table, [the width of its encoded columns]. "
        f"Default: the data's; counted as {list(DEFAULT_SHAPE)} without data.",
    )
    columns: dict[Annotated[str, Field(min_length=1, max_length=1000)], ColumnTypeName] | None = Field(
        None,
        max_length=100_000,
        description="Tables only: the type of a feature column by its name, 'numeric', 'boolean', "
        "'categorical', 'date' or 'ignore' (left out of the model); the columns not named are "
        "inferred (docs/data.md). A run records every column's type here.",
    )
    embeddings: int | None = Field(
        None,
        ge=0,
        description="Tables only: the trainable parameters of the embeddings of categorical columns "
        "of many categories, counted with the model's. Default: the data's; 0 without data.",
    )
    preprocessing: Literal["auto", "rescale", "standardize", "none"] = Field(
        "auto",
        description="'auto' is 'rescale' for uint8 images and 'standardize' for tables and other "
        "arrays; 'rescale' divides by 255 (for uint8 images); 'standardize' is a Normalization "
        "layer adapted on the training split, per channel for images and per feature for flat "
        "inputs and table columns; 'none' feeds raw values. Built into the model, so a saved "
        "model takes raw inputs.",
    )
    augmentation: Augmentation = Field(
        Augmentation(),
        description="Training-time augmentation; needs an image shape [height, width, channels].",
    )

    @property
    def example_shape(self) -> tuple[int, ...]:
        """The shape of one example: ``shape``, or the one counted without data."""
        return DEFAULT_SHAPE if self.shape is None else tuple(self.shape)

    def resolved(self, dtype: str | None) -> Literal["rescale", "standardize", "none"]:
        """The preprocessing for inputs of ``dtype`` (``"uint8"``, ...; ``"table"`` for a table;
        None without data, where 'auto' counts as 'rescale')."""
        if self.preprocessing != "auto":
            return self.preprocessing
        return "rescale" if dtype in (None, "uint8") else "standardize"

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
        crop = _domains.bounds(self.augmentation.crop)[1]
        if len(self.shape) == 3 and crop >= min(self.shape[:2]):
            raise _located(
                "augmentation.crop",
                "crop",
                f"must be less than the image's height and width (received {crop} for shape {self.shape})",
            )
        return self


def _hidden_kind(value: Any) -> str:
    return "blocks" if isinstance(value, list) else "block"


def _block_kind(value: Any) -> Any:
    """A block's kind: its ``kind``, ``dense`` when a written block names none."""
    if isinstance(value, dict):
        return str(value.get("kind", "dense"))
    return getattr(value, "kind", None)


if TYPE_CHECKING:
    AnyBlock = BlockModel
else:  # a block of any kind: BLOCKS' models, told apart by ``kind``
    AnyBlock = Annotated[
        Union[tuple(Annotated[model, Tag(name)] for name, model in BLOCKS.items())],
        Discriminator(_block_kind),
    ]

Hidden = Annotated[
    Union[
        Annotated[AnyBlock, Tag("block")],
        Annotated[list[AnyBlock], Field(min_length=1, max_length=MAX_TOTAL_LAYERS), Tag("blocks")],
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
    weight_decay: WeightDecay | None = Field(
        None,
        description="Decoupled weight decay in [0, 1] on the kernels (never on biases and "
        "normalization scales and offsets); null: the optimizer's own default (0.004 for "
        "adamw, none for the others). Hyperparameter: `weight_decay`.",
    )
    warmup: Warmup = Field(
        0.0,
        description="Fraction of the run's steps, in [0, 1), over which the learning rate rises "
        "linearly from 0 before the schedule; 0: no warmup. Hyperparameter: `warmup`.",
    )


class EarlyStopping(Strict):
    """Stop training when the monitored metric stops improving (best weights restored)."""

    monitor: str = Field(
        "val_loss", description="Metric watched: val_loss, or val_<metric> of the task (val_accuracy, ...)."
    )
    patience: int = Field(10, ge=0, le=10000, description="Epochs without improvement before stopping.")
    min_delta: float = Field(0.0, ge=0.0, description="Smallest change that counts as improvement.")


#: A key of ``training.class_weight``: a class name, or a class id in decimal.
ClassKey = Annotated[str, Field(min_length=1, max_length=200)]
#: A class's weight: a positive finite number.
ClassWeight = Annotated[float, Field(gt=0.0, le=1e6)]
ClassWeights = Annotated[
    Union[
        Annotated[Literal["balanced"], Tag("balanced")],
        Annotated[dict[ClassKey, ClassWeight], Field(min_length=1, max_length=MAX_UNITS), Tag("weights")],
    ],
    Discriminator(lambda value: "weights" if isinstance(value, dict) else "balanced"),
]


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
    class_weight: ClassWeights | None = Field(
        None,
        description="Classification and binary only: weigh each training example's loss by its class. "
        "'balanced': n_samples / (n_classes * count of the class) on the training split (scikit-learn's "
        "formula); or a weight per class, keyed by class name or id (a class left out weighs 1); null: "
        "every example weighs 1.",
    )

    @field_validator("class_weight", mode="before")
    @classmethod
    def _class_keys(cls, value: Any) -> Any:
        """Class ids given as integers (from Python) are keys like the JSON ones: decimal text."""
        if isinstance(value, dict):
            return {
                str(k) if isinstance(k, int) and not isinstance(k, bool) else k: v for k, v in value.items()
            }
        return value


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
    hidden: Hidden = Field(
        description="One block or a list of blocks of layers, in order; each block's `kind` (default 'dense') says which layers."
    )
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

    @field_validator("input")
    @classmethod
    def _input_fits_task(cls, input: Input, info: ValidationInfo) -> Input:
        task = info.data.get("task", "classification")
        for field in ("mixup", "cutmix"):
            if task != "classification" and _domains.bounds(getattr(input.augmentation, field))[1] > 0:
                raise _located(
                    f"augmentation.{field}",
                    "task_mixing",
                    f"applies to task 'classification' only (this spec's task is '{task}')",
                )
        return input

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
        if training.class_weight is not None and task.name not in ("classification", "binary"):
            raise _located(
                "class_weight",
                "task_class_weight",
                f"applies to tasks 'classification' and 'binary' only (this spec's task is '{task.name}')",
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
    def blocks(self) -> list[BlockModel]:
        """The hidden blocks as a list, whichever way they were written."""
        return self.hidden if isinstance(self.hidden, list) else [self.hidden]

    @field_validator("hidden")
    @classmethod
    def _blocks(cls, hidden: BlockModel | list[BlockModel]) -> BlockModel | list[BlockModel]:
        if not isinstance(hidden, list) or len(hidden) <= MAX_BLOCKS:
            return hidden
        if not all(block.is_constant() for block in hidden):
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
