"""Neighbour sampling around target pairs, in plain PyTorch.

PyG's ``LinkNeighborLoader`` needs ``pyg-lib`` or ``torch-sparse`` to sample, and
neither publishes wheels for the PyTorch this project pins, so rxkg samples with
the same semantics itself (:func:`sample_hops`, also used by the people GNN): seeds
are the batch's drugs and diseases plus random drugs and diseases of the right type
(the negatives), and each hop draws at most ``fanout[h]`` in-neighbours per node and
relation, without replacement. The returned subgraph has local indices and the model
runs on it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from recsys.link.adjacency import MetaEdge
from recsys.link.gnn.graph import MessageGraph

__all__ = ["NeighbourSampler", "SampledSubgraph", "InNeighbours", "in_neighbours", "sample_hops"]


@dataclass
class SampledSubgraph:
    """A sampled neighbourhood: global ids per type and local edge indices."""

    node_ids: dict[str, Tensor]
    edge_index: dict[MetaEdge, Tensor]
    seeds: Tensor                      # (2, n) local (drug, disease) supervised pairs
    candidates: dict[str, Tensor]      # local indices of the seed drugs / diseases

    @property
    def num_nodes(self) -> dict[str, int]:
        return {t: len(ids) for t, ids in self.node_ids.items()}

    def local_edges(self, e: MetaEdge) -> Tensor:
        return self.edge_index.get(e, torch.empty((2, 0), dtype=torch.int64))


class InNeighbours:
    """CSR of one metaedge by destination: ``indices[indptr[v]:indptr[v+1]]`` are v's sources."""

    def __init__(self, edge_index: Tensor, num_dst: int) -> None:
        src, dst = edge_index.numpy()
        order = np.argsort(dst, kind="stable")
        self.indices = src[order]
        self.indptr = np.zeros(num_dst + 1, dtype=np.int64)
        np.cumsum(np.bincount(dst, minlength=num_dst), out=self.indptr[1:])

    def sample(self, nodes: np.ndarray, fanout: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(sources, destinations) of at most ``fanout`` in-edges per node, vectorised.

        Every candidate in-edge gets a random key (drawn for all of them, in node order, so the
        random stream does not depend on what is kept) and each node keeps the ``fanout``
        smallest, ties to the earlier edge: sampling without replacement. Nodes with at most
        ``fanout`` in-edges keep them all, unsorted. The edges come back grouped by node, in no
        useful order: callers read them as a set (:func:`sample_hops` sorts what it keeps).
        """
        start, end = self.indptr[nodes], self.indptr[nodes + 1]
        degree = end - start
        if degree.sum() == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        keys = rng.random(int(degree.sum()))
        over = degree > fanout
        owner, within = _edges_of(np.flatnonzero(~over), degree)
        if over.any():
            crowded, position = _edges_of(np.flatnonzero(over), degree)
            key = keys[(np.cumsum(degree) - degree)[crowded] + position]
            # A node's ``fanout`` smallest keys are all under any bound that ``fanout`` of its keys
            # are under. With the bound at four times the expected ``fanout``-th smallest key, some
            # 4 x ``fanout`` keys per node are sorted instead of all of them (on the shipped graph
            # nine in ten sampled in-edges belong to such nodes); a node with fewer than ``fanout``
            # keys under it (about one in a billion) has all of its keys sorted.
            below = key < 4.0 * fanout / degree[crowded]
            below |= (np.bincount(crowded[below], minlength=len(nodes)) < fanout)[crowded]
            crowded, position, key = crowded[below], position[below], key[below]
            order = np.lexsort((key, crowded))  # by node, then key; stable, so ties go to the earlier edge
            grouped = crowded[order]
            kept = order[np.arange(len(order)) - np.searchsorted(grouped, grouped) < fanout]
            owner = np.concatenate([owner, crowded[kept]])
            within = np.concatenate([within, position[kept]])
        return self.indices[start[owner] + within], nodes[owner]


def _edges_of(picked: np.ndarray, degree: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(owner, within)``: for every in-edge of the ``picked`` nodes (positions into
    ``degree``), in node order, the node it belongs to and its position among that node's edges."""
    counts = degree[picked]
    owner = np.repeat(picked, counts)
    within = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, within


def in_neighbours(edge_index: dict[MetaEdge, Tensor], num_nodes: dict[str, int]) -> dict[MetaEdge, InNeighbours]:
    """Per metaedge, its edges indexed by destination (what :func:`sample_hops` draws from)."""
    return {e: InNeighbours(ei, num_nodes[e.dst]) for e, ei in edge_index.items()}


def sample_hops(neighbours: dict[MetaEdge, InNeighbours], seeds: dict[str, np.ndarray], fanout: tuple[int, ...],
                rng: np.random.Generator, num_nodes: dict[str, int]) -> tuple[dict[str, np.ndarray],
                                                                             dict[MetaEdge, Tensor]]:
    """The ``len(fanout)``-hop typed in-neighbourhood of ``seeds`` (global ids per node type):
    every node reached, sorted, per type, and the sampled edges in local indices (positions in
    those sorted arrays). Hop ``h`` draws at most ``fanout[h]`` in-edges per node and relation."""
    nodes = {k: [v] for k, v in seeds.items()}
    frontier = dict(seeds)
    edges: dict[MetaEdge, list[tuple[np.ndarray, np.ndarray]]] = {}
    for fan in fanout:
        reached: dict[str, list[np.ndarray]] = {}
        for e, csr in neighbours.items():
            if e.dst not in frontier or len(frontier[e.dst]) == 0:
                continue
            s, d = csr.sample(frontier[e.dst], fan, rng)
            if len(s):
                edges.setdefault(e, []).append((s, d))
                reached.setdefault(e.src, []).append(s)
        frontier = {k: np.unique(np.concatenate(v)) for k, v in reached.items()}
        for k, v in frontier.items():
            nodes.setdefault(k, []).append(v)
    node_ids = {k: np.unique(np.concatenate(nodes.get(k, [np.empty(0, np.int64)]))) for k in num_nodes}
    local = {}
    for e, parts in edges.items():
        s = np.concatenate([p[0] for p in parts])
        d = np.concatenate([p[1] for p in parts])
        # Each (source, destination) once, in (source, destination) order: one integer key per
        # pair sorts as the pairs do, and faster than a unique over the pairs' columns.
        width = len(node_ids[e.dst])
        key = np.unique(np.searchsorted(node_ids[e.src], s) * width + np.searchsorted(node_ids[e.dst], d))
        local[e] = torch.from_numpy(np.vstack([key // width, key % width]).astype(np.int64))
    return node_ids, local


class NeighbourSampler:
    """Samples the ``len(fanout)``-hop typed neighbourhood of a batch of target pairs."""

    def __init__(self, graph: MessageGraph, fanout: tuple[int, ...], negatives: int = 256) -> None:
        self.graph = graph
        self.fanout = tuple(fanout)
        self.negatives = negatives
        self.fixed = in_neighbours(graph.edge_index, graph.num_nodes)

    def sample(self, pairs: Tensor, message_index: Tensor, generator: torch.Generator) -> SampledSubgraph:
        g, t = self.graph, self.graph.target
        rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
        neighbours = {**self.fixed, **in_neighbours(g.target_edges(message_index), g.num_nodes)}
        src, dst = pairs.numpy()
        seeds = {t.src: np.unique(np.concatenate([src, rng.integers(0, g.num_nodes[t.src], self.negatives)])),
                 t.dst: np.unique(np.concatenate([dst, rng.integers(0, g.num_nodes[t.dst], self.negatives)]))}
        node_ids, local = sample_hops(neighbours, seeds, self.fanout, rng, g.num_nodes)
        local_pairs = np.vstack([np.searchsorted(node_ids[t.src], src), np.searchsorted(node_ids[t.dst], dst)])
        candidates = {k: torch.from_numpy(np.searchsorted(node_ids[k], v)) for k, v in seeds.items()}
        return SampledSubgraph({k: torch.from_numpy(v.astype(np.int64)) for k, v in node_ids.items()},
                               local, torch.from_numpy(local_pairs.astype(np.int64)), candidates)
