"""The spec format (version 1): the pydantic models of what is searched.

These models are the single source of the format: validation, the defaults, the
JSON Schema in ``schemas/`` and the reference in ``docs/spec.md`` all follow
from them. The ``search`` section's models come from the tuner registry
(``densespace._tuners``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, Tag, field_validator, model_validator
from pydantic_core import PydanticCustomError

from densespace import _domains, _space
from densespace._domains import Choice, FloatRange, IntRange, Strict, tunable
from densespace._errors import show
from densespace._tuners import TUNERS, SearchSection

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
    search: Search = Field(TUNERS["random"].section(), description="The tuner and its options.")

    @field_validator("version", mode="before")
    @classmethod
    def _integer_version(cls, value: Any) -> Any:
        if type(value) is not int:  # Literal[1] alone would take true and 1.0
            raise PydanticCustomError(
                "version", f"unsupported version {show(value)}; this densespace reads version 1"
            )
        return value

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
