"""What a ranking returns: :class:`Recommendation` items in a :class:`Recommendations` list.

A recommendation keeps a reference to what ranked it (any :class:`ExplanationSource`) so
its explanation is computed when first read, never while ranking.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

from recsys.recommender.explain import ExplanationPath
from recsys.recommender.safety import Exclusion

__all__ = ["ExplanationSource", "Recommendation", "Recommendations"]


class ExplanationSource(Protocol):
    """What a recommendation asks for its explanation (the :class:`~recsys.recommender.api.Recommender`)."""

    def explanation_paths(self, entity_id: str, drug_id: str, k: int = 3) -> list[ExplanationPath]: ...

    def explanation_text(self, entity_id: str, drug_id: str, paths: list[ExplanationPath]) -> str: ...

    def cf_evidence(self, entity_id: str, drug_id: str, peers: int = 20) -> dict[str, object]: ...


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

    @cached_property
    def paths(self) -> list[ExplanationPath]:
        return self._recommender.explanation_paths(self.entity_id, self.drug_id) if self._recommender else []

    @cached_property
    def explanation(self) -> str:
        if self._recommender is None:
            return ""
        text = self._recommender.explanation_text(self.entity_id, self.drug_id, self.paths)
        evidence = self._recommender.cf_evidence(self.entity_id, self.drug_id)
        return f"{text} {evidence['sentence']}" if evidence else text

    def as_dict(self) -> dict[str, object]:
        return {"drug_id": self.drug_id, "name": self.name, "ingredients": self.ingredients or [self.drug_id],
                "score": round(self.score, 4),
                "probability": None if self.probability != self.probability else round(self.probability, 4),
                "components": {k: None if v is None else round(v, 4) for k, v in self.components.items()},
                "explanation": self.explanation, "paths": [p.as_dict() for p in self.paths],
                "safety_notes": self.safety_notes}


class Recommendations(list):
    """The ranked list, plus what safety removed and which components dropped out."""

    def __init__(self, items: list[Recommendation], removed: list[Exclusion],
                 dropped_components: list[str]) -> None:
        super().__init__(items)
        self.removed = removed
        self.dropped_components = dropped_components
