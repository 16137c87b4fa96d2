"""The spec format: models, loading, problem messages and the JSON Schema.

The hidden blocks' models are in ``densespace._blocks``, one module per kind. Pydantic
and PyYAML only; nothing here imports Keras.
"""

from densespace._blocks.base import MAX_LAYERS, MAX_UNITS
from densespace._blocks.dense import Activation, Block
from densespace._spec.loading import load_spec, parse_spec, validate_spec
from densespace._spec.models import (
    MAX_BLOCKS,
    MAX_INPUT_SIZE,
    MAX_TOTAL_LAYERS,
    Augmentation,
    EarlyStopping,
    Input,
    Optimizer,
    OptimizerName,
    Output,
    Spec,
    Training,
)
from densespace._spec.schema import SCHEMA_FILE, SCHEMA_ID, json_schema, schema_text

__all__ = [
    "MAX_BLOCKS",
    "MAX_INPUT_SIZE",
    "MAX_LAYERS",
    "MAX_TOTAL_LAYERS",
    "MAX_UNITS",
    "SCHEMA_FILE",
    "SCHEMA_ID",
    "Activation",
    "Augmentation",
    "Block",
    "EarlyStopping",
    "Input",
    "Optimizer",
    "OptimizerName",
    "Output",
    "Spec",
    "Training",
    "json_schema",
    "load_spec",
    "parse_spec",
    "schema_text",
    "validate_spec",
]
