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


def people_graph(clusters: int = 6, doctors_per_cluster: int = 8, patients_per_cluster: int = 6,
                 seed: int = 0) -> KnowledgeGraph:
    """:func:`cluster_graph` plus doctors and patients whose prescriptions follow the clusters.

    Doctors (specialty = their cluster, one of eight states) prescribe their cluster's
    drugs and two drugs of the next cluster; patients have conditions of their cluster
    diagnosed at one date and take its drugs started over four dates, so that every
    evaluation protocol can split them: enough to run the whole evaluation in seconds.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    base = cluster_graph(clusters=clusters, drugs=6, diseases=5, genes=5)
    drugs = [[f"drug:DB{10000 + c * 100 + i:05d}" for i in range(6)] for c in range(clusters)]
    diseases = [[f"disease:DOID:{1000 + c * 100 + i}" for i in range(5)] for c in range(clusters)]
    nodes, prescribes, conditions, takes = [], [], [], []
    states = ["CA", "NY", "TX", "FL", "WA", "OH", "MA", "IL"]
    for c in range(clusters):
        for d in range(doctors_per_cluster):
            doctor = f"doctor:NPI:{c}{d:03d}"
            nodes.append({"id": doctor, "type": "doctor", "name": f"doctor {c}.{d}",
                          "specialty": f"specialty {c}", "state": states[(c + d) % len(states)]})
            for drug in drugs[c] + drugs[(c + 1) % clusters][:2]:
                prescribes.append((doctor, drug, float(rng.integers(11, 200))))
        for p in range(patients_per_cluster):
            patient = f"patient:synth:{c}-{p}"
            nodes.append({"id": patient, "type": "patient", "name": None})
            for disease in rng.choice(diseases[c], size=2, replace=False):
                conditions.append((patient, str(disease), pd.Timestamp("2020-01-01")))
            for step, drug in enumerate(rng.choice(drugs[c], size=4, replace=False)):
                start = pd.Timestamp("2020-02-01") + pd.Timedelta(days=30 * step)
                takes.append((patient, str(drug), 1.0, start, start + pd.Timedelta(days=10)))
    node_frame = pd.concat([base.nodes, pd.DataFrame(nodes)], ignore_index=True)
    edges = dict(base.edges)
    edges[EdgeType("doctor", "prescribes", "drug")] = pd.DataFrame(prescribes, columns=["src", "dst", "weight"])
    edges[EdgeType("patient", "has_condition", "disease")] = pd.DataFrame(conditions, columns=["src", "dst", "time"])
    edges[EdgeType("patient", "takes", "drug")] = pd.DataFrame(
        takes, columns=["src", "dst", "weight", "time", "end_time"])
    return KnowledgeGraph(node_frame, edges)


def people_recommender(graph: KnowledgeGraph):
    """A recommender over :func:`people_graph`-like graphs: disease scores that know each drug's
    indications (plus noise), EASE and within-specialty popularity for the prescribers."""
    import numpy as np

    from recsys.cf import EASERecommender, GroupPopularityRecommender, doctor_drug_interactions
    from recsys.recommender.api import Recommender

    drugs = sorted(graph.nodes_of_type("drug")["id"])
    diseases = sorted(graph.nodes_of_type("disease")["id"])
    treats = graph.edges[EdgeType("drug", "treats", "disease")]
    scores = np.random.default_rng(0).normal(scale=0.01, size=(len(diseases), len(drugs)))  # what a scorer predicts
    scores[pd.Index(diseases).get_indexer(treats["dst"]), pd.Index(drugs).get_indexer(treats["src"])] += 1.0
    claims = doctor_drug_interactions(graph)
    return Recommender(graph, scores, diseases, drugs, doctor_cf=EASERecommender(regularization=10.0).fit(claims),
                       doctor_popularity=GroupPopularityRecommender().fit(claims))
