"""Why a drug is ranked where it is: each component's part of its score, largest first, each
with evidence a person can check.

A ranked drug's score is the weighted sum of its components' standardised scores
(:func:`recsys.blend.blend_components`), so a component's part of it is exactly weight x
standardised score, and the parts add up to the score. An explanation names the components
in the order of their parts for *this* drug, then gives the evidence of each component that
raised it, in the same order:

- graph: the typed paths the metapath model relies on most for the pair (its score split by
  metapath, :meth:`~recsys.recommender.explain.PathExplainer.model_paths`), from the disease
  itself or, for a patient, from the condition that gives their graph score its value (it is
  the best score over their conditions); paths through genes and pathways come after those
  over clinical entities for patients and prescribers; then, when the model's kernel ridge
  raised the drug, the known indications that ridge rests on (:mod:`.kernel_reasons`);
- a prescriber's graph, a patient's graph (like their drugs): the drugs they prescribe or take
  that the drug is most like, and what it shares with them (indications, classes, targets);
- cf: the collaborative-filtering score's own terms (:mod:`.evidence`);
- history, running, frequency: the patient's own records of the drug;
- diagnosis: the share of the graph's patients with their condition who take it;
- popularity: how widely the drug is used (indications, prescribers, patients).

A component that lowered the drug's score is named as such and shows no evidence for it; a
component without weight is not named at all: graph paths never appear when the graph did
not raise the score.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from recsys.cf.base import CFRecommender
from recsys.recommender.contributions import LABELS, Contribution, Explanation, contributions
from recsys.recommender.evidence import cf_evidence
from recsys.recommender.explain import MOLECULAR, ExplanationPath, path_texts
from recsys.recommender.kernel_reasons import KernelTerm, kernel_sentence
from recsys.recommender.doctor_side import SPECIALTY_ONLY, specialty_shares
from recsys.recommender.patient_side import PATIENT_METAPATH
from recsys.recommender.ranking import Ranker

__all__ = ["explain_pair", "cf_evidence_of"]


def cf_evidence_of(ranker: Ranker, entity_id: str, drug_id: str, peers: int = 20) -> dict[str, object]:
    """How many of the entity's nearest CF peers use the drug, and what its CF score rests on
    (doctors and patients known to CF; empty otherwise); see :mod:`.evidence`."""
    kind = ranker.node_types.get(entity_id)
    model: CFRecommender | None = {"doctor": ranker.doctor_cf, "patient": ranker.patient_cf}.get(kind)
    if model is None:
        return {}
    return cf_evidence(model, entity_id, drug_id, "prescribers" if kind == "doctor" else "patients", ranker.names,
                       peers)


def explain_pair(recommender: Ranker, kind: str, entity_id: str, drug_id: str,
                 components: Mapping[str, float | None], k: int = 3) -> Explanation:
    """The explanation of ``drug_id`` ranked for ``entity_id`` under ``kind``'s weights, from its
    standardised ``components``; ``k`` paths at most (see the module doc)."""
    parts = contributions(components, recommender.weights[kind])
    names = recommender.names
    drug = names.get(drug_id) or drug_id
    paths, paths_from, evidence, sentences, kernel_terms = [], None, {}, [], []
    graph_done = False
    for contribution in (c for c in parts if c.part > 0):
        name = contribution.component
        if name == "graph" and kind.startswith("doctor"):
            sentences.append(_prescriber_graph_sentence(recommender, entity_id, drug_id))
        elif name == "graph_drugs":
            sentences.append(_patient_graph_sentence(recommender, entity_id, drug_id))
        elif name == "people_gnn":
            sentences.append(_people_gnn_sentence(recommender, entity_id, drug_id))
        elif name in recommender.disease_scores or name == "graph":
            if graph_done:
                continue  # the metapath model and a GNN stacked on it share one set of paths
            graph_done = True
            paths_from = _graph_source(recommender, kind, entity_id, drug_id)
            if paths_from is not None:
                paths = _graph_paths(recommender, kind, paths_from, drug_id, k)
                sentences.append(_graph_sentence(recommender, kind, paths_from, drug, paths))
                kernel_terms = _kernel_terms(recommender, kind, paths_from, drug_id)
                sentences.append(kernel_sentence(kernel_terms, paths_from, drug_id, recommender.names,
                                                 recommender.kernel_reasons.weight))
        elif name == "cf":
            evidence = cf_evidence_of(recommender, entity_id, drug_id)
            if evidence.get("sentence"):
                sentences.append(str(evidence["sentence"]))
            elif recommender.node_types.get(entity_id) == "drug":  # a new prescriber, explained from a drug of theirs
                sentences.append(f"Its collaborative-filtering score comes from their prescriptions, of which "
                                 f"{names.get(entity_id) or entity_id} is most like it.")
            elif recommender.node_types.get(entity_id) == "disease":  # a new patient, explained from a condition
                sentences.append("Its collaborative-filtering score comes from the drugs they take now.")
        else:
            sentences.append(_own_sentence(recommender, kind, name, entity_id, drug_id))
    lead = _lead(parts)
    return Explanation(parts, paths, paths_from, evidence, " ".join([lead, *(s for s in sentences if s)]),
                       kernel_terms)


def _lead(parts: list[Contribution]) -> str:
    """``Score +5.54: diagnosis +4.02, collaborative filtering +1.37, graph +0.15.`` (parts add up)."""
    if not parts:
        return "No weighted component scores it."
    # A part that rounds to zero says nothing a reader can use; the data keeps it.
    named = ", ".join(f"{LABELS.get(c.component, c.component)} {c.part:+.2f}" for c in parts if round(c.part, 2))
    return f"Score {sum(c.part for c in parts):+.2f}: {named or 'every part rounds to 0.00'}."


def _graph_source(recommender: Ranker, kind: str, entity_id: str, drug_id: str) -> str | None:
    """The disease a graph explanation starts at: the entity itself, or the patient's condition
    whose score is the patient's graph score for the drug (it is their best over conditions)."""
    if recommender.node_types.get(entity_id) == "disease":
        return entity_id
    if recommender.node_types.get(entity_id) != "patient":
        return None
    rows = [(d, recommender.disease_index.get_loc(d)) for d in sorted(recommender.records.conditions(entity_id))
            if d in recommender.disease_index]
    if not rows:
        return None
    disease_z = recommender.disease_z_of(recommender.patient_scorers)
    column = recommender.drug_index.get_loc(drug_id)
    return max(rows, key=lambda r: disease_z[r[1], column])[0]


def _graph_paths(recommender: Ranker, kind: str, disease_id: str, drug_id: str, k: int) -> list[ExplanationPath]:
    explainer = recommender.path_finder.get()
    terms = _terms(recommender, kind)
    if terms is not None:
        paths = explainer.model_paths(disease_id, drug_id, terms, k=2 * k)
    else:
        paths = explainer.paths(disease_id, drug_id, k=2 * k)
    if kind != "disease":  # people read clinical reasons first; the order is otherwise the model's
        paths = sorted(paths, key=lambda p: any(recommender.node_types.get(n) in MOLECULAR for n in p.nodes))
    return paths[:k]


def _terms(recommender: Ranker, kind: str):
    """The metapath terms of the model a graph explanation reads: a patient's own metapath model
    when their graph component reads it, else the disease scorer's (None: no metapath model)."""
    if kind != "disease" and recommender.patient_scorers == [PATIENT_METAPATH]:
        return recommender.patient_graph_terms
    return recommender.graph_terms


def _graph_sentence(recommender: Ranker, kind: str, disease_id: str, drug: str,
                    paths: list[ExplanationPath]) -> str:
    disease = recommender.names.get(disease_id) or disease_id
    where = f"their condition {disease}" if kind != "disease" else disease
    if not paths:
        return f"The graph scores it for {where}, through no path of up to 3 relations that explanations show."
    texts = path_texts(paths, recommender.names)
    how = "the paths the model weighs most" if _terms(recommender, kind) is not None else "the strongest paths"
    return f"The graph links {drug} to {where}; {how}: {'; '.join(texts)}."


def _kernel_terms(recommender: Ranker, kind: str, disease_id: str, drug_id: str) -> list[KernelTerm]:
    """The known indications the disease scorer's kernel ridge rests on for the pair, when that
    scorer is the one the explanation reads and its ridge raised the drug (:mod:`.kernel_reasons`)."""
    reasons = recommender.kernel_reasons.get()
    if reasons is None or _terms(recommender, kind) is not recommender.graph_terms:
        return []  # no kernel ridge, or a patient's own metapath model (logistic scores alone)
    return reasons.reasons(disease_id, drug_id)


def _prescriber_graph_sentence(recommender: Ranker, entity_id: str, drug_id: str) -> str:
    """What the drug shares with the prescriber's drugs (a new prescriber is explained from one
    drug of theirs, ``entity_id``)."""
    if recommender.node_types.get(entity_id) == "drug":
        prescribed = {entity_id: 1.0}
    elif recommender.knows(recommender.doctor_cf, entity_id):
        train = recommender.doctor_cf.train
        row = train.matrix[train.user_index([entity_id])].tocsr()
        prescribed = {str(train.item_ids[j]): float(v) for j, v in zip(row.indices, row.data)}
        split = recommender.drug_neighbours.halves_sentence(drug_id, prescribed, recommender.specialties.get(entity_id))
        return " ".join(s for s in (recommender.drug_neighbours.sentence(drug_id, prescribed, recommender.names),
                                    split) if s)
    else:
        return ""
    return recommender.drug_neighbours.sentence(drug_id, prescribed, recommender.names)


def _patient_graph_sentence(recommender: Ranker, entity_id: str, drug_id: str) -> str:
    """What the drug shares with the drugs the patient takes (a new patient is explained from a
    condition or one current drug, ``entity_id``)."""
    kind = recommender.node_types.get(entity_id)
    taken = ({d: 1.0 for d in recommender.records.drugs(entity_id)} if kind == "patient"
             else {entity_id: 1.0} if kind == "drug" else {})
    return recommender.drug_neighbours.sentence(drug_id, taken, recommender.names, verb="take")


def _people_gnn_sentence(recommender: Ranker, entity_id: str, drug_id: str) -> str:
    """Which of the patient's drugs the people GNN's score of the drug rests on most (its exact
    split by drug, :meth:`~recsys.people.scorer.PeopleScorer.drug_parts`); a new patient is
    explained from one current drug, ``entity_id``."""
    kind = recommender.node_types.get(entity_id)
    if kind == "disease" and recommender.patient_gnn is not None:  # a new patient, explained from a condition
        return ("Its people GNN score (drugs embedded from the knowledge graph, trained on patients' records) "
                "comes from the drugs they take now.")
    taken = sorted(recommender.records.drugs(entity_id)) if kind == "patient" else [entity_id] if kind == "drug" else []
    if recommender.patient_gnn is None or not taken:
        return ""
    parts = recommender.patient_gnn.drug_parts(taken, drug_id)
    best = [d for d in sorted(parts, key=lambda d: -parts[d])[:2] if parts[d] > 0 and d != drug_id]
    if not best:
        return ""
    names = " and ".join(recommender.names.get(d) or d for d in best)
    return (f"The people GNN (drugs embedded from the knowledge graph, trained on patients' records) links it "
            f"most to their {names}.")


def _own_sentence(recommender: Ranker, kind: str, name: str, entity_id: str, drug_id: str) -> str:
    """Evidence of the popularity, history, running and diagnosis components."""
    column = recommender.drug_index.get_loc(drug_id)
    patient = recommender.node_types.get(entity_id) == "patient"
    if name == "popularity":
        if kind == "disease":
            return f"It has {int(recommender.indication_counts[column])} known indication(s) in the graph."
        if kind.startswith("doctor"):  # for a prescriber known by specialty alone ``entity_id`` is the specialty
            specialty_only = kind == SPECIALTY_ONLY
            share = (specialty_shares(recommender, entity_id) if specialty_only
                     else recommender.component_scores("doctor", [entity_id])["popularity"])[0, column]
            who = f"the graph's {entity_id} prescribers" if specialty_only else "the prescribers of their specialty"
            return (f"About {share:.0%} of {who} prescribe it (backed off toward all prescribers)."
                    if np.isfinite(share) else "")
        return f"{int(recommender.patient_share[column])} of the graph's patients take it."
    if name in ("history", "running", "frequency") and patient:
        if drug_id not in recommender.records.drugs(entity_id):
            return ""
        if name == "frequency":
            return f"They have {recommender.history.records(entity_id, column)} record(s) of it."
        return ("A record of it is still open at their latest record." if name == "running"
                else "They have taken it before.")
    if name == "sequence":
        return _sequence_sentence(recommender, entity_id, column, patient)
    if name == "diagnosis":
        conditions = sorted(recommender.records.conditions(entity_id)) if patient else [entity_id]
        shares = [(recommender.diagnosis.share(c, column), c) for c in conditions]
        shares = [(s, c) for s, c in shares if s > 0]
        if shares:
            share, condition = max(shares)
            return (f"{share:.0%} of the graph's patients with {recommender.names.get(condition) or condition} "
                    f"take it.")
    return ""


def _sequence_sentence(recommender: Ranker, entity_id: str, column: int, patient: bool) -> str:
    """Which of their drugs leads to this one, and how many patients went from it to this one: the
    counts the ``sequence`` component adds up."""
    found = recommender.sequences.evidence(entity_id, column) if patient else None
    if not found or not found[1]:
        return ""
    before, followed, continued = found
    name = recommender.names.get(recommender.drug_ids[before]) or recommender.drug_ids[before]
    return (f"They took {name}; {followed} of the graph's {continued} patients who started another drug after it "
            f"started this one.")
