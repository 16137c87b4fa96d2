"""One option vocabulary: tune's keywords, the shortcuts' and the command line's flags are SearchOptions' fields."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re

import pytest

import densespace
from densespace import _cli
from densespace._run.options import SearchOptions
from densespace._search import TUNERS

_tune_module = importlib.import_module("densespace._run.tune")  # the package shadows it with tune()
FIELDS = [(f.name, f.default, f.type) for f in dataclasses.fields(SearchOptions)]
#: Options only Python can give: objects, not text.
PYTHON_ONLY = {"on_trial_end", "callbacks"}


def _keywords(function) -> list[tuple[str, object, object]]:
    """A function's keyword-only parameters after ``data``: name, default and annotation."""
    parameters = inspect.signature(function).parameters.values()
    return [
        (p.name, p.default, p.annotation)
        for p in parameters
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "data"
    ]


def test_tune_takes_exactly_the_search_options():
    """tune's keywords are SearchOptions' fields, in order, with the same defaults and types."""
    assert _keywords(_tune_module.tune) == FIELDS


def test_the_shortcuts_take_the_search_options_but_the_tuner():
    """The shortcuts' protocol lists every search option but tuner, as tune does."""
    assert _keywords(_tune_module.TunerFunction.__call__) == [f for f in FIELDS if f[0] != "tuner"]


@pytest.mark.parametrize("name", sorted(entry.function for entry in TUNERS.values()))
def test_the_shortcuts_show_tunes_signature_and_arguments_but_the_tuner(name):
    """Each shortcut's signature (what help, IDEs and the API page show) is tune's without tuner,
    and its documentation lists tune's arguments but tuner."""
    shortcut = getattr(densespace, name)
    assert _keywords(shortcut) == [f for f in FIELDS if f[0] != "tuner"]
    arguments = re.findall(r"^        (\w+): ", shortcut.__doc__.split("Returns:")[0], re.MULTILINE)
    assert arguments == ["spec", "data", *(f[0] for f in FIELDS if f[0] != "tuner")]


def test_every_search_option_has_its_flag():
    """densespace tune has a flag for every option that is text, named like the field."""
    tune = next(
        action.choices["tune"]
        for action in _cli._parser()._actions
        if isinstance(action, _cli.argparse._SubParsersAction)
    )
    destinations = {action.dest for action in tune._actions}
    assert sorted(name for name, _, _ in FIELDS if name not in destinations) == sorted(PYTHON_ONLY)


@pytest.mark.parametrize("name", sorted(PYTHON_ONLY))
def test_python_only_options_default_to_nothing(name):
    """An option the command line cannot give defaults to nothing there."""
    assert getattr(SearchOptions(), name) is None


#: The estimators' own parameters besides the search options, and the defaults they change.
ESTIMATOR_ONLY = {"spec": None, "validation": 0.2}
ESTIMATOR_DEFAULTS = {"verbose": 0}


@pytest.mark.parametrize("name", ["DenseSpaceClassifier", "DenseSpaceRegressor"])
def test_the_estimators_take_the_search_options(name):
    """The scikit-learn estimators' parameters are spec, the search options in order (quiet by
    default), and validation."""
    estimator = getattr(importlib.import_module("densespace.sklearn"), name)
    parameters = inspect.signature(estimator.__init__).parameters.values()
    got = [(p.name, p.default, p.annotation) for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY]
    own = [(n, d, t) for n, d, t in got if n in ESTIMATOR_ONLY]
    assert [(n, d) for n, d, _ in own] == list(ESTIMATOR_ONLY.items())
    assert [p for p in got if p[0] not in ESTIMATOR_ONLY] == [
        (n, ESTIMATOR_DEFAULTS.get(n, d), t) for n, d, t in FIELDS
    ]
