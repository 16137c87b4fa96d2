"""Project housekeeping that users and CI rely on."""

from __future__ import annotations

import re

from conftest import ROOT

import densespace


def _readme_commands():
    return re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text())


def test_ci_runs_the_readme_test_command():
    """.ci/run runs exactly the README's second command (the tests)."""
    commands = _readme_commands()
    assert commands[1].endswith("pytest")
    assert commands[1] in (ROOT / ".ci/run").read_text().splitlines()


def test_public_names_are_exported():
    """Every name in __all__ resolves, and nothing private is listed."""
    for name in densespace.__all__:
        assert getattr(densespace, name) is not None
        assert not name.startswith("_") or name == "__version__"
