"""Patient -> drug for sparse patients: a new patient known from one drug and their conditions.

The time split's test patients (:mod:`pipelines.evaluation.patient`) are presented as new
patients, the way ``recommend_for_new_patient`` sees one: their conditions recorded before the
cutoff and a single drug, the first they were given; every other drug they take after the cutoff
is to be found. Collaborative filtering then folds in one drug, and the knowledge graph (the
conditions' disease scores, what a drug shares with that drug, the people GNN) has the most to
add. Rows: each component alone as the new-patient path computes it, the deployed hybrid (the
``patient_new`` weights ``recommend_for_new_patient`` ranks with) and the same blend with the
graph components' weights set to 0. Models are a recommender trained, as ``rxkg train`` trains
one, on the history graph without any record of the pairs to find: a drug still running at the
cutoff (or restarted after it) is a target here, and its record before the cutoff must not be the
evidence. The test patients' other records before the cutoff stay (none of them is a target).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from pipelines.evaluation.config import EvaluateConfig
from pipelines.evaluation.results import ProtocolResult, summarise
from pipelines.evaluation.patient_ranking import Truth, per_patient
from recsys.blend import blend_components

__all__ = ["sparse_patient_protocol", "skipped_sparse", "TITLE", "GRAPH_COMPONENTS"]

TITLE = "Patient -> drug, sparse patients (new patients known from their conditions and their first drug)"
#: The patient components that read the knowledge graph (left out of the ablation).
GRAPH_COMPONENTS = ("graph", "graph_drugs", "people_gnn")
#: Rows: component -> (row name, role).
ROWS = {"popularity": ("popularity", "baseline"), "diagnosis": ("most popular given diagnosis", "baseline"),
        "cf": ("CF (fold-in of the one drug)", "model"), "graph": ("graph: conditions' disease scores", "model"),
        "graph_drugs": ("graph: drug profiles like their drug", "model"),
        "people_gnn": ("graph: people GNN", "model")}


def sparse_patient_protocol(recommender, split, config: EvaluateConfig, order: np.ndarray,
                            log: Callable[[str], None] = print) -> ProtocolResult:
    """The protocol on the time ``split`` with ``recommender`` trained on its history graph;
    ``order``: the drug columns by training popularity (ties go to the more popular drug)."""
    from recsys.recommender.entities import new_patient_parts

    result = skipped_sparse(config, "")
    drugs = pd.Index(recommender.drug_ids)
    first = _first_drugs(split.graph, split.patients("test"), drugs)
    targets = split.targets("test")
    targets = targets[drugs.get_indexer(targets["drug"]) >= 0]
    targets = targets[targets["drug"].to_numpy() != targets["patient"].map(first).to_numpy()]
    patients = sorted(set(targets["patient"]) & set(first))
    if not patients:
        result.skipped = "no test patient has a first drug and a later one to find"
        return result
    rows = pd.Index(patients).get_indexer(targets["patient"])
    keep = rows >= 0
    truth = sp.csr_matrix((np.ones(int(keep.sum())), (rows[keep], drugs.get_indexer(targets["drug"][keep]))),
                          shape=(len(patients), len(drugs)))
    truth.data[:] = 1.0
    known = np.zeros(truth.shape, dtype=bool)
    known[np.arange(len(patients)), drugs.get_indexer([first[p] for p in patients])] = True
    measured = Truth(patients, truth, known, masked=True)  # the one known drug is never ranked
    disease_z = recommender.disease_z_of(recommender.patient_scorers)  # once for every patient
    each = [new_patient_parts(recommender, sorted(c for c in recommender.records.conditions(p)
                                                  if c in recommender.disease_index), [first[p]], disease_z)
            for p in patients]
    parts = {name: np.vstack([e[name] for e in each]) for name in each[0]}

    k, metrics = config.k, result.metrics

    def row(name: str, role: str, scores: np.ndarray, **extra) -> None:
        per = per_patient(scores, measured, order, k)
        result.models.append(summarise(name, role, {m: per[m] for m in metrics}, config.bootstrap, config.seed,
                                       **extra))
        log(f"  {name:<40} " + "  ".join(f"{m} {result.models[-1].means[m]:.3f}" for m in metrics))

    for name, (label, role) in ROWS.items():
        if name in parts and np.isfinite(parts[name]).any():
            row(label, role, parts[name])
    # A baseline, not a component of the new-patient path (a new patient's drugs have no order):
    # what followed their drug among the graph's other patients.
    row("what followed their drug", "baseline", recommender.sequences.of_drug_sets(known))
    weights = recommender.weights["patient_new"]
    chosen = recommender.selection.get("patient_new", {}).get("chosen", "default")
    row(f"hybrid (deployed: patient_new weights, {chosen})", "hybrid", blend_components(parts, weights, False)[0],
        params={"weights": _rounded(weights)})
    same = []
    if any(weights.get(c, 0.0) for c in GRAPH_COMPONENTS):
        without = {c: (0.0 if c in GRAPH_COMPONENTS else w) for c, w in weights.items()}
        row("hybrid without graph (its weights set to 0)", "ablation", blend_components(parts, without, False)[0])
    else:
        same.append("without graph")
    result.info = {"seed": config.seed, "evaluated_patients": len(patients), "targets": int(truth.nnz),
                   "drugs_ranked": len(drugs), "ablations_equal_to_the_hybrid": same,
                   "with_conditions": int(sum(bool(recommender.records.conditions(p)) for p in patients))}
    return result


def skipped_sparse(config: EvaluateConfig, why: str) -> ProtocolResult:
    """The protocol's result, skipped for ``why`` (empty: not skipped, to be filled)."""
    result = ProtocolResult("patient/sparse", TITLE, (f"recall@{config.k}", f"ndcg@{config.k}", "mrr"))
    result.skipped = why or None
    return result


def _first_drugs(graph, patients: list[str], drugs: pd.Index) -> dict[str, str]:
    """Each patient's first drug in ``graph`` (earliest start; ties: the smallest id) among ``drugs``."""
    from kg.episodes import TAKES

    takes = graph.edges.get(TAKES)
    if takes is None or not len(takes):
        return {}
    frame = pd.DataFrame({"patient": takes["src"].astype(str), "drug": takes["dst"].astype(str),
                          "time": pd.to_datetime(takes["time"]) if "time" in takes.columns else pd.NaT})
    frame = frame[frame["patient"].isin(set(patients)) & (drugs.get_indexer(frame["drug"]) >= 0)]
    frame = frame.sort_values(["patient", "time", "drug"], na_position="last", kind="stable")
    return dict(frame.groupby("patient", sort=False)["drug"].first())


def _rounded(weights: dict[str, float]) -> dict[str, float]:
    return {name: round(float(w), 4) for name, w in weights.items()}
