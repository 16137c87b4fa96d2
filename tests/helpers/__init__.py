"""Shared helpers of the test suite: paths, small specs and tiny synthetic data."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.*") if p.suffix in {".json", ".yaml", ".yml"})

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


def synthetic_data(
    *,
    train: int = 120,
    validation: int = 40,
    test: int = 40,
    shape: tuple[int, ...] = (4, 4, 3),
    seed: int = 0,
) -> Any:
    """Tiny uint8 images whose brightness depends on the class, split like CIFAR10 data."""
    from types import SimpleNamespace

    import numpy as np

    rng = np.random.default_rng(seed)

    def split(n: int) -> tuple[Any, Any]:
        labels = np.arange(n) % 10
        noise = rng.integers(0, 40, size=(n, *shape))
        return (noise + labels.reshape(-1, *[1] * len(shape)) * 20).astype(np.uint8), labels

    return SimpleNamespace(
        train=split(train), validation=split(validation), test=split(test), source="synthetic"
    )
