"""The exceptions and warnings densespace raises.

Every error densespace raises on purpose is a ``DensespaceError``; each subclass
also subclasses the builtin a caller would catch without knowing densespace
(``ValueError`` for bad input, ``RuntimeError`` for a search that failed).
"""

from __future__ import annotations

import errno
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

#: Received values quoted in a message are cut to this many characters.
MAX_QUOTE = 200
#: A ``SpecError`` lists at most this many problems, then "and N more".
MAX_PROBLEMS = 20


def quote(text: str, limit: int = MAX_QUOTE) -> str:
    """``text`` cut to ``limit`` characters, marking the cut with ``...``."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def printable(text: str) -> str:
    r"""``text`` safe to show in a terminal: every character that is not printable (control
    characters such as ESC and line breaks, C1 controls, bidirectional overrides and other format
    characters) written as its escape (``\x1b``, ``\n``, ``\u202e``).

    Examples:
        >>> print(printable("units\x1b]0;owned\x07 \u202etxt.exe\nnext"))
        units\x1b]0;owned\x07 \u202etxt.exe\nnext
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def show(value: Any) -> str:
    """A received value as JSON (``repr`` when it is not JSON), cut to ``MAX_QUOTE`` characters."""
    try:
        text = json.dumps(value, allow_nan=True)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return quote(text)


@dataclass(frozen=True)
class Problem:
    """One problem of a spec: where, which rule, and the message a person reads.

    Attributes:
        location: the place in the spec, written as in the spec
            (``hidden.units.min``, ``hidden[1].dropout``), or ``line 3, column 5``
            for a file that does not parse, or ``top level``.
        kind: the rule broken, a short stable identifier (``range_order``,
            ``unknown_key``, ``invalid_json``, ...), for programs.
        message: what is wrong, with the received value (truncated).
    """

    location: str
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class DensespaceError(Exception):
    """Base class of every error densespace raises on purpose."""


class SpecError(DensespaceError, ValueError):
    """A search-space spec is invalid; ``problems`` holds one ``Problem`` per problem.

    ``str()`` reads one ``location: message`` line per problem (the first
    ``MAX_PROBLEMS``, then ``and N more problems``), prefixed with the file when
    ``source`` is known.
    """

    def __init__(self, problems: Iterable[Problem], *, source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        """The message lines: the first ``MAX_PROBLEMS`` problems, then a count of the rest."""
        prefix = f"{self.source}: " if self.source else ""
        lines = [prefix + str(p) for p in self.problems[:MAX_PROBLEMS]]
        hidden = len(self.problems) - MAX_PROBLEMS
        if hidden > 0:
            lines.append(f"{prefix}and {hidden:,} more problem{'s' if hidden > 1 else ''}")
        return lines


class OptionError(DensespaceError, ValueError):
    """An option of ``tune`` (or a flag of ``densespace tune``) is invalid.

    The message names options by their Python keyword (``worker_id``); the command
    line shows the same message with flags (``--worker-id``): ``str()`` is the
    former, ``for_cli()`` the latter.

    Attributes:
        template: the message with each option written ``{name}``.
        options: the options the message names.
    """

    def __init__(self, template: str, *options: str) -> None:
        self.template = template
        self.options = options
        super().__init__(self._written(lambda name: name))

    def for_cli(self) -> str:
        """The message with each option written as its command-line flag."""
        return self._written(lambda name: "--" + name.replace("_", "-"))

    def _written(self, spelling: Callable[[str], str]) -> str:
        """The template with each ``{option}`` spelled out; nothing else in it is a placeholder,
        so braces in a received value stay as they are."""
        text = self.template
        for name in self.options:
            text = text.replace("{" + name + "}", spelling(name))
        return text


class DatasetError(DensespaceError, ValueError):
    """A dataset source is missing, malformed or unsafe."""


class RunFolderError(DensespaceError, ValueError):
    """A results folder cannot be used: it holds something else, or its files are damaged."""


class PeerError(DensespaceError, ConnectionError):
    """A distributed search's chief cannot be reached, or its port is taken."""


class TuningError(DensespaceError, RuntimeError):
    """A search could not produce a model (every trial failed, or retraining diverged)."""


class ResourceError(TuningError):
    """The machine ran out of disk or memory; the run folder keeps its last complete state."""


#: errno values that say the machine, not the run, failed: a full disk or quota, exhausted memory.
ENVIRONMENTAL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.ENOMEM})


def environmental(exc: BaseException) -> bool:
    """Whether ``exc`` says the machine ran out of disk or memory (not that the code or data
    failed): ``MemoryError``, an ``OSError`` of ``ENVIRONMENTAL_ERRNOS``, or TensorFlow's
    ``ResourceExhaustedError`` (recognised by name: no TensorFlow import here)."""
    if isinstance(exc, MemoryError):
        return True
    if isinstance(exc, OSError):
        return exc.errno in ENVIRONMENTAL_ERRNOS
    return any(kind.__name__ == "ResourceExhaustedError" for kind in type(exc).__mro__)


def out_of_memory(exc: BaseException) -> bool:
    """Whether an ``environmental`` error is about memory rather than disk."""
    return not isinstance(exc, OSError) or exc.errno == errno.ENOMEM


class SearchWarning(UserWarning):
    """A search will run, but not the way its spec suggests."""
