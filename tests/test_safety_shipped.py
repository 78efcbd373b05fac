"""No top-10 of any shipped patient, or of planted risky patients, holds what safety must remove.

The recommender here is adversarial: its graph component ranks first exactly the drugs a
pharmacist would object to (allergens by any class, interacting drugs and combination
partners, drugs whose side effects are the patient's condition), so the filter has work to
do. Every list is checked by an independent reading of the graph, not by the filter itself.
"""

from __future__ import annotations

import numpy as np
import pytest

from kg.atc import drug_atc_codes
from kg.schema import EdgeType
from recsys.recommender.api import Recommender
from recsys.recommender.contraindications import fold
from recsys.recommender.safety import SafetyPolicy

PENICILLIN_V, WARFARIN, AMOXICILLIN, CLAVULANATE = "drug:DB00417", "drug:DB00682", "drug:DB01060", "drug:DB00766"
HEPARIN, PREDNISONE, TAZOBACTAM = "drug:DB01109", "drug:DB00635", "drug:DB01606"
THROMBOCYTOPENIA, TYPE_2_DIABETES = "disease:DOID:1588", "disease:DOID:9352"
RISKY = (CLAVULANATE, TAZOBACTAM, AMOXICILLIN, "drug:DB00319", HEPARIN, PREDNISONE, "drug:DB00316",
         "drug:DB00945", "drug:DB00537")


@pytest.fixture(scope="module")
def adversarial(shipped_graph) -> Recommender:
    drugs = shipped_graph.nodes_of_type("drug")["id"].tolist()
    diseases = shipped_graph.nodes_of_type("disease")["id"].tolist()
    scores = np.random.default_rng(0).random((len(diseases), len(drugs)))
    column = {d: i for i, d in enumerate(drugs)}
    for rank, drug in enumerate(RISKY):  # the drugs safety must catch come first for every disease
        scores[:, column[drug]] = 10.0 - rank
    rec = Recommender(shipped_graph, scores, diseases, drugs, weights={"patient": {"graph": 1.0, "popularity": 0.2}})
    rec.safety = rec.safety.with_policy(SafetyPolicy(contraindications="remove"))
    return rec


class Pharmacist:
    """An independent reading of the graph: what a pharmacist would object to in a list."""

    def __init__(self, graph, names: dict) -> None:
        self.names = names
        interactions = graph.edges[EdgeType("drug", "interacts_with", "drug")]
        self.pairs = set(zip(interactions["src"], interactions["dst"])) | set(zip(interactions["dst"],
                                                                                   interactions["src"]))
        self.atc3 = {d: {c[:4] for c in codes} for d, codes in drug_atc_codes(graph).items()}
        causes = graph.edges[EdgeType("drug", "causes", "side_effect")]
        self.effects = causes.groupby("src")["dst"].agg(set).to_dict()
        self.fold = {i: fold(n) for i, n in zip(graph.nodes["id"], graph.nodes["name"]) if isinstance(n, str)}
        self.indicated = {(d, c) for rel in ("treats", "palliates")
                          for d, c in zip(*graph.edges[EdgeType("drug", rel, "disease")][["src", "dst"]].T.values)}
        self.products: dict[str, list[set[str]]] = {}
        for ingredients in graph.tables["products"]["ingredients"]:
            parts = set(ingredients.split("|"))
            for drug in parts:
                self.products.setdefault(drug, []).append(parts)

    def objections(self, items, current: set[str], allergies: set[str], conditions: set[str]) -> list[str]:
        allergen_classes = set().union(*(self.atc3.get(a, set()) for a in allergies))
        bad = []
        for item in items:
            given = set(item.ingredients)
            combos = self.products.get(item.drug_id, [])
            if combos and all(len(c) > 1 for c in combos):  # only ever given in a combination
                given |= set().union(*combos)
            for drug in given:
                who = f"{self.names.get(item.drug_id)} through {self.names.get(drug)}"
                if drug in allergies or self.atc3.get(drug, set()) & allergen_classes:
                    bad.append(f"{who}: allergy")
                if any((drug, c) in self.pairs for c in current):
                    bad.append(f"{who}: interaction")
                effects = {self.fold.get(e) for e in self.effects.get(drug, ())}
                named = {self.fold.get(c) for c in conditions if (drug, c) not in self.indicated}  # indications exempt
                if effects & named:
                    bad.append(f"{who}: a side effect is one of the conditions")
        return bad


@pytest.fixture(scope="module")
def pharmacist(shipped_graph, adversarial) -> Pharmacist:
    return Pharmacist(shipped_graph, adversarial.names)


def test_every_shipped_patient_top10_is_safe(shipped_graph, adversarial, pharmacist):
    patients = shipped_graph.nodes_of_type("patient")["id"].tolist()
    assert len(patients) > 200
    failures = []
    for patient in patients:
        context = adversarial.safety.context(shipped_graph, patient)
        try:
            out = adversarial.recommend_for_patient(patient, k=10)
        except Exception as err:  # a patient nothing can score is not a safety failure
            assert "nothing to rank" in str(err)
            continue
        failures += pharmacist.objections(out, set(context.current_drugs), set(context.allergies),
                                          set(context.conditions))
        assert all(e.detail or e.reason == "already taken" for e in out.removed), "a removal without evidence"
    assert failures == []


@pytest.mark.parametrize("case", [
    {"name": "penicillin-allergic", "allergies": [PENICILLIN_V], "conditions": [TYPE_2_DIABETES],
     "expect": {CLAVULANATE: "allergy", AMOXICILLIN: "allergy", TAZOBACTAM: "allergy"}},
    {"name": "on warfarin", "current_drugs": [WARFARIN], "conditions": [TYPE_2_DIABETES],
     "expect": {CLAVULANATE: "interaction", TAZOBACTAM: "interaction", AMOXICILLIN: "interaction"}},
    {"name": "thrombocytopenic", "conditions": [THROMBOCYTOPENIA], "expect": {HEPARIN: "contraindication"}},
    {"name": "diabetic", "conditions": [TYPE_2_DIABETES], "expect": {PREDNISONE: "contraindication"}},
    {"name": "on amoxicillin/clavulanate", "current_drugs": [AMOXICILLIN, CLAVULANATE],
     "conditions": [TYPE_2_DIABETES], "expect": {}},
], ids=lambda case: case["name"])
def test_planted_patients_lose_the_risky_drugs_with_evidence(adversarial, pharmacist, case):
    out = adversarial.recommend_for_new_patient(case.get("conditions", ()), case.get("current_drugs", ()),
                                                case.get("allergies", ()), k=10)
    assert len(out) == 10
    assert pharmacist.objections(out, set(case.get("current_drugs", ())), set(case.get("allergies", ())),
                                 set(case.get("conditions", ()))) == []
    assert not {r.drug_id for r in out} & set(case.get("current_drugs", ())), "a current drug came back"
    reasons = {(e.drug_id, e.reason) for e in out.removed}
    for drug, reason in case["expect"].items():
        assert (drug, reason) in reasons, f"{drug} not removed for {reason}: {sorted(reasons)[:8]}"
    for exclusion in out.removed:
        text = exclusion.text(adversarial.names)
        assert exclusion.reason == "already taken" or "(" in text, text  # evidence in brackets


def test_the_shipped_combination_partner_is_named_as_its_product(adversarial):
    out = adversarial.recommend_for_new_patient([TYPE_2_DIABETES], k=3, safety=False)
    first = out[0]
    assert first.drug_id == CLAVULANATE
    assert first.name == "Amoxicillin / Clavulanate" and first.ingredients == [CLAVULANATE, AMOXICILLIN]


@pytest.mark.parametrize("policy", [SafetyPolicy(), SafetyPolicy(contraindications="remove"),
                                    SafetyPolicy(contraindications="off", block_at="major")],
                         ids=["default", "strict", "lenient"])
def test_the_fast_mask_equals_checking_every_drug(shipped_graph, adversarial, policy):
    """``unsafe_mask`` checks only the drugs ``at_risk`` names; over every shipped patient and
    a planted allergy to a whole ATC class it must agree with asking every drug."""
    from recsys.recommender.patient_records import PatientContext

    safety = adversarial.safety.with_policy(policy)
    drugs = shipped_graph.nodes_of_type("drug")["id"].tolist()
    records = safety.records
    contexts = [records.context(p) for p in shipped_graph.nodes_of_type("patient")["id"]]
    contexts.append(PatientContext(frozenset({WARFARIN, AMOXICILLIN}), frozenset({"atc:J01", PENICILLIN_V}),
                                   conditions=frozenset({THROMBOCYTOPENIA, TYPE_2_DIABETES})))
    contexts.append(PatientContext(frozenset({WARFARIN, CLAVULANATE}), allow_current=True,
                                   conditions=frozenset({TYPE_2_DIABETES})))
    unsafe = 0
    for context in contexts:
        fast = safety.unsafe_mask(drugs, context)
        every = np.array([bool(safety.reasons(d, context)) for d in drugs])
        assert np.array_equal(fast, every), [d for d, a, b in zip(drugs, fast, every) if a != b][:5]
        unsafe += int(every.sum())
    assert unsafe > len(contexts)  # the filter had work to do
