"""The residual block: a run of pre-normalized residual layers with an inverted bottleneck
(Bachmann et al. 2023, "Scaling MLPs").

One residual layer of ``units`` and ``expansion`` is::

    h = Dense(units)(x)                                  # the entry projection
    y = h + Dense(units)(Dropout(act(Dense(units * expansion)(norm(h)))))

The entry projection maps whatever width comes in to ``units``. Every layer has one, so a
layer's trainable parameters are ``units * inputs + b`` whatever the width before it: the
linear ``Cost`` the exact count needs, with per-layer ``units`` free as in a Dense block. It
starts as the identity when the width coming in is ``units`` already (the residual stream
is then unchanged at initialization) and is Glorot-initialized otherwise. The last
projection of the branch starts at zero (weights and bias), so every layer starts as its
entry projection and a deep stack trains from a near-identity network (the "zero-init"
alternative to layer-scale, at no parameters).

Trainable parameters, for ``u`` units, expansion ``e`` and ``inputs`` features in:
``u * inputs + u`` (entry), ``2u`` (the norm's scale and offset; none with ``none``),
``u * ue + ue`` and ``ue * u + u`` (the bottleneck).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from densespace import _domains
from densespace._blocks.base import MAX_LAYERS, MAX_UNITS, BlockModel, Cost, Layer, Layers
from densespace._blocks.dense import ActivationValue, Dropout, Units
from densespace._domains import Choice, IntRange, tunable

#: The largest ``expansion``: the bottleneck's width is ``units * expansion``.
MAX_EXPANSION = 16

NormName = Literal["layer", "batch", "none"]

if TYPE_CHECKING:  # what each tunable field holds, as mypy sees it
    Expansion = int | IntRange | Choice
    Norm = NormName | Choice
else:  # what pydantic validates: the same, each value within the field's bounds
    Expansion = tunable("Expansion", int, ge=1, le=MAX_EXPANSION)
    Norm = tunable("Norm", NormName, ranged=False)


def cost(units: int, expansion: int, norm: str) -> Cost:
    """The trainable parameters of a residual layer: entry projection, norm and bottleneck.

    Examples:
        >>> cost(4, 2, "layer")  # 4 * inputs + (4 + 8 + (32 + 8) + (32 + 4))
        (4, 88)
        >>> cost(4, 2, "none")
        (4, 80)
    """
    wide = units * expansion
    normed = 0 if norm == "none" else 2 * units
    return units, units + normed + (units * wide + wide) + (wide * units + units)


@dataclass(frozen=True)
class ResidualLayer(Layer):
    """One residual layer, every value concrete."""

    units: int
    expansion: int
    norm: str
    activation: str
    dropout: float

    @property
    def width(self) -> int:
        """The layer's units."""
        return self.units

    def cost(self) -> Cost:
        """See ``cost``."""
        return cost(self.units, self.expansion, self.norm)

    def build(self, x: Any, index: int) -> Any:
        """Entry projection -> norm -> Dense(units * expansion) -> activation -> Dropout -> Dense(units),
        added to the projection."""
        import keras

        layers = keras.layers
        same = x.shape[-1] == self.units
        start = keras.initializers.Identity() if same else keras.initializers.GlorotUniform()
        h = layers.Dense(self.units, kernel_initializer=start, name=f"residual_{index}_entry")(x)
        branch = h
        if self.norm == "layer":
            branch = layers.LayerNormalization(name=f"residual_{index}_layer_norm")(branch)
        elif self.norm == "batch":
            branch = layers.BatchNormalization(name=f"residual_{index}_batch_norm")(branch)
        branch = layers.Dense(
            self.units * self.expansion, activation=self.activation, name=f"residual_{index}_expand"
        )(branch)
        if self.dropout:
            branch = layers.Dropout(self.dropout, name=f"residual_{index}_dropout")(branch)
        branch = layers.Dense(self.units, kernel_initializer="zeros", name=f"residual_{index}_project")(
            branch
        )
        return layers.Add(name=f"residual_{index}")([h, branch])


class ResidualBlock(BlockModel):
    """A run of residual layers that share one description."""

    FIELDS: ClassVar[tuple[str, ...]] = ("units", "expansion", "norm", "activation", "dropout")
    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("units", "expansion", "norm")
    LAYER: ClassVar[type[Layer]] = ResidualLayer

    kind: Literal["residual"] = Field(description="The block's kind: residual layers.")
    layers: Layers = Field(
        1, description=f"How many residual layers (0 to {MAX_LAYERS}). Hyperparameter: `layers`."
    )
    units: Units = Field(
        description=f"Width of each residual layer (1 to {MAX_UNITS}): its entry projection "
        "and its output. Hyperparameter: `units_<i>` (`units` when shared)."
    )
    expansion: Expansion = Field(
        4,
        description=f"The bottleneck's width as a multiple of units (1 to {MAX_EXPANSION}). "
        "Hyperparameter: `expansion_<i>`.",
    )
    norm: Norm = Field(
        "layer",
        description="Normalization at the start of each layer's branch: 'layer' "
        "(LayerNormalization), 'batch' (BatchNormalization) or 'none'. Hyperparameter: `norm_<i>`.",
    )
    activation: ActivationValue = Field(
        "gelu", description="Activation of the bottleneck. Hyperparameter: `activation_<i>`."
    )
    dropout: Dropout = Field(
        0.0,
        description="Dropout rate after the bottleneck's activation, in [0, 1); "
        "0 adds no Dropout layer. Hyperparameter: `dropout_<i>`.",
    )
    shared: bool = Field(
        False,
        description="false: every layer gets its own hyperparameters "
        "(`units_0`, `units_1`, ...); true: one hyperparameter per field serves "
        "all layers of the block (`units`).",
    )

    def costs(self) -> list[list[Cost]]:
        """One group per value of ``expansion`` and ``norm``, of every value of ``units``."""
        widths = sorted(set(_domains.values(self.units)))
        expansions = sorted(set(_domains.values(self.expansion)))
        norms = sorted(set(_domains.values(self.norm)))
        return [[cost(u, e, n) for u in widths] for e in expansions for n in norms]
