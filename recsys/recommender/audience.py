"""The reverse question a drug's medical-affairs team asks: which prescribers should hear about it.

Answered through the deployed model, two ways:

- a drug somebody prescribes: every prescriber who does not prescribe it yet is ranked by
  where the drug stands in their own deployed doctor list (the same blend
  ``recommend_for_doctor`` ranks by), the best place first, ties by blended score;
- a drug nobody prescribes (collaborative filtering knows nothing of it): through the graph,
  the doctors' graph component read for one drug (:class:`~recsys.recommender.people_graph.DoctorGraph`).
  Its first half compares the new drug with each prescribed drug by the cosine of their graph
  profiles (shared indications, classes, look-alikes and targets, :mod:`~recsys.recommender.drugprofiles`)
  and sums, over what a prescriber prescribes, log(1 + claims) x similarity, so a prescriber of
  many similar drugs comes first. (A claim-weighted *mean* ranked each prescriber's own choices
  the same way but put prescribers of a single very similar drug first.) Its second half, when
  the model has one, is the people GNN's score: the drug embedded from its graph neighbourhood,
  the prescriber from their drugs and specialty. The reason names the prescriber's drugs closest
  to it and what they share.

The graph route is measured on held-out prescribing of new drugs by ``rxkg evaluate``'s drug
cold-start protocol (:mod:`pipelines.evaluation.coldstart`); the results say which route answered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from kg.errors import KGError
from recsys.cf.base import check_k
from recsys.recommender.drugprofiles import fact_text

__all__ = ["Prescriber", "doctors_for_drug"]

#: Prescribers blended per chunk (bounds memory on all of CMS: 2,048 x drugs floats).
CHUNK = 2048


@dataclass(frozen=True)
class Prescriber:
    """One prescriber to tell about a drug, with the evidence for it."""

    doctor_id: str
    name: str
    specialty: str | None
    score: float
    #: Where the drug stands in the prescriber's own list of drugs they do not prescribe yet
    #: (1 = first); None on the graph route.
    place: int | None
    route: str  # "prescribing" or "graph"
    reason: str

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def doctors_for_drug(ranker, drug_id: str, k: int = 10) -> list[Prescriber]:
    """The ``k`` prescribers ``drug_id`` suits best among those who do not prescribe it (module doc)."""
    check_k(k)
    if ranker.node_types.get(drug_id) != "drug":
        raise KGError(f"{drug_id!r} is not a drug of the model{ranker.lookup.suggest(drug_id, 'drug')}")
    model = ranker.doctor_cf
    if model is None or model.train is None:
        raise KGError("the model has no prescribers (it was trained without prescribes edges)")
    claims = model.train
    if claims.has_item(drug_id):
        return _by_prescribing(ranker, drug_id, k)
    return _by_graph(ranker, drug_id, k)


def _by_prescribing(ranker, drug_id: str, k: int) -> list[Prescriber]:
    claims = ranker.doctor_cf.train
    doctors = list(claims.user_ids)
    columns = ranker.drug_index.get_indexer(claims.item_ids)  # the prescribed drugs on the model's drug list
    listed = columns >= 0
    position = int(np.flatnonzero(claims.item_ids[listed] == drug_id)[0])
    place = np.zeros(len(doctors), dtype=np.int64)
    score = np.zeros(len(doctors))
    prescribes = np.zeros(len(doctors), dtype=bool)
    for start in range(0, len(doctors), CHUNK):
        rows = slice(start, min(start + CHUNK, len(doctors)))
        blended = ranker.blend("doctor", doctors[rows], only_weighted=True)[0][:, columns[listed]]
        own = claims.matrix[rows].toarray()[:, listed] > 0  # their drugs are never in their list
        mine = blended[:, position][:, None]
        prescribes[rows] = own[:, position]
        place[rows] = 1 + ((blended > mine) & ~own).sum(axis=1)
        score[rows] = mine[:, 0]
    candidates = np.flatnonzero(~prescribes)
    order = candidates[np.lexsort((-score[candidates], place[candidates]))][:k]
    return [_prescriber(ranker, doctors[i], float(score[i]), int(place[i]), "prescribing",
                        f"#{place[i]} in their list of drugs they do not prescribe yet") for i in order]


def _by_graph(ranker, drug_id: str, k: int) -> list[Prescriber]:
    claims = ranker.doctor_cf.train
    profiles = ranker.drug_neighbours.profiles
    similarity = profiles.similarity([str(d) for d in claims.item_ids], [drug_id])[:, 0]
    shares = sp.csr_matrix(claims.matrix)
    specialty = [ranker.specialties.get(d) for d in claims.user_ids]
    score = ranker.drug_neighbours.doctor_graph.scores(shares, claims.item_ids, [drug_id], specialty)[:, 0]
    order = np.argsort(-score, kind="stable")[:k]
    out = []
    for i in order:
        row = shares[i]
        nearest = [str(claims.item_ids[j]) for j in row.indices[np.argsort(-similarity[row.indices], kind="stable")[:2]]
                   if similarity[j] > 0]
        if not nearest:
            reason = "no drug they prescribe shares a known fact with it"
        else:
            names = ", ".join(ranker.names.get(d) or d for d in nearest)
            shared = ", ".join(fact_text(f, ranker.names) for f in profiles.shared(nearest[0], drug_id))
            reason = f"prescribes {names}, which share {shared}"
        out.append(_prescriber(ranker, str(claims.user_ids[i]), float(score[i]), None, "graph", reason))
    return out


def _prescriber(ranker, doctor_id: str, score: float, place: int | None, route: str, reason: str) -> Prescriber:
    specialty = ranker.graph.node(doctor_id).get("specialty")
    return Prescriber(doctor_id, ranker.names.get(doctor_id) or doctor_id,
                      specialty if isinstance(specialty, str) and specialty else None, round(score, 6), place, route,
                      reason)
