"""The spec the scikit-learn estimator tests fit: one fast trial."""

#: A frozen space (nothing tuned) trained briefly at a high learning rate: one trial, fast fits. Few
#: epochs of small batches: each epoch's fixed cost (validation, checkpoint, callbacks) dominates a
#: fit of scikit-learn's tiny check data, each step's is small.
TINY = {
    "version": 1,
    "name": "tiny",
    "input": {"preprocessing": "standardize"},
    "hidden": {"units": 16},
    "optimizer": {"name": "adam", "learning_rate": 0.03},
    "training": {"epochs": 3, "batch_size": 8},
    "search": {"tuner": "random", "max_trials": 1},
}
