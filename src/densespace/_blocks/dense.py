"""The Dense block: a run of fully connected layers, each with an optional BatchNormalization,
an activation and an optional Dropout.

A Dense layer of ``units`` has a kernel of ``inputs * units`` weights, and a bias of ``units``
or, with batch normalization (its Dense then has no bias), BatchNormalization's gamma and beta:
``cost`` is that formula, for the hidden layers and the output layer alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from densespace import _domains
from densespace._blocks.base import MAX_LAYERS, MAX_UNITS, BlockModel, Cost, Layer, Layers
from densespace._domains import Choice, FloatRange, IntRange, tunable

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

if TYPE_CHECKING:  # what each tunable field holds, as mypy sees it
    Units = int | IntRange | Choice
    ActivationValue = Activation | Choice
    Dropout = float | FloatRange | Choice
    BatchNorm = bool | Choice
    L2 = float | FloatRange | Choice
else:  # what pydantic validates: the same, each value within the field's bounds
    Units = tunable("Units", int, ge=1, le=MAX_UNITS)
    ActivationValue = tunable("Activation", Activation, ranged=False)
    Dropout = tunable("Dropout", float, ge=0.0, lt=1.0)
    BatchNorm = tunable("BatchNorm", bool, ranged=False)
    L2 = tunable("L2", float, ge=0.0, le=1.0)


def cost(units: int, batch_norm: bool) -> Cost:
    """The trainable parameters of a Dense layer of ``units``: kernel and bias, or kernel and
    BatchNormalization's gamma and beta (the Dense has no bias then).

    Examples:
        >>> cost(64, False), cost(64, True)
        ((64, 64), (64, 128))
    """
    return units, (2 if batch_norm else 1) * units


@dataclass(frozen=True)
class DenseLayer(Layer):
    """One hidden Dense layer, every value concrete."""

    units: int
    activation: str
    dropout: float
    batch_norm: bool
    l2: float

    @property
    def width(self) -> int:
        """The layer's units."""
        return self.units

    def cost(self) -> Cost:
        """See ``cost``."""
        return cost(self.units, self.batch_norm)

    def build(self, x: Any, index: int) -> Any:
        """Dense (no bias with batch norm) -> BatchNormalization -> Activation -> Dropout."""
        import keras

        layers = keras.layers
        regularizer = keras.regularizers.L2(self.l2) if self.l2 else None
        if self.batch_norm:
            x = layers.Dense(
                self.units, use_bias=False, kernel_regularizer=regularizer, name=f"dense_{index}"
            )(x)
            x = layers.BatchNormalization(name=f"batch_norm_{index}")(x)
            x = layers.Activation(self.activation, name=f"activation_{index}")(x)
        else:
            x = layers.Dense(
                self.units, activation=self.activation, kernel_regularizer=regularizer, name=f"dense_{index}"
            )(x)
        if self.dropout:
            x = layers.Dropout(self.dropout, name=f"dropout_{index}")(x)
        return x


class Block(BlockModel):
    """A run of Dense layers that share one description."""

    FIELDS: ClassVar[tuple[str, ...]] = ("units", "activation", "dropout", "batch_norm", "l2")
    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("units", "batch_norm")
    LAYER: ClassVar[type[Layer]] = DenseLayer

    kind: Literal["dense"] = Field(
        "dense",
        exclude_if=lambda kind: kind == "dense",  # dumps of Dense blocks stay as they were
        description="The block's kind: Dense layers (the default).",
    )
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

    def costs(self) -> list[list[Cost]]:
        """One group per value of ``batch_norm``, of every value of ``units``."""
        widths = sorted(set(_domains.values(self.units)))
        norms = sorted(set(_domains.values(self.batch_norm)))
        return [[cost(units, norm) for units in widths] for norm in norms]
