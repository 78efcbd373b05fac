"""Rank-based metrics with realistic tie handling.

A true item tied with others gets the mean of the ranks the tie spans (the
"realistic" rank of PyKEEN), so a model that scores everything equal gets the
rank of a random guess, not the best rank.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = ["ranks_with_ties", "mean_reciprocal_rank", "hits_at_k", "set_ranking_metrics", "top_columns",
           "average_precision",
           "jaccard_at_true_size", "bootstrap_interval", "filtered_reciprocal_ranks", "entity_ndcg"]


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


def filtered_reciprocal_ranks(scores: np.ndarray, positives: np.ndarray,
                              usable: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Row and filtered reciprocal rank of every positive, in ``np.nonzero(positives)`` order.

    Each positive is ranked among the usable non-positive entries of its row (the other
    positives do not count), ties at the mean rank; NaN entries are ignored as negatives.
    One sort per row and a binary search per positive: validation is scored many times
    when weights are searched.

    >>> filtered_reciprocal_ranks(np.array([[0.9, 0.5, 0.5, 0.1]]), np.array([[False, True, False, False]]))
    (array([0]), array([0.4]))
    """
    scores = np.asarray(scores, dtype=np.float64)
    positives = np.asarray(positives, dtype=bool)
    usable = np.ones_like(positives) if usable is None else np.asarray(usable, dtype=bool)
    negatives = usable & ~positives & ~np.isnan(scores)
    rows, cols = np.nonzero(positives)
    reciprocal = np.empty(len(rows))
    if not len(rows):
        return rows, reciprocal
    counts = negatives.sum(axis=1)
    ordered = np.sort(np.where(negatives, scores, np.nan), axis=1)  # each row's negatives first, ascending
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    for start, end in zip(starts, np.r_[starts[1:], len(rows)]):
        row = rows[start]
        others, mine = ordered[row, :counts[row]], scores[row, cols[start:end]]
        below, above = np.searchsorted(others, mine, "left"), np.searchsorted(others, mine, "right")
        reciprocal[start:end] = 1.0 / (1.0 + (counts[row] - above) + 0.5 * (above - below))
    return rows, reciprocal


def entity_ndcg(scores: np.ndarray, positives: np.ndarray, usable: np.ndarray | None = None,
                k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Row and NDCG@``k`` of every row with a positive, in row order: each row's usable entries
    ranked (positives among them; NaN scores last), binary gains, ties towards the lower column.
    The per-entity counterpart of :func:`filtered_reciprocal_ranks`, for the same callers: it
    weighs every entity once, where the reciprocal ranks weigh every positive once.

    >>> entity_ndcg(np.array([[0.9, 0.5, 0.1]]), np.array([[False, True, False]]), k=2)
    (array([0]), array([0.63092975]))
    """
    import scipy.sparse as sp

    positives = np.asarray(positives, dtype=bool)
    usable = np.ones_like(positives) if usable is None else np.asarray(usable, dtype=bool)
    rows = np.flatnonzero(positives.any(axis=1))
    if not len(rows):
        return rows, np.empty(0)
    block = np.asarray(scores, dtype=np.float64)[rows]
    block = np.where(usable[rows] & ~np.isnan(block), block, -np.inf)
    return rows, set_ranking_metrics(block, sp.csr_matrix(positives[rows]), k)["ndcg"]


def mean_reciprocal_rank(ranks: np.ndarray) -> float:
    ranks = np.asarray(ranks, dtype=float)
    return float(np.mean(1.0 / ranks)) if len(ranks) else float("nan")


def hits_at_k(ranks: np.ndarray, k: int) -> float:
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    ranks = np.asarray(ranks, dtype=float)
    return float(np.mean(ranks <= k)) if len(ranks) else float("nan")


def set_ranking_metrics(scores: np.ndarray, relevant: "sp.csr_matrix", k: int = 10) -> dict[str, np.ndarray]:
    """Per-row Recall@k, NDCG@k and reciprocal rank of held-out item sets.

    ``scores`` (n, m) ranks the m items of each row (items a user already has should be
    ``-inf``); ``relevant`` (n, m) marks each row's held-out items (at least one per
    row). Recall@k is hits / |relevant|; NDCG@k uses binary gains and the ideal DCG of
    min(|relevant|, k) hits; the reciprocal rank is that of the first relevant item in
    the full ranking. Ties break towards the lower column, as in recommendations.

    >>> import scipy.sparse as sp
    >>> m = set_ranking_metrics(np.array([[0.9, 0.5, 0.1]]), sp.csr_matrix([[0, 0, 1]]), k=2)
    >>> float(m["recall"][0]), float(m["rr"][0])
    (0.0, 0.3333333333333333)
    """
    import scipy.sparse as sp

    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    scores = np.asarray(scores, dtype=np.float64)
    relevant = sp.csr_matrix(relevant)
    if relevant.shape != scores.shape:
        raise ValueError(f"scores {scores.shape} and relevant {relevant.shape} differ in shape")
    truth = relevant.toarray() > 0
    n_true = truth.sum(axis=1)
    if (n_true == 0).any():
        raise ValueError("every row needs at least one relevant item")
    if np.isnan(scores).any():  # NaN ranks last: whole rows are sorted
        hits = np.take_along_axis(truth, _ranking(scores), axis=1)
        top, first = hits[:, :k], hits.argmax(axis=1)
    else:
        top, first = np.take_along_axis(truth, _top_columns(scores, k), axis=1), _first_relevant_rank(scores, truth)
    discount = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
    ideal = np.cumsum(discount)[np.minimum(n_true, top.shape[1]) - 1]
    return {"recall": top.sum(axis=1) / n_true,
            "ndcg": (top * discount).sum(axis=1) / ideal,
            "rr": 1.0 / (first + 1.0)}


def top_columns(scores: np.ndarray, k: int) -> np.ndarray:
    """Each row's first ``min(k, m)`` columns of ``scores`` (n, m) by descending score, ties
    towards the lower column, NaN last: the order of every ranked list rxkg shows or scores.

    >>> top_columns(np.array([[0.5, 0.9, 0.5, 0.5]]), 2).tolist()
    [[1, 0]]
    """
    scores = np.asarray(scores, dtype=np.float64)
    if k <= 0:
        return np.zeros((scores.shape[0], 0), dtype=np.int64)
    return _ranking(scores)[:, :k] if np.isnan(scores).any() else _top_columns(scores, k)


def _top_columns(scores: np.ndarray, k: int) -> np.ndarray:
    """:func:`top_columns` of scores without NaN.

    Validation scores every blend it tries this way (a thousand times in ``rxkg train``), so only
    the top ``k`` are ordered: a partition finds them, and a row whose ``k``-th score is tied with
    a score left out (which of the tied columns a partition keeps is arbitrary) is sorted whole.
    """
    if k >= scores.shape[1]:
        return _ranking(scores)
    descending = -scores
    picked = np.argpartition(descending, k - 1, axis=1)[:, :k]
    values = np.take_along_axis(descending, picked, axis=1)
    order = np.take_along_axis(picked, np.lexsort((picked, values), axis=1), axis=1)
    tied = np.flatnonzero((descending <= values.max(axis=1, keepdims=True)).sum(axis=1) > k)
    if len(tied):
        order[tied] = _ranking(scores[tied])[:, :k]
    return order


def _first_relevant_rank(scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Each row's 0-based rank of its best-placed relevant column in the whole ranking (descending
    score, ties towards the lower column; no NaN): how many columns precede it."""
    best = np.where(truth, scores, -np.inf).max(axis=1, keepdims=True)
    first = (truth & (scores == best)).argmax(axis=1)[:, None]
    before = np.arange(scores.shape[1])[None, :] < first
    return (scores > best).sum(axis=1) + ((scores == best) & before).sum(axis=1)


def _ranking(scores: np.ndarray) -> np.ndarray:
    """Each row's columns by descending score, ties towards the lower column, NaN last."""
    return np.lexsort((np.broadcast_to(np.arange(scores.shape[1]), scores.shape), -scores), axis=1)


def average_precision(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the precision-recall curve of one ranked list (average precision).

    Tied scores form one threshold, as in scikit-learn: the sum over distinct
    thresholds t, highest first, of (recall(t) - recall(previous t)) * precision(t),
    where precision and recall count every item scoring >= t.

    >>> average_precision(np.array([0.9, 0.8, 0.1]), np.array([True, False, True]))
    0.8333333333333333
    """
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    if scores.shape != positive.shape or scores.ndim != 1:
        raise ValueError(f"scores {scores.shape} and positive {positive.shape} must be equal 1-d shapes")
    if not positive.any():
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], positive[order]
    # The last position of each run of equal scores closes a threshold (-inf == -inf is a tie).
    last = np.flatnonzero(np.r_[ranked[1:] != ranked[:-1], True])
    true_pos = np.cumsum(hits)[last]
    precision = true_pos / (last + 1.0)
    recall = true_pos / true_pos[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def jaccard_at_true_size(scores: np.ndarray, relevant: "sp.csr_matrix") -> np.ndarray:
    """Per row, the Jaccard index of the top-|relevant| items and the relevant set.

    ``k`` is each row's own number of relevant items, so a perfect ranking scores 1
    whatever the set size. Ties break towards the lower column.

    >>> import scipy.sparse as sp
    >>> jaccard_at_true_size(np.array([[0.9, 0.5, 0.1]]), sp.csr_matrix([[1, 0, 1]])).tolist()
    [0.3333333333333333]
    """
    import scipy.sparse as sp

    scores = np.asarray(scores, dtype=np.float64)
    truth = sp.csr_matrix(relevant).toarray() > 0
    if truth.shape != scores.shape:
        raise ValueError(f"scores {scores.shape} and relevant {truth.shape} differ in shape")
    n_true = truth.sum(axis=1)
    if (n_true == 0).any():
        raise ValueError("every row needs at least one relevant item")
    order = np.lexsort((np.broadcast_to(np.arange(scores.shape[1]), scores.shape), -scores), axis=1)
    hits = np.take_along_axis(truth, order, axis=1)
    inside = np.cumsum(hits, axis=1)[np.arange(len(scores)), n_true - 1]
    return inside / (2.0 * n_true - inside)


def bootstrap_interval(values: np.ndarray, n_resamples: int = 1000, level: float = 0.95,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (resampling rows).

    >>> lo, hi = bootstrap_interval(np.arange(100.0), seed=0)
    >>> lo < 49.5 < hi
    True
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    for start in range(0, n_resamples, 100):  # chunks keep memory flat for large samples
        stop = min(start + 100, n_resamples)
        picks = rng.integers(0, values.size, size=(stop - start, values.size))
        means[start:stop] = values[picks].mean(axis=1)
    tail = (1.0 - level) / 2.0
    return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))
