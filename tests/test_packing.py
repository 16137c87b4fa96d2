"""Packed trials (search.pack): the spec field, packs, and branches trained as their trials alone."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import spec_dict

import densespace
from densespace import SpecError, validate_spec

#: Two configurations that differ in everything a pack lets differ: depth, width, activation,
#: dropout and learning rate.
CONFIGURATIONS = [
    {"layers": 1, "units_0": 8, "activation_0": "relu", "dropout_0": 0.2, "learning_rate": 0.01},
    {
        "layers": 2,
        "units_0": 16,
        "units_1": 8,
        "activation_0": "tanh",
        "activation_1": "relu",
        "dropout_0": 0.0,
        "dropout_1": 0.2,
        "learning_rate": 0.001,
    },
]


def _spec(**search):
    """A space of 1-2 small layers with per-layer activation and dropout, 3 epochs of batch 32."""
    return validate_spec(
        spec_dict(
            task="classification",
            input={"shape": [5], "preprocessing": "standardize"},
            output={"units": 3},
            hidden={
                "layers": {"min": 1, "max": 2},
                "units": {"values": [8, 16]},
                "activation": {"values": ["relu", "tanh"]},
                "dropout": {"values": [0.0, 0.2]},
            },
            optimizer={"learning_rate": {"values": [0.001, 0.01]}},
            training={"epochs": 3, "batch_size": 32},
            search={"tuner": "random", "max_trials": 2, "seed": 1, **search},
        )
    )


def _arrays(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype(np.float32)
    return x, np.digitize(x[:, 0], [-0.5, 0.5]).astype(np.int64)


@pytest.mark.parametrize(
    ("pack", "received"), [(True, "true"), (257, "257"), ("on", '"on"'), (4.0, "4.0")], ids=str
)
def test_pack_values_refused(pack, received):
    """A boolean, a number out of range or not an integer, or another word is refused with the rule
    (packs of one, several executions and Hyperband: the invalid-spec corpus)."""
    with pytest.raises(SpecError) as error:
        validate_spec(spec_dict(search={"tuner": "random", "pack": pack}))
    assert [str(p) for p in error.value.problems] == [
        f'search.pack: expected "auto", "off" or an integer from 2 to 256 (received {received})'
    ]


@pytest.mark.parametrize("pack", ["auto", "off", 2, 256])
def test_pack_values_taken(pack):
    """ "auto", "off" and integers from 2 to 256 are taken as given and round-trip."""
    spec = validate_spec(spec_dict(search={"tuner": "random", "pack": pack}))
    assert spec.search.pack == pack
    assert validate_spec(spec.model_dump()).search.pack == pack


def test_pack_defaults_to_off():
    """Without search.pack, each trial trains alone."""
    assert validate_spec(spec_dict()).search.pack == "off"


@pytest.mark.slow
def test_a_pack_trains_each_branch_as_its_trial_alone():
    """Each branch of a pack has the epoch-by-epoch history its trial has trained alone from the same seed.

    The branches share no weights and each has its own optimizer, so each gets exactly its own
    gradient and update: the only possible difference is the order of floating-point operations
    in a larger graph, hence the tolerance of 1e-5 (differences are 0 on CPU here).
    """
    import keras
    import keras_tuner

    from densespace._keras.data import Batches
    from densespace._keras.hypermodel import build_hypermodel
    from densespace._keras.packing import train_pack

    spec = _spec()
    x, y = _arrays(200, 0)
    hypermodel = build_hypermodel(spec, train_images=x[:160], train_targets=y[:160])
    train, validation = Batches(x[:160], y[:160], seed=3), Batches(x[160:], y[160:])
    hps = []
    for values in CONFIGURATIONS:
        hp = keras_tuner.HyperParameters()
        hypermodel.declare(hp)
        hp.values.update(values)
        hps.append(hp)

    def built(k):
        keras.utils.set_random_seed(10 + k)  # the branch's initial weights and dropout seeds
        return hypermodel.build(hps[k])

    keras.backend.clear_session()
    models = [built(k) for k in range(len(hps))]
    keras.utils.set_random_seed(99)  # the batches' order
    packed = train_pack(hypermodel, hps, models, [[], []], train, epochs=3, validation_data=validation)
    for k, hp in enumerate(hps):
        keras.backend.clear_session()
        model = built(k)
        keras.utils.set_random_seed(99)
        alone = hypermodel.fit(hp, model, train, epochs=3, validation_data=validation, verbose=0)
        assert packed[k].history.keys() == alone.history.keys()
        for name, values in alone.history.items():
            np.testing.assert_allclose(packed[k].history[name], values, rtol=0, atol=1e-5, err_msg=name)


@pytest.mark.slow
def test_a_packed_search_records_each_trial_as_alone(tmp_path):
    """A packed grid search fails the diverging trial only, and records the other's history and checkpoint."""
    spec = validate_spec(
        spec_dict(
            task="regression",
            input={"shape": [5], "preprocessing": "none"},
            hidden={"units": 8},
            optimizer={"name": "sgd", "learning_rate": {"values": [1e-6, 10.0]}},
            training={"epochs": 3, "batch_size": 32, "early_stopping": {"patience": 1}},
            search={"tuner": "grid", "pack": 4},
        )
    )

    def split(n, seed):  # inputs of a hundred or so: a learning rate of 10 diverges within a few steps
        x = np.random.default_rng(seed).normal(size=(n, 5)).astype(np.float32) * 100
        return x, x[:, 0] / 100

    data = SimpleNamespace(train=split(96, 0), validation=split(32, 1), test=split(32, 2), source="arrays")
    result = densespace.tune(spec, data=data, out=tmp_path / "run", retrain_top=0, verbose=0)
    by_rate = {t.values["learning_rate"]: t for t in result.trials}
    assert by_rate[10.0].status == "failed"
    assert re.search(r"loss became (nan|inf|-inf) in epoch \d+$", by_rate[10.0].message)
    good = by_rate[1e-6]
    assert good.status == "completed"
    assert len(good.history["val_loss"]) == good.epochs
    assert good.score == min(good.history["val_loss"])
    assert (tmp_path / "run" / "search" / f"trial_{good.id}" / "checkpoint.weights.h5").is_file()


@pytest.mark.slow
def test_a_search_killed_mid_pack_reruns_the_packs_trials(tmp_path):
    """A search interrupted while its first pack trains runs that pack's trials again on resume."""
    import keras

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt  # as Ctrl-C would, mid-pack

    spec = _spec(max_trials=3, pack=2)
    spec = validate_spec({**spec.model_dump(), "training": {"epochs": 2, "batch_size": 32}})
    data = SimpleNamespace(
        train=_arrays(96, 0), validation=_arrays(32, 1), test=_arrays(32, 2), source="arrays"
    )
    with pytest.raises(KeyboardInterrupt):
        densespace.tune(spec, data=data, out=tmp_path / "run", retrain_top=0, verbose=0, callbacks=[Kill()])
    result = densespace.tune(spec, data=data, out=tmp_path / "run", retrain_top=0, verbose=0)
    assert [(t.id, t.status, t.epochs) for t in result.trials] == [
        (i, "completed", 2) for i in ("0", "1", "2")
    ]
