"""The contract every disease -> drug model shares: fit on a task, score, recommend.

Implicit-style: ``fit`` returns the model, ``recommend(ids, k, exclude_seen=True)``
returns ``(ids, scores)`` arrays of shape (len(ids), k). Subclasses implement
:meth:`LinkScorer._fit` and :meth:`LinkScorer.score_matrix`.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from kg.errors import KGError
from kg.schema import EdgeType
from recsys.link.task import LinkTask

__all__ = ["LinkScorer"]


class LinkScorer:
    """Base of the degree prior, metapath model, shallow KGE models and GNNs."""

    name: str = "scorer"

    def __init__(self) -> None:
        self.task: LinkTask | None = None
        self.fit_seconds: float = float("nan")
        #: Set by ``fit`` (or a loaded bundle): what scoring and recommending need.
        self.relation: EdgeType | None = None
        self.id_maps: dict[str, list[str]] = {}
        self.seen_pairs: np.ndarray = np.empty((0, 2), dtype=np.int64)

    # --------------------------------------------------------------- contract
    def fit(self, task: LinkTask) -> "LinkScorer":
        """Train on ``task``'s training graph and pairs (validation only for early stopping)."""
        start = time.perf_counter()
        self.task = task
        self.relation, self.id_maps, self.seen_pairs = task.relation, task.id_maps, task.train_pairs
        self._fit(task)
        self.fit_seconds = time.perf_counter() - start
        return self

    def _fit(self, task: LinkTask) -> None:
        raise NotImplementedError

    def score_matrix(self, dst_index: np.ndarray) -> np.ndarray:
        """Scores of every drug (columns) for the diseases ``dst_index`` (rows); higher is better."""
        raise NotImplementedError

    def score(self, src_index: np.ndarray, dst_index: np.ndarray) -> np.ndarray:
        """Scores of index pairs ``(src_index[i], dst_index[i])``."""
        src_index = np.asarray(src_index, dtype=np.int64)
        dst_index = np.asarray(dst_index, dtype=np.int64)
        unique, rows = np.unique(dst_index, return_inverse=True)
        return self.score_matrix(unique)[rows, src_index]

    def recommend(self, dst_ids: list[str], k: int = 10,
                  exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` drug ids and scores for each disease id.

        ``exclude_seen`` leaves out drugs the training graph already links to the disease.
        """
        rel = self._fitted()
        if k <= 0:
            raise KGError(f"k must be positive, got {k}")
        positions = self._positions(rel.dst, dst_ids)
        scores = self.score_matrix(positions).astype(np.float64)
        if exclude_seen:
            seen = self.seen_pairs
            for row, disease in enumerate(positions):
                scores[row, seen[seen[:, 1] == disease, 0]] = -np.inf
        k = min(k, scores.shape[1])
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        drug_ids = np.asarray(self.id_maps[rel.src], dtype=object)
        return drug_ids[top], np.take_along_axis(scores, top, axis=1)

    def score_ids(self, src_ids: list[str], dst_ids: list[str]) -> np.ndarray:
        """Scores of ``(src_ids[i], dst_ids[i])`` pairs given by node id."""
        rel = self._fitted()
        if len(src_ids) != len(dst_ids):
            raise KGError(f"{len(src_ids)} {rel.src} ids but {len(dst_ids)} {rel.dst} ids")
        return self.score(self._positions(rel.src, src_ids), self._positions(rel.dst, dst_ids))

    def _positions(self, node_type: str, ids: list[str]) -> np.ndarray:
        positions = pd.Index(self.id_maps[node_type]).get_indexer(list(ids))
        unknown = [i for i, p in zip(ids, positions) if p < 0]
        if unknown:
            raise KGError(f"unknown {node_type} id(s) for {self.name}: {unknown[:5]}")
        return positions

    def _fitted(self) -> EdgeType:
        if self.relation is None:
            raise KGError(f"{self.name} is not fitted: call fit(task) or load a bundle first")
        return self.relation
