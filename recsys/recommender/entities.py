"""The Recommender's entry points beyond ranking known entities, as functions of a :class:`Ranker`.

New patients and doctors (ranked through the graph and CF fold-in without retraining),
batches, similar drugs, doctor profiles and explanations with CF evidence.
:class:`~recsys.recommender.api.Recommender` exposes each as a method.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from kg.atc import drug_atc_codes
from kg.errors import KGError
from recsys.cf.base import check_k, top_k
from recsys.cf.profile import DoctorProfile, profile_doctor as profile_prescriber
from recsys.recommender.continuation import NEW_DRUG, scored_by
from recsys.recommender.doctor_side import (NO_DOCTORS, SPECIALTY_ONLY, check_new_doctor_attributes, doctor_kind,
                                               has_doctors, known_drug_counts, neutral_fill, specialty_shares)
from recsys.recommender.evidence import closest_drugs
from recsys.recommender.patient_side import CONDITIONS_ONLY, people_gnn_scores
from recsys.recommender.ranking import Ranker
from recsys.recommender.results import Recommendations
from recsys.recommender.safety import PatientContext

__all__ = ["recommend_for_new_patient", "new_patient_parts", "recommend_for_new_doctor", "recommend_many",
           "similar_drugs", "profile_doctor", "explain", "graph_similarity", "profile_similarity"]


def recommend_for_new_patient(ranker: Ranker, conditions: Sequence[str] = (), current_drugs: Sequence[str] = (),
                              allergies: Sequence[str] = (), k: int = 10,
                              safety: bool = True) -> Recommendations:
    """Top-``k`` for a patient not in the graph: through their diseases (graph) and their
    drugs (CF fold-in). ``allergies`` are drug ids or ATC classes (``atc:J01C``).

    Each recommendation is explained from the condition that supports it most (or the
    current drug, when no condition does). Ranked with the ``patient_new`` weights, or, for a
    patient known from conditions alone, the conditions-only ones
    (:data:`~recsys.recommender.patient_side.CONDITIONS_ONLY_WEIGHTS`).
    """
    check_k(k)
    disease_z = ranker.disease_z_of(ranker.patient_scorers)  # what a known patient's graph component reads
    parts = new_patient_parts(ranker, conditions, current_drugs, disease_z)  # checks the conditions and drugs
    ids_of(ranker, [a for a in allergies if not a.startswith("atc:")], "drug", "allergy")
    context = PatientContext(frozenset(current_drugs), frozenset(allergies),
                             conditions=frozenset(conditions)) if safety else None
    best_condition = (lambda drug: max(conditions, key=lambda c: disease_z[
        ranker.disease_index.get_loc(c), ranker.drug_index.get_loc(drug)])) if conditions else \
        (lambda drug: current_drugs[0])
    kind = "patient_new" if current_drugs else CONDITIONS_ONLY  # no drug: what treats their conditions
    return ranker.rank_parts(kind, parts, best_condition, k, skip=set(current_drugs),
                             context=context, who="the new patient")


def new_patient_parts(ranker: Ranker, conditions: Sequence[str] = (), current_drugs: Sequence[str] = (),
                      disease_z: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The components (1 x drugs each) of a patient not in the graph, known from their
    ``conditions`` (disease ids) and ``current_drugs`` (drug ids): the components a known patient
    has, less their own records' (history, running, frequency, and the order of their drugs that
    ``sequence`` reads), which a new patient lacks.
    ``disease_z``: the standardised disease scores the graph component reads
    (``ranker.disease_z_of(ranker.patient_scorers)``, computed when not given)."""
    rows = ids_of(ranker, conditions, "disease", "condition")
    ids_of(ranker, current_drugs, "drug", "current drug")
    if not rows and not current_drugs:
        raise KGError("a new patient needs at least one condition or one current drug")
    n = len(ranker.drug_ids)
    if disease_z is None:  # what a known patient's graph component reads
        disease_z = ranker.disease_z_of(ranker.patient_scorers)
    graph = disease_z[rows].max(axis=0)[None, :] if rows else np.full((1, n), np.nan)
    cf = np.full((1, n), np.nan)
    if ranker.patient_cf is not None and current_drugs:
        known = [d for d in current_drugs if ranker.patient_cf.train.has_item(d)]
        if known:
            cf = ranker.onto_drugs(ranker.patient_cf, ranker.patient_cf.score_new([known]))
    taken = np.isin(ranker.drug_ids, list(current_drugs))[None, :]
    return {"graph": graph, "cf": cf, "popularity": np.log1p(ranker.patient_share)[None, :],
            "diagnosis": ranker.diagnosis.for_conditions(conditions),
            "graph_drugs": ranker.drug_neighbours.of_drug_sets(taken),
            "people_gnn": people_gnn_scores(ranker.patient_gnn, taken, ranker.drug_ids)}


def recommend_for_new_doctor(ranker: Ranker, prescriptions: Mapping[str, float], specialty: str | None = None,
                             k: int = 10, state: str | None = None, candidates: str = "prescribed") -> Recommendations:
    """Top-``k`` for a prescriber not in the graph, from their claim counts per drug and their
    specialty and state (CF fold-in, which EASE with side information reads both into,
    within-specialty popularity, and the graph: what each drug shares with theirs), among the
    drugs somebody prescribes or, with ``candidates="all"``, every drug of the graph. Each
    recommendation is explained from the prescribed drug most like it. Without prescriptions, a
    ``specialty`` alone ranks by what its prescribers prescribe (:data:`SPECIALTY_ONLY`)."""
    check_k(k)
    if not has_doctors(ranker):
        raise KGError(f"this model has no prescribers' claims ({NO_DOCTORS}): nothing to rank a new doctor by")
    kind = doctor_kind(candidates, len(prescriptions))
    ids_of(ranker, list(prescriptions), "drug", "prescribed drug")
    if not prescriptions and specialty is None:
        raise KGError("a new doctor needs at least one prescribed drug, or a specialty to rank by what its "
                      "prescribers prescribe")
    for drug, count in prescriptions.items():  # before any component reads them
        if isinstance(count, bool) or not isinstance(count, (int, float, np.number)) or not 0 < count < np.inf:
            raise KGError(f"prescriptions: the claim count of {drug} must be a positive finite number, got {count!r}")
    check_new_doctor_attributes(ranker, specialty, state, prescribed=bool(prescriptions))
    if not prescriptions:
        return _specialty_only(ranker, specialty, k, candidates)
    n = len(ranker.drug_ids)
    history = {d: float(c) for d, c in prescriptions.items()}
    row = sp.csr_matrix(np.array([list(history.values())]))
    parts = {"graph": ranker.drug_neighbours.scores(row, list(history), keep=False, specialty=[specialty]),
             "cf": np.full((1, n), np.nan),
             "popularity": np.full((1, n), np.nan)}
    who = {"specialty": specialty, "state": state}
    if ranker.doctor_cf is not None:
        known = {d: c for d, c in history.items() if ranker.doctor_cf.train.has_item(d)}
        if known:
            parts["cf"] = ranker.onto_drugs(ranker.doctor_cf, ranker.doctor_cf.score_new([known], [who]))
    if ranker.doctor_popularity is not None:
        parts["popularity"] = ranker.onto_drugs(ranker.doctor_popularity, ranker.doctor_popularity.score_new(
            [{}], attributes=[who]))
    prescribed = list(history)
    if kind == "doctor_all":  # as for a known prescriber: no claims of a drug is no evidence against it
        parts["cf"], parts["popularity"] = neutral_fill(parts["cf"]), neutral_fill(parts["popularity"])
    skip = set(prescribed) | (ranker.unprescribed if kind != "doctor_all" else set())
    return ranker.rank_parts(kind, parts, lambda drug: _closest_drug(ranker, drug, prescribed), k,
                             skip=skip, who="the new doctor")


def _specialty_only(ranker: Ranker, specialty: str, k: int, candidates: str) -> Recommendations:
    """A new prescriber with no drug yet, ranked by within-specialty popularity (explained from
    the specialty): among the drugs somebody prescribes or, with ``candidates="all"``, every drug,
    those nobody prescribes at the neutral middle as for any prescriber."""
    if ranker.doctor_popularity is None:
        raise KGError("this model has no prescribers' claims: a specialty alone has nothing to rank by")
    n, every_drug = len(ranker.drug_ids), doctor_kind(candidates) == "doctor_all"
    popularity = specialty_shares(ranker, specialty)
    parts = {"graph": np.full((1, n), np.nan), "cf": np.full((1, n), np.nan),
             "popularity": neutral_fill(popularity) if every_drug else popularity}
    skip = set() if every_drug else ranker.unprescribed
    return ranker.rank_parts(SPECIALTY_ONLY, parts, lambda drug: specialty, k, skip=skip, who="the new doctor")


def recommend_many(ranker: Ranker, entity_ids: Sequence[str], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Batch form: top-``k`` drug ids and blended scores (arrays of shape (n, k)) for many
    entities of one type. Known indications are kept for diseases; doctors' prescribed
    drugs are left out; patients get the safety filter (a list shorter than ``k`` is padded
    with ``None`` ids and ``-inf`` scores, never with an unsafe drug). An entity no component
    can score (where the single form raises) gets an empty row: every id ``None``."""
    check_k(k)
    scores = ranker.scores(entity_ids)
    unscored = np.ptp(scores, axis=1) == 0 if scores.size else np.zeros(len(entity_ids), dtype=bool)
    scores[unscored] = -np.inf  # a row without any variation ranks nothing
    kind = ranker.kind_of(entity_ids[0]) if len(entity_ids) else "disease"
    candidates = np.arange(len(ranker.drug_ids))
    if kind == "doctor" and ranker.doctor_cf is not None:
        # As recommend_for_doctor: the drugs somebody prescribes (ranked alone: top-k over a few
        # hundred columns), less every known doctor's own, straight from the CSR rows.
        train = ranker.doctor_cf.train
        to_drug = ranker.drug_index.get_indexer(train.item_ids)
        candidates = np.sort(to_drug[to_drug >= 0])
        scores = scores[:, candidates]
        known = np.array([ranker.knows(ranker.doctor_cf, e) for e in entity_ids], dtype=bool)
        seen = train.matrix[train.user_index([e for e, ok in zip(entity_ids, known) if ok])]
        rows = np.flatnonzero(known)[np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr))]
        columns = np.searchsorted(candidates, to_drug[seen.indices])
        kept = to_drug[seen.indices] >= 0
        scores[rows[kept], columns[kept]] = -np.inf
    elif kind == "patient":
        for row, entity in enumerate(entity_ids):
            context = ranker.safety.patient_context(entity)
            scores[row, ranker.safety.unsafe_mask(list(ranker.drug_ids), context)] = -np.inf
    best, values = top_k(scores, k)
    ids = ranker.drug_ids[candidates[best]].astype(object)
    ids[np.isneginf(values)] = None
    return ids, values


def similar_drugs(ranker: Ranker, drug_id: str, k: int = 10, by: str = "graph") -> list[tuple[str, str, float]]:
    """Drugs most like ``drug_id``: ``by="graph"`` compares what the disease scorer predicts
    they treat (cosine over all diseases); ``by="prescribing"`` compares who prescribes them
    (doctor CF item factors). Returns ``(drug id, name, cosine)``."""
    check_k(k)
    ids_of(ranker, [drug_id], "drug", "drug")
    if by == "graph":
        column = ranker.drug_index.get_loc(drug_id)
        sims = graph_similarity(ranker, drug_id)
        sims[column] = -np.inf
        order = np.argsort(-sims, kind="stable")[:k]
        ids, values = ranker.drug_ids[order], sims[order]
    elif by == "prescribing":
        if ranker.doctor_cf is None or not ranker.doctor_cf.train.has_item(drug_id):
            raise KGError(f"{drug_id!r} is not in the prescribing data (nobody in it prescribes "
                          f"{ranker.names.get(drug_id) or drug_id}); compare it by graph "
                          "(rxkg similar --by graph) instead")
        found, values = ranker.doctor_cf.similar_items([drug_id], k=k)
        ids, values = found[0], values[0]
    else:
        raise KGError(f"similar_drugs by {by!r}: choose 'graph' or 'prescribing'")
    return [(str(d), ranker.names.get(d) or str(d), float(v)) for d, v in zip(ids, values)]


def graph_similarity(ranker: Ranker, drug_id: str) -> np.ndarray:
    """Cosine of every drug's predicted-indication profile (its standardised disease scores over
    all diseases) with ``drug_id``'s, in the ranker's drug order."""
    return profile_similarity(ranker.disease_z, [ranker.drug_index.get_loc(drug_id)])[:, 0]


def profile_similarity(disease_z: np.ndarray, columns: Sequence[int]) -> np.ndarray:
    """Drugs x ``columns``: the cosine of every drug's predicted-indication profile (its column
    of ``disease_z``, standardised disease scores) with each chosen drug's."""
    vectors = np.asarray(disease_z, dtype=np.float64).T
    norms = np.maximum(np.linalg.norm(vectors, axis=1), 1e-12)
    chosen = np.asarray(columns, dtype=np.int64)
    return (vectors @ vectors[chosen].T) / (norms[:, None] * norms[chosen][None, :])


def profile_doctor(ranker: Ranker, doctor_id: str, peers: int = 5) -> DoctorProfile:
    """The prescriber's therapeutic areas, differences from their specialty, and peers."""
    ranker.check_entity(doctor_id, "doctor", 1)
    if not ranker.knows(ranker.doctor_cf, doctor_id):
        raise KGError(f"{doctor_id!r} has no prescriptions in the model")
    return profile_prescriber(doctor_id, ranker.doctor_cf.train, drug_atc_codes(ranker.graph),
                              model=ranker.doctor_cf, drug_names=ranker.names, peers=peers)


def explain(ranker: Ranker, entity_id: str, drug_id: str, k: int = 3, exclude_current: bool = True
            ) -> dict[str, object]:
    """Why ``drug_id`` for ``entity_id``: each component's part of its score, graph paths, CF
    evidence and one text, exactly as a recommendation of it would be explained."""
    kind = ranker.kind_of(entity_id)
    if kind == "patient" and exclude_current:
        kind = "patient_new"
    if kind == "doctor":  # the weights its recommendations are ranked with
        kind = doctor_kind("prescribed", int(known_drug_counts(ranker, [entity_id])[0]))
    ids_of(ranker, [drug_id], "drug", "drug")
    blended, standardised, _, _ = ranker.blend(kind, [entity_id])
    column = ranker.drug_index.get_loc(drug_id)
    added = standardised.pop(NEW_DRUG, None)
    components = {n: None if np.isnan(z[0, column]) else float(z[0, column]) for n, z in standardised.items()}
    kind = scored_by(kind, components, added, column)  # as ranked_list says
    why = ranker.explain_pair(kind, entity_id, drug_id, components, k)
    return {"drug_id": drug_id, "name": ranker.names.get(drug_id) or drug_id, "score": float(blended[0, column]),
            "components": components, "contributions": [c.as_dict() for c in why.contributions],
            "paths": [p.as_dict() for p in why.paths], "paths_from": why.paths_from,
            "cf_evidence": why.cf_evidence, "kernel_terms": [t.as_dict() for t in why.kernel_terms], "text": why.text}


def _closest_drug(ranker: Ranker, drug_id: str, candidates: Sequence[str]) -> str:
    model = ranker.doctor_cf
    if model is not None:
        best = closest_drugs(model, drug_id, candidates, 1)
        if best:
            return best[0]
    shared = ranker.drug_neighbours.profiles.similarity([drug_id], candidates)[0]  # a drug nobody prescribes
    return candidates[int(np.argmax(shared))]


def ids_of(ranker: Ranker, ids: Sequence[str], node_type: str, role: str) -> list[int]:
    """Positions of disease ids (or a check of drug ids), with a clear error for bad ones."""
    bad = [i for i in ids if ranker.node_types.get(i) != node_type]
    if bad:
        raise KGError(f"{len(bad)} {role} id(s) are not {node_type}s of the graph: {bad[:5]}"
                      f"{ranker.lookup.suggest(bad[0], node_type)}")
    if node_type == "disease":
        return [int(ranker.disease_index.get_loc(i)) for i in ids]
    return []
