"""Views of a :class:`~kg.graph.KnowledgeGraph` built on demand: networkx and PyG.

Conversion only; no file I/O here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kg.graph import KnowledgeGraph
from kg.records import iter_edges, iter_nodes
from kg.schema import EdgeType

if TYPE_CHECKING:  # heavy imports only when the view is built
    import networkx as nx
    from torch_geometric.data import HeteroData

__all__ = ["to_networkx", "to_hetero_data", "IdMaps"]

#: Node type -> node ids in index order; ``id_maps[t][i]`` is node ``i`` of type ``t``.
IdMaps = dict[str, list[str]]


def to_networkx(graph: KnowledgeGraph) -> "nx.MultiDiGraph":
    """A typed ``MultiDiGraph``: node attribute ``type``, edge key and attribute ``relation``.

    Symmetric relations appear once, in their stored orientation.

    >>> g = to_networkx(kg)                         # doctest: +SKIP
    >>> g.nodes["drug:DB00945"]["type"]             # doctest: +SKIP
    'drug'
    """
    import networkx as nx

    g = nx.MultiDiGraph()
    g.add_nodes_from(iter_nodes(graph))
    g.add_edges_from((s, d, et.rel, {"relation": et.rel, **attrs}) for et, s, d, attrs in iter_edges(graph))
    return g


def to_hetero_data(graph: KnowledgeGraph) -> tuple["HeteroData", IdMaps]:
    """PyG ``HeteroData`` keyed by ``(src, rel, dst)`` plus the id maps.

    ``data[t].num_nodes`` is set for every node type; ``edge_index`` holds local
    indices into ``id_maps[t]``; a relation with weights or times also gets
    ``edge_weight`` (float) and ``edge_time`` (int64 seconds since the epoch).
    Reverse edges are not added: that is a modelling choice of the caller.

    >>> data, id_maps = to_hetero_data(kg)                    # doctest: +SKIP
    >>> data["drug", "treats", "disease"].edge_index.shape     # doctest: +SKIP
    torch.Size([2, 755])
    """
    import torch
    from torch_geometric.data import HeteroData

    data = HeteroData()
    id_maps: IdMaps = {}
    indexes: dict[str, pd.Index] = {}
    for node_type, frame in graph.nodes.groupby("type", sort=False):
        ids = frame["id"].astype(str).tolist()
        id_maps[str(node_type)] = ids
        indexes[str(node_type)] = pd.Index(ids)
        data[str(node_type)].num_nodes = len(ids)
    for et, frame in graph.edges.items():
        src = _positions(indexes, et.src, frame["src"], et)
        dst = _positions(indexes, et.dst, frame["dst"], et)
        store = data[et.src, et.rel, et.dst]
        store.edge_index = torch.from_numpy(np.vstack([src, dst]).astype(np.int64))
        if "weight" in frame.columns and frame["weight"].notna().any():
            store.edge_weight = torch.from_numpy(frame["weight"].fillna(1.0).to_numpy(np.float32, copy=True))
        if "time" in frame.columns and frame["time"].notna().any():
            seconds = pd.to_datetime(frame["time"]).astype("int64") // 10**9
            store.edge_time = torch.from_numpy(seconds.to_numpy(np.int64, copy=True))
    return data, id_maps


def _positions(indexes: dict[str, pd.Index], node_type: str, ids: pd.Series, et: EdgeType) -> np.ndarray:
    index = indexes.get(node_type, pd.Index([]))
    if isinstance(ids.dtype, pd.CategoricalDtype):
        cat_pos = index.get_indexer(ids.cat.categories.astype(str))
        pos = cat_pos[ids.cat.codes.to_numpy()]
    else:
        pos = index.get_indexer(ids.astype(str))
    if (pos < 0).any():
        raise ValueError(f"edges of {et} refer to {int((pos < 0).sum())} nodes missing from the graph")
    return pos
