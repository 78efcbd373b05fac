"""Rank-based metrics with realistic tie handling.

A true item tied with others gets the mean of the ranks the tie spans (the
"realistic" rank of PyKEEN), so a model that scores everything equal gets the
rank of a random guess, not the best rank.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ranks_with_ties", "mean_reciprocal_rank", "hits_at_k"]


def ranks_with_ties(scores: np.ndarray, true_index: np.ndarray) -> np.ndarray:
    """1-based realistic rank of ``scores[i, true_index[i]]`` within row ``i``.

    Shapes: ``scores`` (n, m), ``true_index`` (n,) -> (n,) float.

    >>> ranks_with_ties(np.array([[0.1, 0.9, 0.9]]), np.array([1]))
    array([1.5])
    """
    scores = np.asarray(scores, dtype=float)
    true_index = np.asarray(true_index)
    true = scores[np.arange(len(scores)), true_index][:, None]
    higher = (scores > true).sum(axis=1)
    equal = (scores == true).sum(axis=1)  # includes the true item itself
    return higher + (equal + 1) / 2.0


def mean_reciprocal_rank(ranks: np.ndarray) -> float:
    ranks = np.asarray(ranks, dtype=float)
    return float(np.mean(1.0 / ranks)) if len(ranks) else float("nan")


def hits_at_k(ranks: np.ndarray, k: int) -> float:
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    ranks = np.asarray(ranks, dtype=float)
    return float(np.mean(ranks <= k)) if len(ranks) else float("nan")
