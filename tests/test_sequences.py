"""The ``sequence`` component: what the graph's patients started after the drugs a patient took."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kg.graph import KnowledgeGraph
from kg.schema import EdgeType
from recsys.recommender.sequences import DrugSequences

TAKES = EdgeType("patient", "takes", "drug")
DRUGS = ["drug:A", "drug:B", "drug:C", "drug:D", "drug:E"]


def _graph(records: list[tuple[str, str, str | None]]) -> KnowledgeGraph:
    patients = sorted({p for p, _, _ in records})
    nodes = pd.DataFrame([{"id": d, "type": "drug", "name": d.split(":")[1]} for d in DRUGS]
                         + [{"id": "disease:X", "type": "disease", "name": "X"}]
                         + [{"id": p, "type": "patient", "name": p} for p in patients])
    takes = pd.DataFrame([{"src": p, "dst": d, "time": t, "end_time": None, "weight": 1.0} for p, d, t in records])
    return KnowledgeGraph(nodes, {TAKES: takes})


@pytest.fixture(scope="module")
def planted() -> KnowledgeGraph:
    records = []
    for i in range(4):  # four patients went from A to B
        records += [(f"patient:p{i}", "drug:A", "2020-01-01"), (f"patient:p{i}", "drug:B", "2020-02-01")]
    records += [("patient:p5", "drug:A", "2020-01-01"), ("patient:p5", "drug:C", "2020-03-01")]
    # A then B then C: A's unit is spread over B (one step on) and C (two steps on, half as much).
    records += [("patient:chain", "drug:A", "2021-01-01"), ("patient:chain", "drug:B", "2021-02-01"),
                ("patient:chain", "drug:C", "2021-03-01")]
    records += [("patient:new", "drug:D", "2019-01-01"), ("patient:new", "drug:A", "2022-01-01")]
    records += [("patient:undated", "drug:A", None), ("patient:undated", "drug:E", None)]
    return _graph(records)


def test_transitions_spread_each_start_over_what_followed_it(planted):
    sequences = DrugSequences(planted, DRUGS)
    t = sequences.transitions.toarray()
    a, b, c, d = (DRUGS.index(x) for x in ("drug:A", "drug:B", "drug:C", "drug:D"))
    assert t[a, b] == pytest.approx(4 + 2 / 3) and t[a, c] == pytest.approx(1 + 1 / 3)
    assert t[b, c] == pytest.approx(1.0) and t[d, a] == pytest.approx(1.0)
    assert t[b, a] == 0.0 and np.trace(t) == 0.0  # order matters; a drug never follows itself
    assert sequences.followers[a, b] == 5 and sequences.continued[a] == 6  # p0-p3, chain; and p5


def test_a_patient_scores_what_followed_their_drugs_latest_first(planted):
    sequences = DrugSequences(planted, DRUGS)
    scores = sequences.scores(["patient:new", "patient:undated", "patient:unknown"])
    a, b, c, d = (DRUGS.index(x) for x in ("drug:A", "drug:B", "drug:C", "drug:D"))
    t = sequences.transitions.toarray()
    # Their latest drug (A) weighs 1, the one before it (D) half as much.
    assert scores[0] == pytest.approx(np.log1p(t[a] + 0.5 * t[d]))
    assert scores[0, b] > scores[0, c] > 0 and scores[0, a] > 0  # D -> A counts: the patient took A after D
    assert (scores[1] == 0).all() and (scores[2] == 0).all()  # no dated drug, no record: no evidence
    undated = DrugSequences(planted, DRUGS).of_drug_sets(np.isin(DRUGS, ["drug:A"])[None, :])
    assert undated[0] == pytest.approx(np.log1p(t[a]))  # a new patient's drugs all weigh as latest


def test_evidence_names_the_drug_that_leads_there_and_its_counts(planted):
    sequences = DrugSequences(planted, DRUGS)
    b = DRUGS.index("drug:B")
    assert sequences.evidence("patient:new", b) == (DRUGS.index("drug:A"), 5, 6)
    assert sequences.evidence("patient:new", DRUGS.index("drug:E")) is None
    assert sequences.evidence("patient:unknown", b) is None


def test_the_recommender_weighs_and_explains_the_sequence(planted):
    from recsys.recommender import Recommender

    rec = Recommender(planted, np.zeros((1, len(DRUGS))), ["disease:X"], DRUGS)
    assert rec.weights["patient_new"]["sequence"] == 0.0  # off until a fitted blend turns it on
    rec.weights["patient_new"] = {"sequence": 1.0}
    top = rec.recommend_for_patient("patient:new", k=1, safety=False)
    assert top[0].drug_id == "drug:B"
    assert "They took A; 5 of the graph's 6 patients who started another drug after it started this one." in \
        top[0].explanation
    # A new patient's list of drugs has no order: no sequence, like no history.
    from recsys.recommender.entities import new_patient_parts
    assert "sequence" not in new_patient_parts(rec, current_drugs=["drug:A"])


def test_patients_taken_in_chunks_give_the_same_tables(planted):
    whole, chunked = DrugSequences(planted, DRUGS), DrugSequences(planted, DRUGS, chunk_pairs=1)
    assert np.allclose(whole.transitions.toarray(), chunked.transitions.toarray())
    assert (whole.followers != chunked.followers).nnz == 0 and (whole.continued == chunked.continued).all()
    patients = ["patient:new", "patient:chain", "patient:p0"]
    assert np.allclose(whole.scores(patients), chunked.scores(patients))
