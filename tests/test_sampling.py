"""Neighbour sampling (recsys.link.gnn.sampling): each node keeps the ``fanout`` in-edges with the
smallest random keys, whatever shortcut finds them, and the random stream moves the same way."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recsys.link.adjacency import MetaEdge
from recsys.link.gnn.sampling import InNeighbours, in_neighbours, sample_hops


class _LargeKeys:
    """A generator whose keys are mostly above any bound a sampler might use to skip sorting."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def random(self, n: int) -> np.ndarray:
        keys = self.rng.random(n)
        return np.where(self.rng.random(n) < 0.97, 0.5 + keys / 2, keys)


def _reference(edge_index: np.ndarray, nodes: np.ndarray, fanout: int, keys: np.ndarray) -> list[tuple[int, int]]:
    """Node by node: its in-edges (in the order the edge list gives them) keyed in turn, the
    ``fanout`` smallest kept, ties to the earlier edge."""
    src, dst = edge_index
    chosen, offset = [], 0
    for node in nodes:
        sources = src[dst == node]
        mine = keys[offset:offset + len(sources)]
        offset += len(sources)
        chosen += [(int(sources[i]), int(node)) for i in np.argsort(mine, kind="stable")[:fanout]]
    assert offset == len(keys)
    return sorted(chosen)


@pytest.mark.parametrize("keys", ["uniform", "mostly large"])
def test_each_node_keeps_its_fanout_smallest_keys_and_the_stream_moves_by_one_key_per_edge(keys):
    rng = np.random.default_rng(7)
    for trial in range(200):
        n_src, n_dst = int(rng.integers(1, 40)), int(rng.integers(1, 12))
        edge_index = np.vstack([rng.integers(0, n_src, 600), rng.integers(0, n_dst, 600)]).astype(np.int64)
        nodes = np.unique(rng.integers(0, n_dst, int(rng.integers(1, n_dst + 1))))
        fanout = int(rng.integers(1, 12))
        draw = (lambda: np.random.default_rng(trial)) if keys == "uniform" else (lambda: _LargeKeys(trial))
        sampler, mirror = draw(), draw()
        src, dst = InNeighbours(torch.from_numpy(edge_index), n_dst).sample(nodes, fanout, sampler)
        degree = np.bincount(edge_index[1], minlength=n_dst)[nodes]
        expected = _reference(edge_index, nodes, fanout, mirror.random(int(degree.sum())))
        assert sorted(zip(src.tolist(), dst.tolist())) == expected
        assert np.bincount(np.searchsorted(nodes, dst), minlength=len(nodes)).tolist() == np.minimum(
            degree, fanout).tolist()
        assert sampler.random(1)[0] == mirror.random(1)[0]  # the same number of keys was drawn


def test_sample_hops_gives_each_sampled_edge_once_in_source_destination_order():
    drugs_targets = MetaEdge("target", "binds", "drug")
    targets_targets = MetaEdge("target", "interacts", "target")
    rng = np.random.default_rng(0)
    edges = {drugs_targets: torch.from_numpy(np.vstack([rng.integers(0, 50, 400), rng.integers(0, 8, 400)])),
             targets_targets: torch.from_numpy(np.vstack([rng.integers(0, 50, 900), rng.integers(0, 50, 900)]))}
    num_nodes = {"drug": 8, "target": 50}
    node_ids, local = sample_hops(in_neighbours(edges, num_nodes), {"drug": np.array([1, 3])}, (5, 3),
                                  np.random.default_rng(1), num_nodes)
    for e, pairs in local.items():
        as_rows = [tuple(pair) for pair in pairs.numpy().T.tolist()]
        assert as_rows == sorted(set(as_rows))
        globally = set(zip(node_ids[e.src][pairs[0].numpy()].tolist(), node_ids[e.dst][pairs[1].numpy()].tolist()))
        assert globally <= set(zip(*edges[e].numpy().tolist()))  # every sampled edge is an edge of the graph
    assert set(node_ids["drug"].tolist()) == {1, 3}
    assert len(local[drugs_targets][0]) <= 2 * 5  # at most the fanout per seed drug
