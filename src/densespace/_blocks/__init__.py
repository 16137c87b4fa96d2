"""The kinds of hidden blocks a spec's ``hidden`` section may hold, one module each.

``BLOCKS`` maps each kind's name to its spec model (a ``base.BlockModel``); the spec
format's ``hidden`` union, the space, the count and the hypermodel all work from it.
A new kind is one module (see ``base``) and one line here; its model declares
``kind: Literal[<name>]``, which a spec's block writes to choose it.
"""

from densespace._blocks import dense, residual
from densespace._blocks.base import BlockModel, Layer

#: The block kinds: name -> spec model. A block that names no ``kind`` is the first, ``dense``.
BLOCKS: dict[str, type[BlockModel]] = {
    "dense": dense.Block,
    "residual": residual.ResidualBlock,
}


def kind_of(layer: Layer) -> str:
    """The kind of block a concrete layer belongs to.

    Examples:
        >>> kind_of(residual.ResidualLayer(units=8, expansion=2, norm="layer", activation="gelu", dropout=0.0))
        'residual'
    """
    return next(name for name, model in BLOCKS.items() if model.LAYER is type(layer))
