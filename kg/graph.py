"""The knowledge graph: one columnar node table and one edge table per relation.

Nodes live in one pandas table (``id``, ``type``, ``name`` plus attribute columns,
missing values as nulls); each relation of :data:`kg.schema.SCHEMA` that has edges
owns a table with ``src`` and ``dst`` ids plus the attribute columns the schema
declares for it. Auxiliary tables (cross-references, synonyms, curated
non-indications) travel with the graph but are not edges.

networkx and PyG views are built on demand from these tables by :mod:`kg.views`
(``to_networkx(graph)``, ``to_hetero_data(graph)``), which depends on this module and
never the reverse; reading and writing directories lives in :mod:`kg.io`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import pandas as pd

from kg.errors import KGError
from kg.schema import NODE_TYPE_ORDER, SCHEMA, EdgeType, node_type_of
from kg.values import plain

__all__ = ["KnowledgeGraph", "NODE_COLUMNS", "EDGE_COLUMNS"]

NODE_COLUMNS: tuple[str, ...] = ("id", "type", "name")
EDGE_COLUMNS: tuple[str, ...] = ("src", "dst")


@dataclass
class KnowledgeGraph:
    """Typed drug knowledge graph held as pandas tables.

    Parameters
    ----------
    nodes
        One row per node: ``id`` (namespaced, unique), ``type``, ``name`` and any
        attribute columns.
    edges
        One table per :class:`~kg.schema.EdgeType` with ``src``, ``dst`` and the
        relation's declared attribute columns.
    tables
        Auxiliary tables by name; columns ending in ``_id`` hold node ids.

    Examples
    --------
    >>> from kg import read_graph
    >>> kg = read_graph("graph/")                       # doctest: +SKIP
    >>> kg.node_counts()["drug"], kg.edge_counts()["drug__treats__disease"]  # doctest: +SKIP
    (1552, 755)
    """

    nodes: pd.DataFrame
    edges: dict[EdgeType, pd.DataFrame] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [c for c in NODE_COLUMNS if c not in self.nodes.columns]
        if missing:
            raise KGError(f"node table lacks columns {missing}")
        for et, frame in self.edges.items():
            if et not in SCHEMA.relations:
                raise KGError(f"edge type {et} is not in the schema")
            if any(c not in frame.columns for c in EDGE_COLUMNS):
                raise KGError(f"edge table {et.key} lacks src/dst columns")
        self.edges = dict(self.edges)  # the graph owns its mapping; callers keep theirs
        self._index: pd.Index | None = None

    # ------------------------------------------------------------------ lookup
    @property
    def node_index(self) -> pd.Index:
        """Index of node ids (row positions in :attr:`nodes`), built once."""
        if self._index is None:
            self._index = pd.Index(self.nodes["id"].astype(str))
        return self._index

    def has_node(self, node_id: str) -> bool:
        return node_id in self.node_index

    def node(self, node_id: str) -> dict[str, object]:
        """Attributes of one node (nulls left out); raises ``KeyError`` naming the id."""
        if not self.has_node(node_id):
            raise KeyError(f"no node {node_id!r} in the graph")
        row = self.nodes.iloc[self.node_index.get_loc(node_id)]
        return {k: plain(v) for k, v in row.items() if plain(v) is not None}

    def nodes_of_type(self, node_type: str) -> pd.DataFrame:
        return self.nodes[self.nodes["type"] == node_type]

    def node_counts(self) -> dict[str, int]:
        counts = self.nodes["type"].value_counts()
        order = sorted(counts.index, key=lambda t: NODE_TYPE_ORDER.get(t, len(NODE_TYPE_ORDER)))
        return {t: int(counts[t]) for t in order}

    def edge_counts(self) -> dict[str, int]:
        return {et.key: len(frame) for et, frame in self.edges.items()}

    @property
    def num_nodes(self) -> int:
        return len(self.nodes)

    @property
    def num_edges(self) -> int:
        return sum(len(f) for f in self.edges.values())

    def summary(self) -> str:
        return (f"KnowledgeGraph: {self.num_nodes:,} nodes of {len(self.node_counts())} types, "
                f"{self.num_edges:,} edges of {len(self.edges)} relations, "
                f"{len(self.tables)} auxiliary tables")

    def __repr__(self) -> str:
        return self.summary()

    # ----------------------------------------------------------------- views
    def neighbourhood(self, node_id: str, hops: int = 1,
                      relations: Iterable[str] | None = None) -> set[str]:
        """Ids of the nodes within ``hops`` steps of ``node_id``, edges taken both ways.

        ``relations`` restricts the walk to edge types whose relation name (``treats``)
        or key (``drug__treats__disease``) is listed.
        """
        if not self.has_node(node_id):
            raise KeyError(f"no node {node_id!r} in the graph")
        if hops < 0:
            raise ValueError(f"hops must be >= 0, got {hops}")
        edge_types = self._select_edge_types(relations)
        seen = {node_id}
        frontier = {node_id}
        for _ in range(hops):
            if not frontier:
                break
            frontier_types = {node_type_of(n) for n in frontier}
            reached: set[str] = set()
            for et in edge_types:
                frame = self.edges[et]
                if et.src in frontier_types:
                    reached.update(frame.loc[frame["src"].isin(frontier), "dst"].astype(str))
                if et.dst in frontier_types:
                    reached.update(frame.loc[frame["dst"].isin(frontier), "src"].astype(str))
            frontier = reached - seen
            seen |= frontier
        return seen

    def subgraph(self, node_ids: Iterable[str],
                 relations: Iterable[str] | None = None) -> "KnowledgeGraph":
        """The graph induced by ``node_ids`` (a copy; this graph is not changed)."""
        keep = set(node_ids)
        nodes = self.nodes[self.nodes["id"].isin(keep)].reset_index(drop=True)
        edges = {}
        for et in self._select_edge_types(relations):
            frame = self.edges[et]
            mask = frame["src"].isin(keep) & frame["dst"].isin(keep)
            if mask.any():
                edges[et] = frame[mask].reset_index(drop=True)
        tables = {}
        for name, table in self.tables.items():
            id_cols = [c for c in table.columns if c.endswith("_id")]
            mask = np.ones(len(table), dtype=bool)
            for c in id_cols:
                mask &= table[c].isin(keep).to_numpy()
            tables[name] = table[mask].reset_index(drop=True)
        return KnowledgeGraph(nodes, edges, tables)

    def around(self, node_id: str, hops: int = 1,
               relations: Iterable[str] | None = None) -> "KnowledgeGraph":
        """The ``hops``-neighbourhood of one entity as a graph of its own."""
        return self.subgraph(self.neighbourhood(node_id, hops, relations), relations)

    def _select_edge_types(self, relations: Iterable[str] | None) -> list[EdgeType]:
        if relations is None:
            return list(self.edges)
        wanted = set(relations)
        known = SCHEMA.relation_names() | {et.key for et in SCHEMA.edge_types}
        unknown = wanted - known
        if unknown:
            raise KGError(f"unknown relation(s) {sorted(unknown)}; known: {sorted(SCHEMA.relation_names())}")
        return [et for et in self.edges if et.rel in wanted or et.key in wanted]

    # --------------------------------------------------------------- compare
    def equals(self, other: "KnowledgeGraph", check_tables: bool = True) -> bool:
        """Same nodes, attributes, edges and (optionally) tables, ignoring row order and dtypes."""
        return not self.differences(other, check_tables)

    def differences(self, other: "KnowledgeGraph", check_tables: bool = True) -> list[str]:
        """Human-readable list of what differs between two graphs (empty when equal)."""
        diffs: list[str] = []
        if not _frames_equal(self.nodes, other.nodes, ["id"]):
            diffs.append("node tables differ")
        for et in sorted(set(self.edges) | set(other.edges)):
            mine, theirs = self.edges.get(et), other.edges.get(et)
            if mine is None or theirs is None:
                if len(mine if mine is not None else theirs) > 0:
                    diffs.append(f"edge type {et} present in only one graph")
            elif not _frames_equal(mine, theirs, ["src", "dst"]):
                diffs.append(f"edges of {et} differ")
        if check_tables:
            for name in sorted(set(self.tables) | set(other.tables)):
                a, b = self.tables.get(name), other.tables.get(name)
                if a is None or b is None or not _frames_equal(a, b, list(a.columns)):
                    diffs.append(f"table {name!r} differs")
        return diffs


def _canonical(frame: pd.DataFrame, sort_by: list[str]) -> pd.DataFrame:
    out = frame[sorted(frame.columns)].copy()
    for col in out.columns:
        series = out[col]
        if pd.api.types.is_datetime64_any_dtype(series):
            out[col] = series.dt.strftime("%Y-%m-%dT%H:%M:%S").astype(object)
        elif pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            out[col] = series.astype("float64").astype(object)
        else:
            out[col] = series.astype(object)
        out[col] = out[col].where(out[col].notna(), None)
    # All-null attribute columns carry no information; one side may not have them.
    out = out[[c for c in out.columns if out[c].notna().any() or c in sort_by]]
    return out.sort_values(sort_by, kind="stable").reset_index(drop=True)


def _frames_equal(a: pd.DataFrame, b: pd.DataFrame, sort_by: list[str]) -> bool:
    if len(a) != len(b):
        return False
    ca, cb = _canonical(a, sort_by), _canonical(b, sort_by)
    return list(ca.columns) == list(cb.columns) and ca.equals(cb)

