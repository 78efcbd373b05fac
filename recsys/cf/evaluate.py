"""Evaluate a CF model on a :class:`~recsys.cf.split.CFSplit`: Recall@k, NDCG@k, MRR with intervals.

Per-prescriber holdout scores training users by id; the unseen-user split folds each
evaluated user in from their history. Either way the history is masked out of the
ranking, and the intervals are a percentile bootstrap over evaluated users.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from kg.errors import KGError
from recsys.cf.base import CFRecommender
from recsys.cf.split import CFSplit
from recsys.metrics import bootstrap_interval, set_ranking_metrics

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = ["CFMetrics", "evaluate_cf", "score_split", "split_metrics", "mask_history"]

_NAMES = {"recall": "recall@{k}", "ndcg": "ndcg@{k}", "rr": "mrr"}


@dataclass
class CFMetrics:
    """Means over evaluated users with 95% bootstrap intervals; per-user values kept for breakdowns."""

    model: str
    mode: str
    k: int
    users: int
    means: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    per_user: dict[str, np.ndarray] = field(repr=False, default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"model": self.model, "mode": self.mode, "k": self.k, "users": self.users,
                **{name: round(value, 4) for name, value in self.means.items()},
                **{f"{name}_ci": [round(lo, 4), round(hi, 4)] for name, (lo, hi) in self.intervals.items()}}

    def line(self) -> str:
        return "  ".join(f"{name} {self.means[name]:.3f} [{lo:.3f}, {hi:.3f}]"
                         for name, (lo, hi) in self.intervals.items())


def score_split(model: CFRecommender, split: CFSplit, chunk: int = 4096) -> np.ndarray:
    """Scores (evaluated users x items) of ``split``'s evaluated users, history masked to ``-inf``.

    A CF split has one evaluation part; validation is a split of its ``train``.
    """
    history = split.history
    if model.train is None or not np.array_equal(model.train.item_ids, history.item_ids):
        raise KGError(f"{model.name} was not fitted on this split's item space")
    out = np.empty(history.shape, dtype=np.float64)
    for start in range(0, history.shape[0], chunk):
        rows = slice(start, min(start + chunk, history.shape[0]))
        if split.mode == "holdout":
            out[rows] = model.score_users(list(history.user_ids[rows]))
        else:
            out[rows] = model.score_rows(history.matrix[rows], history.user_attributes.iloc[rows])
    return mask_history(out, history.matrix)


def mask_history(scores: np.ndarray, seen: sp.csr_matrix) -> np.ndarray:
    """``scores`` with every entry of ``seen`` (the users' history) set to ``-inf``, in place."""
    scores[np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr)), seen.indices] = -np.inf
    return scores


def split_metrics(scores: np.ndarray, split: CFSplit, k: int = 10) -> dict[str, np.ndarray]:
    """Per evaluated user, Recall@k, NDCG@k and MRR of ``scores`` (history masked) on the test part."""
    scores = mask_history(np.array(scores, dtype=np.float64), split.history.matrix)
    per_user = set_ranking_metrics(scores, split.test.matrix > 0, k=k)
    return {_NAMES[key].format(k=k): values for key, values in per_user.items()}


def evaluate_cf(model: CFRecommender, split: CFSplit, k: int = 10, n_resamples: int = 1000,
                seed: int = 0) -> CFMetrics:
    """Recall@k, NDCG@k and MRR of ``model`` on ``split``'s held-out items.

    ``n_resamples=0`` skips the bootstrap (means only, e.g. inside a search).

    >>> evaluate_cf(ALSRecommender().fit(split.train), split).line()  # doctest: +SKIP
    'recall@10 0.631 [0.626, 0.636]  ndcg@10 ...'
    """
    named = split_metrics(score_split(model, split), split, k)
    return CFMetrics(model=model.name, mode=split.mode, k=k, users=split.test.shape[0],
                     means={name: float(values.mean()) for name, values in named.items()},
                     intervals={name: bootstrap_interval(values, n_resamples, seed=seed)
                                for name, values in named.items()} if n_resamples else {},
                     per_user=named)
