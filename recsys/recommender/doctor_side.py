"""A prescriber's components: collaborative filtering, within-specialty popularity and the graph.

The graph component scores every drug of the graph, prescribed or not, by how much it shares
with what the prescriber prescribes (the drugs' graph profiles: indications, classes, look-alikes,
targets) and by the people GNN (:class:`~recsys.recommender.people_graph.DoctorGraph`). Collaborative
filtering and popularity know only drugs somebody prescribes. Two weight sets therefore rank a
prescriber's drugs (see :data:`DOCTOR_KINDS`): ``doctor`` ranks the drugs somebody prescribes,
``doctor_all`` every drug of the graph, weights fitted where prescribed and never-prescribed drugs
compete (a validation in which some drugs have lost all their prescriptions). Prescribers with at
most :data:`SPARSE_DRUGS` known drugs are ranked among the prescribed drugs with a third set,
``doctor_sparse``, fitted on validation prescribers cut down to that many: from one to three drugs
collaborative filtering alone is no better than within-specialty popularity, and the blend that
suits a prescriber with forty drugs does not suit them. A new prescriber known by their specialty
alone, no drug yet, is ranked by ``doctor_specialty`` (:data:`SPECIALTY_ONLY`): within-specialty
popularity, the one component that reads nothing but the specialty.
"""

from __future__ import annotations

import difflib
from typing import Sequence

import numpy as np

from kg.errors import KGError
from recsys.blend import scored_rows

__all__ = ["doctor_components", "neutral_fill", "DOCTOR_KINDS", "doctor_kind", "known_drug_counts",
           "blend_by_history", "check_new_doctor_attributes", "specialty_shares", "SPARSE_DRUGS", "SPECIALTY_ONLY",
           "SPECIALTY_ONLY_WEIGHTS", "NO_DOCTORS", "has_doctors"]

#: Why a model has no doctor components (no doctor CF, no prescribers' popularity), for its errors.
NO_DOCTORS = "trained without prescriptions, or with [train] doctors = false"
#: The weight set per ``candidates`` choice of ``recommend_for_doctor``.
DOCTOR_KINDS = {"prescribed": "doctor", "all": "doctor_all"}
#: Prescribers with at most this many known drugs get the ``doctor_sparse`` weights.
SPARSE_DRUGS = 3
#: The weight set of a new prescriber known by specialty alone (``recommend_for_new_doctor`` without
#: prescriptions), fixed: within-specialty popularity. On prescribers left out of training (the draw
#: ``rxkg train`` chooses the ``doctor_sparse`` weights on, and two more), every drug of theirs to
#: find, it reaches NDCG@10 0.689-0.696 (Recall@10 0.477-0.483) against 0.581-0.587 (0.401-0.406) for
#: EASE folded in from the specialty and state and 0.425-0.437 (0.221-0.232) for overall popularity.
#: Their standardised sum gains 0.001-0.003 Recall@10 and loses 0.03 NDCG@10, the metric the
#: ``doctor_sparse`` blend is chosen on; the graph has no drug to start from
#: (``benchmarks/results/new_doctors.md``).
SPECIALTY_ONLY = "doctor_specialty"
SPECIALTY_ONLY_WEIGHTS = {"graph": 0.0, "cf": 0.0, "popularity": 1.0}


def doctor_kind(candidates: str, known_drugs: int | None = None) -> str:
    """The weight set that ranks ``candidates`` ("prescribed" or "all") for a prescriber with
    ``known_drugs`` drugs: ``doctor_sparse`` for the prescribed drugs and at most :data:`SPARSE_DRUGS`."""
    if candidates not in DOCTOR_KINDS:
        raise KGError(f"candidates must be one of {sorted(DOCTOR_KINDS)}, not {candidates!r}")
    kind = DOCTOR_KINDS[candidates]
    return "doctor_sparse" if kind == "doctor" and known_drugs is not None and known_drugs <= SPARSE_DRUGS else kind


def check_new_doctor_attributes(ranker, specialty: str | None, state: str | None, prescribed: bool = True) -> None:
    """A new prescriber's ``specialty`` and ``state`` must be values the training prescribers have
    (where the model reads them): a misspelt "Cardiolgy" would otherwise be read as no specialty at
    all, and the list would silently lose what the specialty tells. ``prescribed``: whether they
    have prescriptions too (without any, the specialty cannot be left out: the hint says so)."""
    popularity, cf = ranker.doctor_popularity, ranker.doctor_cf
    side = getattr(cf, "side_values", None) or {}
    known = {"specialty": list(getattr(popularity, "groups", [])) or list(side.get("specialty", [])),
             "state": list(side.get("state", []))}
    for name, value in (("specialty", specialty), ("state", state)):
        values = [str(v) for v in known[name]]
        if value is None or not values or str(value) in values:
            continue
        wanted = str(value)
        # The same letters in another case first ("Ca" -> "CA": too short for a close match), then close spellings.
        close = list(dict.fromkeys([v for v in values if v.lower() == wanted.lower()]
                                   + difflib.get_close_matches(wanted, values, n=3, cutoff=0.6)))[:3]
        hint = f"; did you mean {' or '.join(repr(v) for v in close)}?" if close else ""
        way_out = (f"leave the {name} out to rank without one" if prescribed or name != "specialty"
                   else "a new doctor without prescriptions is ranked by their specialty: give one the model knows, "
                        "or the drugs they prescribe")
        raise KGError(f"unknown {name} {wanted!r}: no prescriber the model was trained on has it{hint} ({way_out})")


def has_doctors(ranker) -> bool:
    """Whether ``ranker`` has any doctor component to rank a prescriber by (else :data:`NO_DOCTORS`)."""
    return ranker.doctor_cf is not None or ranker.doctor_popularity is not None


def specialty_shares(ranker, specialty: str) -> np.ndarray:
    """(1 x drugs) within-specialty popularity of a prescriber known by ``specialty`` alone: the
    share of its prescribers with each drug, backed off toward all prescribers (NaN: nobody's)."""
    popularity = ranker.doctor_popularity
    return ranker.onto_drugs(popularity, popularity.score_new([{}], attributes=[{"specialty": specialty}]))


def known_drug_counts(ranker, doctor_ids: Sequence[str]) -> np.ndarray:
    """How many drugs each prescriber has in the doctor CF data (0 for one it does not know)."""
    model = ranker.doctor_cf
    counts = np.zeros(len(doctor_ids), dtype=np.int64)
    known = [i for i, d in enumerate(doctor_ids) if ranker.knows(model, d)]
    if known:
        rows = model.train.matrix[model.train.user_index([doctor_ids[i] for i in known])]
        counts[known] = np.diff(rows.indptr)
    return counts


def blend_by_history(ranker, doctor_ids: Sequence[str], only_weighted: bool = False):
    """``ranker.blend`` of prescribers among the prescribed drugs, each under the weights of their
    history: ``doctor``, or ``doctor_sparse`` for at most :data:`SPARSE_DRUGS` known drugs."""
    if ranker.weights["doctor_sparse"] == ranker.weights["doctor"]:  # one blend for all: no counting
        return ranker.blend("doctor", doctor_ids, only_weighted, by_history=False)
    sparse = known_drug_counts(ranker, doctor_ids) <= SPARSE_DRUGS
    if not sparse.any():
        return ranker.blend("doctor", doctor_ids, only_weighted, by_history=False)
    if sparse.all():
        return ranker.blend("doctor_sparse", doctor_ids, only_weighted, by_history=False)
    ids = np.asarray(doctor_ids, dtype=object)
    groups = [(~sparse, ranker.blend("doctor", list(ids[~sparse]), only_weighted, by_history=False)),
              (sparse, ranker.blend("doctor_sparse", list(ids[sparse]), only_weighted, by_history=False))]
    blended = np.zeros((len(ids), len(ranker.drug_ids)))
    scored = np.zeros(len(ids), dtype=bool)
    standardised: dict[str, np.ndarray] = {}
    for rows, (part, z, _, rows_scored) in groups:
        blended[rows], scored[rows] = part, rows_scored
        for name, block in z.items():
            standardised.setdefault(name, np.full(blended.shape, np.nan))[rows] = block
    dropped = [name for name in groups[0][1][2] if name in groups[1][1][2]]  # no row of either can use it
    return blended, standardised, dropped, scored


def neutral_fill(block: np.ndarray) -> np.ndarray:
    """``block`` with each row's missing entries set to the row's mean: collaborative filtering
    and popularity know nothing of a drug nobody prescribes, which is no evidence against it.
    (The blend otherwise gives a missing entry the row's lowest score, and every never-prescribed
    drug would rank below every prescribed one whatever the graph says.) Rows without any
    score stay missing."""
    out = np.array(block, dtype=np.float64)
    missing = np.isnan(out)
    scored = ~missing.all(axis=1)
    if missing.any() and scored.any():
        means = np.nanmean(out[scored], axis=1)
        out[scored] = np.where(missing[scored], means[:, None], out[scored])
    return out


def doctor_components(ranker, doctor_ids: Sequence[str], kind: str = "doctor",
                      skip: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """The raw ``graph``, ``cf`` and ``popularity`` scores of known prescribers (NaN where a
    component cannot score; for ``doctor_all``, CF and popularity are neutral on the drugs nobody
    prescribes, :func:`neutral_fill`). A prescriber without claims but with a specialty in the
    graph gets within-specialty popularity, as a new prescriber of that specialty does."""
    model = ranker.doctor_cf
    graph = np.full((len(doctor_ids), len(ranker.drug_ids)), np.nan)
    known = [i for i, d in enumerate(doctor_ids) if ranker.knows(model, d)] if "graph" not in skip else []
    if known:  # a batch that weighs the graph 0 skips it: the people GNN is a third of a batch's time
        rows = model.train.matrix[model.train.user_index([doctor_ids[i] for i in known])]
        graph[known] = ranker.drug_neighbours.scores(rows, model.train.item_ids,
                                                     specialty=[ranker.specialties.get(doctor_ids[i]) for i in known])
    popularity = ranker.cf_block(ranker.doctor_popularity, doctor_ids)
    todo = [i for i in np.flatnonzero(~scored_rows(popularity)) if ranker.specialties.get(doctor_ids[i])]
    if todo and ranker.doctor_popularity is not None:
        attributes = [{"specialty": ranker.specialties.get(doctor_ids[i])} for i in todo]
        popularity[todo] = ranker.onto_drugs(ranker.doctor_popularity, ranker.doctor_popularity.score_new(
            [{}] * len(todo), attributes=attributes))
    cf = ranker.cf_block(model, doctor_ids)
    if kind == "doctor_all":
        cf, popularity = neutral_fill(cf), neutral_fill(popularity)
    return {"graph": graph, "cf": cf, "popularity": popularity}
