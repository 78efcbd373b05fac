"""Per-relation sparse adjacency of a graph, with reverse relations: the models' view.

Each schema relation gives one *metaedge* per direction it can be walked:
``(drug, treats, disease)`` and its reverse ``(disease, rev_treats, drug)``; a
symmetric relation is one metaedge whose matrix holds both orientations. Matrices
are SciPy CSR with rows indexing the metaedge's source type in ``id_maps`` order
and a 1 per distinct pair (parallel edges and weights are not counted here: the
models read structure; weighted views belong to the CF models).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kg.graph import KnowledgeGraph
from kg.schema import SCHEMA, EdgeType

__all__ = ["MetaEdge", "relation_matrices", "positions", "REVERSE_PREFIX"]

REVERSE_PREFIX = "rev_"


class MetaEdge(NamedTuple):
    """One walkable direction of a relation; also a PyG edge type."""

    src: str
    rel: str
    dst: str

    @property
    def base(self) -> EdgeType:
        """The schema relation this metaedge walks."""
        return EdgeType(*(self.reverse() if self.is_reverse else self))

    @property
    def is_reverse(self) -> bool:
        return self.rel.startswith(REVERSE_PREFIX)

    def reverse(self) -> "MetaEdge":
        """The same relation walked the other way (``treats`` <-> ``rev_treats``)."""
        if self.is_reverse:
            return MetaEdge(self.dst, self.rel[len(REVERSE_PREFIX):], self.src)
        return MetaEdge(self.dst, REVERSE_PREFIX + self.rel, self.src)

    @property
    def abbreviation(self) -> str:
        return f"{self.src}-{self.rel}-{self.dst}"


def relation_matrices(graph: KnowledgeGraph, id_maps: dict[str, list[str]],
                      exclude: set[EdgeType] | None = None) -> dict[MetaEdge, sp.csr_matrix]:
    """Binary CSR adjacency for every metaedge of the graph's relations.

    ``exclude`` names relations left out entirely (for example the target relation
    when a model must not walk it); relations the schema marks as not learned (curated
    contraindications) are always left out.
    """
    indexes = {t: pd.Index(ids) for t, ids in id_maps.items()}
    matrices: dict[MetaEdge, sp.csr_matrix] = {}
    for et, frame in graph.edges.items():
        if (exclude and et in exclude) or (et in SCHEMA.relations and not SCHEMA.relations[et].learned):
            continue
        if frame.empty or et.src not in indexes or et.dst not in indexes:
            continue
        rows = positions(indexes[et.src], frame["src"])
        cols = positions(indexes[et.dst], frame["dst"])
        shape = (len(indexes[et.src]), len(indexes[et.dst]))
        forward = _binary(rows, cols, shape)
        if SCHEMA.relations[et].symmetric:
            matrices[MetaEdge(*et)] = _binarise(forward + forward.T)
        else:
            matrices[MetaEdge(*et)] = forward
            matrices[MetaEdge(*et).reverse()] = forward.T.tocsr()
    return matrices


def positions(index: pd.Index, ids: pd.Series) -> np.ndarray:
    """Position of each id in ``index`` (-1 if absent). Edge endpoints are stored categorical:
    looking up the few distinct categories once is 10-100x faster than every string."""
    if isinstance(ids.dtype, pd.CategoricalDtype):
        lookup = index.get_indexer(ids.cat.categories.astype(str))
        codes = ids.cat.codes.to_numpy()
        return np.where(codes >= 0, lookup[codes], -1)
    return index.get_indexer(ids.astype(str))


def _binary(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    data = np.ones(len(rows), dtype=np.float32)
    return _binarise(sp.csr_matrix((data, (rows, cols)), shape=shape))


def _binarise(matrix: sp.spmatrix) -> sp.csr_matrix:
    matrix = sp.csr_matrix(matrix)
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    matrix.eliminate_zeros()
    return matrix
