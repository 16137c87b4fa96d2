"""The docstring examples run, from the repository root, as the API reference shows them.

Examples that would download CIFAR-10 or train a model are marked ``# doctest: +SKIP``
in the docstring; every other example runs here.
"""

from __future__ import annotations

import doctest
import importlib
import io
import re

import pytest
from helpers import ROOT

SOURCE = ROOT / "src" / "densespace"


def _module_name(path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


#: Every module whose source holds a docstring example.
WITH_EXAMPLES = {
    _module_name(path) for path in SOURCE.rglob("*.py") if ">>>" in path.read_text(encoding="utf-8")
}
#: ... and the public modules.
MODULES = sorted(WITH_EXAMPLES | {"densespace", "densespace.datasets"})


def test_the_modules_are_found():
    """The search finds the modules known to hold examples, so a moved tree fails loudly."""
    assert {"densespace", "densespace._space", "densespace._spec.loading"} <= WITH_EXAMPLES


def test_example_sections_are_named_examples():
    """Docstrings head their examples ``Examples:``: the API reference renders an ``Example:`` section as text."""
    singular = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted(SOURCE.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.fullmatch(r"\s*Example:\s*", line)
    ]
    assert singular == []


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, monkeypatch):
    """Every example in the module's docstrings passes (ELLIPSIS on), run from the repository root."""
    monkeypatch.chdir(ROOT)
    module = importlib.import_module(name)
    tests = doctest.DocTestFinder(exclude_empty=True).find(module)
    if name in WITH_EXAMPLES:  # an example doctest cannot reach (an attribute docstring, say) fails here
        assert sum(len(test.examples) for test in tests) > 0, f"{name}: its examples are not found"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report = io.StringIO()
    for test in tests:
        runner.run(test, out=report.write)
    assert runner.failures == 0, report.getvalue()
