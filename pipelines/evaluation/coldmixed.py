"""Drug cold start, mixed: never-prescribed and prescribed drugs compete in one list.

The cold drugs of :func:`pipelines.coldsplit.cold_drugs` (same seed as ``doctor/cold``) lose
every prescription, and each prescriber also loses 20% of their other drugs
(:func:`pipelines.coldsplit.mixed_split`). Each prescriber with something held out ranks every
prescribed drug of the input, warm and cold, their kept drugs excluded; Recall@10 counts both
kinds of held-out drug, so "put every cold drug first" cannot win and neither can ignoring them.

The doctor side is fitted on the training claims as ``rxkg train`` fits it: the CF model and the
``doctor`` blend (:func:`pipelines.doctors.fit_doctors`), and the ``doctor_all`` weights
(:func:`pipelines.doctors.fit_doctors_all`, on its own mixed split of the training claims drawn
with the next seed). Rows: the deployed ``doctor_all`` hybrid; the same hybrid without the graph
(the ``doctor`` weights, which rank drugs somebody prescribes: every cold drug ties last); the
graph component alone; CF alone; and a content baseline that scores both kinds of drug, the
share of the prescriber's claims in the drug's ATC level-4 class.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import scipy.sparse as sp

from kg.graph import KnowledgeGraph
from pipelines.coldsplit import mixed_split
from pipelines.evaluation.coldstart import atc4_classes, claim_share
from pipelines.evaluation.config import EvaluateConfig
from pipelines.evaluation.results import ProtocolResult, Stopwatch, summarise
from recsys.metrics import set_ranking_metrics

__all__ = ["mixed_protocol", "TITLE", "DEPLOYED", "WITHOUT_GRAPH"]

TITLE = ("Doctor -> drug, drug cold start, mixed: every drug ranked for each prescriber, 20% of their other "
         "drugs also held out")
DEPLOYED = "hybrid (deployed for candidates=\"all\": doctor_all weights)"
WITHOUT_GRAPH = "hybrid without the graph (doctor weights)"


def mixed_protocol(graph: KnowledgeGraph, config: EvaluateConfig,
                   log: Callable[[str], None] = print) -> ProtocolResult:
    """The mixed drug cold-start protocol on ``graph`` (module doc)."""
    from pipelines.doctors import mixed_parts
    from recsys.blend import blend_components
    from recsys.cf import doctor_drug_interactions
    from recsys.cf.evaluate import mask_history
    from recsys.recommender.drugclasses import Combinations
    from pipelines.train import people_gnn_config
    from recsys.recommender.drugprofiles import DrugProfiles
    from recsys.recommender.people_graph import DoctorGraphRecipe

    k = config.k
    metrics = (f"recall@{k}", f"ndcg@{k}", "cold share of hits")
    result = ProtocolResult("doctor/cold_mixed", TITLE, metrics)
    claims = doctor_drug_interactions(graph)
    partners = Combinations.from_graph(graph).partners
    split = mixed_split(claims, partners, config.seed)
    if not len(split.users) or not split.cold:
        result.skipped = "no prescriber has a held-out drug and a kept one"
        return result
    log(f"  {len(split.cold)} cold drugs; {len(split.users):,} prescribers rank all {len(split.items)} drugs")
    clock = Stopwatch()
    train = config.train_config()
    # no prescribing in a profile; the people GNN is fitted on the split's training claims only
    recipe = DoctorGraphRecipe(graph, DrugProfiles.from_graph(graph, list(split.items)), people_gnn_config(train))
    (side, weights_all), seconds = clock.timed(lambda: _fit(split, recipe, partners, config, train))
    parts = mixed_parts(side.cf, side.popularity, side.graph, split)  # as doctor_all ranks
    parts_without = mixed_parts(side.cf, side.popularity, side.graph, split, neutral=False)  # as doctor ranks
    cold = np.zeros(len(split.items), dtype=bool)
    cold[split.items.get_indexer(split.cold)] = True
    classes = atc4_classes(graph, split.items)
    same_class = np.array([[bool(a & b) for b in classes] for a in classes], dtype=np.float64)
    parts["ATC class share"] = claim_share(sp.csr_matrix(split.history, dtype=np.float64), same_class)
    rows = {DEPLOYED: (weights_all[0], "hybrid", parts),
            "ATC class share of their claims": ({"ATC class share": 1.0}, "baseline", parts),
            WITHOUT_GRAPH: ({**side.weights, "graph": 0.0}, "ablation", parts_without),
            "graph component alone": ({"graph": 1.0}, "model", parts),
            "CF alone": ({"cf": 1.0}, "model", parts_without)}
    truth = split.truth > 0
    for name, (weights, role, blocks) in rows.items():
        scores = mask_history(blend_components(blocks, weights, False)[0], split.history)
        per_user = set_ranking_metrics(scores, truth, k=k)
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        hits = np.take_along_axis(truth.toarray(), top, axis=1)
        cold_hits = (hits & cold[top]).sum(axis=1)
        share = np.where(hits.sum(axis=1) > 0, cold_hits / np.maximum(hits.sum(axis=1), 1), np.nan)
        row = summarise(name, role, {f"recall@{k}": per_user["recall"], f"ndcg@{k}": per_user["ndcg"],
                                     "cold share of hits": share},
                        config.bootstrap, config.seed, seconds=seconds,
                        params={"weights": {c: round(w, 4) for c, w in weights.items()}})
        result.models.append(row)
        log(f"  {name:<48} " + "  ".join(f"{m} {row.means[m]:.3f}" for m in metrics))
    truth_cold = truth[:, np.flatnonzero(cold)]
    result.info = {"seed": config.seed, "cold_drugs": len(split.cold), "prescribed_drugs": len(split.items),
                   "evaluated_prescribers": int(len(split.users)), "held_out": int(truth.nnz),
                   "held_out_cold": int(truth_cold.nnz), "selection": weights_all[1]}
    return result


def _fit(split, recipe, partners, config: EvaluateConfig, train):
    """The doctor side and the ``doctor_all`` weights, fitted on the split's training claims only."""
    from pipelines.doctors import fit_doctors, fit_doctors_all

    side = fit_doctors(split.train, config.seed, train.cf_search == "quick", train.doctor_smoothing, config.k,
                       recipe=recipe, choose_sparse=False)  # no sparse prescriber here: their blend is unread
    return side, fit_doctors_all(split.train, recipe, partners, side.choice, config.seed, train.doctor_smoothing)
