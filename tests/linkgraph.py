"""A small graph whose indications follow from its structure: the link-prediction fixture.

Clusters of drugs, diseases and genes: every drug of a cluster binds the cluster's
genes and treats the cluster's diseases, every disease is associated with the
cluster's genes, and drugs of a cluster resemble each other. A held-out indication
is therefore easy: its drug shares genes, neighbours and indications with the
disease, and every other candidate comes from another cluster.
"""

from __future__ import annotations

import itertools

import pandas as pd

from kg.graph import KnowledgeGraph
from kg.schema import EdgeType


def cluster_graph(clusters: int = 4, drugs: int = 4, diseases: int = 3, genes: int = 5) -> KnowledgeGraph:
    nodes, edges = [], {}

    def add(et: EdgeType, src: str, dst: str) -> None:
        edges.setdefault(et, []).append((src, dst))

    for c in range(clusters):
        drug_ids = [f"drug:DB{10000 + c * 100 + i:05d}" for i in range(drugs)]
        disease_ids = [f"disease:DOID:{1000 + c * 100 + i}" for i in range(diseases)]
        gene_ids = [f"target:{50000 + c * 100 + i}" for i in range(genes)]
        nodes += [(d, "drug", f"drug {c}.{i}") for i, d in enumerate(drug_ids)]
        nodes += [(d, "disease", f"disease {c}.{i}") for i, d in enumerate(disease_ids)]
        nodes += [(g, "target", f"gene {c}.{i}") for i, g in enumerate(gene_ids)]
        for drug, gene in itertools.product(drug_ids, gene_ids):
            add(EdgeType("drug", "binds", "target"), drug, gene)
        for disease, gene in itertools.product(disease_ids, gene_ids):
            add(EdgeType("disease", "associates", "target"), disease, gene)
        for drug, disease in itertools.product(drug_ids, disease_ids):
            add(EdgeType("drug", "treats", "disease"), drug, disease)
        for a, b in itertools.combinations(drug_ids, 2):
            add(EdgeType("drug", "resembles", "drug"), a, b)
    node_frame = pd.DataFrame(nodes, columns=["id", "type", "name"])
    edge_frames = {et: pd.DataFrame(pairs, columns=["src", "dst"]) for et, pairs in edges.items()}
    return KnowledgeGraph(node_frame, edge_frames)
