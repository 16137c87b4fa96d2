"""A user's script, type-checked by mypy in CI (never run): the documented calls must pass."""

from __future__ import annotations

import densespace
from densespace.datasets import load_cifar10

spec = densespace.load_spec("examples/seed-depth.json")
result = densespace.tune(spec, data=load_cifar10(), max_trials=5, verbose=0)
accuracy: float = result.test_metrics[0]["accuracy"]
shortcut = densespace.hyperband(spec, data=load_cifar10(limit=1000), epochs=2, out="runs/x")
trials: list[densespace.TrialRecord] = shortcut.trials
best = densespace.load_results("runs/x").best[0].test_metrics
warm = densespace.bayesian_optimization(
    spec, data=load_cifar10(), warm_start="runs/x", enqueue=["runs/x/best-1.spec.json", "runs/y"]
)
