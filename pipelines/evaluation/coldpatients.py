"""Drug cold start for patients: drugs nobody in the records takes yet.

As for prescribers (:mod:`pipelines.evaluation.coldstart`): 20% of the drugs patients take
(seeded, stratified by how many patients take each, combination partners and drugs with the
same patients together) lose every medication record and prescription. Two measures:

- **among the cold drugs** (``patient/cold``): for each patient who takes a cold drug and another
  one, the cold drugs ranked; Recall@5 and NDCG@10;
- **the reverse question** (``patient/cold_reverse``): for each cold drug, every patient with a
  drug left ranked; AUROC and Precision@10 (a few hundred patients: 10, not 100).

Collaborative filtering, popularity, history and most-popular-given-diagnosis know nothing of a
drug nobody takes; the patient components that can score one are the graph's. Rows: those two
components as the deployed recommender computes them, alone and summed after standardising each
over all patients x cold drugs: the conditions' disease scores (``graph``: each drug's best
standardised metapath score over the patient's conditions; the metapath model fitted as ``rxkg
train`` fits the patients' one, chosen on validation, on the graph without the cold drugs' records) and the drugs they take
(``graph_drugs``: the summed graph-profile cosine of each cold drug with the patient's drugs),
and the people GNN trained on the patients' records without the cold drugs (``people_gnn``: every
drug embedded from its knowledge-graph neighbourhood, so a drug nobody takes is scored too).
Baselines: the share of the patient's drugs in the cold drug's ATC level-4 class, and the share of
the cold drug's known indications among the patient's conditions. There is no hybrid row: the
deployed patient blend weighs these components among drugs people take, not here.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kg.graph import KnowledgeGraph
from kg.schema import EdgeType
from pipelines.coldsplit import cold_split, without_drugs
from pipelines.evaluation.coldstart import TREATS, atc4_classes, claim_share, measure_cold, seeded_shuffles, skipped
from pipelines.evaluation.config import EvaluateConfig
from pipelines.evaluation.results import ProtocolResult, Stopwatch

__all__ = ["patient_cold_protocols", "TITLES"]

HAS_CONDITION = EdgeType("patient", "has_condition", "disease")
#: Patients and drugs taken that a cold-start split needs before it means anything.
MIN_PATIENTS, MIN_DRUGS = 20, 10
CONDITIONS = "graph: their conditions' disease scores (graph)"
DRUGS = "graph: drug profiles of what they take (graph_drugs)"
BOTH = "graph: both, standardised and summed"
PEOPLE = "graph: people GNN trained on patients (people_gnn)"
TITLES = {"patient/cold": "Patient -> drug, drug cold start: the cold drugs ranked for each patient who takes one",
          "patient/cold_reverse": "Patient -> drug, drug cold start: every patient ranked for each cold drug"}


def patient_cold_protocols(graph: KnowledgeGraph, config: EvaluateConfig,
                           log: Callable[[str], None] = print) -> list[ProtocolResult]:
    """The patients' drug cold-start protocols on ``graph`` (see the module doc)."""
    from pipelines.train import fit_metapath, people_gnn_config, train_patient_gnn
    from recsys.blend import standardise_rows
    from recsys.cf import patient_drug_interactions
    from recsys.recommender.drugclasses import Combinations
    from recsys.recommender.drugprofiles import DrugProfiles, neighbour_scores

    results = [ProtocolResult(name, title, metrics) for (name, title), metrics in
               zip(TITLES.items(), (("recall@5", "ndcg@10"), ("auroc", "precision@10")))]
    takes = graph.edges.get(EdgeType("patient", "takes", "drug"))
    records = patient_drug_interactions(graph) if takes is not None and len(takes) else None
    treats = graph.edges.get(TREATS)
    why = ("no medication records" if records is None else
           f"{records.shape[0]} patients; a cold-start split needs at least {MIN_PATIENTS}"
           if records.shape[0] < MIN_PATIENTS else
           f"{records.shape[1]} drugs taken; a cold-start split needs at least {MIN_DRUGS}"
           if records.shape[1] < MIN_DRUGS else
           "no treats edges: no disease scorer" if treats is None or treats.empty else None)
    if why:
        return skipped(results, why)
    split = cold_split(records, Combinations.from_graph(graph).partners, config.seed)
    cold, items, warm, truth = split.cold, split.items, split.warm, split.truth
    history = (split.history > 0).astype(np.float64)
    cold_cols = items.get_indexer(cold)
    log(f"  {len(cold)} cold drugs of {len(items)} taken ({int(truth.nnz):,} patient-drug pairs hidden); "
        f"{len(warm)} warm drugs stay")
    clock = Stopwatch()
    # The metapath model a patient's graph component reads: chosen on validation (patient_side.PATIENT_METAPATH).
    _, selected, task, metapath = fit_metapath(without_drugs(graph, cold), config.train_config(), combine="validation")
    fitted = clock.lap()
    disease_z = standardise_rows(metapath.score_matrix(np.arange(task.num_dst)))[
        :, pd.Index(task.id_maps["drug"]).get_indexer(cold)]
    conditions = _conditions(graph, records.user_ids, pd.Index(task.id_maps["disease"]))
    profiles = DrugProfiles.from_graph(graph, items)  # no medication record in a profile
    classes = atc4_classes(graph, items)
    same_class = np.array([[bool(classes[w] & classes[c]) for c in cold_cols] for w in warm], dtype=np.float64)
    parts = {CONDITIONS: _best_over(conditions, disease_z),
             DRUGS: neighbour_scores(history, profiles.similarity(items[warm], cold))}
    settings = people_gnn_config(config.train_config(), "patient_gnn")
    gnn, gnn_seconds = clock.timed(lambda: None if settings is None else  # never sees a cold drug's records
                                   train_patient_gnn(graph, split.warm_part(records), settings))
    scorers: dict[str, Callable[[], np.ndarray]] = {
        CONDITIONS: lambda: parts[CONDITIONS], DRUGS: lambda: parts[DRUGS],
        BOTH: lambda: sum(_standardised(block) for block in parts.values()),
        **({PEOPLE: lambda: gnn.scores(history, list(items[warm]), None, cold)} if gnn is not None else {}),
        "ATC class share of their drugs": lambda: claim_share(history, same_class),
        "indication overlap with their conditions": lambda: _indications_in_conditions(graph, conditions, cold,
                                                                                       task.id_maps["disease"]),
    }
    users, shuffles = split.users, seeded_shuffles(split, config.seed)
    among, reverse = results
    for name, score in scorers.items():
        scores, seconds = clock.timed(score)
        role = "baseline" if name not in (CONDITIONS, DRUGS, BOTH, PEOPLE) else "model"
        seconds += fitted if name in (CONDITIONS, BOTH) else gnn_seconds if name == PEOPLE else 0.0
        measure_cold(among, reverse, name, role, np.nan_to_num(scores, nan=-1e9), truth, users, shuffles, config,
                     top=10, seconds=seconds)
        log(f"  {name:<48} recall@5 {among.models[-1].means['recall@5']:.3f}  "
            f"auroc {reverse.models[-1].means['auroc']:.3f}")
    info = {"cold_drugs": len(cold), "drugs_taken": len(items), "hidden_pairs": int(truth.nnz),
            "seed": config.seed, "metapath": selected.chosen}
    among.info = {**info, "evaluated_patients": int(len(users))}
    reverse.info = {**info, "patients_ranked": int(truth.shape[0])}
    return results


def _conditions(graph: KnowledgeGraph, patients, diseases: pd.Index) -> sp.csr_matrix:
    """Patients x diseases, 1 where the patient has the condition (diseases the scorer knows)."""
    edges = graph.edges.get(HAS_CONDITION, pd.DataFrame(columns=["src", "dst"]))
    rows = pd.Index([str(p) for p in patients]).get_indexer(edges["src"].astype(str))
    cols = diseases.get_indexer(edges["dst"].astype(str))
    keep = (rows >= 0) & (cols >= 0)
    out = sp.csr_matrix((np.ones(int(keep.sum())), (rows[keep], cols[keep])), shape=(len(patients), len(diseases)))
    out.data[:] = 1.0
    return out


def _best_over(conditions: sp.csr_matrix, disease_z: np.ndarray) -> np.ndarray:
    """Patients x cold drugs: the best standardised disease score over each patient's conditions,
    as the deployed patients' graph component reads it (NaN without a scored condition)."""
    out = np.full((conditions.shape[0], disease_z.shape[1]), np.nan)
    for row in range(conditions.shape[0]):
        mine = conditions.indices[conditions.indptr[row]:conditions.indptr[row + 1]]
        if len(mine):
            out[row] = disease_z[mine].max(axis=0)
    return out


def _standardised(block: np.ndarray) -> np.ndarray:
    """One affine map over all patients x drugs (so patients stay comparable for the reverse
    question); a patient the component cannot score gets its mean."""
    mean, spread = np.nanmean(block), np.nanstd(block)
    return np.nan_to_num((block - mean) / (spread if spread > 1e-12 else 1.0), nan=0.0)


def _indications_in_conditions(graph: KnowledgeGraph, conditions: sp.csr_matrix, cold: list[str],
                               diseases: list[str]) -> np.ndarray:
    """Patients x cold drugs: the share of each cold drug's known indications among the patient's
    conditions (0 for a cold drug without known indications)."""
    treats = graph.edges.get(TREATS, pd.DataFrame(columns=["src", "dst"]))
    rows = pd.Index(cold).get_indexer(treats["src"].astype(str))
    cols = pd.Index(diseases).get_indexer(treats["dst"].astype(str))
    keep = (rows >= 0) & (cols >= 0)
    indications = sp.csr_matrix((np.ones(int(keep.sum())), (rows[keep], cols[keep])), shape=(len(cold), len(diseases)))
    indications.data[:] = 1.0
    counts = np.asarray(indications.sum(axis=1)).ravel()
    return np.asarray((conditions @ indications.T).todense()) / np.maximum(counts, 1.0)[None, :]
