"""Row iteration over a graph as plain Python values, nulls left out.

Shared by the networkx view and every exporter, so a value is rendered the same way
(timestamps as ISO text, numpy scalars as Python numbers) wherever it goes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

from kg.schema import SCHEMA, EdgeType
from kg.values import plain

if TYPE_CHECKING:
    from kg.graph import KnowledgeGraph

__all__ = ["node_attribute_columns", "edge_attribute_columns", "iter_nodes", "iter_edges"]


def node_attribute_columns(graph: KnowledgeGraph) -> list[str]:
    """Attribute columns (beyond id) that hold at least one value."""
    return [c for c in graph.nodes.columns if c != "id" and graph.nodes[c].notna().any()]


def edge_attribute_columns(graph: KnowledgeGraph) -> dict[str, str]:
    """Edge attribute column -> schema dtype, over every relation that has values for it."""
    out: dict[str, str] = {}
    for et, frame in graph.edges.items():
        spec = SCHEMA.spec(et).attributes
        for c in frame.columns:
            if c not in ("src", "dst") and frame[c].notna().any():
                out.setdefault(c, spec.get(c, "str"))
    return out


def iter_nodes(graph: KnowledgeGraph) -> Iterator[tuple[str, dict[str, Any]]]:
    cols = node_attribute_columns(graph)
    frame = graph.nodes
    values = [frame[c].tolist() for c in cols]
    for i, node_id in enumerate(frame["id"].astype(str).tolist()):
        attrs = {}
        for c, v in zip(cols, values):
            p = plain(v[i])
            if p is not None:
                attrs[c] = p
        yield node_id, attrs


def iter_edges(graph: KnowledgeGraph) -> Iterator[tuple[EdgeType, str, str, dict[str, Any]]]:
    for et, frame in graph.edges.items():
        cols = [c for c in frame.columns if c not in ("src", "dst") and frame[c].notna().any()]
        values = [frame[c].tolist() for c in cols]
        for i, (s, d) in enumerate(zip(frame["src"].astype(str).tolist(), frame["dst"].astype(str).tolist())):
            attrs = {}
            for c, v in zip(cols, values):
                p = plain(v[i])
                if p is not None:
                    attrs[c] = p
            yield et, s, d, attrs
