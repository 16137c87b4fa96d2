"""What every kind of hidden block provides to the space, the count and the hypermodel.

A kind is one module of ``densespace._blocks`` holding two classes:

* its spec model, a ``BlockModel``: the fields a spec writes (``layers`` and ``shared``
  among them), which of them are per-layer hyperparameters (``FIELDS``) and which a
  model's size and widths depend on (``SIZE_FIELDS``), and the cost of one layer for
  the count (``costs``);
* its concrete layer, a frozen dataclass subclassing ``Layer``: what one configuration
  builds, its width, its trainable parameters and its Keras layers (Keras is imported
  inside ``build``, so specs are read and counted without TensorFlow).

A layer's trainable parameters are linear in its input width: a ``Cost`` ``(a, b)``
costs ``a * inputs + b``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from densespace import _domains
from densespace._domains import Choice, IntRange, Strict, tunable

#: Bounds that keep a spec from asking for an absurd model (documented in docs/spec.md).
MAX_LAYERS = 100
MAX_UNITS = 16384

#: The trainable parameters of a layer as ``(a, b)``: ``a * inputs + b`` for ``inputs`` features in.
Cost = tuple[int, int]

if TYPE_CHECKING:  # what a block's layer count holds, as mypy sees it
    Layers = int | IntRange | Choice
else:  # what pydantic validates: the same, within 0..MAX_LAYERS
    Layers = tunable("Layers", int, ge=0, le=MAX_LAYERS)


def parameters(cost: Cost, inputs: int) -> int:
    """The trainable parameters a layer of ``cost`` has for ``inputs`` features in."""
    a, b = cost
    return a * inputs + b


@dataclass(frozen=True)
class Layer(ABC):
    """One concrete hidden layer of some kind, every value fixed: its kind's fields."""

    @property
    @abstractmethod
    def width(self) -> int:
        """The number of features the layer hands on."""

    @abstractmethod
    def cost(self) -> Cost:
        """The layer's trainable parameters as a ``Cost`` of its input width."""

    @abstractmethod
    def build(self, x: Any, index: int) -> Any:
        """The layer's Keras layers applied to ``x``, named after the layer's ``index`` in the model."""


class BlockModel(Strict):
    """A block of a spec's ``hidden`` section: a run of layers of one kind that share one description.

    Every kind declares ``layers`` (how many layers, tunable) and ``shared`` (one hyperparameter
    per field for all the layers, or one per layer) among its fields.
    """

    #: The per-layer fields, in the order their hyperparameters are declared.
    FIELDS: ClassVar[tuple[str, ...]]
    #: The fields among ``FIELDS`` that a model's trainable parameters and widths depend on.
    SIZE_FIELDS: ClassVar[tuple[str, ...]]
    #: The concrete layer the block's fields build, taking ``FIELDS`` as keyword arguments.
    LAYER: ClassVar[type[Layer]]

    if TYPE_CHECKING:  # declared by every kind, in its own place in its fields
        layers: Layers
        shared: bool

    @abstractmethod
    def costs(self) -> list[list[Cost]]:
        """The costs one layer of the block can have, for the count (``densespace._space``).

        The count takes layers with a kernel of ``inputs * a`` weights and ``b`` more, which
        hand on ``a`` features: groups of ``(a, b)`` with ``a`` ascending and ``b`` growing with it.
        """

    def is_constant(self) -> bool:
        """Whether the block declares no hyperparameter: its layer count and every field are constants.

        ``freeze`` writes only such blocks, one per run of identical layers.
        """
        return not any(_domains.is_tunable(getattr(self, f)) for f in ("layers", *self.FIELDS))

    def layer(self, fields: Mapping[str, Any]) -> Layer:
        """The concrete layer of the given value of each of ``FIELDS``."""
        return self.LAYER(**fields)
