"""Safety filter: planted interactions, allergies (ingredient and class) and current drugs."""

from __future__ import annotations

import pandas as pd
import pytest

from kg.errors import KGError
from kg.graph import KnowledgeGraph
from kg.schema import EdgeType
from recsys.recommender.safety import PatientContext, SafetyFilter

DRUGS = {  # id: (name, ATC)
    "drug:DB00682": ("Warfarin", "B01AA03"),
    "drug:DB00945": ("Aspirin", "B01AC06|N02BA01"),
    "drug:DB01060": ("Amoxicillin", "J01CA04"),
    "drug:DB00417": ("Penicillin V", "J01CE02"),
    "drug:DB00331": ("Metformin", "A10BA02"),
    "drug:DB00316": ("Acetaminophen", "N02BE01"),
}


def planted_graph() -> KnowledgeGraph:
    nodes = pd.DataFrame(
        [{"id": d, "type": "drug", "name": n, "atc_codes": atc} for d, (n, atc) in DRUGS.items()]
        + [{"id": "patient:demo:p1", "type": "patient", "name": None, "atc_codes": None},
           {"id": "patient:demo:p2", "type": "patient", "name": None, "atc_codes": None}])
    edges = {
        # stored one way only: warfarin -> aspirin; aspirin must still be blocked for warfarin users
        EdgeType("drug", "interacts_with", "drug"): pd.DataFrame({"src": ["drug:DB00682"], "dst": ["drug:DB00945"]}),
        EdgeType("patient", "takes", "drug"): pd.DataFrame({
            "src": ["patient:demo:p1", "patient:demo:p2", "patient:demo:p2"],
            "dst": ["drug:DB00682", "drug:DB00331", "drug:DB00945"],
            "time": pd.to_datetime(["2020-01-01", "2010-01-01", "2020-01-01"]),
            "end_time": pd.to_datetime([None, "2010-02-01", None])}),
        EdgeType("patient", "allergic_to", "drug"): pd.DataFrame({"src": ["patient:demo:p1"], "dst": ["drug:DB01060"]}),
    }
    return KnowledgeGraph(nodes, edges)


def test_planted_interaction_allergy_and_current_drug_are_removed_with_reasons():
    graph = planted_graph()
    safety = SafetyFilter.from_graph(graph)
    context = safety.context(graph, "patient:demo:p1")
    assert context == PatientContext(frozenset({"drug:DB00682"}), frozenset({"drug:DB01060"}),
                                     running=frozenset({"drug:DB00682"}))
    candidates = list(DRUGS)
    kept, removed = safety.filter(candidates, context)
    assert [candidates[i] for i in kept] == ["drug:DB00331", "drug:DB00316"]
    why = {(e.drug_id, e.reason, e.because_of) for e in removed}
    assert why == {("drug:DB00682", "already taken", "drug:DB00682"),
                   ("drug:DB00945", "interaction", "drug:DB00682"),
                   ("drug:DB01060", "allergy", "drug:DB01060"),
                   ("drug:DB00417", "allergy", "drug:DB01060")}
    penicillin = next(e for e in removed if e.drug_id == "drug:DB00417")
    assert "same class J01C" in penicillin.text()
    assert list(safety.unsafe_mask(candidates, context)) == [True, True, True, True, False, False]


def test_allergy_to_a_class_and_the_current_window():
    graph = planted_graph()
    safety = SafetyFilter.from_graph(graph)
    by_class = PatientContext(allergies=frozenset({"atc:N02B"}))
    assert list(safety.unsafe_mask(["drug:DB00945", "drug:DB00316", "drug:DB00331"], by_class)) == [True, True, False]
    # p2 stopped metformin in 2010; by default every recorded drug counts as current
    assert safety.context(graph, "patient:demo:p2").current_drugs == {"drug:DB00331", "drug:DB00945"}
    recent = safety.context(graph, "patient:demo:p2", current_window_days=365)
    assert recent.current_drugs == {"drug:DB00945"}
    # aspirin interacts with warfarin, stored the other way round
    assert [e.reason for e in safety.reasons("drug:DB00682", recent)] == ["interaction"]


def test_context_errors_name_the_id():
    graph = planted_graph()
    with pytest.raises(KGError, match="'drug:DB00682' is not a patient"):
        SafetyFilter.context(graph, "drug:DB00682")
    with pytest.raises(KGError, match="class level"):
        SafetyFilter.from_graph(graph, class_level=5)


def test_shipped_interactions_are_symmetric_and_allergies_load(shipped_graph):
    safety = SafetyFilter.from_graph(shipped_graph)
    assert sum(len(v) for v in safety.interactions.values()) == 2 * len(
        shipped_graph.edges[EdgeType("drug", "interacts_with", "drug")])
    patients = shipped_graph.nodes_of_type("patient")["id"]
    with_allergy = [p for p in patients if safety.context(shipped_graph, p).allergies]
    assert with_allergy, "the shipped Synthea patients include drug allergies"


def test_removals_name_the_drugs():
    from recsys.recommender.safety import Exclusion

    names = {"drug:DB00316": "Acetaminophen", "drug:DB00682": "Warfarin"}
    assert Exclusion("drug:DB00316", "already taken", "drug:DB00316").text(names) == \
        "Acetaminophen (drug:DB00316) is already taken"
    assert Exclusion("drug:DB00316", "interaction", "drug:DB00682").text(names) == \
        "Acetaminophen (drug:DB00316) interacts with current drug Warfarin (drug:DB00682)"
    assert Exclusion("drug:DB9", "allergy", "atc:N02B", " (class)").text(names) == \
        "drug:DB9 matches recorded allergy atc:N02B (class)"  # no name known: the id alone
