"""Conditions-only sanity: what a new patient with one condition and no drugs is recommended.

For each disease with at least three known indications, a new patient with that condition
alone gets a top-k; the measure is the share of it that are known indications of the
condition or share an ATC level-4 class with one, averaged over the diseases. The
deployed path (``recommend_for_new_patient``) is shown beside each component alone, so
a reader sees which one drives the list. It asks whether the list is clinically plausible,
not whether clinicians started those drugs (the patient protocols measure that).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from kg.atc import drug_atc_codes
from kg.schema import EdgeType

__all__ = ["conditions_only_sanity", "MIN_INDICATIONS"]

TREATS = EdgeType("drug", "treats", "disease")
#: Diseases with fewer known indications say little about a list of ten.
MIN_INDICATIONS = 3


def conditions_only_sanity(recommender, k: int = 10) -> dict:
    """The share of plausible drugs in conditions-only top-``k`` lists, deployed and per component."""
    graph = recommender.graph
    treats = graph.edges.get(TREATS)
    if treats is None or not len(treats):
        return {}
    atc = drug_atc_codes(graph)
    known = treats.groupby(treats["dst"].astype(str), observed=True)["src"].apply(lambda s: set(s.astype(str)))
    diseases = [d for d, drugs in known.items() if len(drugs) >= MIN_INDICATIONS and d in recommender.disease_index]
    if not diseases:
        return {}
    drug_ids = recommender.drug_ids
    z = recommender.disease_z_of(recommender.patient_scorers)

    def plausible(disease: str, ranked: list[str]) -> float:
        classes = {c[:5] for drug in known[disease] for c in atc.get(drug, ())}
        return float(np.mean([d in known[disease] or bool({c[:5] for c in atc.get(d, ())} & classes)
                              for d in ranked]))

    def top(scores: np.ndarray) -> list[str]:
        return [str(drug_ids[i]) for i in np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")[:k]]

    rows: dict[str, Callable[[str], list[str]]] = {
        "deployed (recommend_for_new_patient)": lambda d: [
            r.drug_id for r in recommender.recommend_for_new_patient(conditions=[d], k=k, safety=False)],
        "graph component alone": lambda d: top(z[recommender.disease_index.get_loc(d)]),
        "most popular given diagnosis": lambda d: top(recommender.diagnosis.for_conditions([d])[0]),
        "popularity": lambda d: top(np.log1p(recommender.patient_share)),
    }
    shares = {name: round(float(np.mean([plausible(d, rank(d)) for d in diseases])), 4) for name, rank in rows.items()}
    return {"k": k, "diseases": len(diseases), "min_indications": MIN_INDICATIONS, "share": shares}
