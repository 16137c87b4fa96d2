"""densespace's tuners with ``search.pack``: each asks its oracle for up to K trials at once and
trains them as packs (``densespace._keras.packing``).

A packed search asks the oracle for trials under K tuner ids (``<tuner id>/<i>``), as K
distributed workers would, so every oracle proposes them as it proposes concurrent trials,
and a resumed search gets a killed pack's unfinished trials again. The trials are split into
packs (``packing.packs``: equal batch size and label form, at most K, within the memory
budget) and each pack runs in three passes over its trials:

1. *collect*: each trial runs through the tuner's ``run_trial`` as alone (its checkpoint
   claimed, its callbacks copied and completed: keras-tuner's best-epoch checkpoint,
   densespace's pruning, progress and TensorBoard callbacks) up to training, where
   ``_PackFit`` takes the callbacks and stops it;
2. *train*: the trials' models are built and trained together, each branch with the
   callbacks its trial gave;
3. *report*: each trial runs through ``run_trial`` again, where ``_PackFit`` hands back the
   branch's history instead of training, so that the tuner scores, records and ends each
   trial (or fails it) as a trial trained alone; its ``seconds`` are its share of the pack's.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import keras
import keras_tuner
from keras_tuner.src.distribute import utils as dist_utils

from densespace._keras.callbacks import MedianPruning
from densespace._keras.packing import memory_estimate, pack_key, packs, train_pack
from densespace._keras.tuners import TUNER_CLASSES

_TrialStatus = keras_tuner.engine.trial.TrialStatus


class _Collected(Exception):  # not an error: how ``run_trial``'s collect pass ends
    """Ends a trial's collect pass at training, with what its ``fit`` would have been given."""

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        super().__init__("collected")
        self.args, self.kwargs = args, kwargs


class _PackSearch:
    """The search loop of a packed tuner (first in its classes' order)."""

    if TYPE_CHECKING:  # what the keras-tuner tuner this mixes into holds
        oracle: Any
        hypermodel: Any
        tuner_id: str
        _fits: dict[str, _Collected]
        _results: dict[str, Any]

    def search(self, *fit_args: Any, **fit_kwargs: Any) -> None:
        """keras-tuner's search loop (``BaseTuner.search``), K trials at a time."""
        if dist_utils.is_chief_oracle():  # the chief only serves its oracle: keras-tuner's own
            keras_tuner.Tuner.search(self, *fit_args, **fit_kwargs)
            return
        if "verbose" in fit_kwargs and not dist_utils.has_chief_oracle():
            self.oracle.verbose = fit_kwargs["verbose"]
        self.on_search_begin()  # type: ignore[attr-defined]
        spec = self.hypermodel.spec
        most = spec.search.pack
        stopped = False
        while not stopped:
            trials, stopped = self._draw(most)
            for pack in packs(
                trials,
                key=lambda t: pack_key(spec, t.hyperparameters.values),
                size=lambda t: memory_estimate(spec, t.hyperparameters.values),
                most=most,
            ):
                self._run_pack(pack, fit_args, fit_kwargs)
        self.on_search_end()  # type: ignore[attr-defined]

    def _draw(self, most: int) -> tuple[list[Any], bool]:
        """Up to ``most`` trials from the oracle, and whether it said the search is over."""
        trials: list[Any] = []
        for i in range(most):
            self.pre_create_trial()  # type: ignore[attr-defined]
            trial = self.oracle.create_trial(f"{self.tuner_id}/{i}")
            if trial.status == _TrialStatus.STOPPED:
                return trials, True
            if trial.status == _TrialStatus.IDLE:  # a chief with nothing to hand out yet
                break
            trials.append(trial)
        return trials, False

    def _run_pack(self, trials: list[Any], fit_args: tuple[Any, ...], fit_kwargs: dict[str, Any]) -> None:
        """Collects, trains and reports one pack of trials (the module's three passes)."""
        self._fits, self._results = {}, {}
        for trial in trials:
            self.on_trial_begin(trial)  # type: ignore[attr-defined]
            try:
                self.run_trial(trial, *fit_args, **fit_kwargs)
            except _Collected as collected:
                self._fits[trial.trial_id] = collected
            except Exception as exc:  # reported in the trial's own report pass
                self._results[trial.trial_id] = exc
        start = time.monotonic()
        self._train([t for t in trials if t.trial_id in self._fits])
        self._share = (time.monotonic() - start) / max(1, len(self._fits))
        for trial in trials:
            self._try_run_and_update_trial(trial, *fit_args, **fit_kwargs)  # type: ignore[attr-defined]
            self.on_trial_end(trial)  # type: ignore[attr-defined]
        self._fits, self._results = {}, {}

    def _train(self, trials: list[Any]) -> None:
        """Builds the trials' models (a model that fails to build fails its trial) and trains
        them as one pack; what training raises fails them all."""
        keras.backend.clear_session()
        built = []
        for trial in trials:
            try:
                built.append((trial, self.hypermodel.build(trial.hyperparameters)))
            except Exception as exc:  # reported in the trial's own report pass
                self._results[trial.trial_id] = exc
        if not built:
            return
        fits = self._fits
        first = fits[built[0][0].trial_id]
        try:
            histories = train_pack(
                self.hypermodel,
                [trial.hyperparameters for trial, _ in built],
                [model for _, model in built],
                [fits[trial.trial_id].kwargs.get("callbacks", []) for trial, _ in built],
                *first.args,
                **{name: value for name, value in first.kwargs.items() if name != "callbacks"},
            )
        except Exception as exc:  # reported in each trial's own report pass
            histories = [exc] * len(built)
        for (trial, _), history in zip(built, histories, strict=True):
            self._results[trial.trial_id] = history

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> Any:
        """The tuner's ``run_trial``; in the report pass, with the trial's share of the pack's seconds."""
        metrics = super().run_trial(trial, *args, **kwargs)  # type: ignore[misc]
        if trial.trial_id in self._results and isinstance(metrics, dict):
            metrics["seconds"] = metrics.get("seconds", 0.0) + self._share
        return metrics


class _PackFit:
    """Where a packed tuner's trial would train (after densespace's ``_Tuner``, which adds its
    callbacks): the collect pass stops there; the report pass gets the branch's history."""

    if TYPE_CHECKING:  # set by ``_PackSearch``
        _fits: dict[str, _Collected]
        _results: dict[str, Any]

    def _build_and_fit_model(self, trial: Any, *args: Any, **kwargs: Any) -> Any:
        if trial.trial_id not in self._results:
            raise _Collected(args, kwargs)
        result = self._results[trial.trial_id]
        if isinstance(result, BaseException):
            raise result
        trained = _pruning(self._fits[trial.trial_id].kwargs)
        told = _pruning(kwargs)
        if trained is not None and told is not None:  # tells ``_Tuner`` whether the branch was pruned
            told.pruned_at = trained.pruned_at
        return result


def _pruning(fit_kwargs: dict[str, Any]) -> MedianPruning | None:
    """The median pruning callback among a fit's callbacks, if any."""
    return next((c for c in fit_kwargs.get("callbacks", []) if isinstance(c, MedianPruning)), None)


#: One packed class per registry entry that packs (Hyperband does not).
PACKED_CLASSES: dict[str, type[keras_tuner.Tuner]] = {
    name: type(
        f"Packed{cls.__name__}",
        (_PackSearch, cls.__bases__[0], _PackFit, *cls.__bases__[1:]),
        {},
    )
    for name, cls in TUNER_CLASSES.items()
    if name != "hyperband"
}
