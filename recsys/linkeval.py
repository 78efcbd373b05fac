"""Filtered ranking evaluation of disease -> drug scores, per held-out disease.

For each held-out disease every drug is ranked; a held-out drug competes only with
drugs that are not known to treat the disease (train, validation and test
indications are filtered out, the standard *filtered* setting), and ties count at
their mean rank (:func:`recsys.metrics.ranks_with_ties`). Metrics are computed per
disease and then averaged over diseases (macro), so a disease with sixty known drugs
weighs as much as one with two. AUROC of a disease is the probability that a
held-out drug outscores a drug not known to treat it (ties count one half).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np

from recsys.linktask import LinkTask

__all__ = ["LinkMetrics", "PairScorer", "evaluate_scores", "evaluate_scorer", "per_disease_ranks"]

HITS_AT: tuple[int, ...] = (1, 10, 50)


class PairScorer(Protocol):
    def score_matrix(self, dst_index: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class LinkMetrics:
    """Macro-averaged filtered ranking metrics over held-out diseases."""

    mrr: float
    hits_at_1: float
    hits_at_10: float
    hits_at_50: float
    auroc: float
    diseases: int
    pairs: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def per_disease_ranks(scores: np.ndarray, dst_index: np.ndarray, task: LinkTask,
                      part: str) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Disease index -> (filtered ranks, AUROC contribution) of its held-out drugs.

    ``scores`` has one row per entry of ``dst_index`` and one column per drug.
    """
    held = task.pairs(part)
    known = task.known_pairs
    row_of = {int(d): i for i, d in enumerate(dst_index)}
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for disease in np.unique(held[:, 1]):
        row = scores[row_of[int(disease)]].astype(np.float64)
        positives = held[held[:, 1] == disease, 0]
        negatives = np.ones(len(row), dtype=bool)
        negatives[known[known[:, 1] == disease, 0]] = False
        negative_scores = np.sort(row[negatives])
        true = row[positives]
        higher = len(negative_scores) - np.searchsorted(negative_scores, true, side="right")
        ties = np.searchsorted(negative_scores, true, side="right") - np.searchsorted(negative_scores, true, side="left")
        ranks = 1.0 + higher + ties / 2.0
        auc = 1.0 - (higher + ties / 2.0) / max(len(negative_scores), 1)
        out[int(disease)] = (ranks, auc)
    return out


def evaluate_scores(scores: np.ndarray, dst_index: np.ndarray, task: LinkTask,
                    part: str = "test") -> LinkMetrics:
    """Metrics of a score matrix (rows: ``dst_index`` diseases, columns: all drugs)."""
    by_disease = per_disease_ranks(scores, dst_index, task, part)
    if not by_disease:
        nan = float("nan")
        return LinkMetrics(nan, nan, nan, nan, nan, 0, 0)

    def macro(fn) -> float:
        return float(np.mean([fn(r, a) for r, a in by_disease.values()]))

    return LinkMetrics(
        mrr=macro(lambda r, a: np.mean(1.0 / r)),
        hits_at_1=macro(lambda r, a: np.mean(r <= 1)),
        hits_at_10=macro(lambda r, a: np.mean(r <= 10)),
        hits_at_50=macro(lambda r, a: np.mean(r <= 50)),
        auroc=macro(lambda r, a: np.mean(a)),
        diseases=len(by_disease),
        pairs=int(sum(len(r) for r, _ in by_disease.values())),
    )


def evaluate_scorer(model: PairScorer, task: LinkTask, part: str = "test") -> LinkMetrics:
    """Score every held-out disease of ``part`` with ``model`` and evaluate."""
    dst_index = np.unique(task.pairs(part)[:, 1])
    return evaluate_scores(model.score_matrix(dst_index), dst_index, task, part)
