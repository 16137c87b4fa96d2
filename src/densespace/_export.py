"""Exports of a retrained model beside its ``best-K.keras``: TensorFlow's SavedModel
(``best-K.savedmodel/``) and TFLite (``best-K.tflite``), written through the folder's manifest.

No Keras at import: ``_keras.export`` converts, reloads and checks each export.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from densespace import _predict
from densespace._errors import OptionError, show
from densespace._files import write_bytes

if TYPE_CHECKING:
    from densespace._results import Results

ExportFormat = Literal["savedmodel", "tflite"]
#: Each format's file (a folder for a SavedModel) in the results folder, by rank.
EXPORTS: dict[str, str] = {"savedmodel": "best-{rank}.savedmodel", "tflite": "best-{rank}.tflite"}
#: The random rows an export is checked on when no rows are given.
SAMPLE_ROWS = 64


def export(
    results: Results, folder: Path, *, format: str, model: int, data: Any = None
) -> tuple[Path, float]:
    """Writes the retrained model of rank ``model`` in ``format`` into ``folder``, once it predicts what
    the Keras model predicts on ``data`` (any rows ``Results.predict`` takes; by default
    ``SAMPLE_ROWS`` random rows of the model's input shape) within ``_keras.export.TOLERANCE``.

    Returns:
        The export's path, and the largest absolute difference found.

    Raises:
        OptionError: ``format`` is none of ``EXPORTS``, ``model`` no retrained rank, or the run's
            model takes a table's columns and ``format`` is TFLite or no ``data`` is given.
        RunFolderError: The folder is in use, or holds a file densespace did not write where the
            export goes.
        TuningError: The export predicts otherwise than the Keras model.
    """
    if format not in EXPORTS:
        raise OptionError(f"{{format}} must be 'savedmodel' or 'tflite' (received {show(format)})", "format")
    if results.spec["input"].get("columns") is not None:
        check_table_format(format, option="format")
        if data is None:
            raise OptionError(
                "{data}: a table's export is checked on rows of its columns, which the results folder does "
                "not keep: give some (a CSV file, or a DataFrame in Python)",
                "data",
            )
    path = _predict.model_path(results, folder, model)
    x = _sample(results) if data is None else _predict._inputs(results, data)
    from densespace._keras import export as keras_export
    from densespace._keras.io import load_model
    from densespace._run.folder import finished

    files, difference = keras_export.exported(load_model(path), format, x)  # type: ignore[arg-type]
    target = folder / EXPORTS[format].format(rank=model)
    with finished(folder) as ledger:
        ledger.remove(ledger.listed(target.name))  # an earlier SavedModel's files
        for name, content in files.items():
            file = target / name if name else target
            file.parent.mkdir(parents=True, exist_ok=True)
            write_bytes(file, content)
    return target, difference


def check_table_format(format: str, *, option: str) -> None:
    """Refuses to export a table's model (its columns by name, its text looked up) to TFLite.

    Raises:
        OptionError: ``format`` is ``"tflite"``, named as the ``option`` that gave it.
    """
    if format == "tflite":
        raise OptionError(
            f"{{{option}}}: a table's model takes its columns by name and its text through a StringLookup, "
            "which TFLite's built-in operations lack: export it as 'savedmodel'",
            option,
        )


def _sample(results: Results) -> np.ndarray:
    """Random rows of the model's input shape: pixel values for rescaled images, else standard normal."""
    rng = np.random.default_rng(0)
    shape = (SAMPLE_ROWS, *results.spec["input"]["shape"])
    if results.spec["input"]["preprocessing"] == "rescale":
        return rng.integers(0, 256, size=shape).astype(np.float32)
    return rng.normal(size=shape).astype(np.float32)
