"""densespace's oracle: keras-tuner's oracle of a search algorithm, with densespace's hooks.

``SearchOracle`` is mixed in over the keras-tuner oracle class a registry entry names,
after the entry's own hooks (``densespace._search``), so that each hook below is a method an
algorithm may override:

* ``propose``: the algorithm's own proposal (keras-tuner's ``populate_space``);
* ``next_point``: the given points (``search.initial_points``, ``--enqueue``) come first;
* ``infeasible``, ``replace_infeasible``: a proposal outside ``search.constraints`` is told
  to the algorithm and replaced, so no infeasible model is built or trained;
* ``replace_repeated``: what stands for a proposal a trial has already;
* ``stop_reason``, ``finished``: the limits (time limit, target) and why the search stopped;
* ``warm``: a warm-start trial reaches the algorithm's memory.

The oracle lives on the chief (or the single machine); a worker's tuner asks it over gRPC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import keras_tuner

from densespace import _space
from densespace._budgets import Limits
from densespace._results import StopReason, clean_values
from densespace._search import TUNERS
from densespace._tasks import direction

if TYPE_CHECKING:
    from densespace._hyperparameters import Hyperparameter
    from densespace._spec import Spec

#: The prefix of the extra metrics that hold a trial's history: ``history/<metric>/<epoch>``.
HISTORY = "history/"
#: The extra metric of a pruned trial (1).
PRUNED = "pruned"
#: The extra metric of a trial an earlier run scored, fed to the oracle as a warm start (1).
WARM = "warm_start"
#: The start of a warm-start trial's id: ``warm-<its number among the trials fed>``.
WARM_ID = "warm-"
#: keras-tuner takes a seed of 0 for "no seed" (``seed or random.randint(...)``); densespace's
#: seed 0 is passed as this one instead, so that a search of seed 0 is reproducible too.
SEED_ZERO = 2**32 - 1
#: Draws of random values a proposal may take before the search stops for want of a feasible one.
MAX_DRAWS = 10_000

_STOPPED = keras_tuner.engine.trial.TrialStatus.STOPPED


def due(oracle: Any, points: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``points`` no trial of the oracle has the values of yet, in order (bookkeeping values,
    such as a distributed search's fingerprint, aside)."""
    evaluated = [clean_values(t.hyperparameters.values) for t in oracle.trials.values()]
    return [dict(p) for p in points if dict(p) not in evaluated]


class SearchOracle(keras_tuner.Oracle):
    """What densespace adds to every keras-tuner oracle, as hooks.

    Args:
        spec: the spec searched (its ``search.constraints`` decide what is feasible).
        points: checked points of the space, evaluated before the algorithm's own proposals.
        limits: when no new trial may start; ``limits.stopped`` says why the search stopped.
        *args: keras-tuner's oracle's arguments.
        **kwargs: keras-tuner's oracle's keyword arguments.
    """

    def __init__(
        self,
        *args: Any,
        spec: Spec,
        points: Sequence[Mapping[str, Any]] = (),
        limits: Limits | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.spec, self.points, self.limits = spec, points, limits

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        """The next given point due, else the algorithm's proposal, made feasible and untried."""
        point = self.next_point()
        if point is not None:
            return {"status": "RUNNING", "values": point}
        proposal = self.propose(trial_id)
        if proposal.get("status") != "RUNNING":
            return proposal
        values = proposal["values"]
        if not self.feasible(values):
            self.infeasible(values)
            values = self.replace_infeasible(values)
            if values is None:
                return {"status": "STOPPED", "values": None}
        if self._duplicate(values):
            values = self.replace_repeated(values)
        return {"status": "RUNNING", "values": values}

    def propose(self, trial_id: str) -> dict[str, Any]:
        """The algorithm's proposal for trial ``trial_id``, a ``{"status": ..., "values": ...}``
        response: keras-tuner's oracle's ``populate_space``."""
        proposal: dict[str, Any] = super().populate_space(trial_id)
        return proposal

    def declared(self) -> dict[str, Hyperparameter]:
        """The spec's hyperparameters by name, in declaration order (``_space.hyperparameters``)."""
        return {h.name: h for h in _space.hyperparameters(self.spec)}

    def pruned(self, trial: Any) -> bool:
        """Whether ``trial`` was stopped by pruning (its ``PRUNED`` extra metric)."""
        return bool(trial.metrics.exists(PRUNED))

    def next_point(self) -> dict[str, Any] | None:
        """The first given point no trial has the values of yet: a resumed search goes on with the
        next one, and a warm-start trial's configuration is not trained again. None: none is due."""
        return next(iter(due(self, self.points)), None) if self.points else None

    def feasible(self, values: Mapping[str, Any]) -> bool:
        """Whether the model ``values`` select satisfies ``search.constraints``."""
        return not self.spec.search.constraints.active or _space.feasible(self.spec, values)

    def dead_end(self, values: Mapping[str, Any]) -> str | None:
        """Where ``values`` leave the feasible configurations, in the order of the oracle's space
        (``_space.dead_end``); None when they are feasible."""
        if not self.spec.search.constraints.active:
            return None
        return _space.dead_end(self.spec, values, [hp.name for hp in self.get_space().space])

    def _random_values(self) -> dict[str, Any] | None:
        """keras-tuner's random values, drawn again (each infeasible draw told to ``infeasible``)
        until feasible; None when keras-tuner finds no untried values or ``MAX_DRAWS`` draws no
        feasible ones."""
        for _ in range(MAX_DRAWS):
            values: dict[str, Any] | None = super()._random_values()
            if values is None or self.feasible(values):
                return values
            self.infeasible(values)
        return None

    def infeasible(self, values: Mapping[str, Any]) -> None:
        """Hears of a proposal outside ``search.constraints``, which is never trained: recorded as
        tried, so that keras-tuner's draws never propose it again. A model-based algorithm
        overrides it to learn from it."""
        self._tried_so_far.add(self._compute_values_hash(values))

    def replace_infeasible(self, values: dict[str, Any]) -> dict[str, Any] | None:
        """What the algorithm proposes instead of infeasible ``values``: a feasible random draw;
        None: none is left, and the search stops."""
        return self._random_values()

    def replace_repeated(self, values: dict[str, Any]) -> dict[str, Any]:
        """What the algorithm proposes instead of ``values``, which a trial has already: them
        (keras-tuner's random draws and grid never repeat; Hyperband continues a model)."""
        return values

    def create_trial(self, tuner_id: str) -> Any:
        """keras-tuner's next trial, or a STOPPED one once ``stop_reason`` says no new trial may start.

        A tuner's unfinished trial is still handed back to it (a restarted worker takes it over),
        and the first trial of a project always starts, however long setting the search up took:
        a search without a trial has nothing to retrain.
        """
        if tuner_id not in self.ongoing_trials and self.trials:
            reason = self.stop_reason()
            if reason is not None and self.limits is not None:
                self.limits.stopped = reason
                self.tuner_ids.discard(tuner_id)  # as keras-tuner does when it stops a tuner
                return keras_tuner.engine.trial.Trial(self.get_space(), status=_STOPPED)
        trial = super().create_trial(tuner_id)
        if trial.status == _STOPPED and self.limits is not None and self.limits.stopped is None:
            self.limits.stopped = "budget" if self.finished() else "exhausted"
        return trial

    def stop_reason(self) -> StopReason | None:
        """Why ``limits`` let no new trial start (None: it may, or there are no limits)."""
        if self.limits is None:
            return None
        return self.limits.reason(self._scored() if self.limits.target is not None else ())

    def _scored(self) -> list[tuple[str, dict[str, float]]]:
        """The metrics of the completed, unpruned trials (values at each trial's best epoch)."""
        return [
            (t.trial_id, {name: t.metrics.get_last_value(name) for name in t.metrics.metrics})
            for t in self.trials.values()
            if t.status == "COMPLETED" and not self.pruned(t)
        ]

    def finished(self) -> bool:
        """Whether the algorithm's plan is done (``max_trials`` trials) rather than its space
        exhausted, once it stopped handing out trials."""
        return bool(self.max_trials) and len(self.trials) >= self.max_trials

    def warm(self, trial: Any) -> None:
        """Takes in a warm-start trial (completed, scored, never trained here) as one of its own:
        keras-tuner's oracles learn from ``trials``, so it joins them, started and ended."""
        self.trials[trial.trial_id] = trial
        self.start_order.append(trial.trial_id)
        self.end_order.append(trial.trial_id)
        self._record_values(trial)
        self._save_trial(trial)

    def reload(self) -> None:
        """Reloads the oracle; warm-start trials it holds do not count against ``max_trials``."""
        super().reload()
        if self.max_trials:
            self.max_trials += self.warm_trials()

    def warm_trials(self) -> int:
        """How many warm-start trials the oracle holds (their ids start with ``WARM_ID``)."""
        return sum(trial_id.startswith(WARM_ID) for trial_id in self.trials)


#: One oracle class per registry entry: the entry's hooks, then ``SearchOracle``'s, over keras-tuner's oracle.
ORACLE_CLASSES: dict[str, type[SearchOracle]] = {
    name: type(
        f"Densespace{entry.keras_oracle}",
        (*entry.hooks, SearchOracle, getattr(keras_tuner.oracles, entry.keras_oracle)),
        {},
    )
    for name, entry in TUNERS.items()
}


def make_oracle(
    spec: Spec, *, points: Sequence[Mapping[str, Any]] = (), limits: Limits | None = None
) -> SearchOracle:
    """The oracle of the algorithm ``spec.search`` names, with its options.

    ``points`` and ``limits`` are the chief's (or the single machine's); a worker's oracle is
    only keras-tuner's local copy, which its tuner replaces by a client of the chief's.
    """
    search = spec.search
    options = search.oracle_options()
    if options.get("seed") == 0:
        options["seed"] = SEED_ZERO
    return ORACLE_CLASSES[search.tuner](  # type: ignore[attr-defined]
        objective=keras_tuner.Objective(search.objective, direction(search.objective)),
        spec=spec,
        points=points,
        limits=limits,
        max_consecutive_failed_trials=1 << 30,  # a failed trial never stops the search
        **options,
    )
