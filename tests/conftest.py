"""Shared helpers of the test suite."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

# Keep TensorFlow quiet and on the CPU in every test and subprocess.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.*"))

DELETE = object()


def spec_dict(**patch: Any) -> dict[str, Any]:
    """A small valid spec as a dict, deep-merged with ``patch`` (``DELETE`` removes a key)."""
    base: dict[str, Any] = {"version": 1, "name": "t", "hidden": {"units": 8}}
    return merge(base, patch)


def merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``base`` deep-merged with ``patch``; dicts merge, anything else replaces."""
    result = copy.deepcopy(base)
    for key, value in patch.items():
        if value is DELETE:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result
