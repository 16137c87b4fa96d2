"""Tree-structured Parzen Estimator: Optuna's TPESampler proposes, keras-tuner's Oracle keeps the trials.

The oracle (the chief's, in a distributed search) holds an Optuna study in memory, asks it for
each trial (``TPEHooks.propose``) and tells it every trial that ended, in the order they ended:
completed ones with their score, pruned ones as PRUNED with their last value, failed ones as
FAIL, warm-start and given points too. No database file: a resumed search rebuilds the study
from the oracle's trials and the infeasible proposals its state records (``INFEASIBLE``), so the
regions the constraints refuse stay learned. A hyperparameter is asked only when active, so the study sees the
space's real structure. Optuna is imported on first use, never when densespace is.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from densespace._domains import Choice, IntRange
from densespace._search._base import CountedTrials, SearchSection, Tuner

if TYPE_CHECKING:
    import optuna

    from densespace._hyperparameters import Hyperparameter

#: Asks of the study a proposal may take (each infeasible or already tried) before a random
#: untried configuration stands in for it (none left: the search stops as exhausted).
MAX_ASKS = 32
#: The constraint an infeasible proposal is told to the study with (1: violated).
CONSTRAINT = "search.constraints"
#: The user attribute of a study trial that names the oracle trial it stands for.
TRIAL_ID = "trial_id"
#: The entry of the oracle's state (``oracle.json``) that lists the values of every infeasible
#: proposal, so that a rebuilt study is told them again.
INFEASIBLE = "infeasible"


class TPESearch(CountedTrials, SearchSection):
    """Optuna's Tree-structured Parzen Estimator (TPESampler)."""

    tuner: Literal["tpe"] = Field(description="The search algorithm.")
    max_trials: int = Field(10, ge=1, le=100000, description="Number of trials.")
    num_initial_points: int = Field(
        5,
        ge=1,
        le=100000,
        description="Random trials before TPE takes over (Optuna's n_startup_trials; default 5, half of "
        "the default max_trials, where Optuna's is 10).",
    )
    multivariate: bool = Field(
        True,
        description="true: model the hyperparameters jointly, grouped by which are active together "
        "(Optuna's multivariate and group); false: each one on its own.",
    )
    constant_liar: bool = Field(
        False,
        description="true: proposals avoid the configurations running trials have (parallel workers).",
    )

    def oracle_options(self) -> dict[str, Any]:
        """keras-tuner's Oracle takes ``max_trials`` and ``seed``; the TPE options go to the study."""
        return self.model_dump(include={"max_trials", "seed"})

    def warning(self, dimensions: int) -> str | None:
        """Says so when TPE proposes fewer than half the trials (after ``num_initial_points`` random ones)."""
        guided = max(self.max_trials - self.num_initial_points, 0)
        if guided * 2 >= self.max_trials:
            return None
        return (
            f"search.num_initial_points = {self.num_initial_points} random trials leave {guided} of "
            f"max_trials = {self.max_trials} to TPE: this search is mostly random"
        )


def _indexed(domain: Any) -> bool:
    """Whether a range is asked as the index of its value: a float range with a step (the value is
    keras-tuner's own, bit for bit) or a range whose step multiplies (Optuna has no log step)."""
    if isinstance(domain, Choice) or domain.step is None:
        return False
    return not isinstance(domain, IntRange) or domain.sampling != "linear"


def _distribution(domain: Any) -> optuna.distributions.BaseDistribution:
    """The Optuna distribution a hyperparameter's domain is asked from."""
    from optuna import distributions

    if isinstance(domain, Choice):
        return distributions.CategoricalDistribution(domain.values)
    if _indexed(domain):
        return distributions.IntDistribution(0, domain.size() - 1)
    log = domain.sampling != "linear"  # reverse_log is asked as log: the same range, its density mirrored
    if isinstance(domain, IntRange):
        return distributions.IntDistribution(domain.min, domain.bounds()[1], log=log, step=domain.step or 1)
    return distributions.FloatDistribution(domain.min, domain.max, log=log)


def _external(domain: Any, value: Any) -> Any:
    """keras-tuner's value of what the study asked (the value at an indexed range's index)."""
    return domain.value_at(value) if _indexed(domain) else value


def _internal(domain: Any, value: Any) -> Any:
    """What the study records for keras-tuner's ``value`` (the index of an indexed range's);
    None: the domain has no such value."""
    if isinstance(domain, Choice):
        return value if value in domain.values else None
    own = domain.member(value)
    return domain.expand().index(own) if own is not None and _indexed(domain) else own


def _suggest(asked: optuna.Trial, name: str, distribution: Any) -> Any:
    """The study trial's value of ``name``, asked from ``distribution``."""
    from optuna import distributions

    if isinstance(distribution, distributions.CategoricalDistribution):
        return asked.suggest_categorical(name, distribution.choices)
    if isinstance(distribution, distributions.IntDistribution):
        return asked.suggest_int(
            name, distribution.low, distribution.high, step=distribution.step, log=distribution.log
        )
    return asked.suggest_float(name, distribution.low, distribution.high, log=distribution.log)


class TPEHooks:
    """densespace's hooks of keras-tuner's plain Oracle (mixed in before ``SearchOracle``)."""

    if TYPE_CHECKING:  # of the oracle this mixes into
        spec: Any
        seed: int
        objective: Any
        trials: dict[str, Any]
        end_order: list[str]
        hyperparameters: Any

        def declared(self) -> dict[str, Hyperparameter]: ...
        def feasible(self, values: Mapping[str, Any]) -> bool: ...
        def pruned(self, trial: Any) -> bool: ...
        def _duplicate(self, values: Mapping[str, Any]) -> bool: ...
        def _random_values(self) -> dict[str, Any] | None: ...

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._infeasible: list[dict[str, Any]] = []  # the values of each infeasible proposal, in order
        self._forget()

    def _forget(self) -> None:
        """Drops the study: the next use rebuilds it from the oracle's ended trials."""
        self._study: optuna.Study | None = None
        self._told = 0  # how many of ``end_order`` the study was told
        self._asked: dict[str, optuna.Trial] = {}  # running oracle trial -> the study trial it answers
        self._pending: optuna.Trial | None = None  # the study's proposal being found infeasible
        self._space: dict[str, tuple[Hyperparameter, optuna.distributions.BaseDistribution]] = {}

    def study(self) -> optuna.Study:
        """The Optuna study, built on first use (told every infeasible proposal recorded) and told
        each trial that ended since, in order."""
        if self._study is None:
            self._study = self._new_study()
            for values in self._infeasible:
                self._add_infeasible(values)
        for trial_id in self.end_order[self._told :]:
            self._tell(self.trials[trial_id])
        self._told = len(self.end_order)
        return self._study

    def _new_study(self) -> optuna.Study:
        import optuna

        search = self.spec.search
        self._space = {name: (h, _distribution(h.domain)) for name, h in self.declared().items()}
        with warnings.catch_warnings():  # multivariate, group and constant_liar are experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.TPESampler(
                seed=self.seed,
                n_startup_trials=search.num_initial_points,
                multivariate=search.multivariate,
                group=search.multivariate,
                constant_liar=search.constant_liar,
            )
        direction: Literal["minimize", "maximize"] = (
            "minimize" if self.objective.direction == "min" else "maximize"
        )
        verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # not Optuna's "new study created" line
        try:
            return optuna.create_study(direction=direction, sampler=sampler)
        finally:
            optuna.logging.set_verbosity(verbosity)

    def propose(self, trial_id: str) -> dict[str, Any]:
        """The study's proposal, asked again (each infeasible or repeated one told) up to ``MAX_ASKS``
        times; then a random untried configuration, told once its trial ends; None left: STOPPED."""
        from optuna.trial import TrialState

        study = self.study()
        for _ in range(MAX_ASKS):
            asked = study.ask()
            values = self._ask_values(asked)
            if not self.feasible(values):
                self._pending = asked
                self.infeasible(values)
            elif self._duplicate(values):
                study.tell(asked, state=TrialState.FAIL)  # TPE leaves it out of its model
            else:
                self._asked[trial_id] = asked
                return {"status": "RUNNING", "values": values}
        fallback = self._random_values()
        return {"status": "STOPPED" if fallback is None else "RUNNING", "values": fallback}

    def _ask_values(self, asked: optuna.Trial) -> dict[str, Any]:
        """keras-tuner's values of a study trial: each hyperparameter asked in the order of the space,
        only when active (densespace's conditions); one densespace does not declare (a distributed
        search's fingerprint, fixed) keeps its default."""
        values: dict[str, Any] = {}
        for hp in self.hyperparameters.space:
            if hp.name not in self._space:
                values[hp.name] = hp.default
                continue
            h, distribution = self._space[hp.name]
            if h.condition is None or values.get(h.condition.parent) in h.condition.values:
                value = _suggest(asked, hp.name, distribution)
                values[hp.name] = _external(h.domain, value)
        return values

    def infeasible(self, values: Mapping[str, Any]) -> None:
        """Records ``values`` as tried and infeasible, and tells them to the study as violating
        ``CONSTRAINT`` (the study's own proposal, or a random draw), so that TPE learns where the
        region lies."""
        super().infeasible(values)  # type: ignore[misc]
        study = self.study()
        self._infeasible.append(dict(values))
        asked, self._pending = self._pending, None
        if asked is None:
            self._add_infeasible(values)
            return
        asked.set_constraint(CONSTRAINT, 1.0)
        study.tell(asked, self._worst())

    def _worst(self) -> float:
        """The value an infeasible proposal is told with: the worst there is."""
        return math.inf if self.objective.direction == "min" else -math.inf

    def _add_infeasible(self, values: Mapping[str, Any]) -> None:
        """Adds ``values`` to the study as a trial violating ``CONSTRAINT``."""
        import optuna

        params = self._params(values)
        if params is not None:
            assert self._study is not None
            self._study.add_trial(
                optuna.trial.create_trial(value=self._worst(), constraints={CONSTRAINT: 1.0}, **params)
            )

    def _params(self, values: Mapping[str, Any]) -> dict[str, Any] | None:
        """The ``params`` and ``distributions`` of a study trial with keras-tuner's active ``values``;
        None when one lies outside its domain."""
        params, distributions = {}, {}
        for name, value in values.items():
            if name not in self._space:
                continue
            h, distribution = self._space[name]
            params[name] = _internal(h.domain, value)
            if params[name] is None:
                return None
            distributions[name] = distribution
        return {"params": params, "distributions": distributions}

    def _tell(self, trial: Any) -> None:
        """Tells the study how ``trial`` ended: its own study trial, or a new one (given points,
        warm starts, random stand-ins and every trial of a rebuilt study)."""
        import optuna
        from optuna.trial import TrialState

        assert self._study is not None
        name, step, state = self.objective.name, 0, TrialState.FAIL
        value: Any = None
        if trial.status == "COMPLETED" and self.pruned(trial):
            value, state = trial.metrics.get_last_value(name), TrialState.PRUNED
            step = trial.metrics.get_history(name)[-1].step
        elif trial.status == "COMPLETED":
            value, state = trial.score, TrialState.COMPLETE
        asked = self._asked.pop(trial.trial_id, None)
        if asked is not None:
            asked.set_user_attr(TRIAL_ID, trial.trial_id)
            if state == TrialState.PRUNED:
                asked.report(value, step)
            self._study.tell(asked, value if state == TrialState.COMPLETE else None, state=state)
            return
        params = self._params(trial.hyperparameters.values)
        if params is None:
            return
        self._study.add_trial(
            optuna.trial.create_trial(
                state=state,
                value=value if state == TrialState.COMPLETE else None,
                intermediate_values={step: value} if state == TrialState.PRUNED else None,
                user_attrs={TRIAL_ID: trial.trial_id},
                **params,
            )
        )

    def get_state(self) -> dict[str, Any]:
        """keras-tuner's oracle state, with the values of every infeasible proposal (``INFEASIBLE``)."""
        state: dict[str, Any] = super().get_state()  # type: ignore[misc]
        return {**state, INFEASIBLE: self._infeasible}

    def set_state(self, state: dict[str, Any]) -> None:
        """keras-tuner's oracle state, and the infeasible proposals it records (none in a state
        written before they were)."""
        super().set_state(state)  # type: ignore[misc]
        self._infeasible = [dict(values) for values in state.get(INFEASIBLE, [])]

    def reload(self) -> None:
        """Reloads the oracle; the study is rebuilt from its ended trials and its infeasible
        proposals on next use."""
        super().reload()  # type: ignore[misc]
        self._forget()


TUNER = Tuner("tpe", TPESearch, "Tuner", "RandomSearchOracle", (TPEHooks,), "tpe")
"""The registry entry of the TPE search."""
