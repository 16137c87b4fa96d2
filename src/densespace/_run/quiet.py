"""TensorFlow's own logs: silenced before TensorFlow loads, for the CLI and the Python API alike.

TensorFlow and absl print start-up lines to standard error (oneDNN, CUDA drivers, absl's
"before InitializeLog" notice, ``E0000 ... failed call to cuInit`` on a machine without a GPU)
and, later, Python warnings such as its retracing notices, which a search of many models
provokes. densespace silences them unless asked to be verbose (``verbose=2``, ``--verbose``).
This module never imports TensorFlow itself but to load it quietly.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys


def quiet_tensorflow() -> None:
    """Silences TensorFlow's and absl's logs for the rest of the process, loading Keras and
    TensorFlow now (``densespace._keras``) unless they are loaded already.

    ``TF_CPP_MIN_LOG_LEVEL=3`` silences TensorFlow's C++ logs, errors too (read once, as it loads: a
    TensorFlow loaded earlier keeps its level), standard error is closed while it loads
    (TensorFlow 2.21 logs some lines before reading that variable), and absl's and TensorFlow's
    Python logging are set to errors only.
    """
    if "tensorflow" not in sys.modules:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        saved = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            sys.stderr.flush()
            os.dup2(null, 2)
            importlib.import_module("densespace._keras")  # Keras and TensorFlow, loaded now
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(null)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    with contextlib.suppress(ImportError):
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
