"""The inputs of a model of a table: one Keras Input per column, encoded inside the model.

Numeric parts (numeric, boolean and date columns): missing values (NaN) filled with
the training median, a was-missing indicator where the column had missing values in
training, then standardized (or rescaled) with the training statistics. Categorical
columns: a StringLookup of the training categories (one out-of-vocabulary slot), one-hot
or embedded (``densespace.datasets.embedding_size``). Only Keras' own layers and ops,
so a saved model loads with Keras alone.
"""

from __future__ import annotations

from typing import Any, Literal

import keras
import numpy as np

from densespace.datasets._table import Encoded, TableEncoding


def table_inputs(
    encoding: TableEncoding, preprocessing: Literal["rescale", "standardize", "none"]
) -> tuple[dict[str, Any], Any]:
    """The model's inputs by name, and their encoded values concatenated (``encoding.width`` wide)."""
    inputs: dict[str, Any] = {}
    parts: list[Any] = []
    for column in encoding.columns:
        if column.type == "categorical":
            inputs[column.name] = keras.Input(shape=(1,), dtype="string", name=column.name)
            parts.append(_categories(column, inputs[column.name]))
        else:
            inputs[column.name] = keras.Input(shape=(column.size,), name=column.name)
            parts.extend(_numbers(column, inputs[column.name], preprocessing))
    return inputs, parts[0] if len(parts) == 1 else keras.layers.Concatenate(name="columns")(parts)


def _categories(column: Encoded, x: Any) -> Any:
    layers, vocabulary = keras.layers, list(column.vocabulary)
    slots = len(vocabulary) + 1
    if not column.embedding:
        lookup = layers.StringLookup(
            vocabulary=vocabulary, num_oov_indices=1, output_mode="one_hot", name=f"{column.name}_lookup"
        )
        return layers.Reshape((slots,), name=f"{column.name}_one_hot")(lookup(x))
    ids = layers.StringLookup(vocabulary=vocabulary, num_oov_indices=1, name=f"{column.name}_lookup")(x)
    vectors = layers.Embedding(slots, column.embedding, name=f"{column.name}_embedding")(ids)
    return layers.Reshape((column.embedding,), name=f"{column.name}_vector")(vectors)


def _numbers(column: Encoded, x: Any, preprocessing: str) -> list[Any]:
    layers, ops = keras.layers, keras.ops
    missing = ops.isnan(x)
    filled = ops.where(missing, np.asarray(column.median, np.float32), x)
    if preprocessing == "standardize":
        filled = layers.Normalization(
            mean=list(column.mean), variance=list(column.variance), name=f"{column.name}_standardize"
        )(filled)
    elif preprocessing == "rescale":
        filled = layers.Rescaling(1 / 255, name=f"{column.name}_rescale")(filled)
    return [filled, ops.cast(missing, "float32")] if column.indicators else [filled]
