"""Item-item recommenders: EASE (closed form) and RP3beta (random walks), strong on narrow catalogues.

Both learn an items x items matrix ``B`` and score a user as ``x @ B`` from the user's
(transformed) history row ``x``, so a new doctor or patient is scored exactly as a
known one is: fold-in needs no optimisation and no retraining.

- EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019):
  ``P = (X^T X + lambda I)^-1``, ``B = I - P / diag(P)`` (zero diagonal), the ridge
  regression of every item on all the others. On a few hundred drugs it is one small
  dense inverse, fitted in well under a second.
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

__all__ = ["EASERecommender", "RP3betaRecommender", "ITEM_ITEM_TRANSFORMS"]

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


class EASERecommender(_ItemItem):
    """EASE: closed-form ridge regression of each item on all others (zero diagonal).

    >>> import numpy as np
    >>> inter = Interactions.from_triples(["u1", "u1", "u2", "u2", "u3"], ["a", "b", "a", "b", "a"])
    >>> model = EASERecommender(regularization=1.0, transform="binary").fit(inter)
    >>> model.recommend_new([["a"]], k=1)[0].tolist()
    [['b']]
    """

    name = "ease"

    def __init__(self, regularization: float = 500.0, transform: str = "log1p") -> None:
        super().__init__(transform)
        if not regularization > 0:
            raise KGError(f"ease: regularization must be positive, got {regularization}")
        self.regularization = float(regularization)

    def config(self) -> dict[str, object]:
        return {"regularization": self.regularization, "transform": self.transform}

    def _learn(self, x: sp.csr_matrix) -> np.ndarray:
        gram = np.asarray((x.T @ x).toarray(), dtype=np.float64)
        gram[np.diag_indices_from(gram)] += self.regularization
        inverse = np.linalg.inv(gram)
        b = -inverse / np.diag(inverse)[None, :]
        b[np.diag_indices_from(b)] = 0.0
        return b


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
