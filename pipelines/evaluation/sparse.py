"""Doctor -> drug for sparse prescribers: new prescribers known from one to three drugs.

The unseen-prescriber protocol's test prescribers (held-out states: never in training) are cut
down to 1-3 of their drugs, drawn uniformly and seeded (:func:`recsys.cf.split.sparse_users`),
and every other drug of theirs is to be found. This is where collaborative filtering knows least
and the knowledge graph should help: the deployed hybrid ranks such prescribers with the
``doctor_sparse`` weights, chosen on validation prescribers cut down the same way
(:func:`pipelines.doctors.fit_doctors`). Rows: the table's models fitted on the protocol's training
part, the simple anchor (plain EASE with within-specialty popularity, its own sparse weights), the
graph component alone, the deployed hybrid, and two ablations: the ``doctor`` weights every other
prescriber gets (one blend for all) and the deployed blend without the graph.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from pipelines.doctors import DoctorFit, blended_scores, split_parts
from pipelines.evaluation.config import EvaluateConfig
from pipelines.evaluation.results import ProtocolResult, by_history, split_result
from recsys.blend import blend_components
from recsys.cf import CFRecommender, CFSplit
from recsys.cf.split import sparse_users
from recsys.recommender.doctor_side import SPARSE_DRUGS

__all__ = ["sparse_protocol", "TITLE"]

TITLE = (f"Doctor -> drug, sparse prescribers (new prescribers known from 1 to {SPARSE_DRUGS} drugs, "
         "every other drug of theirs to find)")
#: The table's models that are rows here too (the others add nothing the unseen table lacks).
TABLE_MODELS = ("group_popularity", "ease", "als")


def sparse_protocol(split: CFSplit, deployed: DoctorFit, anchor: DoctorFit, models: dict[str, CFRecommender],
                    labels: dict[str, str], config: EvaluateConfig,
                    log: Callable[[str], None] = print) -> ProtocolResult:
    """The protocol on ``split`` (an unseen-prescriber split): ``deployed`` and ``anchor`` fitted on
    its training part, ``models`` the table's models fitted there (``labels`` their row names)."""
    k = config.k
    metrics = (f"recall@{k}", f"ndcg@{k}", "mrr")
    result = ProtocolResult("doctor/sparse", TITLE, metrics)
    sparse = sparse_users(split, SPARSE_DRUGS, config.seed)
    if not sparse.test.nnz:
        result.skipped = "no prescriber has a drug to keep and one to find"
        return result
    from recsys.cf.evaluate import score_split

    def row(name: str, role: str, scores: np.ndarray, **extra) -> None:
        result.models.append(split_result(name, role, scores, sparse, config, **extra))
        log(f"  {name:<36} " + "  ".join(f"{m} {result.models[-1].means[m]:.3f}" for m in metrics))

    for name in TABLE_MODELS:
        if name in models:
            row(labels[name], "baseline" if name != "als" else "model", score_split(models[name], sparse))
    row("EASE + within-specialty popularity", "baseline", blended_scores(anchor, sparse, anchor.sparse_weights),
        params={"weights": _rounded(anchor.sparse_weights)})
    parts = split_parts(deployed.cf, deployed.popularity, sparse, deployed.graph)
    if "graph" in parts:
        row("graph component alone", "model", parts["graph"])
    weights = deployed.sparse_weights
    picked = (deployed.sparse_selection or {}).get("chosen", "default weights")
    row(f"hybrid (deployed: doctor_sparse weights, {picked})", "hybrid", blend_components(parts, weights, False)[0],
        params={"weights": _rounded(weights), "doctor_weights": _rounded(deployed.weights),
                "val_ndcg@10_of_candidates": _rounded((deployed.sparse_selection or {}).get("val_ndcg@10", {}))})
    same = []
    if weights != deployed.weights:
        row("hybrid with the doctor weights (one blend for all)", "ablation",
            blend_components(parts, deployed.weights, False)[0])
    else:
        same.append("with the doctor weights")
    if "graph" in parts and weights.get("graph", 0.0):
        row("hybrid without graph", "ablation", blend_components(parts, {**weights, "graph": 0.0}, False)[0])
    elif "graph" in parts:
        same.append("without graph")
    known = np.diff(sparse.history.matrix.indptr)
    result.info = {"seed": config.seed, "evaluated_prescribers": int(sparse.test.shape[0]),
                   "held_out_entries": int(sparse.test.nnz), "drugs_ranked": int(sparse.test.shape[1]),
                   "held_out_states": list(split.held_out_groups),
                   "known_drugs": {str(n): int((known == n).sum()) for n in range(1, SPARSE_DRUGS + 1)},
                   "chosen": picked, "ablations_equal_to_the_hybrid": same,
                   "by_history": by_history(result.models, known, (1, 2), f"recall@{k}")}
    return result


def _rounded(weights: dict[str, float]) -> dict[str, float]:
    return {name: round(float(w), 4) for name, w in weights.items()}
