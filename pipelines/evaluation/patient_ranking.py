"""How the patient protocols rank and measure: one target matrix per part, the patient's own drugs
masked where only new drugs count, ties broken by popularity (:mod:`.patient`, :mod:`.patient_sparse`)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["Truth", "ranked", "per_patient"]


class Truth:
    """Evaluated patients, their target matrix (patients x drugs) and the drugs masked from their
    ranking (``history``, applied when ``masked``)."""

    def __init__(self, patients: list[str], matrix: sp.csr_matrix, history: np.ndarray, masked: bool) -> None:
        self.patients, self.matrix, self.history, self.masked = patients, matrix, history, masked


def ranked(scores: np.ndarray, truth: Truth, order: np.ndarray) -> np.ndarray:
    """Scores ready for ranking: unscorable drugs last, the history masked when ``truth.masked``,
    columns in popularity ``order`` so that ties go to the more popular drug."""
    scores = np.where(np.isfinite(scores), scores, -np.inf)
    if truth.masked:
        scores = np.where(truth.history, -np.inf, scores)
    return scores[:, order]


def per_patient(scores: np.ndarray, truth: Truth, order: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Recall@k, NDCG@k, Jaccard at the true set's size and reciprocal rank, one value per patient."""
    from recsys.metrics import jaccard_at_true_size, set_ranking_metrics

    top, relevant = ranked(scores, truth, order), truth.matrix[:, order]
    per = set_ranking_metrics(top, relevant, k=k)
    return {f"recall@{k}": per["recall"], f"ndcg@{k}": per["ndcg"],
            "jaccard": jaccard_at_true_size(top, relevant), "mrr": per["rr"]}
