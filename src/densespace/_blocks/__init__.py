"""The kinds of hidden blocks a spec's ``hidden`` section may hold, one module each.

``BLOCKS`` maps each kind's name to its spec model (a ``base.BlockModel``); the spec
format's ``hidden`` union, the space, the count and the hypermodel all work from it.
A new kind is one module (see ``base``) and one line here.
"""

from densespace._blocks import dense
from densespace._blocks.base import BlockModel

#: The block kinds: name -> spec model.
BLOCKS: dict[str, type[BlockModel]] = {
    "dense": dense.Block,
}
