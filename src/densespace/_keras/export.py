"""A retrained model in other formats than ``.keras``: TensorFlow's SavedModel and TFLite, each
reloaded and checked to predict what the Keras model predicts."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any, Literal

import keras
import numpy as np
import tensorflow as tf

from densespace._errors import TuningError
from densespace._keras.data import batched

ExportFormat = Literal["savedmodel", "tflite"]
#: The largest absolute difference allowed between an export's outputs and the Keras model's.
TOLERANCE: dict[str, float] = {"savedmodel": 1e-5, "tflite": 1e-4}


def exported(
    model: keras.Model, format: ExportFormat, x: np.ndarray | dict[str, np.ndarray]
) -> tuple[dict[str, bytes], float]:
    """The files of ``model`` in ``format`` (by path relative to the export; ``""``: the export is one
    file), and the largest absolute difference between its outputs and ``model``'s on ``x`` (an
    array, or a table's arrays by input name: a SavedModel only), over the outputs' scale (their
    largest magnitude, at least 1: targets in large units differ in float32's last bits).

    Raises:
        TuningError: The export predicts more than ``TOLERANCE`` away from the Keras model.
    """
    expected = np.asarray(model.predict(batched(x), verbose=0))
    with tempfile.TemporaryDirectory() as folder:
        saved = Path(folder, "savedmodel")
        model.export(str(saved), format="tf_saved_model", verbose=False)
        if format == "savedmodel":
            loaded = tf.saved_model.load(str(saved))  # held: its functions need its variables
            got = np.asarray(loaded.serve(x))
            files = {p.relative_to(saved).as_posix(): p.read_bytes() for p in saved.rglob("*") if p.is_file()}
        else:
            assert isinstance(x, np.ndarray), "a table's model is not exported to TFLite (_export.export)"
            content = tf.lite.TFLiteConverter.from_saved_model(str(saved)).convert()
            got = _run_tflite(content, x)
            files = {"": content}
    rows = len(expected)
    scale = max(1.0, float(np.max(np.abs(expected)))) if rows else 1.0
    difference = float(np.max(np.abs(got - expected))) / scale if rows else 0.0
    if not difference <= TOLERANCE[format]:
        raise TuningError(
            f"the {format} export predicts up to {difference:.3g} (of the outputs' scale, {scale:.3g}) away "
            f"from the Keras model on the rows checked (more than {TOLERANCE[format]:g}); it was not written"
        )
    return files, difference


def _run_tflite(content: bytes, x: np.ndarray) -> np.ndarray:
    """The outputs of a TFLite model on ``x``, with TensorFlow's own interpreter."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
        interpreter: Any = tf.lite.Interpreter(model_content=content)
    given, output = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.resize_tensor_input(given["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(given["index"], x)
    interpreter.invoke()
    return np.asarray(interpreter.get_tensor(output["index"]))
