"""A Griffe extension for the API page: densespace's tuner shortcuts as the functions they are.

``densespace.tpe`` and the other shortcuts are made by ``shortcut()`` in
``densespace/_run/tune.py``; the static analysis behind the API page sees only
``tpe = shortcut("tpe")``. This extension puts in their place the functions Python makes,
inspected at run time: ``tune``'s signature without ``tuner``, and their documentation.
"""

from __future__ import annotations

from typing import Any

import griffe

MODULE = "densespace._run.tune"


class Shortcuts(griffe.Extension):
    """Replaces each ``name = shortcut(...)`` attribute of ``MODULE`` by its inspected function."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.name != MODULE.split(".")[0]:
            return
        static = pkg[MODULE.split(".", 1)[1]]
        inspected = griffe.inspect(
            MODULE, docstring_parser=loader.docstring_parser, docstring_options=loader.docstring_options
        )
        for name, member in list(static.members.items()):
            if not member.is_alias and member.is_attribute and str(member.value).startswith("shortcut("):
                static.set_member(name, inspected[name])
