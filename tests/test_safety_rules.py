"""Safety rules a pharmacist checks: combinations, inferred classes, contraindications, severity, curation."""

from __future__ import annotations

import textwrap
from dataclasses import replace

import pandas as pd
import pytest

from kg.errors import KGError
from kg.graph import KnowledgeGraph
from kg.schema import EdgeType
from kg.sources import load_csv_source
from recsys.recommender.safety import NO_INTERACTION_DATA, PatientContext, SafetyFilter, SafetyPolicy
from tests.conftest import NODES_MAPPING, build

AMOXICILLIN, CLAVULANATE, PENICILLIN_V, WARFARIN = "drug:DB01060", "drug:DB00766", "drug:DB00417", "drug:DB00682"
SULBACTAM, TAZOBACTAM, ACETAMINOPHEN, RIFAMPICIN = "drug:DB09324", "drug:DB01606", "drug:DB00316", "drug:DB01045"
HEPATITIS_B, SIDE_HEPATITIS = "disease:DOID:2043", "side_effect:C0019158"
DRUGS = {AMOXICILLIN: ("Amoxicillin", "J01CA04"), CLAVULANATE: ("Clavulanate", None),
         PENICILLIN_V: ("Penicillin V", "J01CE02"), WARFARIN: ("Warfarin", "B01AA03"),
         SULBACTAM: ("Sulbactam", "J01CG01"), TAZOBACTAM: ("Tazobactam", "J01CG02"),
         ACETAMINOPHEN: ("Acetaminophen", "N02BE01"), RIFAMPICIN: ("Rifampicin", "J04AB02")}


def graph(products: bool = True, classes: bool = False) -> KnowledgeGraph:
    nodes = pd.DataFrame(
        [{"id": d, "type": "drug", "name": n, "atc_codes": atc} for d, (n, atc) in DRUGS.items()]
        + [{"id": HEPATITIS_B, "type": "disease", "name": "hepatitis B"},
           {"id": SIDE_HEPATITIS, "type": "side_effect", "name": "Hepatitis"},
           {"id": "pharmacologic_class:N0000000202", "type": "pharmacologic_class",
            "name": "beta Lactamase Inhibitors"}])
    edges = {
        EdgeType("drug", "interacts_with", "drug"): pd.DataFrame({"src": [AMOXICILLIN], "dst": [WARFARIN]}),
        EdgeType("drug", "causes", "side_effect"): pd.DataFrame({"src": [ACETAMINOPHEN], "dst": [SIDE_HEPATITIS]}),
    }
    if classes:
        edges[EdgeType("pharmacologic_class", "includes", "drug")] = pd.DataFrame({
            "src": ["pharmacologic_class:N0000000202"] * 3, "dst": [SULBACTAM, TAZOBACTAM, CLAVULANATE]})
    tables = {}
    if products:  # amoxicillin is sold alone and with clavulanate; clavulanate never alone
        tables["products"] = pd.DataFrame({
            "product": ["AMOXICILLIN", "AMOX.TR.POTASSIUM.CLAVULANATE", "WARFARIN"],
            "ingredients": [AMOXICILLIN, f"{AMOXICILLIN}|{CLAVULANATE}", WARFARIN],
            "records": [10, 4, 3], "source": "test"})
    return KnowledgeGraph(nodes, edges, tables)


def test_a_combination_only_drug_is_checked_as_every_ingredient():
    safety = SafetyFilter.from_graph(graph())
    assert safety.combinations.ingredients(CLAVULANATE) == (CLAVULANATE, AMOXICILLIN)
    assert safety.combinations.ingredients(AMOXICILLIN) == (AMOXICILLIN,)  # sold alone: itself only
    names = {d: n for d, (n, _) in DRUGS.items()}
    assert safety.combinations.product_name(CLAVULANATE, names) == "Amoxicillin / Clavulanate"
    allergic = safety.reasons(CLAVULANATE, PatientContext(allergies=frozenset({PENICILLIN_V})))
    assert [(e.reason, e.because_of) for e in allergic] == [("allergy", PENICILLIN_V)]
    assert "through Amoxicillin (drug:DB01060), given with it in one product" in allergic[0].text()
    on_warfarin = safety.reasons(CLAVULANATE, PatientContext(current_drugs=frozenset({WARFARIN})))
    assert [(e.reason, e.because_of) for e in on_warfarin] == [("interaction", WARFARIN)]
    # without the products table clavulanate has neither a class nor an interaction: it would pass
    bare = SafetyFilter.from_graph(graph(products=False))
    assert bare.reasons(CLAVULANATE, PatientContext(frozenset({WARFARIN}), frozenset({PENICILLIN_V}))) == []


def test_allergies_cross_react_within_curated_families_not_within_a_therapeutic_subgroup():
    aspirin, ibuprofen, epinephrine = "drug:DB00945", "drug:DB01050", "drug:DB00668"
    codes = {aspirin: ("Aspirin", "A01AD05|B01AC06|N02BA01"), ibuprofen: ("Ibuprofen", "M01AE01|C01EB16"),
             epinephrine: ("Epinephrine", "A01AD01|C01CA24"), WARFARIN: ("Warfarin", "B01AA03"),
             ACETAMINOPHEN: ("Acetaminophen", "N02BE01"), AMOXICILLIN: ("Amoxicillin", "J01CA04"),
             PENICILLIN_V: ("Penicillin V", "J01CE02"), RIFAMPICIN: ("Rifampicin", "J04AB02"),
             "drug:DB00615": ("Rifabutin", "J04AB04")}
    nodes = pd.DataFrame([{"id": d, "type": "drug", "name": n, "atc_codes": c} for d, (n, c) in codes.items()])
    safety = SafetyFilter.from_graph(KnowledgeGraph(nodes, {}))

    def blocked(allergen: str) -> set[str]:
        context = PatientContext(allergies=frozenset({allergen}))
        return {d for d in codes if d != allergen and safety.reasons(d, context)}

    # Aspirin and ibuprofen share no ATC subgroup, but NSAID hypersensitivity spans both; aspirin's
    # antithrombotic (B01A: warfarin) and stomatological (A01A: epinephrine) subgroups say nothing
    # about an allergy, nor does acetaminophen's N02B, the usual alternative.
    assert blocked(aspirin) == {ibuprofen}
    assert "NSAIDs and salicylates" in safety.reasons(ibuprofen, PatientContext(allergies=frozenset({aspirin})))[0].text()
    assert blocked(AMOXICILLIN) == {PENICILLIN_V}  # penicillins: J01CA and J01CE, one family
    assert blocked(RIFAMPICIN) == {"drug:DB00615"}  # no family: the ATC subgroup (J04A) as before
    assert blocked(epinephrine) == set()  # only aspirin shares A01A with it, and aspirin is classed by its family
    # a class given directly still matches any of a family's subgroups
    assert safety.reasons(aspirin, PatientContext(allergies=frozenset({"atc:M01A"})))


def test_a_drug_without_atc_code_gets_its_subgroup_from_a_narrow_class():
    safety = SafetyFilter.from_graph(graph(products=False, classes=True))
    assert safety.classes.of(CLAVULANATE) == {
        "atc:J01C": "inferred from pharmacologic class beta Lactamase Inhibitors"}
    removed = safety.reasons(CLAVULANATE, PatientContext(allergies=frozenset({PENICILLIN_V})))
    assert len(removed) == 1 and "inferred from pharmacologic class beta Lactamase Inhibitors" in removed[0].text()
    by_code = safety.reasons(CLAVULANATE, PatientContext(allergies=frozenset({"atc:J01C"})))
    assert [e.reason for e in by_code] == ["allergy"]
    # a class whose coded members span subgroups says nothing
    mixed = graph(products=False, classes=True)
    mixed.edges[EdgeType("pharmacologic_class", "includes", "drug")]["dst"] = [SULBACTAM, WARFARIN, CLAVULANATE]
    assert SafetyFilter.from_graph(mixed).classes.of(CLAVULANATE) == {}


def test_contraindication_from_a_side_effect_by_policy():
    g = graph()
    patient = PatientContext(conditions=frozenset({HEPATITIS_B}))
    strict = SafetyFilter.from_graph(g, policy=SafetyPolicy(contraindications="remove"))
    removed, _ = strict.assess(ACETAMINOPHEN, patient)
    assert [(e.reason, e.because_of) for e in removed] == [("contraindication", HEPATITIS_B)]
    assert "causes side effect Hepatitis (broader term of hepatitis b)" in removed[0].text()
    removed, warnings = strict.with_policy(SafetyPolicy(contraindications="warn")).assess(ACETAMINOPHEN, patient)
    assert removed == [] and any("possible contraindication" in w and "Hepatitis" in w for w in warnings)
    removed, warnings = strict.with_policy(SafetyPolicy(contraindications="off")).assess(ACETAMINOPHEN, patient)
    assert removed == [] and not any("contraindication" in w for w in warnings)
    # a known indication is not a contraindication
    g.edges[EdgeType("drug", "treats", "disease")] = pd.DataFrame({"src": [ACETAMINOPHEN], "dst": [HEPATITIS_B]})
    exempt = SafetyFilter.from_graph(g, policy=SafetyPolicy(contraindications="remove"))
    assert exempt.reasons(ACETAMINOPHEN, patient) == []


def test_the_current_drugs_are_reviewed_by_the_same_rules_each_pair_once_allergies_first():
    # Amoxicillin and warfarin interact; clavulanate is given only with amoxicillin, so the pair
    # reaches it too. It is one problem, reported as the patient takes it, not through the product.
    safety = SafetyFilter.from_graph(graph(), policy=SafetyPolicy(contraindications="remove"))
    patient = PatientContext(current_drugs=frozenset({AMOXICILLIN, CLAVULANATE, WARFARIN, ACETAMINOPHEN}),
                             allergies=frozenset({PENICILLIN_V}), conditions=frozenset({HEPATITIS_B}))
    review = safety.review(patient)
    assert [(e.drug_id, e.reason, e.because_of) for e in review] == [
        (CLAVULANATE, "allergy", PENICILLIN_V), (AMOXICILLIN, "allergy", PENICILLIN_V),
        (ACETAMINOPHEN, "contraindication", HEPATITIS_B), (WARFARIN, "interaction", AMOXICILLIN)]
    assert "through" not in review[-1].text()
    # through the product alone: still reported, once, saying how
    via = safety.review(PatientContext(current_drugs=frozenset({CLAVULANATE, WARFARIN})))
    assert [(e.drug_id, e.reason, e.because_of) for e in via] == [(CLAVULANATE, "interaction", WARFARIN)]
    assert "through Amoxicillin (drug:DB01060), given with it in one product" in via[0].text()
    # the policy decides what counts, as for candidates; nothing to review without current drugs
    assert [e.reason for e in safety.with_policy(SafetyPolicy()).review(patient)] == ["allergy", "allergy", "interaction"]
    assert safety.review(PatientContext(allergies=frozenset({PENICILLIN_V}))) == []


def test_same_umls_concept_matches_through_the_xrefs_table():
    g = graph()
    g.nodes.loc[g.nodes["id"] == HEPATITIS_B, "name"] = "viral liver disease"  # names no longer meet
    assert SafetyFilter.from_graph(g).contraindications.by_disease == {}
    g.tables["xrefs"] = pd.DataFrame({"node_id": [HEPATITIS_B], "resource": ["UMLS"], "resource_id": ["C0019158"]})
    found = SafetyFilter.from_graph(g).contraindications.of(ACETAMINOPHEN, frozenset({HEPATITIS_B}))
    assert [c.evidence for c in found] == ["causes side effect Hepatitis (same UMLS concept C0019158)"]


def test_drugs_without_interaction_data_say_so():
    safety = SafetyFilter.from_graph(graph())
    assert NO_INTERACTION_DATA in safety.assess(ACETAMINOPHEN, PatientContext())[1]
    assert NO_INTERACTION_DATA not in safety.assess(WARFARIN, PatientContext())[1]
    assert NO_INTERACTION_DATA not in safety.assess(CLAVULANATE, PatientContext())[1]  # through amoxicillin


def _user_graph(tmp_path, interactions: str, contraindications: str):
    """The planted drugs plus a user's own interaction CSV (with severities) and contraindication table."""
    (tmp_path / "nodes.csv").write_text("id,type,name\n" + "".join(
        f"{d},drug,{n}\n" for d, (n, _) in DRUGS.items()) + f"{HEPATITIS_B},disease,hepatitis B\n")
    (tmp_path / "interactions.csv").write_text(interactions)
    (tmp_path / "contraindications.csv").write_text(contraindications)
    (tmp_path / "mapping.toml").write_text(NODES_MAPPING + textwrap.dedent("""
        [[edges]]
        file = "interactions.csv"
        source = "drug_a"
        target = "drug_b"
        relation = "interacts_with"
        attributes = ["severity"]

        [[edges]]
        file = "contraindications.csv"
        source = "drug"
        target = "disease"
        relation = "contraindicated_in"
        attributes = ["action", "note"]
    """))
    return build(load_csv_source(tmp_path / "mapping.toml")).graph


def test_user_interactions_with_severity_and_curated_contraindications(tmp_path):
    g = _user_graph(tmp_path,
                    f"drug_a,drug_b,severity\n{WARFARIN},{RIFAMPICIN},major\n{WARFARIN},{ACETAMINOPHEN},minor\n"
                    f"{WARFARIN},{AMOXICILLIN},\n",
                    f"drug,disease,action,note\n{RIFAMPICIN},{HEPATITIS_B},remove,hepatotoxic\n"
                    f"{ACETAMINOPHEN},{HEPATITIS_B},allow,low doses are fine\n")
    on_warfarin = PatientContext(current_drugs=frozenset({WARFARIN}), conditions=frozenset({HEPATITIS_B}))
    safety = SafetyFilter.from_graph(g)
    assert [e.detail for e in safety.reasons(RIFAMPICIN, on_warfarin) if e.reason == "interaction"] == \
        [" (severity major)"]
    assert [e.reason for e in safety.reasons(ACETAMINOPHEN, on_warfarin)] == ["interaction"]  # minor, block_at minor
    lenient = safety.with_policy(SafetyPolicy(block_at="major"))
    removed, warnings = lenient.assess(ACETAMINOPHEN, on_warfarin)
    assert removed == [] and any(w.startswith("minor interaction with current drug") for w in warnings)
    # no severity recorded: removed under every policy
    assert [e.detail for e in lenient.reasons(AMOXICILLIN, on_warfarin)] == [" (severity not recorded)"]
    # curated contraindications keep their action whatever the derived policy says (only "off" silences them)
    curated = [e for e in lenient.reasons(RIFAMPICIN, on_warfarin) if e.reason == "contraindication"]
    assert len(curated) == 1 and "curated: hepatotoxic" in curated[0].text()
    assert lenient.with_policy(SafetyPolicy(block_at="major", contraindications="off")).reasons(
        RIFAMPICIN, PatientContext(conditions=frozenset({HEPATITIS_B}))) == []


def test_a_curated_allow_overrides_the_side_effect_rule(tmp_path):
    g = _user_graph(tmp_path, f"drug_a,drug_b,severity\n{WARFARIN},{RIFAMPICIN},major\n",
                    f"drug,disease,action,note\n{ACETAMINOPHEN},{HEPATITIS_B},allow,low doses are fine\n")
    g.nodes = pd.concat([g.nodes, pd.DataFrame([{"id": SIDE_HEPATITIS, "type": "side_effect", "name": "Hepatitis"}])],
                        ignore_index=True)
    g.edges[EdgeType("drug", "causes", "side_effect")] = pd.DataFrame({"src": [ACETAMINOPHEN], "dst": [SIDE_HEPATITIS]})
    strict = SafetyFilter.from_graph(g, policy=SafetyPolicy(contraindications="remove"))
    assert strict.reasons(ACETAMINOPHEN, PatientContext(conditions=frozenset({HEPATITIS_B}))) == []


def test_bad_severity_action_and_policy_are_named(tmp_path):
    g = _user_graph(tmp_path, f"drug_a,drug_b,severity\n{WARFARIN},{RIFAMPICIN},deadly\n", "drug,disease,action,note\n"
                    f"{RIFAMPICIN},{HEPATITIS_B},remove,\n")
    with pytest.raises(KGError, match="severity 'deadly' is not one of minor, moderate, major, contraindicated"):
        SafetyFilter.from_graph(g)
    with pytest.raises(KGError, match="block_at must be one of"):
        SafetyPolicy(block_at="severe")
    with pytest.raises(KGError, match="contraindications must be one of"):
        SafetyPolicy(contraindications="maybe")


def test_curated_contraindications_never_feed_the_learned_models(tmp_path):
    from recsys.link.adjacency import relation_matrices
    from recsys.link.task import id_maps_of

    g = _user_graph(tmp_path, f"drug_a,drug_b,severity\n{WARFARIN},{RIFAMPICIN},major\n",
                    f"drug,disease,action,note\n{RIFAMPICIN},{HEPATITIS_B},remove,hepatotoxic\n")
    relations = {e.rel for e in relation_matrices(g, id_maps_of(g))}
    assert "interacts_with" in relations
    assert not any("contraindicated_in" in r for r in relations)


ATORVASTATIN, SIMVASTATIN, EZETIMIBE = "drug:DB01076", "drug:DB00641", "drug:DB00973"
LEVONORGESTREL, ETHINYL_ESTRADIOL, ETONOGESTREL = "drug:DB00367", "drug:DB00977", "drug:DB00294"


def duplicate_graph() -> KnowledgeGraph:
    """Two statins and a non-statin lipid drug; a pill of a progestin with an oestrogen (both coded as
    contraceptives by DrugBank), and another progestin; warfarin interacting with simvastatin."""
    drugs = {ATORVASTATIN: ("Atorvastatin", "C10AA05"), SIMVASTATIN: ("Simvastatin", "C10AA01"),
             EZETIMIBE: ("Ezetimibe", "C10AX09"), LEVONORGESTREL: ("Levonorgestrel", "G03AC03"),
             ETHINYL_ESTRADIOL: ("Ethinyl Estradiol", "G03AC08"), ETONOGESTREL: ("Etonogestrel", "G03AC08"),
             WARFARIN: ("Warfarin", "B01AA03")}
    nodes = pd.DataFrame([{"id": d, "type": "drug", "name": n, "atc_codes": c} for d, (n, c) in drugs.items()])
    edges = {EdgeType("drug", "interacts_with", "drug"): pd.DataFrame({"src": [WARFARIN], "dst": [SIMVASTATIN]})}
    products = pd.DataFrame({"product": ["PILL", "RING"], "ingredients": [f"{LEVONORGESTREL}|{ETHINYL_ESTRADIOL}",
                                                                          ETONOGESTREL], "records": [3, 1],
                             "source": "test"})
    return KnowledgeGraph(nodes, edges, {"products": products})


def test_a_second_drug_of_a_class_warns_by_default_and_the_policy_can_remove_it():
    safety = SafetyFilter.from_graph(duplicate_graph())
    on_atorvastatin = PatientContext(current_drugs=frozenset({ATORVASTATIN}))
    removed, warnings = safety.assess(SIMVASTATIN, on_atorvastatin)
    assert removed == []
    assert ("therapeutic duplication with current drug Atorvastatin (drug:DB01076) (both statins: ATC C10AA01 and "
            "C10AA05)") in warnings
    assert not any("duplication" in w for w in safety.assess(EZETIMIBE, on_atorvastatin)[1])  # C10AX: no statin
    strict = safety.with_policy(SafetyPolicy(duplicates="remove"))
    assert [(e.reason, e.because_of) for e in strict.reasons(SIMVASTATIN, on_atorvastatin)] == [
        ("duplication", ATORVASTATIN)]
    assert strict.unsafe_mask([SIMVASTATIN, EZETIMIBE, WARFARIN], on_atorvastatin).tolist() == [True, False, False]
    off = safety.with_policy(SafetyPolicy(duplicates="off"))
    assert not any("duplication" in w for w in off.assess(SIMVASTATIN, on_atorvastatin)[1])
    with pytest.raises(KGError, match="duplicates must be one of"):
        SafetyPolicy(duplicates="block")


def test_a_duplicate_is_judged_against_running_drugs_and_never_within_one_product():
    safety = SafetyFilter.from_graph(duplicate_graph(), policy=SafetyPolicy(duplicates="remove"))
    stopped = PatientContext(current_drugs=frozenset({ATORVASTATIN}), running=frozenset())
    assert safety.reasons(SIMVASTATIN, stopped) == []  # a statin stopped before is a switch, not a duplicate
    on_the_pill = PatientContext(current_drugs=frozenset({LEVONORGESTREL, ETHINYL_ESTRADIOL}))
    assert safety.review(on_the_pill) == []  # one pill's two ingredients
    assert [(e.reason, e.because_of) for e in safety.reasons(ETONOGESTREL, on_the_pill)] == [
        ("duplication", LEVONORGESTREL), ("duplication", ETHINYL_ESTRADIOL)]  # in id order


def test_the_review_lists_running_duplicates_once_between_contraindications_and_interactions():
    safety = SafetyFilter.from_graph(duplicate_graph())
    patient = PatientContext(current_drugs=frozenset({ATORVASTATIN, SIMVASTATIN, WARFARIN}))
    review = safety.review(patient)
    assert [(e.drug_id, e.reason, e.because_of) for e in review] == [
        (SIMVASTATIN, "duplication", ATORVASTATIN), (SIMVASTATIN, "interaction", WARFARIN)]
    assert review[0].text() == ("drug:DB00641 duplicates current drug drug:DB01076 (both statins: ATC C10AA01 and "
                                "C10AA05)")
    # the simvastatin record stopped before the patient's latest start: no duplicate left to review
    assert [e.reason for e in safety.review(replace(patient, running=frozenset({ATORVASTATIN, WARFARIN})))] == [
        "interaction"]
    assert [e.reason for e in safety.with_policy(SafetyPolicy(duplicates="off")).review(patient)] == ["interaction"]


def test_running_drugs_are_the_records_still_open_at_the_patients_latest_start():
    g = duplicate_graph()
    g.nodes = pd.concat([g.nodes, pd.DataFrame([{"id": "patient:p1", "type": "patient", "name": None}])],
                        ignore_index=True)
    g.edges[EdgeType("patient", "takes", "drug")] = pd.DataFrame({
        "src": ["patient:p1"] * 3, "dst": [SIMVASTATIN, ATORVASTATIN, WARFARIN],
        "time": ["2020-01-01", "2021-01-01", "2020-06-01"], "end_time": ["2021-01-01", None, "2022-01-01"]})
    safety = SafetyFilter.from_graph(g)
    context = safety.patient_context("patient:p1")
    # simvastatin stopped at the atorvastatin start (a switch); warfarin stops after it: still running
    assert context.current_drugs == {SIMVASTATIN, ATORVASTATIN, WARFARIN}
    assert context.running == {ATORVASTATIN, WARFARIN} and context.concurrent == {ATORVASTATIN, WARFARIN}
    assert not any(e.reason == "duplication" for e in safety.review(context))


def test_the_safety_checks_mend_atc_codes_drugbank_lacks_or_misplaces():
    heparin, enoxaparin, lisinopril, loratadine, enalapril = (
        "drug:DB01109", "drug:DB01225", "drug:DB00722", "drug:DB00455", "drug:DB00584")
    # as the shipped DrugBank 4.2 lists them: heparin by its topical codes, enoxaparin and lisinopril
    # without any, lisinopril's C09AA03 on loratadine
    codes = {heparin: ("Heparin", "C05BA01|S01XA09"), enoxaparin: ("Enoxaparin", None),
             lisinopril: ("Lisinopril", None), loratadine: ("Loratadine", "R06AX13|C09AA03"),
             enalapril: ("Enalapril", "C09AA02"), WARFARIN: ("Warfarin", "B01AA03")}
    nodes = pd.DataFrame([{"id": d, "type": "drug", "name": n, "atc_codes": c} for d, (n, c) in codes.items()])
    graph = KnowledgeGraph(nodes, {})
    safety = SafetyFilter.from_graph(graph)

    def blocked(allergen: str) -> set[str]:
        return {d for d in codes if safety.reasons(d, PatientContext(allergies=frozenset({allergen})))}

    assert blocked(heparin) == {heparin, enoxaparin}  # the heparins, not the topical vasoprotectives' subgroup
    assert blocked(lisinopril) == {lisinopril, enalapril}  # ACE inhibitors, and loratadine no longer one
    assert blocked(loratadine) == {loratadine}
    _, warnings = safety.assess(WARFARIN, PatientContext(current_drugs=frozenset({heparin})))
    assert any("therapeutic duplication with current drug Heparin" in w and "anticoagulants" in w for w in warnings)
    from kg.atc import drug_atc_codes
    assert drug_atc_codes(graph)[heparin] == ["C05BA01", "S01XA09"]  # the graph, which the models read, is unchanged
