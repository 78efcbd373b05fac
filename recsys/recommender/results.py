"""What a ranking returns: :class:`Recommendation` items in a :class:`Recommendations` list.

A recommendation keeps a reference to what ranked it (any :class:`ExplanationSource`) so
its explanation (:mod:`recsys.recommender.reasons`, through the source) is computed when first read, never while
ranking.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Mapping, Protocol

from recsys.recommender.explain import ExplanationPath
from recsys.recommender.contributions import Contribution, Explanation
from recsys.recommender.safety import Exclusion

__all__ = ["ExplanationSource", "Recommendation", "Recommendations"]


class ExplanationSource(Protocol):
    """What a recommendation asks for its explanation (the :class:`~recsys.recommender.api.Recommender`)."""

    def explain_pair(self, kind: str, entity_id: str, drug_id: str,
                     components: Mapping[str, float | None]) -> Explanation: ...


@dataclass
class Recommendation:
    """One ranked drug: blended score, each component's standardised score (``None``: could
    not score), safety notes, and an explanation computed on first access. A drug only ever
    given inside a combination is named as that product (``Amoxicillin / Clavulanate``)."""

    entity_id: str
    drug_id: str
    name: str
    score: float
    components: dict[str, float | None]
    safety_notes: list[str] = field(default_factory=list)
    _recommender: "ExplanationSource | None" = field(default=None, repr=False, compare=False)
    #: What the patient would be given: the drug, plus its partners when it only exists in a combination.
    ingredients: list[str] = field(default_factory=list)
    #: How often a drug scored like this was a real (held-out) choice on validation, for any kind of
    #: list (Platt scaling of ``score``); NaN when the bundle has no calibration.
    probability: float = float("nan")
    #: The weights that ranked it (``patient_new``: new drugs only; ``patient_conditions``: a new patient
    #: known from conditions alone; see :class:`~recsys.recommender.ranking.Ranker`).
    kind: str = ""

    @cached_property
    def reasons(self) -> Explanation:
        """Each component's part of the score (largest first), the evidence and the sentence."""
        if self._recommender is None:
            return Explanation([])
        return self._recommender.explain_pair(self.kind, self.entity_id, self.drug_id, self.components)

    @property
    def contributions(self) -> list[Contribution]:
        return self.reasons.contributions

    @property
    def paths(self) -> list[ExplanationPath]:
        """The graph paths of the explanation: empty unless the graph raised the score."""
        return self.reasons.paths

    @property
    def explanation(self) -> str:
        return self.reasons.text

    def as_dict(self) -> dict[str, object]:
        return {"drug_id": self.drug_id, "name": self.name, "ingredients": self.ingredients or [self.drug_id],
                "score": round(self.score, 4),
                "probability": None if self.probability != self.probability else round(self.probability, 4),
                "components": {k: None if v is None else round(v, 4) for k, v in self.components.items()},
                "contributions": [c.as_dict() for c in self.contributions],
                "explanation": self.explanation, "paths": [p.as_dict() for p in self.paths],
                "safety_notes": self.safety_notes}


class Recommendations(list):
    """The ranked list, plus what safety removed, which components dropped out and, for a patient
    checked by the safety filter, what is unsafe among the drugs they already take
    (:meth:`~recsys.recommender.safety.SafetyFilter.review`)."""

    def __init__(self, items: list[Recommendation], removed: list[Exclusion],
                 dropped_components: list[str], current_problems: list[Exclusion] | None = None) -> None:
        super().__init__(items)
        self.removed = removed
        self.dropped_components = dropped_components
        self.current_problems = current_problems or []
