"""Filtered ranking evaluation of disease -> drug scores, per held-out disease.

For each held-out disease every drug is ranked; a held-out drug competes only with
drugs that are not known to treat the disease (train, validation and test
indications are filtered out, the standard *filtered* setting), and ties count at
their mean rank (:func:`recsys.metrics.ranks_with_ties`). Metrics are computed per
disease and then averaged over diseases (macro), so a disease with sixty known drugs
weighs as much as one with two. AUROC of a disease is the probability that a
held-out drug outscores a drug not known to treat it (ties count one half); its AUPRC
is the average precision of the held-out drugs among those drugs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np

from recsys.link.task import LinkTask
from recsys.metrics import average_precision

__all__ = ["LinkMetrics", "DiseaseRanking", "PairScorer", "evaluate_scores", "evaluate_scorer",
           "per_disease_ranks", "per_disease_metrics", "ranking_metrics", "hard_negative_rates"]

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
    auprc: float
    diseases: int
    pairs: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass(frozen=True)
class DiseaseRanking:
    """One held-out disease: filtered ranks of its held-out drugs, AUROC and average precision."""

    ranks: np.ndarray
    auroc: float
    auprc: float


def per_disease_ranks(scores: np.ndarray, dst_index: np.ndarray, task: LinkTask,
                      part: str) -> dict[int, DiseaseRanking]:
    """Disease index -> its :class:`DiseaseRanking` over the held-out pairs of ``part``.

    ``scores`` has one row per entry of ``dst_index`` and one column per drug. The
    average precision ranks the held-out drugs together with every drug not known to
    treat the disease.
    """
    held = task.pairs(part)
    known = task.known_pairs
    row_of = {int(d): i for i, d in enumerate(dst_index)}
    out: dict[int, DiseaseRanking] = {}
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
        candidates = negatives.copy()
        candidates[positives] = True
        is_positive = np.zeros(len(row), dtype=bool)
        is_positive[positives] = True
        out[int(disease)] = DiseaseRanking(ranks, float(np.mean(auc)),
                                           average_precision(row[candidates], is_positive[candidates]))
    return out


def per_disease_metrics(scores: np.ndarray, dst_index: np.ndarray, task: LinkTask,
                        part: str = "test") -> dict[str, np.ndarray]:
    """Each metric per held-out disease (arrays aligned with ``out["disease"]``), for
    macro means, bootstrap intervals over diseases and rank distributions."""
    return ranking_metrics(per_disease_ranks(scores, dst_index, task, part))


def ranking_metrics(by_disease: dict[int, DiseaseRanking]) -> dict[str, np.ndarray]:
    """:func:`per_disease_metrics` from rankings already computed (``per_disease_ranks``)."""
    rankings = list(by_disease.values())
    out = {"disease": np.fromiter(by_disease, dtype=np.int64, count=len(by_disease)),
           "mrr": np.array([np.mean(1.0 / r.ranks) for r in rankings])}
    for k in HITS_AT:
        out[f"hits_at_{k}"] = np.array([np.mean(r.ranks <= k) for r in rankings])
    out["auroc"] = np.array([r.auroc for r in rankings])
    out["auprc"] = np.array([r.auprc for r in rankings])
    return out


def evaluate_scores(scores: np.ndarray, dst_index: np.ndarray, task: LinkTask,
                    part: str = "test") -> LinkMetrics:
    """Metrics of a score matrix (rows: ``dst_index`` diseases, columns: all drugs)."""
    by_disease = per_disease_metrics(scores, dst_index, task, part)
    n = len(by_disease["disease"])
    if not n:
        nan = float("nan")
        return LinkMetrics(nan, nan, nan, nan, nan, nan, 0, 0)
    means = {name: float(values.mean()) for name, values in by_disease.items() if name != "disease"}
    return LinkMetrics(**means, diseases=n, pairs=int(len(task.pairs(part))))


def evaluate_scorer(model: PairScorer, task: LinkTask, part: str = "test") -> LinkMetrics:
    """Score every held-out disease of ``part`` with ``model`` and evaluate."""
    dst_index = np.unique(task.pairs(part)[:, 1])
    return evaluate_scores(model.score_matrix(dst_index), dst_index, task, part)


def hard_negative_rates(scores: np.ndarray, dst_index: np.ndarray, task: LinkTask, hard_pairs: np.ndarray,
                        part: str = "test") -> dict[int, float]:
    """Per held-out disease with curated non-indications: how often one outscores a held-out drug.

    ``hard_pairs`` (n, 2) are (drug, disease) index pairs curated as *not* indicated
    (PharmacotherapyDB's non-indications). For each disease of ``part`` that has both,
    the share of (held-out drug, non-indication) pairs in which the non-indication
    scores higher, ties counting one half. A known indication is never a hard negative.
    """
    held = task.pairs(part)
    known = {(int(s), int(d)) for s, d in task.known_pairs}
    row_of = {int(d): i for i, d in enumerate(dst_index)}
    out: dict[int, float] = {}
    for disease in np.unique(held[:, 1]):
        negatives = [int(s) for s, d in hard_pairs if d == disease and (int(s), int(d)) not in known]
        if not negatives or int(disease) not in row_of:
            continue
        row = scores[row_of[int(disease)]]
        true = row[held[held[:, 1] == disease, 0]][:, None]
        hard = row[np.asarray(negatives)][None, :]
        out[int(disease)] = float(np.mean((hard > true) + 0.5 * (hard == true)))
    return out
