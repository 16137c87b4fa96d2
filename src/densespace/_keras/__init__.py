"""Everything that imports Keras, TensorFlow or keras-tuner, split by job.

* ``hypermodel``: a spec as a keras-tuner ``HyperModel``; one configuration's Keras model;
* ``data``: the splits in memory, served as ``tf.data`` pipelines;
* ``oracle``: densespace's oracle (given points first, feasible proposals only, limits, warm
  starts), a mixin of hooks over each registry entry's keras-tuner oracle;
* ``tuners``: keras-tuner's tuners with densespace's trial handling, from the registry;
* ``training``: the search loop and retraining;
* ``callbacks``: the progress display's epoch reports, fresh copies of the user's callbacks;
* ``tensorboard``: TensorBoard logs (per-epoch scalars, the HParams plugin's summaries);
* ``memory``: freeing what TensorFlow keeps of finished models;
* ``io``: models on disk, Keras' CIFAR-10 download, library versions.

The rest of densespace imports this package only when a search starts or a
public Keras name (``build_hypermodel``, ``DenseHyperModel``, ``load_model``) is used.
"""

from densespace._keras.hypermodel import DenseHyperModel, build_hypermodel
from densespace._keras.io import load_model

__all__ = ["DenseHyperModel", "build_hypermodel", "load_model"]
