"""The compiled HyperModel: the post's hand-written hypermodels hold the same models,
parameter counts are exact, and keras-tuner samples the domains the spec describes."""

from __future__ import annotations

import gc
import random
from types import SimpleNamespace
from typing import get_args

import keras
import keras_tuner as kt
import numpy as np
import pytest
import tensorflow as tf
from helpers import ROOT, spec_dict

from densespace import (
    DensespaceError,
    _domains,
    build_hypermodel,
    freeze,
    load_spec,
    parameter_bounds,
    validate_spec,
)
from densespace._keras.data import Batches
from densespace._keras.hypermodel import build_model
from densespace._space import plan_parameters, resolve
from densespace._spec import Activation, OptimizerName

ACTIVATIONS = get_args(Activation)
OPTIMIZERS = get_args(OptimizerName)

ACTIVATIONS = ["relu", "tanh", "elu", "selu", "swish"]


def trainable_parameters(model):
    """The number of trainable parameters of a Keras model."""
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


# The post's hypermodels, as written there (only `tf` is passed in, so that a
# recorder can stand in for TensorFlow when the whole space is enumerated).


def post_part1_random(hp, tf):
    model = tf.keras.Sequential()
    model.add(tf.keras.layers.Flatten(input_shape=(32, 32, 3)))
    for i in (1, 2, 3):
        model.add(
            tf.keras.layers.Dense(
                units=hp.Int(f"u_{i}", min_value=16, max_value=256, step=16),
                activation=hp.Choice(name=f"a_{i}", values=ACTIVATIONS),
            )
        )
    model.add(tf.keras.layers.Dense(10, activation="softmax"))
    return model


def post_baseline(hp, tf):
    model = tf.keras.Sequential()
    model.add(tf.keras.layers.Flatten(input_shape=(32, 32, 3)))
    model.add(
        tf.keras.layers.Dense(
            units=hp.Int("u_1", min_value=16, max_value=256, step=16),
            activation=hp.Choice(name="a_1", values=["relu", "tanh", "elu", "selu", "swish"]),
        )
    )
    model.add(
        tf.keras.layers.Dense(
            units=hp.Int("u_2", min_value=16, max_value=256, step=16),
            activation=hp.Choice(name="a_2", values=["relu", "tanh", "elu", "selu", "swish"]),
        )
    )
    model.add(
        tf.keras.layers.Dense(
            units=hp.Int("u_3", min_value=16, max_value=256, step=16),
            activation=hp.Choice(name="a_3", values=["relu", "tanh", "elu", "selu", "swish"]),
        )
    )
    model.add(tf.keras.layers.Dense(10, activation="softmax"))
    return model


def post_depth_width(hp, tf):
    model = tf.keras.Sequential()
    model.add(tf.keras.layers.Flatten(input_shape=(32, 32, 3)))
    for i in range(hp.Int("num_layers", 2, 4)):
        model.add(tf.keras.layers.Dense(units=hp.Int("units_" + str(i), 64, 512, 64), activation="elu"))
    model.add(tf.keras.layers.Dense(10, activation="softmax"))
    return model


def post_depth(hp, tf):
    model = tf.keras.Sequential()
    model.add(tf.keras.layers.Flatten(input_shape=(32, 32, 3)))
    for _i in range(hp.Int("num_layers", 2, 20)):
        model.add(tf.keras.layers.Dense(128, activation="elu"))
    model.add(tf.keras.layers.Dense(10, activation="softmax"))
    return model


POST = [
    pytest.param("seed-random.json", post_part1_random, None, id="part1-random"),
    pytest.param("seed-baseline.json", post_baseline, None, id="baseline"),
    pytest.param("seed-depth-width.json", post_depth_width, "num_layers", id="depth-width"),
    pytest.param("seed-depth.json", post_depth, "num_layers", id="depth"),
]


class Sym:
    """A symbolic hyperparameter value: stands for every value of its domain."""

    def __init__(self, name):
        self.name = name


class _Sequential(list):
    def add(self, layer):
        self.append(layer)


RECORDER = SimpleNamespace(
    keras=SimpleNamespace(
        Sequential=_Sequential,
        layers=SimpleNamespace(
            Flatten=lambda input_shape: None, Dense=lambda units, activation=None: (units, activation)
        ),
    )
)


def _factor_sets(layers, domains):
    """Each layer as (set of units, set of activations); every symbol must be used once."""
    symbols = [v.name for layer in layers for v in layer if isinstance(v, Sym)]
    assert len(symbols) == len(set(symbols)), "a symbol feeds two layers: the space is no product"
    return [
        tuple(frozenset(domains[v.name]) if isinstance(v, Sym) else frozenset([v]) for v in layer)
        for layer in layers
    ]


def _handwritten(build, count_name, count):
    """The hand-written model template for one layer count, and its domains."""
    hp = kt.HyperParameters()
    if count_name:
        hp.values[count_name] = count
    build(hp, RECORDER)  # discovers the hyperparameters this layer count declares
    fixed = kt.HyperParameters()
    fixed.values.update({h.name: Sym(h.name) for h in hp.space if h.name != count_name})
    if count_name:
        fixed.values[count_name] = count
    layers = [layer for layer in build(fixed, RECORDER) if layer is not None]
    return layers, {h.name: list(h.values) for h in hp.space}


def _densespace(spec, count):
    """densespace's model template for one layer count, and its domains."""
    hypermodel = build_hypermodel(spec)
    hp = kt.HyperParameters()
    hypermodel.declare(hp)
    if count is not None:
        hp.values["layers"] = count
    hp.values.update({h.name: Sym(h.name) for h in hp.space if h.name != "layers" and hp.is_active(h)})
    plan = resolve(spec, hypermodel.declare(hp))
    layers = [(layer.units, layer.activation) for layer in plan.layers]
    layers.append((spec.output.units, spec.output.activation))
    return layers, {h.name: list(h.values) for h in hp.space}


def _counts(build, count_name):
    if count_name is None:
        return [None]
    hp = kt.HyperParameters()
    build(hp, RECORDER)
    return list(hp._hps[count_name][0].values)


@pytest.mark.parametrize(("example", "build", "count_name"), POST)
def test_post_hypermodels_hold_the_same_models(example, build, count_name):
    """For every layer count, both spaces are the same product of per-layer choices."""
    spec = load_spec(ROOT / "examples" / example)
    counts = _counts(build, count_name)
    ours = [None] if counts == [None] else _domains.values(spec.blocks[0].layers)
    assert ours == counts
    for count in counts:
        theirs = _factor_sets(*_handwritten(build, count_name, count))
        mine = _factor_sets(*_densespace(spec, count))
        assert mine == theirs


def _dense_layers(model):
    return [
        (layer.units, layer.get_config()["activation"])
        for layer in model.layers
        if isinstance(layer, keras.layers.Dense)
    ]


@pytest.mark.parametrize(("example", "build", "count_name"), POST)
def test_post_models_build_identically(example, build, count_name):
    """Random configurations build the same Keras Dense stacks both ways."""
    spec = load_spec(ROOT / "examples" / example)
    rng = random.Random(0)
    for count in rng.sample(_counts(build, count_name), k=min(2, len(_counts(build, count_name)))):
        theirs, their_domains = _handwritten(build, count_name, count)
        mine, _my_domains = _densespace(spec, count)
        their_values, my_values = {}, {}
        if count is not None:
            their_values[count_name], my_values["layers"] = count, count
        for (t_units, t_act), (m_units, m_act) in zip(theirs, mine, strict=False):
            for t, m in ((t_units, m_units), (t_act, m_act)):
                if isinstance(t, Sym):
                    their_values[t.name] = my_values[m.name] = rng.choice(their_domains[t.name])
        their_hp, my_hp = kt.HyperParameters(), kt.HyperParameters()
        their_hp.values.update(their_values)
        my_hp.values.update(my_values)
        their_model = build(their_hp, tf)
        my_model = build_hypermodel(spec).build(my_hp)
        assert _dense_layers(my_model) == _dense_layers(their_model)
        assert trainable_parameters(my_model) == trainable_parameters(their_model)


FROZEN = [
    pytest.param(spec_dict(hidden={"layers": 2, "units": 16}), id="plain"),
    pytest.param(
        spec_dict(
            input={"shape": [8, 8, 3], "preprocessing": "standardize"},
            hidden=[
                {"layers": 2, "units": 12, "batch_norm": True, "dropout": 0.2, "l2": 0.01},
                {"units": 5, "activation": "tanh"},
            ],
            output={"units": 4},
        ),
        id="batch-norm-blocks",
    ),
    pytest.param(
        spec_dict(input={"shape": [7], "preprocessing": "none"}, hidden={"layers": 0, "units": 3}),
        id="no-hidden",
    ),
]


@pytest.mark.parametrize("data", FROZEN)
def test_frozen_spec_parameter_count_equals_the_keras_model(data):
    """A frozen spec's parameter count is the built model's trainable parameter count."""
    spec = validate_spec(data)
    images = np.random.default_rng(0).integers(0, 256, size=(16, *spec.input.example_shape), dtype=np.uint8)
    model = build_hypermodel(spec, train_images=images).build(kt.HyperParameters())
    assert parameter_bounds(spec) == (trainable_parameters(model),) * 2


def test_random_plans_count_exactly():
    """Models of a mixed space, chosen at random, have the parameter count their plan predicts."""
    spec = validate_spec(
        spec_dict(
            input={"shape": [6, 2]},
            hidden=[
                {
                    "layers": {"min": 0, "max": 3},
                    "units": {"values": [3, 7]},
                    "batch_norm": {"values": [False, True]},
                },
                {"layers": {"min": 1, "max": 2}, "units": {"min": 2, "max": 9}, "shared": True},
            ],
        )
    )
    hypermodel = build_hypermodel(spec)
    for seed in range(6):
        hp = kt.HyperParameters()
        hypermodel.declare(hp)
        rng = random.Random(seed)
        hp.values.update({h.name: rng.choice(list(h.values)) for h in hp.space})
        plan = resolve(spec, hypermodel.declare(hp))
        model = build_model(spec, plan)
        assert trainable_parameters(model) == plan_parameters(spec, plan)
        assert parameter_bounds(freeze(spec, hp.values))[0] == plan_parameters(spec, plan)


@pytest.mark.parametrize(
    "domain",
    [
        {"min": 16, "max": 256, "step": 16},
        {"min": 6, "max": 13, "step": 3},
        {"min": 2, "max": 32, "step": 2, "sampling": "log"},
        {"min": 3, "max": 100, "step": 3, "sampling": "reverse_log"},
    ],
)
def test_int_domains_match_keras_tuner(domain):
    """densespace enumerates exactly the values keras-tuner samples from an Int range."""
    rng = _domains.IntRange(**domain)
    hp = kt.HyperParameters()
    hp.Int("x", rng.min, rng.max, step=rng.step, sampling=rng.sampling)
    assert rng.expand() == list(hp.space[0].values)


def test_standardize_needs_training_images():
    """Standardization without training images is refused with a clear error."""
    spec = validate_spec(spec_dict(input={"preprocessing": "standardize"}))
    with pytest.raises(DensespaceError, match="pass train_images="):
        build_hypermodel(spec)


def test_every_allowed_activation_and_optimizer_builds():
    """Every name on the allow-lists builds and compiles."""
    spec = validate_spec(
        spec_dict(
            input={"shape": [4]},
            hidden={
                "layers": len(ACTIVATIONS),
                "units": 2,
                "activation": {"values": list(ACTIVATIONS)},
            },
            optimizer={"name": {"values": list(OPTIMIZERS)}},
        )
    )
    hypermodel = build_hypermodel(spec)
    hp = kt.HyperParameters()
    hypermodel.declare(hp)
    assert all(h.values == list(ACTIVATIONS) for h in hp.space if h.name.startswith("activation"))
    hp.values.update({f"activation_{i}": a for i, a in enumerate(ACTIVATIONS)})
    for name in OPTIMIZERS:
        hp.values["optimizer"] = name
        model = hypermodel.build(hp)
        assert type(model.optimizer).__name__.lower() == name
    assert [
        layer.get_config()["activation"] for layer in model.layers if isinstance(layer, keras.layers.Dense)
    ][: len(ACTIVATIONS)] == [keras.activations.serialize(keras.activations.get(a)) for a in ACTIVATIONS]


class _CountBatches(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("batch_size", "passed", "batches"),
    [
        (8, None, 4),
        (8, 16, 2),
        ({"values": [4, 8]}, 16, 8),
    ],
)
def test_fit_uses_the_spec_batch_size(batch_size, passed, batches):
    """A tuned batch size overrides the caller's; a constant one is only a default."""
    spec = validate_spec(spec_dict(input={"shape": [4]}, training={"batch_size": batch_size}))
    hypermodel = build_hypermodel(spec)
    hp = kt.HyperParameters()
    hypermodel.declare(hp)  # a tuned batch size takes its first value, 4
    x, y = np.zeros((32, 4), dtype=np.uint8), np.zeros(32)
    counter = _CountBatches()
    extra = {} if passed is None else {"batch_size": passed}
    hypermodel.fit(hp, hypermodel.build(hp), x, y, epochs=1, verbose=0, callbacks=[counter], **extra)
    assert counter.batches == batches


@pytest.mark.slow
def test_search_records_only_active_values(tmp_path):
    """A short keras-tuner search completes and records no inactive values."""
    spec = validate_spec(
        spec_dict(
            input={"shape": [4]},
            hidden={"layers": {"min": 1, "max": 2}, "units": {"values": [2, 3]}},
            training={"batch_size": {"values": [4, 8]}},
        )
    )
    x = np.random.default_rng(0).integers(0, 256, size=(32, 4), dtype=np.uint8)
    y = np.arange(32) % 10
    tuner = kt.RandomSearch(
        build_hypermodel(spec),
        objective="val_loss",
        max_trials=4,
        seed=1,
        directory=str(tmp_path),
        project_name="t",
    )
    tuner.search(x, y, epochs=1, validation_data=(x, y), verbose=0)
    for trial in tuner.oracle.trials.values():
        values = trial.hyperparameters.values
        assert trial.status == "COMPLETED"
        assert ("units_1" in values) == (values["layers"] == 2)
        assert values["batch_size"] in (4, 8)


def test_augmentation_schedule_and_label_smoothing_build():
    """Augmentation layers, a cosine decay over the run and a smoothed loss are built as specified."""
    spec = validate_spec(
        spec_dict(
            input={"shape": [4, 4, 3], "augmentation": {"flip": True, "translate": 0.1}},
            optimizer={"schedule": "cosine", "learning_rate": 0.01},
            training={"epochs": 3, "batch_size": 16, "label_smoothing": 0.1},
        )
    )
    images = np.zeros((40, 4, 4, 3), dtype=np.uint8)
    model = build_hypermodel(spec, train_images=images).build(kt.HyperParameters())
    names = [layer.name for layer in model.layers]
    assert names[:5] == ["image", "rescale", "flip", "translate", "flatten"]
    schedule = model.optimizer.get_config()["learning_rate"]
    assert schedule["class_name"] == "CosineDecay"
    assert (schedule["config"]["initial_learning_rate"], schedule["config"]["decay_steps"]) == (0.01, 3 * 3)
    assert isinstance(model.loss, keras.losses.CategoricalCrossentropy)
    assert model.loss.get_config()["label_smoothing"] == 0.1


@pytest.mark.parametrize(
    ("schedule", "warmup", "steps", "rates"),
    [
        ("cosine", 0.0, [0, 50, 100], [0.01, 0.005, 0.0]),
        ("cosine", 0.2, [0, 10, 20, 60, 100], [0.0, 0.005, 0.01, 0.005, 0.0]),
        ("constant", 0.2, [0, 10, 20, 60, 100], [0.0, 0.005, 0.01, 0.01, 0.01]),
    ],
)
def test_warmup_rises_linearly_then_follows_the_schedule(schedule, warmup, steps, rates):
    """The learning rate over a 100-step run: linear warmup from 0, then the cosine decay or the constant."""
    spec = validate_spec(
        spec_dict(
            input={"shape": [4]},
            optimizer={"schedule": schedule, "warmup": warmup, "learning_rate": 0.01},
            training={"epochs": 10, "batch_size": 10},
        )
    )
    model = build_hypermodel(spec, train_images=np.zeros((100, 4))).build(kt.HyperParameters())
    assert [round(float(model.optimizer._learning_rate(step)), 6) for step in steps] == rates


@pytest.mark.parametrize("name", ["adamw", "lion"])
def test_weight_decay_spares_biases_and_norms(name):
    """Weight decay reaches every kernel and no bias or normalization scale or offset."""
    spec = validate_spec(
        spec_dict(
            input={"shape": [4]},
            hidden=[{"units": 3, "batch_norm": True}, {"kind": "residual", "units": 3, "expansion": 2}],
            optimizer={"name": name, "weight_decay": 0.05},
        )
    )
    model = build_hypermodel(spec).build(kt.HyperParameters())
    decayed = [v.path for v in model.trainable_variables if model.optimizer._use_weight_decay(v)]
    assert model.optimizer.weight_decay == 0.05
    assert decayed == [
        "dense_0/kernel",
        "residual_1_entry/kernel",
        "residual_1_expand/kernel",
        "residual_1_project/kernel",
        "output/kernel",
    ]


def test_cosine_schedule_needs_the_training_size():
    """A space that can use a cosine schedule needs the training images."""
    spec = validate_spec(spec_dict(optimizer={"schedule": {"values": ["constant", "cosine"]}}))
    with pytest.raises(DensespaceError, match=r"optimizer\.schedule can be 'cosine': pass train_images="):
        build_hypermodel(spec)
    spec = validate_spec(spec_dict(optimizer={"warmup": {"values": [0.0, 0.1]}}))
    with pytest.raises(DensespaceError, match=r"optimizer\.warmup can be above 0: pass train_images="):
        build_hypermodel(spec)


@pytest.mark.slow
@pytest.mark.parametrize("source", ["arrays", "batches"])
def test_label_smoothing_trains_on_integer_labels(source):
    """With label smoothing, integer labels are one-hot encoded for training and validation."""
    spec = validate_spec(spec_dict(input={"shape": [4]}, training={"label_smoothing": 0.2, "batch_size": 8}))
    x, y = np.zeros((16, 4), dtype=np.uint8), np.arange(16) % 10
    hypermodel = build_hypermodel(spec)
    hp = kt.HyperParameters()
    train = (x, y) if source == "arrays" else (Batches(x, y),)
    validation = (x, y) if source == "arrays" else Batches(x, y)
    model = hypermodel.build(hp)
    history = hypermodel.fit(hp, model, *train, epochs=1, validation_data=validation, verbose=0)
    assert set(history.history) == {
        f"{prefix}{name}"
        for prefix in ("", "val_")
        for name in ("loss", "accuracy", "balanced_accuracy", "macro_f1")
    }
    probabilities = model.predict(x, verbose=0)
    targets = np.full((16, 10), 0.2 / 10) + 0.8 * np.eye(10)[y]
    smoothed = -np.mean(np.sum(targets * np.log(np.clip(probabilities, 1e-7, 1)), axis=1))
    assert history.history["val_loss"][0] == pytest.approx(smoothed, rel=1e-4)


def test_batches_serve_every_example_once_per_epoch():
    """A pipeline covers each example once per pass, shuffled reproducibly, with one-hot labels on request."""
    x = np.arange(10, dtype=np.uint8).reshape(10, 1)
    y = np.arange(10) % 3
    batches = Batches(x, y, seed=4)
    ordered = [b[0].numpy().ravel().tolist() for b in batches.pipeline(4, shuffle=False)]
    assert ordered == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    first = [v for b in batches.pipeline(4, shuffle=True) for v in b[0].numpy().ravel()]
    again = [v for b in Batches(x, y, seed=4).pipeline(4, shuffle=True) for v in b[0].numpy().ravel()]
    assert sorted(first) == list(range(10)) and first == again and first != list(range(10))
    _images, labels = next(iter(batches.pipeline(2, shuffle=False, classes=3)))
    assert labels.numpy().tolist() == [[1, 0, 0], [0, 1, 0]]


@pytest.mark.slow
def test_continued_training_restores_the_optimizer_state(tmp_path):
    """Weights saved after some steps load into a fresh build with the optimizer's step count,
    as Hyperband needs to carry a cosine schedule on."""
    spec = validate_spec(
        spec_dict(
            input={"shape": [4]}, optimizer={"schedule": "cosine"}, training={"epochs": 4, "batch_size": 8}
        )
    )
    x, y = np.zeros((32, 4), dtype=np.uint8), np.arange(32) % 10
    hypermodel = build_hypermodel(spec, train_images=x)
    hp = kt.HyperParameters()
    model = hypermodel.build(hp)
    hypermodel.fit(hp, model, x, y, epochs=1, verbose=0)
    model.save_weights(tmp_path / "w.weights.h5")
    again = hypermodel.build(hp)
    again.load_weights(tmp_path / "w.weights.h5")
    assert int(again.optimizer.iterations.numpy()) == 4


def _live_variable_handles() -> int:
    """How many TensorFlow resource handles (variables) Python can still reach."""
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, tf.Tensor) and o.dtype == tf.resource)


@pytest.mark.slow
def test_training_lets_finished_models_go():
    """A model the hypermodel trained leaves no variable alive once it is dropped."""
    spec = validate_spec(spec_dict(input={"shape": [4]}, hidden={"units": 8}))
    x = np.random.default_rng(0).integers(0, 256, size=(32, 4), dtype=np.uint8)
    y = np.arange(32) % 10
    hypermodel = build_hypermodel(spec)
    alive = []
    for _ in range(3):
        keras.backend.clear_session()
        hp = kt.HyperParameters()
        model = hypermodel.build(hp)
        hypermodel.fit(hp, model, x, y, epochs=1, verbose=0)
        del model
        alive.append(_live_variable_handles())
    assert alive[0] == alive[1] == alive[2]
