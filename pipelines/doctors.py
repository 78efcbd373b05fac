"""The doctor -> drug components, chosen one way for ``rxkg train`` and ``rxkg evaluate``.

The collaborative-filtering component is whichever candidate model (EASE, ALS) reaches
the best NDCG@10 on a validation split, each with its parameters searched there; the
popularity component is within-specialty popularity. Training and every evaluation
protocol call :func:`choose_doctor_cf` on their own validation split, so the model a
bundle deploys is chosen exactly as the evaluated hybrid's is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from recsys.cf import CFSplit
from recsys.cf.tuning import SearchResult, staged_search

__all__ = ["DOCTOR_CF_CANDIDATES", "QUICK_SEARCH", "DoctorCFChoice", "choose_doctor_cf"]

#: Candidate CF models for doctors, in order of preference on ties.
DOCTOR_CF_CANDIDATES = ("ease", "als")
#: One setting per candidate: the full search's choice on the shipped data (quick runs, tiny graphs).
QUICK_SEARCH: dict[str, list[dict[str, list[Any]]]] = {
    "ease": [{"transform": ["log1p"], "regularization": [2000.0]}],
    "als": [{"factors": [16], "regularization": [50.0], "transform": ["log1p"]}],
}


@dataclass
class DoctorCFChoice:
    """The chosen CF model and parameters, with every candidate's search."""

    model: str
    params: dict[str, Any]
    searches: dict[str, SearchResult] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "params": self.params,
                "val_ndcg@10": {name: round(s.best_score, 4) for name, s in self.searches.items()}}


def choose_doctor_cf(validation: CFSplit, seed: int = 0, quick: bool = False, k: int = 10,
                     candidates: tuple[str, ...] = DOCTOR_CF_CANDIDATES) -> DoctorCFChoice:
    """Search each candidate on ``validation`` (fit on its train part, NDCG@``k`` on its test
    part) and keep the best; ``quick`` searches one setting per candidate."""
    searches = {}
    for name in candidates:
        fixed = {"seed": seed} if name == "als" else {}
        searches[name] = staged_search(name, validation, stages=QUICK_SEARCH[name] if quick else None,
                                       fixed=fixed, k=k, metric=f"ndcg@{k}")
    best = max(candidates, key=lambda n: (searches[n].best_score, -candidates.index(n)))
    return DoctorCFChoice(best, dict(searches[best].best_params), searches)
