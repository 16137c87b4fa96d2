"""Test-suite set-up: the environment every test and subprocess runs in."""

from __future__ import annotations

import os

# Keep TensorFlow quiet and on the CPU in every test and subprocess.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
