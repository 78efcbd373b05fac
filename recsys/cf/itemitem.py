"""Item-item recommenders: a user is scored as ``transform(history) @ B`` for a learned items x items ``B``.

So a new doctor or patient is scored exactly as a known one is: fold-in needs no optimisation
and no retraining. EASE (closed form, :mod:`recsys.cf.ease`) and RP3beta (random walks, here)
are strong on narrow catalogues.

- RP3beta (Paudel et al., "Updatable, accurate, diverse, and scalable recommendations for
  interactive applications", TiiS 2017): the three-step random walk item -> user -> item
  with transition probabilities raised to ``alpha``, each destination divided by its
  popularity to the power ``beta`` (a popular drug reached from everywhere counts less).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kg.errors import KGError
from recsys.cf.base import CFRecommender
from recsys.cf.confidence import ConfidenceTransform
from recsys.cf.interactions import Interactions

__all__ = ["RP3betaRecommender", "ITEM_ITEM_TRANSFORMS"]

#: Transforms that need no statistics of the training matrix, so a history row is
#: transformed the same way at fit and at fold-in.
ITEM_ITEM_TRANSFORMS = ("binary", "log1p", "raw")


class _ItemItem(CFRecommender):
    """Scores ``transform(history) @ B`` for an item-item matrix ``B`` the subclass learns."""

    def __init__(self, transform: str) -> None:
        super().__init__()
        if transform not in ITEM_ITEM_TRANSFORMS:
            raise KGError(f"{self.name}: transform must be one of {list(ITEM_ITEM_TRANSFORMS)}, got {transform!r}")
        self.transform = transform
        self.item_matrix = np.zeros((0, 0))

    def _inputs(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        return ConfidenceTransform(self.transform).apply(matrix)

    def _fit(self, interactions: Interactions) -> None:
        self.item_matrix = self._learn(self._inputs(interactions.matrix))

    def _learn(self, x: sp.csr_matrix) -> np.ndarray:
        raise NotImplementedError

    def _known_scores(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self._inputs(self.train.matrix[rows]) @ self.item_matrix)

    def _new_scores(self, rows: sp.csr_matrix, attributes: pd.DataFrame) -> np.ndarray:
        return np.asarray(self._inputs(rows) @ self.item_matrix)

    def _update(self, merged: Interactions, *_: object) -> None:
        self._fit(merged)  # a refit is one small dense solve

    def score_terms(self, user_id: str, item_id: str) -> dict[str, object]:
        """A known user's score of ``item_id`` split into the terms it sums: each of the user's
        own items (input x item-item weight), largest first, and what the user's attributes add.
        ``score`` is their sum, exactly what :meth:`score_users` gives."""
        train = self._fitted()
        row = train.user_index([user_id])
        column = int(train.item_index([item_id])[0])
        inputs = self._inputs(train.matrix[row])
        values = inputs.data * self.item_matrix[inputs.indices, column]
        order = np.argsort(-values, kind="stable")
        attributes = self._attribute_term(row, column)
        return {"score": float(values.sum() + attributes),
                "own_items": [(str(train.item_ids[inputs.indices[i]]), float(values[i])) for i in order],
                "attributes": attributes, "attribute_names": []}

    def _attribute_term(self, rows: np.ndarray, column: int) -> float:
        return 0.0  # no side information

    def _item_similarities(self, queries: np.ndarray) -> np.ndarray:
        """Cosine of the learned item columns: items the model treats alike."""
        columns = self.item_matrix.T
        norms = np.linalg.norm(columns, axis=1)
        sims = columns[queries] @ columns.T
        return sims / np.maximum(norms[queries, None] * norms[None, :], 1e-12)

    def _state(self) -> dict[str, np.ndarray]:
        return {"item_matrix": self.item_matrix}

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        self.item_matrix = np.asarray(state["item_matrix"], dtype=np.float64)


class RP3betaRecommender(_ItemItem):
    """RP3beta: item -> user -> item walk probabilities ** ``alpha`` over popularity ** ``beta``."""

    name = "rp3beta"

    def __init__(self, alpha: float = 1.0, beta: float = 0.5, transform: str = "binary") -> None:
        super().__init__(transform)
        if alpha <= 0 or beta < 0:
            raise KGError(f"rp3beta: alpha must be positive and beta non-negative, got {alpha}, {beta}")
        self.alpha, self.beta = float(alpha), float(beta)

    def config(self) -> dict[str, object]:
        return {"alpha": self.alpha, "beta": self.beta, "transform": self.transform}

    def _learn(self, x: sp.csr_matrix) -> np.ndarray:
        user_to_item = _row_normalised(x).power(self.alpha)
        item_to_user = _row_normalised(x.T.tocsr()).power(self.alpha)
        walk = np.asarray((item_to_user @ user_to_item).toarray(), dtype=np.float64)
        popularity = np.asarray((x > 0).sum(axis=0)).ravel().astype(np.float64)
        walk /= np.power(np.maximum(popularity, 1.0), self.beta)[None, :]
        walk[np.diag_indices_from(walk)] = 0.0
        return walk


def _row_normalised(matrix: sp.csr_matrix) -> sp.csr_matrix:
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    return sp.csr_matrix(sp.diags(1.0 / np.maximum(sums, 1e-12)) @ matrix)
