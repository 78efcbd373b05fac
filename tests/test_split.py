"""Leakage-safe splits: never mutate, partition the pairs, remove every linked edge."""

from __future__ import annotations

import pandas as pd
import pytest

from kg.errors import KGError
from kg.graph import KnowledgeGraph
from kg.schema import EdgeType
from recsys.link.gnn.graph import MessageGraph
from recsys.link.task import LinkTask
from recsys.link.split import TREATS, split_links
from linkgraph import cluster_graph

PALLIATES = EdgeType("drug", "palliates", "disease")
INTERACTS = EdgeType("drug", "interacts_with", "drug")


def _pairs(frame: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(frame["src"].astype(str), frame["dst"].astype(str)))


def _with_edges(graph: KnowledgeGraph, et: EdgeType, pairs: list[tuple[str, str]]) -> KnowledgeGraph:
    extra = pd.DataFrame(pairs, columns=["src", "dst"])
    edges = dict(graph.edges)
    edges[et] = pd.concat([edges.get(et, extra.iloc[:0]), extra], ignore_index=True)
    return KnowledgeGraph(graph.nodes, edges, graph.tables)


@pytest.mark.parametrize("mode", ["random", "zero_shot"])
def test_split_partitions_pairs_and_never_mutates(mode):
    graph = cluster_graph()
    before = graph.edges[TREATS].copy()
    train, val, test = split_links(graph, mode, seed=3)
    assert graph.edges[TREATS].equals(before)
    parts = [_pairs(train.edges[TREATS]), _pairs(val), _pairs(test)]
    assert set().union(*parts) == _pairs(before)
    assert sum(map(len, parts)) == len(before)
    assert val.shape[0] and test.shape[0]


def test_zero_shot_holds_out_whole_diseases():
    split = split_links(cluster_graph(), "zero_shot", seed=1)
    held = set(split.val["dst"]) | set(split.test["dst"])
    assert held and not held & set(split.train.edges[TREATS]["dst"])
    assert not set(split.val["dst"]) & set(split.test["dst"])


def test_palliates_twin_of_held_out_pair_is_removed():
    graph = cluster_graph()
    treats = list(_pairs(graph.edges[TREATS]))
    graph = _with_edges(graph, PALLIATES, treats)  # every indication planted as a palliates twin too
    split = split_links(graph, "random", seed=0)
    held = _pairs(split.val) | _pairs(split.test)
    left = _pairs(split.train.edges[PALLIATES])
    assert not held & left
    assert left == _pairs(split.train.edges[TREATS])       # twins of training pairs stay
    assert split.removed == {PALLIATES.key: len(held)}


def test_reverse_edge_of_held_out_pair_is_removed():
    # A symmetric relation stored in both orientations: the reverse of a held-out
    # interaction is planted and must not survive in training.
    graph = cluster_graph()
    drugs = graph.nodes_of_type("drug")["id"].tolist()
    forward = [(drugs[i], drugs[i + 1]) for i in range(0, len(drugs) - 1, 2)]
    graph = _with_edges(graph, INTERACTS, forward + [(b, a) for a, b in forward])
    split = split_links(graph, "random", relation=INTERACTS, seed=0)
    held = _pairs(split.val) | _pairs(split.test)
    reversed_held = {(b, a) for a, b in held}
    assert not (held | reversed_held) & _pairs(split.train.edges[INTERACTS])
    assert split.removed[INTERACTS.key] == len(held)


def test_model_message_graph_has_no_edge_between_held_out_pairs():
    graph = _with_edges(cluster_graph(), PALLIATES, list(_pairs(cluster_graph().edges[TREATS]))[:10])
    task = LinkTask.from_split(split_links(graph, "random", seed=2))
    message = MessageGraph.from_graph(task.train_graph, task.id_maps, TREATS)
    held = {tuple(p) for p in task.val_pairs} | {tuple(p) for p in task.test_pairs}
    for e, index in message.with_target(message.target_index).items():
        if {e.src, e.dst} != {"drug", "disease"}:
            continue
        drug_first = e.src == "drug"
        pairs = {(int(s), int(d)) if drug_first else (int(d), int(s)) for s, d in index.T}
        assert not pairs & held, e


def test_same_seed_same_split_and_bad_arguments():
    graph = cluster_graph()
    a, b = split_links(graph, seed=5), split_links(graph, seed=5)
    assert a.val.equals(b.val) and a.test.equals(b.test)
    with pytest.raises(KGError, match="unknown split mode"):
        split_links(graph, "temporal")  # type: ignore[arg-type]
    with pytest.raises(KGError, match="must leave edges to train on"):
        split_links(graph, val_fraction=0.5, test_fraction=0.5)
    with pytest.raises(KGError, match="no drug__palliates__disease edges"):
        split_links(graph, relation=PALLIATES)


def test_rephetio_splits_reproduce_the_published_protocol(shipped_graph):
    """Split R: 755 indications sorted, permuted with default_rng(0): 151 test, 76 validation.
    Split Z: 20% of the 77 diseases with indications for test, 10% of the rest for validation."""
    r = split_links(shipped_graph, "rephetio_random", seed=0)
    assert (len(r.train_edges), len(r.val), len(r.test)) == (528, 76, 151)
    z = split_links(shipped_graph, "rephetio_zero_shot", seed=0)
    assert (z.test["dst"].nunique(), z.val["dst"].nunique()) == (15, 6)
    assert not set(z.test["dst"]) & set(z.train_edges["dst"]) and not set(z.val["dst"]) & set(z.train_edges["dst"])
    again = split_links(shipped_graph, "rephetio_random", seed=0, val_fraction=0.3)  # fractions are the protocol's
    assert again.test.equals(r.test)
