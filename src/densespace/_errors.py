"""The exceptions densespace raises."""

from __future__ import annotations


class DensespaceError(Exception):
    """Base class of every error densespace raises on purpose."""


class SpecError(DensespaceError, ValueError):
    """A search-space spec is invalid; ``problems`` holds one line per problem.

    Each problem reads ``location: message``, with the location written the
    way the spec is written (``hidden.units.min``, ``hidden[1].dropout``).
    """

    def __init__(self, problems: list[str], *, source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__("\n".join(prefix + p for p in self.problems))


class DatasetError(DensespaceError, ValueError):
    """A dataset source is missing, malformed or unsafe."""


class TuningError(DensespaceError, RuntimeError):
    """A search could not produce a model (every trial failed, or retraining diverged)."""
