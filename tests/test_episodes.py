"""Medication episodes: every record of a patient's drug is kept, so a stop and a restart stay
visible, and the patient time split knows exactly what was running at each cutoff."""

from __future__ import annotations

import pandas as pd

from conftest import build
from kg.batches import EdgeBatch, NodeBatch, SourceData
from kg.graph import KnowledgeGraph
from kg.privacy import Pseudonymiser
from kg.schema import EdgeType
from pipelines.temporal import medication_episodes, time_split

TAKES = EdgeType("patient", "takes", "drug")
T = pd.Timestamp


def records_source(rows: list[tuple[str, str, str, str | None]]) -> SourceData:
    """Patients p1, p2 and drugs A-E, with the given (patient, drug, start, stop) medication records."""
    nodes = pd.DataFrame({"id": ["patient:x:p1", "patient:x:p2"] + [f"drug:{d}" for d in "ABCDE"],
                          "type": ["patient"] * 2 + ["drug"] * 5, "name": [None, None, *"ABCDE"]})
    edges = pd.DataFrame({"src": [f"patient:x:{p}" for p, _, _, _ in rows], "dst": [f"drug:{d}" for _, d, _, _ in rows],
                          "weight": 1.0, "time": [T(s) for _, _, s, _ in rows],
                          "end_time": [T(e) if e else pd.NaT for _, _, _, e in rows]})
    data = SourceData("records", rows_read=len(nodes) + len(edges), files=["records.csv"])
    data.nodes.append(NodeBatch("records.csv", nodes.assign(_line=range(2, 2 + len(nodes)))))
    data.edges.append(EdgeBatch("records.csv", TAKES, edges.assign(_line=range(2, 2 + len(edges)))))
    return data


# p1's first starts: A 01-01, B 02-01, C 03-01, D 04-01, E 05-01 -> cutoff 04-01 (4 of 5 times).
RECORDS = [
    ("p1", "A", "2020-01-01", "2020-01-20"),   # stopped before the cutoff ...
    ("p1", "A", "2020-06-01", "2020-06-10"),   # ... and restarted after it: a target, not running there
    ("p1", "B", "2020-02-01", None),           # open: running at the cutoff
    ("p1", "C", "2020-03-01", "2020-03-05"),   # stopped, never restarted: not a target
    ("p1", "D", "2020-04-01", "2020-05-01"),   # stops after the cutoff: running there, stop unknown
    ("p1", "E", "2020-05-01", None),           # started after the cutoff: new
    ("p1", "C", "2020-02-15", "2020-02-20"),   # an earlier stop of C: C's merged stop is 03-05
    ("p2", "A", "2020-01-01", "2020-01-02"),
    ("p2", "B", "2020-01-01", "2020-03-01"),
    ("p2", "B", "2020-02-01", None),           # an open record keeps the merged record open
]


def graph() -> KnowledgeGraph:
    return build(records_source(RECORDS)).graph


def test_the_build_keeps_every_record_and_an_open_one_keeps_the_merged_edge_open():
    g = graph()
    episodes = g.tables["medication_episodes"]
    assert len(episodes) == len(RECORDS) and set(episodes.columns) == {"patient", "drug", "time", "end_time", "weight"}
    takes = g.edges[TAKES].set_index([g.edges[TAKES]["src"].astype(str), g.edges[TAKES]["dst"].astype(str)])
    assert len(takes) == 7  # one edge per patient and drug
    assert takes.loc[("patient:x:p1", "drug:A"), "end_time"] == T("2020-06-10")
    assert takes.loc[("patient:x:p1", "drug:A"), "time"] == T("2020-01-01")
    assert takes.loc[("patient:x:p1", "drug:C"), "end_time"] == T("2020-03-05")
    assert pd.isna(takes.loc[("patient:x:p2", "drug:B"), "end_time"]), "max would have skipped the open record"
    assert takes.loc[("patient:x:p2", "drug:B"), "weight"] == 2.0


def test_the_time_split_knows_what_ran_at_the_cutoff_episode_by_episode():
    split = time_split(graph(), history_share=0.8, val_share=0.5, seed=0)
    assert split.cutoffs["patient:x:p1"] == T("2020-04-01")
    future = {(p.removeprefix("patient:x:"), d.removeprefix("drug:")): new
              for p, d, new in zip(split.future["patient"], split.future["drug"], split.future["new"])}
    p1 = {d: new for (p, d), new in future.items() if p == "p1"}
    assert p1 == {"A": False, "B": False, "D": False, "E": True}  # C had stopped for good
    train = split.graph.edges[TAKES]
    mine = train[train["src"].astype(str) == "patient:x:p1"]
    mine = mine.set_index(mine["dst"].astype(str))
    assert set(mine.index) == {"drug:A", "drug:B", "drug:C", "drug:D"}
    assert mine.loc["drug:A", "end_time"] == T("2020-01-20"), "the restart after the cutoff is not known there"
    assert mine.loc["drug:A", "weight"] == 1.0
    assert pd.isna(mine.loc["drug:B", "end_time"]) and pd.isna(mine.loc["drug:D", "end_time"])
    assert mine.loc["drug:C", "end_time"] == T("2020-03-05")
    known = medication_episodes(split.graph)
    p1_known = known[known["patient"] == "patient:x:p1"]
    assert (p1_known["time"] <= T("2020-04-01")).all() and len(p1_known) == 5
    assert not (p1_known["end_time"] > T("2020-04-01")).any()


def test_a_graph_without_episodes_is_split_as_one_episode_per_edge():
    g = graph()
    merged_only = KnowledgeGraph(g.nodes, g.edges, {})
    split = time_split(merged_only, history_share=0.8, val_share=0.5, seed=0)
    p1 = {d.removeprefix("drug:"): new for p, d, new in zip(split.future["patient"], split.future["drug"],
                                                              split.future["new"]) if p == "patient:x:p1"}
    # The merged record of A (01-01 to 06-10) reads as running through the cutoff: what the
    # episode table exists to correct.
    assert p1 == {"A": False, "B": False, "D": False, "E": True}
    train = split.graph.edges[TAKES]
    a = train[(train["src"].astype(str) == "patient:x:p1") & (train["dst"].astype(str) == "drug:A")]
    assert pd.isna(a["end_time"].iloc[0])


def test_privacy_pseudonymises_the_episodes_and_keeps_only_their_month():
    g = graph()
    anon = Pseudonymiser(key=b"k" * 32).graph(g)
    episodes = anon.tables["medication_episodes"]
    assert not episodes["patient"].str.startswith("patient:x:").any()
    assert (episodes["time"].dt.day == 1).all()


def test_how_often_a_patient_was_given_a_drug_counts_its_records_not_its_edge():
    import numpy as np

    from recsys.recommender.history import PatientHistory

    g = graph()
    drugs = [f"drug:{d}" for d in "ABCDE"]
    history = PatientHistory(g, drugs)
    _, _, frequency = history.components(["patient:x:p1", "patient:x:p2"])
    np.testing.assert_allclose(frequency[0], np.log1p([2, 1, 2, 1, 1]))  # A and C were given twice
    np.testing.assert_allclose(frequency[1], np.log1p([1, 2, 0, 0, 0]))
    assert history.records("patient:x:p1", 0) == 2 and history.records("patient:x:p2", 4) == 0
    merged_only = PatientHistory(KnowledgeGraph(g.nodes, g.edges, {}), drugs)  # one record per edge
    np.testing.assert_allclose(merged_only.components(["patient:x:p1"])[2][0], np.log1p([1, 1, 1, 1, 1]))


def test_leaving_pairs_out_of_training_drops_every_episode_record_of_them():
    # rxkg train's validation without dates (a random fifth of each patient's drugs held out) and the
    # sparse-patient protocol leave pairs out: the history components count episodes, so those go too.
    from pipelines.train import without_pairs

    g = graph()
    out = without_pairs(g, TAKES, [("patient:x:p1", "drug:A"), ("patient:x:p2", "drug:B")])
    episodes = medication_episodes(out)
    pairs = set(zip(episodes["patient"], episodes["drug"]))
    assert ("patient:x:p1", "drug:A") not in pairs and ("patient:x:p2", "drug:B") not in pairs
    assert len(episodes) == len(RECORDS) - 4 and len(out.edges[TAKES]) == 5  # two records each
    assert len(medication_episodes(g)) == len(RECORDS)  # the input graph is never changed
