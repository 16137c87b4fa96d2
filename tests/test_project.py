"""Project housekeeping that users and CI rely on."""

from __future__ import annotations

import inspect
import re

from helpers import ROOT

import densespace


def _readme_commands():
    return re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text())


def test_ci_runs_the_readme_test_command():
    """.ci/run runs exactly the README's second command (the tests)."""
    commands = _readme_commands()
    assert commands[1].endswith("pytest -n auto --dist loadfile")
    assert commands[1] in (ROOT / ".ci/run").read_text().splitlines()


def test_public_names_are_exported():
    """Every name in __all__ is listed by dir() and resolves, and nothing private is listed."""
    for name in densespace.__all__:
        assert name in dir(densespace)
        getattr(densespace, name)  # raises AttributeError when the name does not resolve
        assert not name.startswith("_") or name == "__version__"


def test_every_public_name_is_in_all():
    """Every public class or function densespace's top level holds is listed in __all__."""
    public = {
        name
        for name in dir(densespace)
        if not name.startswith("_") and not inspect.ismodule(getattr(densespace, name))
    }
    assert public - {"annotations"} == set(densespace.__all__) - {"__version__"}


def test_dir_lists_the_lazy_names():
    """dir(densespace) shows the Keras names before they are loaded."""
    assert {"build_hypermodel", "DenseHyperModel", "load_model"} <= set(dir(densespace))


def test_public_functions_take_keywords_after_the_first_argument():
    """Public functions take at most one positional argument; every option is keyword-only."""
    for name in densespace.__all__:
        value = getattr(densespace, name)
        if inspect.isfunction(value):
            kinds = [p.kind for p in inspect.signature(value).parameters.values()]
            positional = [k for k in kinds if k in (k.POSITIONAL_ONLY, k.POSITIONAL_OR_KEYWORD)]
            assert len(positional) <= 2, name


def test_project_metadata():
    """The license file matches the declared license, and the changelog follows Keep a Changelog."""
    text = (ROOT / "pyproject.toml").read_text()
    assert 'license = "Apache-2.0"' in text
    assert "Apache License\n                           Version 2.0" in (ROOT / "LICENSE").read_text()
    assert (ROOT / "CHANGELOG.md").read_text().startswith("# Changelog\n")
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text()


def test_ci_runs_the_quality_gates_before_the_tests():
    """.ci/run runs ruff and mypy (through make) before the README's test command."""
    lines = (ROOT / ".ci/run").read_text().splitlines()
    assert lines.index("make lint mypy") < lines.index(_readme_commands()[1])
