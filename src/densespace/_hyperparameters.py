"""A hyperparameter of a search space: its name, the spec field it comes from, its domain and
the condition that activates it (``densespace._space.hyperparameters`` lists a spec's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from densespace import _domains


@dataclass(frozen=True)
class Condition:
    """Active only when the hyperparameter ``parent`` takes one of ``values``."""

    parent: str
    values: tuple[int, ...]

    def __str__(self) -> str:
        if len(self.values) == 1:
            return f"{self.parent} = {self.values[0]}"
        return f"{self.parent} in {{{', '.join(map(str, self.values))}}}"


@dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter of the space."""

    name: str
    location: str  #: the spec field it comes from, written as in the spec
    domain: _domains.Domain
    condition: Condition | None = None

    def describe(self) -> str:
        """The domain in a few words: ``int 64..512 step 64``, ``choice relu|elu``."""
        d = self.domain
        if isinstance(d, _domains.Choice):
            return "choice " + "|".join(_word(v) for v in d.values)
        kind = "int" if isinstance(d, _domains.IntRange) else "float"
        text = f"{kind} {d.min}..{d.max}"
        if d.step is not None:
            text += f" step {d.step}"
        return text + ("" if d.sampling == "linear" else f" ({d.sampling})")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready description (used by ``densespace inspect --json``)."""
        return {
            "name": self.name,
            "location": self.location,
            "domain": self.domain.model_dump(),
            "values": _domains.size(self.domain),
            "condition": None
            if self.condition is None
            else {"parent": self.condition.parent, "values": list(self.condition.values)},
        }


def _word(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
