"""The collaborative-filtering component of doctors and patients, chosen one way for
``rxkg train`` and ``rxkg evaluate``.

The CF component is whichever candidate model (EASE, ALS) reaches the best NDCG@10 on a
validation split, each with its parameters searched there. Training and every evaluation
protocol call :func:`choose_cf` on their own validation split, so the model a bundle
deploys is chosen exactly as the evaluated hybrid's is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from recsys.cf import CFSplit
from recsys.cf.tuning import SearchResult, staged_search

__all__ = ["CF_CANDIDATES", "QUICK_SEARCH", "PATIENT_QUICK_SEARCH", "CFChoice", "choose_cf", "unvalidated_choice"]

#: Candidate CF models, in order of preference on ties.
CF_CANDIDATES = ("ease", "als")
#: Doctors (claim counts): the full search's choices on the shipped data; EASE's user weight, penalty,
#: dropout, item pairs and (attribute, drug) combinations are still searched on the split's own validation
#: (fourteen grid points, nine closed-form fits: a stage's point that is the best model so far is not refitted).
QUICK_SEARCH: dict[str, list[dict[str, list[Any]]]] = {
    "ease": [{"transform": ["log1p"], "regularization": [1000.0], "side_weight": [8.0]},
             {"user_weight": [0.0, 0.25, 0.5, 0.75]}, {"regularization": [1000.0, 300.0]}, {"dropout": [0.0, 0.1]},
             {"pairs": [0, 1000]}, {"attribute_pairs": [0, 3000, 6000]}],
    "als": [{"factors": [16], "regularization": [50.0], "transform": ["log1p"]}],
}
#: Patients (a few thousand, binary use): EASE's penalty is searched (a few dense solves), ALS fixed.
PATIENT_QUICK_SEARCH: dict[str, list[dict[str, list[Any]]]] = {
    "ease": [{"transform": ["binary"], "regularization": [10.0, 30.0, 100.0, 300.0, 1000.0]}],
    "als": [{"factors": [8], "regularization": [1.0]}],
}


@dataclass
class CFChoice:
    """The chosen CF model and parameters, with every candidate's search."""

    model: str
    params: dict[str, Any]
    searches: dict[str, SearchResult] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "params": self.params,
                "val_ndcg@10": {name: round(s.best_score, 4) for name, s in self.searches.items()}}


def unvalidated_choice(model: str, quick_search: dict[str, list[dict[str, list[Any]]]], seed: int = 0) -> CFChoice:
    """``model`` with its quick-search setting, for data too small to validate anything on."""
    params = {key: values[0] for stage in quick_search[model] for key, values in stage.items()}
    return CFChoice(model, {**params, **({"seed": seed} if model == "als" else {})})


def choose_cf(validation: CFSplit, seed: int = 0, quick: bool = False, k: int = 10,
              candidates: tuple[str, ...] = CF_CANDIDATES,
              quick_search: dict[str, list[dict[str, list[Any]]]] = QUICK_SEARCH) -> CFChoice:
    """Search each candidate on ``validation`` (fit on its train part, NDCG@``k`` on its test
    part) and keep the best; ``quick`` searches ``quick_search`` instead of the full grids."""
    searches = {}
    for name in candidates:
        fixed = {"seed": seed} if name == "als" else {}
        searches[name] = staged_search(name, validation, stages=quick_search[name] if quick else None,
                                       fixed=fixed, k=k, metric=f"ndcg@{k}")
    best = max(candidates, key=lambda n: (searches[n].best_score, -candidates.index(n)))
    return CFChoice(best, dict(searches[best].best_params), searches)
