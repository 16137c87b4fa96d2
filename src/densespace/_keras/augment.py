"""Image augmentation beyond flips and shifts: random crops inside the model, MixUp and CutMix
in the training pipeline.

``crop`` pads an image by ``N`` pixels on every side with zeros and crops it back at a random
place: a shift of each image by a whole number of pixels drawn uniformly from ``-N..N`` on each
axis, the uncovered border zero. A Keras ``RandomTranslation`` by up to ``N + 0.5`` pixels with
nearest-neighbour sampling and a constant fill is exactly that (rounding a uniform shift in
``[-N - 0.5, N + 0.5]`` gives each whole shift the same chance), per image, in one fast
built-in layer that Keras runs only while training and plain Keras loads.

MixUp (Zhang et al. 2018) and CutMix (Yun et al. 2019) mix each example of a batch with another
of the same batch and their one-hot labels alike: they change the labels, so they sit in the
training pipeline, never in the model (evaluation and saved models never see them). Each example
draws its own weight from Beta(alpha, alpha); with both asked for, each batch gets one of the two
at random. Images are mixed before the model's preprocessing, which is affine per value, so
mixing before or after it is the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import keras

if TYPE_CHECKING:
    from densespace._space import Plan


def crop(x: Any, plan: Plan) -> Any:
    """``x`` through the plan's random crop (``plan.crop`` pixels of padding), or ``x`` without one."""
    if not plan.crop:
        return x
    height, width = x.shape[1], x.shape[2]
    return keras.layers.RandomTranslation(
        (plan.crop + 0.5) / height,
        (plan.crop + 0.5) / width,
        fill_mode="constant",
        interpolation="nearest",
        name="crop",
    )(x)


def mixes(plan: Plan) -> bool:
    """Whether the plan mixes training examples (MixUp or CutMix), so that labels go one-hot."""
    return bool(plan.mixup or plan.cutmix)


def mixed(batches: Any, plan: Plan) -> Any:
    """The ``tf.data`` pipeline of ``(images, one-hot labels)`` batches, mixed as the plan asks."""
    import tensorflow as tf

    if not mixes(plan):
        return batches

    def mix(images: Any, labels: Any) -> Any:
        images = tf.cast(images, tf.float32)
        if plan.mixup and plan.cutmix:
            return tf.cond(
                tf.random.uniform(()) < 0.5,
                lambda: _mixup(images, labels, plan.mixup),
                lambda: _cutmix(images, labels, plan.cutmix),
            )
        if plan.mixup:
            return _mixup(images, labels, plan.mixup)
        return _cutmix(images, labels, plan.cutmix)

    return batches.map(mix, num_parallel_calls=tf.data.AUTOTUNE)


def _beta(alpha: float, size: Any) -> Any:
    """``size`` draws from Beta(alpha, alpha), as the ratio of two Gamma draws."""
    import tensorflow as tf

    first, second = tf.random.gamma([size], alpha), tf.random.gamma([size], alpha)
    return first / tf.maximum(first + second, 1e-12)


def _mixup(images: Any, labels: Any, alpha: float) -> tuple[Any, Any]:
    """Each example blended with another of the batch, weight ``lam`` ~ Beta(alpha, alpha)."""
    import tensorflow as tf

    size = tf.shape(images)[0]
    lam = _beta(alpha, size)
    order = tf.random.shuffle(tf.range(size))
    weight = tf.reshape(lam, [-1, 1, 1, 1])
    images = weight * images + (1 - weight) * tf.gather(images, order)
    return images, lam[:, None] * labels + (1 - lam[:, None]) * tf.gather(labels, order)


def _cutmix(images: Any, labels: Any, alpha: float) -> tuple[Any, Any]:
    """Each example with a box of another pasted in: sides ``sqrt(1 - lam)`` of the image's,
    centred anywhere (clipped at the borders), labels weighted by the area actually pasted."""
    import tensorflow as tf

    size = tf.shape(images)[0]
    height, width = images.shape[1], images.shape[2]
    side = tf.sqrt(1 - _beta(alpha, size))

    def span(length: int) -> Any:
        centre = tf.random.uniform([size]) * length
        half = side * length / 2
        low = tf.cast(tf.clip_by_value(tf.round(centre - half), 0, length), tf.int32)
        high = tf.cast(tf.clip_by_value(tf.round(centre + half), 0, length), tf.int32)
        positions = tf.range(length)[None, :]
        return (positions >= low[:, None]) & (positions < high[:, None]), high - low

    rows, tall = span(height)
    columns, wide = span(width)
    box = rows[:, :, None, None] & columns[:, None, :, None]
    order = tf.random.shuffle(tf.range(size))
    images = tf.where(box, tf.gather(images, order), images)
    area = tf.cast(tall * wide, tf.float32)[:, None] / (height * width)
    return images, (1 - area) * labels + area * tf.gather(labels, order)
