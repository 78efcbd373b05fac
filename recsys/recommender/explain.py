"""Explanations: the strongest typed graph paths (up to 3 hops) from an entity to a drug.

For a pair such as (type 2 diabetes, pioglitazone) every metapath of length 1-3 from
the entity's type to ``drug`` is walked between the two nodes only (sparse row and
column slices, never a whole-graph product), each concrete path is weighted like a
term of Rephetio's degree-weighted path count (every edge scaled by its endpoints'
degrees in that relation to the power ``-damping``, so paths through hubs count less),
paths over the same nodes are merged, and the best come back as data and as text.
Only edges of the graph appear in a path: it is read straight off the adjacency.

With a fitted metapath model's terms (:class:`~recsys.link.terms.MetapathTerms`),
:meth:`PathExplainer.model_paths` instead shows what that model relies on for the pair:
each metapath's walks between the two nodes sum to exactly the DWPC feature the model
read, so each metapath's part of the score is known, and the best path of each metapath
that raised the score comes back, in the order of those parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kg.errors import KGError
from kg.graph import KnowledgeGraph
from kg.privacy import Pseudonymiser
from kg.schema import SCHEMA, EdgeType
from recsys.link.adjacency import MetaEdge, relation_matrices
from recsys.link.dwpc import Metapath, enumerate_metapaths
from recsys.link.terms import MetapathTerms

__all__ = ["ExplanationPath", "PathExplainer", "ExplainerOnDemand", "path_texts", "write_index", "read_index",
           "MOLECULAR"]

#: Relations that are not reasons to recommend a drug (an interaction is a warning).
NOT_REASONS = frozenset({EdgeType("drug", "interacts_with", "drug"), EdgeType("drug", "contraindicated_in", "disease")})
#: Node types a patient or prescriber cannot check at the bedside: paths through them come last.
MOLECULAR = frozenset({"target", "pathway", "biological_process", "cellular_component", "molecular_function"})


@dataclass(frozen=True)
class ExplanationPath:
    """One path from the entity to the drug: ``nodes[i] -metaedges[i]-> nodes[i + 1]``."""

    nodes: tuple[str, ...]
    metaedges: tuple[MetaEdge, ...]
    #: The path's degree-weighted count; for :meth:`PathExplainer.model_paths`, what its metapath
    #: adds to the model's score of the pair.
    score: float

    @property
    def edges(self) -> list[tuple[str, str, str]]:
        """The graph edges the path uses, as stored (``(src, relation, dst)``, reverses undone)."""
        out = []
        for (a, b), e in zip(zip(self.nodes, self.nodes[1:]), self.metaedges):
            out.append((b, e.base.rel, a) if e.is_reverse else (a, e.rel, b))
        return out

    def text(self, names: Mapping[str, str] | None = None) -> str:
        """``type 2 diabetes mellitus -associates-> PPARG <-binds- Pioglitazone``.

        A patient met along the way (evidence such as "a patient with this condition
        takes the drug") is written as "another patient", and a patient the path starts
        from as "the patient": ids never leave the process in a text meant for people.
        """
        label = _labeller(names)
        parts = ["the patient" if _is_patient(self.nodes[0]) else label(self.nodes[0])]
        for e, node in zip(self.metaedges, self.nodes[1:]):
            arrow = f" <-{e.base.rel}- " if e.is_reverse else f" -{e.rel}-> "
            parts.append(arrow + ("another patient" if _is_patient(node) else label(node)))
        return "".join(parts)

    def as_dict(self, pseudonymiser: Pseudonymiser | None = None,
                reveal_patients: bool = False) -> dict[str, object]:
        """Nodes, relations and score; patient ids pseudonymised unless ``reveal_patients``."""
        nodes = list(self.nodes)
        if not reveal_patients and any(_is_patient(n) for n in nodes):
            pseudonymiser = pseudonymiser or Pseudonymiser()
            nodes = [pseudonymiser.pseudonym(n) for n in nodes]
        return {"nodes": nodes, "relations": [e.rel for e in self.metaedges], "score": self.score}


class PathExplainer:
    """Finds and ranks the typed paths linking an entity to a drug.

    Parameters
    ----------
    graph
        The graph whose edges explanations may use.
    max_hops
        Longest path (1-3).
    damping
        Degree damping of the path weight (Rephetio uses 0.4).
    exclude
        Relations never used (by default ``interacts_with``: not a reason to prescribe).

    Examples
    --------
    >>> explainer = PathExplainer(graph)                                    # doctest: +SKIP
    >>> [p.text(names) for p in explainer.paths("disease:DOID:9352", "drug:DB01132", k=2)]  # doctest: +SKIP
    """

    def __init__(self, graph: KnowledgeGraph, max_hops: int = 3, damping: float = 0.4,
                 exclude: Iterable[EdgeType] = NOT_REASONS,
                 matrices: Mapping[MetaEdge, sp.csr_matrix] | None = None) -> None:
        if not 1 <= max_hops <= 3:
            raise KGError(f"max_hops must be 1, 2 or 3, got {max_hops}")
        self.max_hops, self.damping = max_hops, damping
        nodes = graph.nodes
        # Plain numpy object arrays: iterating pandas' Arrow strings element by element is 10x slower.
        ids, types = nodes["id"].to_numpy(dtype=object), nodes["type"].to_numpy(dtype=object)
        self.id_maps = {t: ids[types == t].tolist() for t in sorted(set(types.tolist()))}
        self._index = {t: pd.Index(ids) for t, ids in self.id_maps.items()}
        self._type = dict(zip(ids.tolist(), types.tolist()))
        # ``matrices``: the adjacency read back with :func:`read_index` (a bundle stores it: building
        # it from the graph is most of a first explanation's time).
        self.matrices = dict(matrices) if matrices is not None else relation_matrices(graph, self.id_maps,
                                                                                      exclude=set(exclude))
        # Per-metaedge degree weights: an edge u -> v weighs (out(u) * in(v)) ** -damping.
        self._out = {e: _power(np.diff(m.indptr), damping) for e, m in self.matrices.items()}
        self._in = {e: _power(np.bincount(m.indices, minlength=m.shape[1]), damping)
                    for e, m in self.matrices.items()}
        self._metapaths: dict[tuple[str, str], list[Metapath]] = {}

    # ------------------------------------------------------------------ API
    def paths(self, entity_id: str, drug_id: str, k: int = 5) -> list[ExplanationPath]:
        """The ``k`` strongest paths from ``entity_id`` to ``drug_id`` (best first; may be empty)."""
        if k <= 0:
            raise KGError(f"k must be positive, got {k}")
        src_type, src = self._locate(entity_id)
        dst_type, dst = self._locate(drug_id)
        best: dict[tuple[str, ...], ExplanationPath] = {}
        for metapath in self._metapaths_between(src_type, dst_type):
            for nodes, score in self._walk(metapath, src, dst):
                ids = tuple(self.id_maps[t][i] for t, i in zip(_types(metapath), nodes))
                if len(set(ids)) < len(ids):
                    continue  # a path through the same node twice explains nothing new
                if ids not in best or best[ids].score < score:
                    best[ids] = ExplanationPath(ids, metapath, score)
        return sorted(best.values(), key=lambda p: (-p.score, p.nodes))[:k]

    def model_paths(self, entity_id: str, drug_id: str, terms: MetapathTerms, k: int = 5) -> list[ExplanationPath]:
        """The best path of each of the ``k`` metapaths that raise the metapath model's score of
        (``drug_id``, disease ``entity_id``) most, in that order; each path's ``score`` is its
        metapath's part of the model's score. Metapaths through relations explanations leave out
        (``interacts_with``) are not shown, and one whose every walk repeats a node shows nothing."""
        if k <= 0:
            raise KGError(f"k must be positive, got {k}")
        src_type, src = self._locate(entity_id)
        dst_type, dst = self._locate(drug_id)
        walkable = [self._from_disease(p) for p in terms.paths]
        dwpc = np.zeros(len(terms.paths))
        best: list[tuple[tuple[int, ...], float] | None] = [None] * len(terms.paths)
        for j, metapath in enumerate(walkable):
            if metapath is None or metapath[0].src != src_type or metapath[-1].dst != dst_type:
                continue
            for nodes, weight in self._walk(metapath, src, dst):
                dwpc[j] += weight  # every walk: the model's DWPC counts walks
                if len(set(nodes)) == len(nodes) and (best[j] is None or weight > best[j][1]):
                    best[j] = (nodes, weight)
        parts = terms.contributions(dwpc)
        out: list[ExplanationPath] = []
        for j in np.argsort(-parts, kind="stable"):
            if parts[j] <= 0 or len(out) == k:
                break
            if best[j] is not None:
                metapath = walkable[j]
                ids = tuple(self.id_maps[t][i] for t, i in zip(_types(metapath), best[j][0]))
                out.append(ExplanationPath(ids, metapath, float(parts[j])))
        return out

    def _from_disease(self, path: Metapath) -> Metapath | None:
        """A drug -> disease metapath walked from the disease, in this explainer's metaedges (None
        when one of its relations is not walkable here)."""
        steps = []
        for e in reversed(path):
            back = e.reverse()
            if back not in self.matrices:  # a symmetric relation is stored once, unprefixed
                back = e if e.src == e.dst and e in self.matrices else None
            if back is None:
                return None
            steps.append(back)
        return tuple(steps)

    @staticmethod
    def sentence(entity_name: str, drug_name: str, paths: list[ExplanationPath],
                 names: Mapping[str, str] | None = None) -> str:
        """One plain sentence from the strongest paths."""
        if not paths:
            return f"No path of up to 3 relations links {entity_name} to {drug_name} in the graph."
        return f"{drug_name} is linked to {entity_name} through: {'; '.join(path_texts(paths, names))}."

    # ------------------------------------------------------------- internals
    def _locate(self, node_id: str) -> tuple[str, int]:
        node_type = self._type.get(node_id)
        if node_type is None:
            raise KGError(f"unknown node id {node_id!r}")
        return node_type, int(self._index[node_type].get_loc(node_id))

    def _metapaths_between(self, src: str, dst: str) -> list[Metapath]:
        key = (src, dst)
        if key not in self._metapaths:
            self._metapaths[key] = enumerate_metapaths(self.matrices, src, dst, self.max_hops)
        return self._metapaths[key]

    def _incoming(self, e: MetaEdge, node: int) -> np.ndarray:
        """The nodes with an ``e`` edge into ``node`` (row ``node`` of ``e`` transposed)."""
        reverse = e.reverse()
        matrix = self.matrices.get(reverse)
        if matrix is None:  # a symmetric relation is its own transpose
            matrix = self.matrices[e]
        return _neighbours(matrix, node)

    def _weight(self, e: MetaEdge, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return self._out[e][u] * self._in[e][v]

    def _walk(self, metapath: Metapath, src: int, dst: int):
        """Yield ``(node indices, weight)`` of every concrete path ``src -> dst`` along ``metapath``."""
        if len(metapath) == 1:
            (e,) = metapath
            if dst in _neighbours(self.matrices[e], src):
                yield (src, dst), float(self._weight(e, np.array([src]), np.array([dst]))[0])
            return
        first, last = metapath[0], metapath[-1]
        a = _neighbours(self.matrices[first], src)
        b = self._incoming(last, dst)
        if not len(a) or not len(b):
            return
        if len(metapath) == 2:
            for node in np.intersect1d(a, b):
                w = self._weight(first, np.array([src]), np.array([node])) * \
                    self._weight(last, np.array([node]), np.array([dst]))
                yield (src, int(node), dst), float(w[0])
            return
        middle = self.matrices[metapath[1]][a][:, b].tocoo()
        if not middle.nnz:
            return
        u, v = a[middle.row], b[middle.col]
        w = (self._weight(first, np.full(len(u), src), u) * self._weight(metapath[1], u, v)
             * self._weight(last, v, np.full(len(v), dst)))
        for x, y, weight in zip(u, v, w):
            yield (src, int(x), int(y), dst), float(weight)


def path_texts(paths: list[ExplanationPath], names: Mapping[str, str] | None = None, n: int = 2) -> list[str]:
    """The texts of the first ``n`` paths that read differently (two other patients read alike)."""
    return list(dict.fromkeys(p.text(names) for p in paths))[:n]


def _neighbours(matrix: sp.csr_matrix, row: int) -> np.ndarray:
    """Column indices of one CSR row, read off its arrays (a scipy row slice costs 50 us)."""
    return matrix.indices[matrix.indptr[row]:matrix.indptr[row + 1]]


class ExplainerOnDemand:
    """A :class:`PathExplainer` built on first use: from a bundle's stored adjacency
    (:func:`read_index`) when there is one, else from the graph. Ranking never needs it, and
    building it from the shipped graph takes about a second."""

    def __init__(self, graph: KnowledgeGraph, index: str | Path | None = None) -> None:
        self.graph, self.index = graph, index
        self._built: PathExplainer | None = None

    def get(self) -> PathExplainer:
        if self._built is None:
            matrices = read_index(Path(self.index)) if self.index else None
            self._built = PathExplainer(self.graph, matrices=matrices)
        return self._built


def _types(metapath: Metapath) -> list[str]:
    return [metapath[0].src] + [e.dst for e in metapath]


def _power(degrees: np.ndarray, damping: float) -> np.ndarray:
    return np.power(np.maximum(degrees, 1).astype(np.float64), -damping)


def _is_patient(node_id: str) -> bool:
    return node_id.startswith("patient:")


def _labeller(names: Mapping[str, str] | None):
    def label(node: str) -> str:
        name = names.get(node) if names else None
        return name if isinstance(name, str) and name else node
    return label


def write_index(matrices: Mapping[MetaEdge, sp.csr_matrix], path: Path) -> None:
    """The explainer's adjacency as plain arrays: each walkable relation's CSR structure (its
    entries are all 1); reverse directions are transposes and are rebuilt on reading."""
    arrays: dict[str, np.ndarray] = {}
    for i, (edge, matrix) in enumerate(matrices.items()):
        if edge.is_reverse:
            continue
        arrays[f"{i}.edge"] = np.array(list(edge), dtype=str)
        arrays[f"{i}.indptr"], arrays[f"{i}.indices"] = matrix.indptr, matrix.indices
        arrays[f"{i}.shape"] = np.array(matrix.shape, dtype=np.int64)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def read_index(path: Path) -> dict[MetaEdge, sp.csr_matrix]:
    """What :func:`write_index` wrote, every direction back, in the order relation_matrices gives."""
    out: dict[MetaEdge, sp.csr_matrix] = {}
    with np.load(path, allow_pickle=False) as data:
        for key in sorted((k for k in data.files if k.endswith(".edge")), key=lambda k: int(k.split(".")[0])):
            i = key.split(".")[0]
            edge = MetaEdge(*(str(x) for x in data[key]))
            indices = data[f"{i}.indices"]
            matrix = sp.csr_matrix((np.ones(len(indices), dtype=np.float32), indices, data[f"{i}.indptr"]),
                                   shape=tuple(int(n) for n in data[f"{i}.shape"]))
            out[edge] = matrix
            if not SCHEMA.relations[edge.base].symmetric:
                out[edge.reverse()] = matrix.T.tocsr()
    return out
