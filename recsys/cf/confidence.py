"""Confidence transforms: from raw interaction strengths to how sure ALS is of a preference.

Claim counts are heavy-tailed (a prescriber's top drug can have thousands of claims,
the median 29), so fitting raw counts lets a few prescribers dominate. The transform
is a hyper-parameter chosen on validation; its statistics (BM25's item weights and
mean row length) are fitted on training data and stored with the model, so a folded-in
user is weighted exactly like a training one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from kg.errors import KGError

__all__ = ["ConfidenceTransform", "TRANSFORMS"]

TRANSFORMS = ("raw", "binary", "log1p", "bm25")


@dataclass
class ConfidenceTransform:
    """``raw`` | ``binary`` | ``log1p`` | ``bm25`` (Okapi weighting, users as documents).

    >>> import scipy.sparse as sp
    >>> ConfidenceTransform("log1p").fit(sp.csr_matrix([[0.0, 3.0]])).apply(sp.csr_matrix([[1.0, 0.0]])).toarray().round(3)
    array([[0.693, 0.   ]])
    """

    kind: str = "log1p"
    k1: float = 1.2
    b: float = 0.75
    idf: np.ndarray = field(default_factory=lambda: np.zeros(0))
    mean_length: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in TRANSFORMS:
            raise KGError(f"unknown confidence transform {self.kind!r}; choose from {list(TRANSFORMS)}")

    def fit(self, matrix: sp.csr_matrix) -> "ConfidenceTransform":
        if self.kind == "bm25":
            n_users = max(matrix.shape[0], 1)
            df = np.bincount(matrix.indices, minlength=matrix.shape[1]).astype(np.float64)
            # log1p keeps the weight of an item everybody uses positive instead of zero.
            self.idf = np.log1p(n_users / np.maximum(df, 1.0))
            lengths = np.asarray(matrix.sum(axis=1)).ravel()
            self.mean_length = float(lengths.mean()) if lengths.size and lengths.mean() > 0 else 1.0
        return self

    def apply(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        """The transformed copy of ``matrix`` (same sparsity pattern)."""
        out = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
        if self.kind == "binary":
            out.data[:] = 1.0
        elif self.kind == "log1p":
            out.data = np.log1p(out.data)
        elif self.kind == "bm25":
            if self.idf.shape[0] != out.shape[1]:
                raise KGError("the BM25 transform was fitted on another item space: refit it")
            lengths = np.asarray(out.sum(axis=1)).ravel()
            norm = self.k1 * (1.0 - self.b + self.b * lengths / self.mean_length)
            row_norm = np.repeat(norm, np.diff(out.indptr))
            out.data = out.data * (self.k1 + 1.0) / (out.data + row_norm) * self.idf[out.indices]
        return out

    def extend_items(self, n_new: int) -> None:
        """Make room for ``n_new`` new items (an incremental update); they get the rarest weight."""
        if self.kind == "bm25" and n_new:
            self.idf = np.concatenate([self.idf, np.full(n_new, self.idf.max() if self.idf.size else 1.0)])

    def state(self) -> dict[str, np.ndarray]:
        return {"kind": np.array(self.kind), "k1": np.array(self.k1), "b": np.array(self.b),
                "idf": self.idf, "mean_length": np.array(self.mean_length)}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> "ConfidenceTransform":
        return cls(str(state["kind"]), float(state["k1"]), float(state["b"]),
                   np.asarray(state["idf"], dtype=np.float64), float(state["mean_length"]))
