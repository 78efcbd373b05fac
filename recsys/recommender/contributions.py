"""A ranked drug's score split into its components' parts: what an explanation names first.

A ranked drug's score is the weighted sum of its components' standardised scores
(:func:`recsys.blend.blend_components`), so a component's part of it is exactly weight x
standardised score, and the parts add up to the score. :func:`contributions` computes them;
:class:`Explanation` carries them with the evidence :mod:`recsys.recommender.reasons` adds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from recsys.recommender.explain import ExplanationPath
from recsys.recommender.kernel_reasons import KernelTerm

__all__ = ["Contribution", "Explanation", "contributions", "LABELS"]

#: How each component is named in a sentence.
LABELS = {"graph": "graph", "metapath": "graph (metapath model)", "gnn": "graph (GNN)", "cf": "collaborative filtering",
          "popularity": "popularity", "history": "their history", "running": "still running", "diagnosis": "diagnosis",
          "frequency": "how often they took it", "sequence": "what followed their drugs",
          "graph_drugs": "graph (like their drugs)",
          "people_gnn": "graph (people GNN)", "new_drug": "new to them"}


@dataclass(frozen=True)
class Contribution:
    """One component's part of a drug's score: ``weight`` x ``standardised`` = ``part``."""

    component: str
    weight: float
    standardised: float

    @property
    def part(self) -> float:
        return self.weight * self.standardised

    def as_dict(self) -> dict[str, object]:
        return {"component": self.component, "weight": round(self.weight, 4),
                "standardised": round(self.standardised, 4), "part": round(self.part, 4)}


@dataclass(frozen=True)
class Explanation:
    """The parts of the score (largest first), the graph paths shown, the CF evidence, the text,
    and the known indications the kernel ridge's part of the graph score rests on."""

    contributions: list[Contribution]
    paths: list[ExplanationPath] = field(default_factory=list)
    #: The disease the paths start at (a patient's condition that gives the graph score its value).
    paths_from: str | None = None
    cf_evidence: dict[str, object] = field(default_factory=dict)
    text: str = ""
    kernel_terms: list[KernelTerm] = field(default_factory=list)


def contributions(components: Mapping[str, float | None], weights: Mapping[str, float]) -> list[Contribution]:
    """Each weighted component's part of the score, largest first (ties by name).

    ``components`` are the standardised scores of one drug (``None``: the component cannot
    score the entity). As in :func:`~recsys.blend.blend_components`, an entity no weighted
    component can score is ranked by the components that can, equally weighted.

    >>> [c.component for c in contributions({"cf": 1.0, "graph": 2.0, "popularity": None}, {"cf": 2.0, "graph": 0.5})]
    ['cf', 'graph']
    """
    scored = {name: z for name, z in components.items() if z is not None}
    if scored and not any(weights.get(name, 0.0) for name in scored):
        weights = {name: 1.0 / len(scored) for name in scored}
    parts = [Contribution(name, float(weights[name]), float(z)) for name, z in scored.items()
             if weights.get(name, 0.0)]
    return sorted(parts, key=lambda c: (-c.part, c.component))
