"""Explanation paths: only real edges, strongest first, no interactions as reasons, no patient ids in text."""

from __future__ import annotations

import pytest

from kg.errors import KGError
from kg.graph import KnowledgeGraph
from kg.schema import SCHEMA, EdgeType
from recsys.recommender.explain import PathExplainer


def edge_exists(graph: KnowledgeGraph, edge: tuple[str, str, str]) -> bool:
    src, rel, dst = edge
    for et, frame in graph.edges.items():
        if et.rel != rel:
            continue
        pairs = {(src, dst), (dst, src)} if SCHEMA.relations[et].symmetric else {(src, dst)}
        if any(((frame["src"] == a) & (frame["dst"] == b)).any() for a, b in pairs):
            return True
    return False


def test_tiny_graph_paths_are_real_and_ranked(tiny_graph):
    explainer = PathExplainer(tiny_graph)
    paths = explainer.paths("disease:DOID:1287", "drug:DB01076", k=5)
    texts = [p.text() for p in paths]
    assert "disease:DOID:1287 <-treats- drug:DB01076" in texts
    assert "disease:DOID:1287 -associates-> target:3156 <-binds- drug:DB01076" in texts
    assert [p.score for p in paths] == sorted((p.score for p in paths), reverse=True)
    for path in paths:
        assert path.nodes[0] == "disease:DOID:1287" and path.nodes[-1] == "drug:DB01076"
        assert all(edge_exists(tiny_graph, e) for e in path.edges)
    names = dict(zip(tiny_graph.nodes["id"], tiny_graph.nodes["name"]))
    sentence = PathExplainer.sentence("cardiovascular system disease", "Atorvastatin", paths, names)
    assert "HMGCR" in sentence and sentence.startswith("Atorvastatin is linked to")


def test_interactions_are_not_reasons(tiny_graph):
    # aspirin palliates the disease and interacts with warfarin: no explanation for warfarin
    explainer = PathExplainer(tiny_graph)
    # (warfarin's only edge in the tiny graph is that interaction)
    paths = explainer.paths("disease:DOID:1287", "drug:DB00682")
    assert paths == []
    assert PathExplainer.sentence("cardiovascular system disease", "Warfarin", paths).startswith("No path")


def test_patient_paths_hide_other_patients(tiny_graph):
    explainer = PathExplainer(tiny_graph)
    paths = explainer.paths("disease:DOID:9352", "drug:DB00331", k=10)
    via_patient = [p for p in paths if any(n.startswith("patient:") for n in p.nodes)]
    assert via_patient, "the tiny graph's patient takes metformin for type 2 diabetes"
    for path in via_patient:
        assert "patient:demo" not in path.text() and "another patient" in path.text()
        assert all(not n.startswith("patient:demo") for n in path.as_dict()["nodes"])
        assert "patient:demo:p1" in path.as_dict(reveal_patients=True)["nodes"]


def test_errors(tiny_graph):
    explainer = PathExplainer(tiny_graph)
    with pytest.raises(KGError, match="unknown node id 'drug:nope'"):
        explainer.paths("disease:DOID:9352", "drug:nope")
    with pytest.raises(KGError, match="k must be positive"):
        explainer.paths("disease:DOID:9352", "drug:DB00331", k=0)
    with pytest.raises(KGError, match="max_hops"):
        PathExplainer(tiny_graph, max_hops=4)


def test_shipped_graph_explanations_use_only_existing_edges(shipped_graph):
    explainer = PathExplainer(shipped_graph)
    treats = shipped_graph.edges[EdgeType("drug", "treats", "disease")].head(5)
    patient = shipped_graph.edges[EdgeType("patient", "has_condition", "disease")].iloc[0]
    pairs = [(d, c) for c, d in zip(treats["src"], treats["dst"])]
    pairs += [(patient["src"], treats["src"].iloc[0]), ("doctor:NPI:1386962785", "drug:DB00482")]
    found = 0
    for entity, drug in pairs:
        for path in explainer.paths(entity, drug, k=5):
            found += 1
            assert len(path.metaedges) <= 3
            assert all(edge_exists(shipped_graph, e) for e in path.edges), path.text()
            assert "interacts_with" not in [e.rel for e in path.metaedges]
    assert found >= 20
