"""Random crops in the model, MixUp and CutMix in the training pipeline (``densespace._keras.augment``)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import spec_dict

from densespace import validate_spec
from densespace._space import resolve

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from densespace._keras import augment  # noqa: E402
from densespace._keras.data import Batches  # noqa: E402
from densespace._keras.hypermodel import build_model  # noqa: E402


def _plan(**augmentation):
    """The plan of a small image spec with the given augmentation."""
    spec = validate_spec(spec_dict(input={"shape": [5, 5, 1], "augmentation": augmentation}))
    return spec, resolve(spec, {})


def test_crop_shifts_each_image_by_whole_pixels_uniformly():
    """A crop of 1 pixel moves each image by -1, 0 or 1 pixel on each axis, the nine shifts about equally often."""
    spec, plan = _plan(crop=1)
    keras.utils.set_random_seed(0)
    model = build_model(spec, plan)
    layer = model.get_layer("crop")
    image = np.zeros((5, 5, 1), dtype=np.float32)
    image[2, 2, 0] = 1.0
    shifted = np.asarray(layer(np.repeat(image[None], 1800, axis=0), training=True))
    rows, columns = np.nonzero(shifted[..., 0])[1:]
    counts = np.unique(np.stack([rows - 2, columns - 2], axis=1), axis=0, return_counts=True)
    assert len(rows) == 1800  # every image keeps its one pixel, whole
    assert counts[0].tolist() == [[a, b] for a in (-1, 0, 1) for b in (-1, 0, 1)]
    assert all(150 <= c <= 250 for c in counts[1])
    assert np.array_equal(np.asarray(layer(image[None], training=False))[0], image)


@pytest.mark.parametrize(
    "augmentation",
    [{"mixup": 0.4}, {"cutmix": 1.0}, {"mixup": 0.4, "cutmix": 1.0}],
    ids=["mixup", "cutmix", "both"],
)
def test_mixing_mixes_images_and_labels_alike(augmentation):
    """Images of constant value k labelled k mix into images whose mean is the mixed labels' mean class."""
    _, plan = _plan(**augmentation)
    classes = np.arange(64) % 4
    images = np.repeat(classes.astype(np.uint8), 25).reshape(64, 5, 5, 1)
    tf.random.set_seed(1)
    batches = augment.mixed(Batches(images, classes).pipeline(16, shuffle=True, classes=4), plan)
    for x, y in batches:
        x, y = np.asarray(x), np.asarray(y)
        assert np.allclose(y.sum(axis=1), 1.0)
        assert np.allclose(x.mean(axis=(1, 2, 3)), y @ np.arange(4), atol=1e-5)
    assert not np.allclose(y.max(axis=1), 1.0)  # some examples were mixed


def test_nothing_to_mix_leaves_the_pipeline_alone():
    """Without MixUp or CutMix the pipeline is handed back unchanged."""
    _, plan = _plan(flip=True)
    batches = Batches(np.zeros((4, 5, 5, 1), dtype=np.uint8), np.zeros(4, dtype=np.int64)).pipeline(
        2, shuffle=False
    )
    assert augment.mixed(batches, plan) is batches


@pytest.mark.slow
def test_a_mixing_model_trains_and_saves_as_plain_keras(tmp_path):
    """A residual model with crop, MixUp and CutMix trains on arrays of integer labels (mixed in a pipeline)
    and its saved file loads in plain Keras."""
    import keras_tuner as kt

    from densespace import build_hypermodel
    from densespace._keras.hypermodel import for_evaluation
    from densespace._space import resolve as plan

    spec = validate_spec(
        spec_dict(
            input={"shape": [4, 4, 3], "augmentation": {"crop": 1, "mixup": 0.2, "cutmix": 1.0}},
            hidden={"kind": "residual", "units": 4, "expansion": 2},
            training={"epochs": 1, "batch_size": 8},
        )
    )
    images = np.random.default_rng(0).integers(0, 255, (32, 4, 4, 3)).astype(np.uint8)
    labels = np.arange(32) % 10
    hypermodel = build_hypermodel(spec)
    hp = kt.HyperParameters()
    model = hypermodel.build(hp)
    history = hypermodel.fit(hp, model, images, labels, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    model = for_evaluation(model, spec, plan(spec, hp.values))  # as retraining saves it: Keras' own metrics
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert np.allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0))
