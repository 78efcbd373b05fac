"""What an HTML inspection page shows: an entity's neighbourhood plus its recommendations' paths."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from kg.errors import KGError
from kg.graph import KnowledgeGraph

__all__ = ["inspection_graph", "recommend_for"]


def recommend_for(recommender, graph: KnowledgeGraph, entity: str, k: int):
    """The recommender's top-``k`` for a disease, doctor or patient, by the entity's type."""
    kind = graph.node(entity)["type"]
    ranked = {"disease": recommender.recommend_for_disease, "doctor": recommender.recommend_for_doctor,
              "patient": recommender.recommend_for_patient}
    if kind not in ranked:
        raise KGError(f"{entity!r} is a {kind}; recommendations exist for diseases, doctors and patients")
    return ranked[kind](entity, k=k)


def inspection_graph(graph: KnowledgeGraph, focus: str, recommendations: Sequence = (), hops: int = 1,
                     relations: Iterable[str] | None = None, edge_relations: Iterable[str] | None = None,
                     max_neighbourhood: int | None = None) -> tuple[KnowledgeGraph, dict[str, Any]]:
    """The page's graph and its ``export_graph`` options.

    The ``hops``-neighbourhood of ``focus`` over ``relations`` (just the focus and the
    recommended drugs when it has more than ``max_neighbourhood`` nodes: a prescriber
    links to every drug they prescribe), plus every node of the recommendations'
    explanation paths. Edges among those nodes are drawn for ``edge_relations`` (all
    when ``None``), and a path's own edges always.
    """
    nodes = set(graph.neighbourhood(focus, hops, relations))
    if max_neighbourhood is not None and len(nodes) > max_neighbourhood:
        nodes = {focus} | {r.drug_id for r in recommendations}
    drawn = set(edge_relations) if edge_relations is not None else None
    items = []
    for r in recommendations:
        paths = [list(p.nodes) for p in r.paths]
        nodes.update(n for path in paths for n in path)
        nodes.add(r.drug_id)
        if drawn is not None:
            drawn.update(rel for p in r.paths for _, rel, _ in p.edges)
        items.append({"drug_id": r.drug_id, "name": r.name, "score": r.score, "explanation": r.explanation,
                      "paths": paths})
    return graph.subgraph(sorted(nodes), drawn), {"focus": focus, "recommendations": items}
