"""The spec the scikit-learn estimator tests fit: one fast trial."""

#: A frozen space (nothing tuned) trained briefly at a high learning rate: one trial, fast fits.
TINY = {
    "version": 1,
    "name": "tiny",
    "input": {"preprocessing": "standardize"},
    "hidden": {"units": 16},
    "optimizer": {"name": "adam", "learning_rate": 0.03},
    "training": {"epochs": 6, "batch_size": 32},
    "search": {"tuner": "random", "max_trials": 1},
}
