"""The invalid-spec corpus: each spec, the one problem it must produce, and whether
the JSON Schema can express the rule it breaks."""

from __future__ import annotations

from typing import Any, NamedTuple, get_args

from densespace._spec import Activation, OptimizerName
from helpers import DELETE, spec_dict


class Invalid(NamedTuple):
    id: str
    spec: Any
    problem: str
    schema_rejects: bool


def _listing(options: tuple[str, ...]) -> str:
    return "expected one of: " + ", ".join(options)


ACTIVATIONS = _listing(get_args(Activation))
OPTIMIZERS = _listing(get_args(OptimizerName))

INVALID = [
    Invalid(
        "min-above-max",
        spec_dict(hidden={"units": {"min": 512, "max": 64}}),
        "hidden.units: min (512) must be <= max (64)",
        False,
    ),
    Invalid(
        "step-zero",
        spec_dict(hidden={"units": {"min": 1, "max": 64, "step": 0}}),
        "hidden.units.step: must be > 0 (received 0)",
        True,
    ),
    Invalid(
        "step-negative",
        spec_dict(hidden={"units": 8, "dropout": {"min": 0, "max": 0.5, "step": -0.1}}),
        "hidden.dropout.step: must be > 0.0 (received -0.1)",
        True,
    ),
    Invalid(
        "log-step-one",
        spec_dict(hidden={"units": {"min": 16, "max": 256, "step": 1, "sampling": "log"}}),
        "hidden.units: step (1) must be > 1 with sampling 'log' (it multiplies)",
        False,
    ),
    Invalid(
        "log-min-zero-float",
        spec_dict(hidden={"l2": {"min": 0, "max": 0.1, "sampling": "log"}}),
        "hidden.l2: min (0.0) must be > 0 with sampling 'log'",
        False,
    ),
    Invalid(
        "log-min-zero-int",
        spec_dict(hidden={"layers": {"min": 0, "max": 4, "sampling": "reverse_log"}}),
        "hidden.layers: min (0) must be > 0 with sampling 'reverse_log'",
        False,
    ),
    Invalid(
        "unknown-sampling",
        spec_dict(hidden={"units": {"min": 1, "max": 4, "sampling": "logarithmic"}}),
        'hidden.units.sampling: unknown value "logarithmic"; expected one of: linear, log, reverse_log',
        True,
    ),
    Invalid(
        "empty-values",
        spec_dict(hidden={"units": {"values": []}}),
        "hidden.units.values: must not be empty",
        True,
    ),
    Invalid(
        "duplicate-values",
        spec_dict(hidden={"units": {"values": [64, 128, 64]}}),
        "hidden.units.values: duplicate value 64",
        True,
    ),
    Invalid(
        "mixed-types",
        spec_dict(hidden={"units": {"values": [64, "128"]}}),
        'hidden.units.values[1]: expected an integer, received "128"',
        True,
    ),
    Invalid(
        "float-for-int",
        spec_dict(hidden={"units": 64.5}),
        "hidden.units: expected an integer, received 64.5",
        True,
    ),
    Invalid(
        "bool-for-int",
        spec_dict(hidden={"units": True}),
        "hidden.units: expected an integer, received true",
        True,
    ),
    Invalid(
        "float-range-end-for-int",
        spec_dict(hidden={"units": {"min": 1.5, "max": 8}}),
        "hidden.units.min: expected an integer, received 1.5",
        True,
    ),
    Invalid(
        "string-for-float",
        spec_dict(hidden={"dropout": "0.2"}),
        'hidden.dropout: expected a number, received "0.2"',
        True,
    ),
    Invalid(
        "string-for-int",
        spec_dict(training={"epochs": "10"}),
        'training.epochs: expected an integer, received "10"',
        True,
    ),
    Invalid(
        "string-for-bool",
        spec_dict(hidden={"batch_norm": "yes"}),
        'hidden.batch_norm: expected true or false, received "yes"',
        True,
    ),
    Invalid(
        "dropout-one",
        spec_dict(hidden={"dropout": 1.0}),
        "hidden.dropout: must be < 1.0 (received 1.0)",
        True,
    ),
    Invalid(
        "dropout-negative",
        spec_dict(hidden={"dropout": -0.1}),
        "hidden.dropout: must be >= 0.0 (received -0.1)",
        True,
    ),
    Invalid(
        "dropout-range-max",
        spec_dict(hidden={"dropout": {"min": 0, "max": 1.5}}),
        "hidden.dropout.max: must be < 1.0 (received 1.5)",
        True,
    ),
    Invalid(
        "dropout-choice-value",
        spec_dict(hidden={"dropout": {"values": [0.1, 2]}}),
        "hidden.dropout.values[1]: must be < 1.0 (received 2)",
        True,
    ),
    Invalid(
        "learning-rate-zero",
        spec_dict(optimizer={"learning_rate": {"values": [0, 0.1]}}),
        "optimizer.learning_rate.values[0]: must be > 0.0 (received 0)",
        True,
    ),
    Invalid(
        "activation-typo",
        spec_dict(hidden={"activation": "rellu"}),
        f"hidden.activation: unknown value \"rellu\" (did you mean 'relu'?); {ACTIVATIONS}",
        True,
    ),
    Invalid(
        "activation-choice-typo",
        spec_dict(hidden={"activation": {"values": ["relu", "sigmoidd"]}}),
        f"hidden.activation.values[1]: unknown value \"sigmoidd\" (did you mean 'sigmoid'?); {ACTIVATIONS}",
        True,
    ),
    Invalid(
        "activation-range",
        spec_dict(hidden={"activation": {"min": "a", "max": "b"}}),
        'hidden.activation: takes a constant or a choice {"values": [...]}, not a range '
        '(received {"min": "a", "max": "b"})',
        True,
    ),
    Invalid(
        "optimizer-typo",
        spec_dict(optimizer={"name": "adamm"}),
        f"optimizer.name: unknown value \"adamm\" (did you mean 'adam'?); {OPTIMIZERS}",
        True,
    ),
    Invalid(
        "tuner-typo",
        spec_dict(search={"tuner": "bayes"}),
        "search: unknown tuner \"bayes\" (did you mean 'bayesian'?); expected one of: random, bayesian, hyperband, grid, tpe",
        True,
    ),
    Invalid(
        "block-kind-typo",
        spec_dict(hidden=[{"units": 8}, {"kind": "resnet", "units": 8}]),
        'hidden[1]: unknown block kind "resnet"; expected one of: dense, residual',
        True,
    ),
    Invalid(
        "residual-expansion-too-large",
        spec_dict(hidden={"kind": "residual", "units": 8, "expansion": {"values": [1, 32]}}),
        "hidden.expansion.values[1]: must be <= 16 (received 32)",
        True,
    ),
    Invalid(
        "dense-field-in-residual-block",
        spec_dict(hidden={"kind": "residual", "units": 8, "batch_norm": True}),
        "hidden.batch_norm: unknown key (allowed: kind, layers, units, expansion, norm, activation, dropout, shared)",
        True,
    ),
    Invalid(
        "crop-as-large-as-the-image",
        spec_dict(input={"shape": [8, 8, 3], "augmentation": {"crop": {"values": [2, 8]}}}),
        "input.augmentation.crop: must be less than the image's height and width (received 8 for shape [8, 8, 3])",
        False,
    ),
    Invalid(
        "mixup-for-regression",
        spec_dict(task="regression", input={"shape": [8, 8, 3], "augmentation": {"mixup": 0.2}}),
        "input.augmentation.mixup: applies to task 'classification' only (this spec's task is 'regression')",
        False,
    ),
    Invalid(
        "grid-continuous-range",
        spec_dict(search={"tuner": "grid"}, optimizer={"learning_rate": {"min": 0.0001, "max": 0.01}}),
        "search.tuner: a grid search needs every range to have a step; optimizer.learning_rate is continuous",
        False,
    ),
    Invalid(
        "objective-typo",
        spec_dict(search={"objective": "val_acc"}),
        "search.objective: \"val_acc\" is not recorded for task 'classification' (did you mean "
        "'val_accuracy'?); expected one of: loss, accuracy, balanced_accuracy, macro_f1, val_loss, val_accuracy, val_balanced_accuracy, val_macro_f1",
        False,
    ),
    Invalid(
        "output-activation",
        spec_dict(output={"activation": "sigmoid"}),
        "output.activation: 'sigmoid' does not fit task 'classification', whose output is 'softmax'",
        False,
    ),
    Invalid(
        "preprocessing-typo",
        spec_dict(input={"preprocessing": "standardise"}),
        "input.preprocessing: unknown value \"standardise\" (did you mean 'standardize'?); "
        "expected one of: auto, rescale, standardize, none",
        True,
    ),
    Invalid(
        "unknown-top-key", spec_dict(hiden={"units": 8}), "hiden: unknown key (did you mean 'hidden'?)", True
    ),
    Invalid(
        "unknown-block-key",
        spec_dict(hidden={"unit": 8}),
        "hidden.unit: unknown key (did you mean 'units'?)",
        True,
    ),
    Invalid(
        "unknown-range-key",
        spec_dict(hidden={"units": {"min": 1, "max": 8, "stepp": 2}}),
        "hidden.units.stepp: unknown key (did you mean 'step'?)",
        True,
    ),
    Invalid(
        "option-of-other-tuner",
        spec_dict(search={"tuner": "random", "num_initial_points": 2}),
        "search.num_initial_points: unknown key: an option of tuners 'bayesian' and 'tpe'; this search's tuner is 'random'",
        True,
    ),
    Invalid(
        "missing-units",
        spec_dict(hidden={"units": DELETE, "layers": 2}),
        "hidden.units: required key is missing",
        True,
    ),
    Invalid("missing-hidden", spec_dict(hidden=DELETE), "hidden: required key is missing", True),
    Invalid("missing-version", spec_dict(version=DELETE), "version: required key is missing", True),
    Invalid(
        "unsupported-version",
        spec_dict(version=2),
        "version: unsupported version 2; this densespace reads version 1",
        True,
    ),
    Invalid(
        "name-parent",
        spec_dict(name="../evil"),
        'name: unsafe name "../evil": it becomes a directory name, so use letters, digits, '
        "'-', '_' and single inner dots (no '/', '\\' or '..')",
        True,
    ),
    Invalid(
        "name-separator",
        spec_dict(name="runs/x"),
        'name: unsafe name "runs/x": it becomes a directory name, so use letters, digits, '
        "'-', '_' and single inner dots (no '/', '\\' or '..')",
        True,
    ),
    Invalid("name-empty", spec_dict(name=""), "name: must not be empty", True),
    Invalid(
        "nan",
        spec_dict(optimizer={"learning_rate": float("nan")}),
        "optimizer.learning_rate: expected a finite number, received NaN",
        False,
    ),
    Invalid(
        "infinity",
        spec_dict(hidden={"l2": {"min": 0, "max": float("inf")}}),
        "hidden.l2.max: expected a finite number, received Infinity",
        True,
    ),
    Invalid(
        "too-many-layers",
        spec_dict(hidden={"layers": 101}),
        "hidden.layers: must be <= 100 (received 101)",
        True,
    ),
    Invalid(
        "too-many-units",
        spec_dict(hidden={"units": 100000}),
        "hidden.units: must be <= 16384 (received 100000)",
        True,
    ),
    Invalid("zero-units", spec_dict(hidden={"units": 0}), "hidden.units: must be >= 1 (received 0)", True),
    Invalid(
        "too-many-parameters",
        spec_dict(hidden={"layers": {"min": 1, "max": 10}, "units": 16384}),
        "top level: the largest model of this space has 2,466,578,442 trainable parameters; "
        "the limit is 100,000,000",
        False,
    ),
    Invalid("no-blocks", spec_dict(hidden=[]), "hidden: must not be empty", True),
    Invalid(
        "too-many-blocks",
        spec_dict(hidden=[{"units": {"values": [8, 16]}}] + [{"units": 8}] * 10),
        "hidden: must have at most 10 blocks (received 11); only constant blocks, as in a frozen spec, may be more",
        False,
    ),
    Invalid(
        "too-many-constant-blocks",
        spec_dict(hidden=[{"units": 8}] * 1001),
        "hidden: must have at most 1000 items (received 1001)",
        True,
    ),
    Invalid(
        "too-many-constant-layers",
        spec_dict(hidden=[{"units": 8, "layers": 100}] * 11),
        "hidden: the blocks have 1,100 layers in all; the limit is 1,000",
        False,
    ),
    Invalid(
        "log-min-underflows",
        spec_dict(optimizer={"learning_rate": {"min": 5e-324, "max": 1.0, "sampling": "log"}}),
        "optimizer.learning_rate: min (5e-324) is too small for sampling 'log': max / min overflows",
        False,
    ),
    Invalid(
        "step-too-small",
        spec_dict(hidden={"dropout": {"min": 0.0, "max": 0.5, "step": 5e-324}}),
        "hidden.dropout: step (5e-324) is too small: the range would have more than 1,000,000 values",
        False,
    ),
    Invalid(
        "steps-below-float-precision",
        spec_dict(
            optimizer={"learning_rate": {"min": 1e-300, "max": 1.0, "step": 2.0, "sampling": "reverse_log"}}
        ),
        "optimizer.learning_rate: values 0 and 1 of the range are both 1.0: its steps are below the precision of floats",
        False,
    ),
    Invalid(
        "range-rounds-past-bound",
        spec_dict(
            hidden={"dropout": {"min": 0.5, "max": 0.9999999999999999, "step": 2.0, "sampling": "log"}}
        ),
        "hidden.dropout: keras-tuner can sample 1.0 from this range (rounding in its arithmetic); values must be < 1.0",
        False,
    ),
    Invalid(
        "second-block",
        spec_dict(hidden=[{"units": 8}, {"units": 8, "dropout": 1.5}]),
        "hidden[1].dropout: must be < 1.0 (received 1.5)",
        True,
    ),
    Invalid(
        "block-not-object", spec_dict(hidden="dense"), 'hidden: expected an object, received "dense"', True
    ),
    Invalid(
        "bool-choice-one-value",
        spec_dict(hidden={"batch_norm": {"values": [True]}}),
        "hidden.batch_norm.values: a boolean choice must list both true and false "
        "(received 1 value); write a constant instead",
        False,
    ),
    Invalid("shape-empty", spec_dict(input={"shape": []}), "input.shape: must not be empty", True),
    Invalid(
        "shape-too-large",
        spec_dict(input={"shape": [4096, 4096]}),
        "input: shape has 16,777,216 values; the limit is 1,048,576",
        False,
    ),
    Invalid(
        "augmentation-flat-input",
        spec_dict(input={"shape": [784], "augmentation": {"flip": True}}),
        "input: augmentation needs an image shape [height, width, channels] (received shape [784])",
        False,
    ),
    Invalid(
        "translate-too-far",
        spec_dict(input={"augmentation": {"translate": 0.6}}),
        "input.augmentation.translate: must be <= 0.5 (received 0.6)",
        True,
    ),
    Invalid(
        "schedule-typo",
        spec_dict(optimizer={"schedule": "cosin"}),
        "optimizer.schedule: unknown value \"cosin\" (did you mean 'cosine'?); expected one of: constant, cosine",
        True,
    ),
    Invalid(
        "label-smoothing-one",
        spec_dict(training={"label_smoothing": 1.0}),
        "training.label_smoothing: must be < 1.0 (received 1.0)",
        True,
    ),
    Invalid(
        "key-named-like-a-tag",
        spec_dict(hidden={"units": 8, "range": 2}),
        "hidden.range: unknown key (allowed: kind, layers, units, activation, dropout, batch_norm, l2, shared)",
        True,
    ),
    Invalid(
        "search-key-named-like-a-tuner",
        spec_dict(search={"tuner": "bayesian", "bayesian": 1}),
        "search.bayesian: unknown key (allowed: objective, seed, executions_per_trial, constraints, pruning, "
        "initial_points, cross_validation, pack, tuner, max_trials, num_initial_points)",
        True,
    ),
    Invalid(
        "tuned-smoothing-with-loss-objective",
        spec_dict(training={"label_smoothing": {"values": [0.0, 0.1]}}),
        "search.objective: training.label_smoothing is tuned, so objective 'val_loss' would compare losses "
        "smoothed differently; use an objective of a metric (such as 'val_accuracy') or a constant "
        "label_smoothing",
        False,
    ),
    Invalid(
        "tuned-loss-with-loss-objective",
        spec_dict(task="regression", training={"loss": {"values": ["mse", "huber"]}}),
        "search.objective: training.loss is tuned, so objective 'val_loss' would compare different losses; "
        "use an objective of a metric (such as 'val_mae') or a constant loss",
        False,
    ),
    Invalid(
        "objective-of-another-task",
        spec_dict(task="regression", search={"objective": "val_accuracy"}),
        "search.objective: \"val_accuracy\" is not recorded for task 'regression'; expected one of: loss, "
        "mae, rmse, val_loss, val_mae, val_rmse",
        False,
    ),
    Invalid(
        "monitor-of-another-task",
        spec_dict(task="binary", training={"early_stopping": {"monitor": "val_mae"}}),
        "training.early_stopping.monitor: \"val_mae\" is not recorded for task 'binary' (did you mean "
        "'val_auc'?); expected one of: loss, accuracy, auc, balanced_accuracy, macro_f1, val_loss, val_accuracy, val_auc, val_balanced_accuracy, val_macro_f1",
        False,
    ),
    Invalid(
        "classification-of-one-unit",
        spec_dict(output={"units": 1}),
        "output.units: a classification head of 1 unit always predicts its one class; for two classes use "
        "task 'binary' (one sigmoid unit)",
        False,
    ),
    Invalid(
        "binary-of-two-units",
        spec_dict(task="binary", output={"units": 2}),
        "output.units: task 'binary' has 1 output unit (received 2)",
        False,
    ),
    Invalid(
        "loss-without-regression",
        spec_dict(training={"loss": "mae"}),
        "training.loss: applies to task 'regression' only (this spec's task is 'classification')",
        False,
    ),
    Invalid(
        "smoothing-without-classification",
        spec_dict(task="multilabel", training={"label_smoothing": 0.1}),
        "training.label_smoothing: applies to task 'classification' only (this spec's task is 'multilabel')",
        False,
    ),
    Invalid(
        "task-typo",
        spec_dict(task="regresion"),
        "task: unknown value \"regresion\" (did you mean 'regression'?); expected one of: classification, "
        "binary, multilabel, regression",
        True,
    ),
    Invalid(
        "max-trials-zero",
        spec_dict(search={"max_trials": 0}),
        "search.max_trials: must be >= 1 (received 0)",
        True,
    ),
    Invalid(
        "hyperband-factor",
        spec_dict(search={"tuner": "hyperband", "factor": 1}),
        "search.factor: must be >= 2 (received 1)",
        True,
    ),
    Invalid(
        "patience-negative",
        spec_dict(training={"early_stopping": {"patience": -1}}),
        "training.early_stopping.patience: must be >= 0 (received -1)",
        True,
    ),
    Invalid(
        "search-not-object",
        spec_dict(search="bayesian"),
        'search: expected an object, received "bayesian"',
        True,
    ),
    Invalid("top-level-list", [1], "top level: expected an object, received [1]", True),
    Invalid(
        "pack-of-one",
        spec_dict(search={"tuner": "random", "pack": 1}),
        'search.pack: expected "auto", "off" or an integer from 2 to 256 (received 1)',
        True,
    ),
    Invalid(
        "pack-with-executions",
        spec_dict(search={"tuner": "random", "pack": 4, "executions_per_trial": 2}),
        'search: pack (4) trains one model per trial: set executions_per_trial (2) to 1, or pack to "off"',
        False,
    ),
    Invalid(
        "pack-with-folds",
        spec_dict(search={"tuner": "random", "pack": 4, "cross_validation": 3}),
        "search: pack (4) trains one model per trial, cross_validation (3) one per fold: "
        'set pack to "off", or remove cross_validation',
        False,
    ),
    Invalid(
        "hyperband-pack",
        spec_dict(search={"tuner": "hyperband", "pack": 4}),
        "search.pack: Hyperband continues its trials' models from round to round, one by one: set "
        'search.pack (4) to "off", or use the random, bayesian, tpe or grid tuner',
        False,
    ),
    Invalid(
        "initial-point-unknown-name",
        spec_dict(search={"initial_points": [{"unit": 8}]}, hidden={"units": {"values": [8, 16]}}),
        "search.initial_points[0].unit: not a hyperparameter of this space (did you mean 'units_0'?)",
        False,
    ),
    Invalid(
        "initial-point-value",
        spec_dict(
            search={"initial_points": [{"units_0": 12}]}, hidden={"units": {"min": 8, "max": 16, "step": 8}}
        ),
        "search.initial_points[0].units_0: 12 is not a value of hidden.units (int 8..16 step 8)",
        False,
    ),
    Invalid(
        "initial-point-missing",
        spec_dict(
            search={"initial_points": [{"layers": 2, "units_0": 8}]},
            hidden={"layers": {"min": 1, "max": 2}, "units": {"min": 8, "max": 16, "step": 8}},
        ),
        "search.initial_points[0]: no value for units_1 (hidden.units, int 8..16 step 8)",
        False,
    ),
    Invalid(
        "initial-point-inactive",
        spec_dict(
            search={"initial_points": [{"layers": 1, "units_0": 8, "units_1": 8}]},
            hidden={"layers": {"min": 1, "max": 2}, "units": {"values": [8, 16]}},
        ),
        "search.initial_points[0].units_1: not used when layers is 1 (active when layers = 2); leave it out",
        False,
    ),
    Invalid(
        "initial-point-infeasible",
        spec_dict(
            input={"shape": [10]},
            search={"initial_points": [{"units_0": 16}], "constraints": {"max_parameters": 200}},
            hidden={"units": {"values": [8, 16]}},
        ),
        "search.initial_points[0]: selects a model outside search.constraints (346 trainable parameters, "
        "hidden widths [16])",
        False,
    ),
    Invalid(
        "initial-point-twice",
        spec_dict(
            search={"initial_points": [{"units_0": 8}, {"units_0": 8}]}, hidden={"units": {"values": [8, 16]}}
        ),
        "search.initial_points[1]: the same point as search.initial_points[0]",
        False,
    ),
    Invalid(
        "initial-points-beyond-max-trials",
        spec_dict(
            search={"max_trials": 1, "initial_points": [{"units_0": 8}, {"units_0": 16}]},
            hidden={"units": {"values": [8, 16]}},
        ),
        "search.initial_points: 2 points, more than search.max_trials (1)",
        False,
    ),
    Invalid(
        "initial-points-with-hyperband",
        spec_dict(
            search={"tuner": "hyperband", "initial_points": [{"units_0": 8}]},
            hidden={"units": {"values": [8, 16]}},
        ),
        "search.initial_points: Hyperband draws every bracket's models itself: remove search.initial_points, "
        "or use the random, bayesian or tpe tuner",
        False,
    ),
    Invalid(
        "initial-point-null",
        spec_dict(search={"initial_points": [{"units_0": None}]}, hidden={"units": {"values": [8, 16]}}),
        "search.initial_points[0].units_0: expected a number, a string or true/false, received null",
        True,
    ),
]
