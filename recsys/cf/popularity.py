"""Popularity baselines under the CF contract: global, and within a user group (specialty).

On prescribing data these are strong: what a cardiologist prescribes next is mostly
what cardiologists prescribe. Within-group popularity backs off to global popularity
(``smoothing``) so small specialties still get a full ranking; the weight is a
hyper-parameter tuned on validation like any model's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kg.errors import KGError
from recsys.cf.base import CFRecommender
from recsys.cf.interactions import Interactions

__all__ = ["PopularityRecommender", "GroupPopularityRecommender"]


def _user_share(matrix: sp.csr_matrix) -> np.ndarray:
    """Share of users who have each item."""
    counts = np.bincount(matrix.indices, minlength=matrix.shape[1]).astype(np.float64)
    return counts / max(matrix.shape[0], 1)


class PopularityRecommender(CFRecommender):
    """Every user gets the items most users have (share of training users per item)."""

    name = "popularity"

    def __init__(self) -> None:
        super().__init__()
        self.item_share = np.zeros(0)

    def config(self) -> dict[str, object]:
        return {}

    def _fit(self, interactions: Interactions) -> None:
        self.item_share = _user_share(interactions.matrix)

    def _known_scores(self, rows: np.ndarray) -> np.ndarray:
        return np.tile(self.item_share, (len(rows), 1))

    def _new_scores(self, rows: sp.csr_matrix, attributes: pd.DataFrame) -> np.ndarray:
        return np.tile(self.item_share, (rows.shape[0], 1))

    def _update(self, merged: Interactions, *_: object) -> None:
        self._fit(merged)  # counting is cheaper than any incremental bookkeeping

    def _state(self) -> dict[str, np.ndarray]:
        return {"item_share": self.item_share}

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        self.item_share = np.asarray(state["item_share"], dtype=np.float64)


class GroupPopularityRecommender(CFRecommender):
    """Items most used within the user's group (``by``, e.g. specialty), backed off to global.

    Score = share of the group's users with the item + ``smoothing`` x global share. A
    user without a group, or of a group unseen in training, gets global popularity.
    New users pass their group through ``attributes=[{"specialty": ...}]``.
    """

    name = "group_popularity"

    def __init__(self, by: str = "specialty", smoothing: float = 0.1) -> None:
        super().__init__()
        if smoothing < 0:
            raise KGError(f"smoothing must be non-negative, got {smoothing}")
        self.by, self.smoothing = by, smoothing
        self.groups = np.zeros(0, dtype=object)
        self.group_share = np.zeros((0, 0))
        self.global_share = np.zeros(0)
        #: Each training user's group, read on every call (extracting the column is slow);
        #: set wherever ``train`` is: fit, update (which refits) and load.
        self.user_groups = np.zeros(0, dtype=object)

    def config(self) -> dict[str, object]:
        return {"by": self.by, "smoothing": self.smoothing}

    def _fit(self, interactions: Interactions) -> None:
        values = interactions.attribute(self.by)
        self.user_groups = values
        present = values != None  # noqa: E711 (elementwise on an object array)
        self.groups = np.array(sorted(set(values[present])), dtype=object)
        index = pd.Index(self.groups).get_indexer(values)
        binary = (interactions.matrix > 0).astype(np.float64)
        membership = sp.csr_matrix((np.ones(int(present.sum())), (index[present], np.flatnonzero(present))),
                                   shape=(len(self.groups), interactions.shape[0]))
        counts = (membership @ binary).toarray()
        sizes = np.asarray(membership.sum(axis=1)).ravel()
        self.group_share = counts / np.maximum(sizes, 1.0)[:, None]
        self.global_share = _user_share(interactions.matrix)

    def _scores_for_groups(self, values: np.ndarray) -> np.ndarray:
        index = pd.Index(self.groups).get_indexer(pd.Series(values, dtype=object).to_numpy())
        # The last row of the table is global popularity, for users of no known group.
        table = np.vstack([self.group_share.reshape(-1, len(self.global_share)), self.global_share])
        within = table[np.where(index >= 0, index, len(table) - 1)]
        return within + self.smoothing * self.global_share[None, :]

    def _known_scores(self, rows: np.ndarray) -> np.ndarray:
        return self._scores_for_groups(self.user_groups[rows])

    def _new_scores(self, rows: sp.csr_matrix, attributes: pd.DataFrame) -> np.ndarray:
        values = (attributes[self.by].to_numpy(dtype=object) if self.by in attributes.columns
                  else np.full(rows.shape[0], None, dtype=object))
        return self._scores_for_groups(values)

    def _update(self, merged: Interactions, *_: object) -> None:
        self._fit(merged)

    def _state(self) -> dict[str, np.ndarray]:
        return {"groups": np.asarray(self.groups, dtype=str), "group_share": self.group_share,
                "global_share": self.global_share}

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        self.groups = state["groups"].astype(object)
        self.group_share = np.asarray(state["group_share"], dtype=np.float64)
        self.global_share = np.asarray(state["global_share"], dtype=np.float64)
        self.user_groups = self.train.attribute(self.by)
