"""The hybrid Recommender: rankings with components, safety on every shipped patient, clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kg.errors import KGError
from kg.graph import KnowledgeGraph
from kg.schema import EdgeType
from recsys.recommender.api import Recommender
from kg.atc import drug_atc_codes
from recsys.cf import ALSRecommender, GroupPopularityRecommender, doctor_drug_interactions, patient_drug_interactions
from tests.test_safety import planted_graph


def tiny_recommender(tiny_graph) -> Recommender:
    drugs = sorted(tiny_graph.nodes_of_type("drug")["id"])
    diseases = sorted(tiny_graph.nodes_of_type("disease")["id"])
    scores = np.arange(len(diseases) * len(drugs), dtype=float).reshape(len(diseases), len(drugs))
    doctors = doctor_drug_interactions(tiny_graph)
    return Recommender(tiny_graph, scores, diseases, drugs,
                       doctor_cf=ALSRecommender(factors=2, regularization=1.0).fit(doctors),
                       doctor_popularity=GroupPopularityRecommender().fit(doctors))


def test_disease_recommendations_carry_components_names_and_explanations(tiny_graph):
    rec = tiny_recommender(tiny_graph)
    out = rec.recommend_for_disease("disease:DOID:1287", k=2)
    assert len(out) == 2 and out.dropped_components == []
    assert [r.score for r in out] == sorted((r.score for r in out), reverse=True)
    atorvastatin = next(r for r in rec.recommend_for_disease("disease:DOID:1287", k=4)
                        if r.drug_id == "drug:DB01076")
    assert atorvastatin.name == "Atorvastatin" and set(atorvastatin.components) == {"graph", "popularity"}
    assert "HMGCR" in atorvastatin.explanation or "treats" in atorvastatin.explanation
    assert atorvastatin.as_dict()["paths"], "a known indication is explained by a path"
    without = rec.recommend_for_disease("disease:DOID:1287", k=4, exclude_known=True)
    assert "drug:DB01076" not in [r.drug_id for r in without]


def test_doctor_ranking_leaves_out_prescribed_drugs_and_scores_through_the_graph(tiny_graph):
    rec = tiny_recommender(tiny_graph)
    prescribed = set(map(str, rec.doctor_cf.train.item_ids))
    assert prescribed == {"drug:DB00331", "drug:DB01076"}  # the only prescriber prescribes both
    assert len(rec.recommend_for_doctor("doctor:NPI:1003000126", k=2)) == 0  # default: drugs somebody prescribes
    out = rec.recommend_for_doctor("doctor:NPI:1003000126", k=2, candidates="all")
    assert len(out) == 2 and not prescribed & {r.drug_id for r in out}
    assert out.dropped_components == [] and out[0].components["graph"] is not None


def test_planted_interaction_and_allergy_never_recommended():
    graph = planted_graph()
    drugs = sorted(graph.nodes_of_type("drug")["id"])
    rec = Recommender(graph, np.zeros((0, len(drugs))), [], drugs)
    out = rec.recommend_for_patient("patient:demo:p1", k=5)
    assert {r.drug_id for r in out} == {"drug:DB00316", "drug:DB00331"}  # the only safe ones left
    reasons = {(e.drug_id, e.reason) for e in out.removed}
    assert reasons == {("drug:DB00682", "already taken"), ("drug:DB00945", "interaction"),
                       ("drug:DB01060", "allergy"), ("drug:DB00417", "allergy")}
    raw = rec.recommend_for_patient("patient:demo:p1", k=6, safety=False, exclude_current=False)
    assert len(raw) == 6 and not raw.removed
    # New drugs only holds without the safety filter too: what the patient takes never comes back.
    unsafe_new = rec.recommend_for_patient("patient:demo:p1", k=6, safety=False)
    assert len(unsafe_new) == 5 and "drug:DB00682" not in {r.drug_id for r in unsafe_new}


def test_errors_name_the_problem(tiny_graph):
    rec = tiny_recommender(tiny_graph)
    with pytest.raises(KGError, match="unknown id 'disease:nope'"):
        rec.recommend_for_disease("disease:nope")
    with pytest.raises(KGError, match=r"did you mean disease:DOID:1287"):  # one character off
        rec.recommend_for_disease("disease:DOID:1288")
    # Asked for a disease, an unknown id is matched against diseases: "ar" is also in Warfarin,
    # which a search of every node ranks first (the shorter name).
    with pytest.raises(KGError) as wrong:
        rec.recommend_for_disease("ar")
    assert "did you mean disease:DOID:1287" in str(wrong.value) and "Warfarin" not in str(wrong.value)
    assert "Warfarin" in rec.lookup.suggest("ar")
    with pytest.raises(KGError, match=r"did you mean drug:DB00682"):  # no doctor is close: any node is
        rec.recommend_for_doctor("drug:DB0068")
    patients = tiny_graph.nodes.loc[tiny_graph.nodes["type"] == "patient", "id"].tolist()
    if patients:  # a suggestion never prints a patient id in clear text
        with pytest.raises(KGError) as wrong:
            rec.recommend_for_patient(patients[0] + "x")
        suggested = str(wrong.value).partition("did you mean")[2]
        assert not any(p in suggested for p in patients)
    with pytest.raises(KGError, match="is a disease, not a doctor"):
        rec.recommend_for_doctor("disease:DOID:1287")
    with pytest.raises(KGError, match="k must be a positive integer"):
        rec.recommend_for_disease("disease:DOID:1287", k=0)
    with pytest.raises(KGError, match="recommendations are for diseases, doctors and patients"):
        rec.score("target:5742", ["drug:DB00331"])
    with pytest.raises(KGError, match="unknown drug"):
        rec.score("disease:DOID:1287", ["drug:nope"])
    with pytest.raises(KGError, match=r"unknown drug id\(s\): \['DB00331'\]; did you mean drug:DB00331"):
        rec.score("disease:DOID:1287", ["drug:DB01076", "DB00331"])  # the id without its type prefix


def test_every_shipped_patient_top10_is_safe(shipped_graph):
    """No current drug, no interaction with one, no allergy match: checked against the raw graph."""
    drugs = sorted(shipped_graph.nodes_of_type("drug")["id"])
    diseases = sorted(shipped_graph.nodes_of_type("disease")["id"])
    scores = np.random.default_rng(0).normal(size=(len(diseases), len(drugs)))  # safety holds for any scores
    patients = patient_drug_interactions(shipped_graph)
    rec = Recommender(shipped_graph, scores, diseases, drugs,
                      patient_cf=ALSRecommender(factors=8, regularization=1.0).fit(patients))
    ddi = shipped_graph.edges[EdgeType("drug", "interacts_with", "drug")]
    interacting = set(zip(ddi["src"], ddi["dst"])) | set(zip(ddi["dst"], ddi["src"]))
    takes = shipped_graph.edges[EdgeType("patient", "takes", "drug")]
    allergic = shipped_graph.edges[EdgeType("patient", "allergic_to", "drug")]
    from recsys.recommender.drugclasses import CROSS_REACTIVE

    def allergy_classes(codes: list[str]) -> set[str]:  # the curated families, else the ATC subgroups
        families = {f for code in codes for f, prefixes in CROSS_REACTIVE.items() if code.startswith(prefixes)}
        return families or {code[:4] for code in codes}

    classes = {d: allergy_classes(codes) for d, codes in drug_atc_codes(shipped_graph).items()}
    assert classes["drug:DB00945"] == classes["drug:DB01050"] == {"NSAIDs and salicylates"}  # aspirin, ibuprofen
    checked = 0
    for patient in shipped_graph.nodes_of_type("patient")["id"]:
        current = set(takes.loc[takes["src"] == patient, "dst"])
        allergens = set(allergic.loc[allergic["src"] == patient, "dst"])
        out = rec.recommend_for_patient(patient, k=10)
        assert len(out) == 10
        for r in out:
            assert r.drug_id not in current
            assert not any((r.drug_id, c) in interacting for c in current)
            assert r.drug_id not in allergens
            assert not any(classes.get(r.drug_id, set()) & classes.get(a, set()) for a in allergens)
        checked += 1
    assert checked == len(shipped_graph.nodes_of_type("patient")) > 250


def test_bundle_round_trip_and_tamper_detection(tiny_graph, tmp_path):
    rec = tiny_recommender(tiny_graph)
    rec.weights["disease"] = {"graph": 2.0, "popularity": 0.5}
    path = rec.save(tmp_path / "bundle")
    loaded = Recommender.load(path)
    assert loaded.weights == rec.weights
    for entity in ("disease:DOID:1287", "doctor:NPI:1003000126"):
        np.testing.assert_array_equal(loaded.score(entity, list(rec.drug_ids)), rec.score(entity, list(rec.drug_ids)))
    assert [r.drug_id for r in loaded.recommend_for_doctor("doctor:NPI:1003000126", k=2)] == \
        [r.drug_id for r in rec.recommend_for_doctor("doctor:NPI:1003000126", k=2)]
    (path / "doctor_cf.npz").write_bytes(b"tampered")
    with pytest.raises(KGError, match="doctor_cf.npz: checksum does not match"):
        Recommender.load(path)
    with pytest.raises(KGError, match="not a recommender bundle"):
        Recommender.load(tmp_path)


def test_bundle_files_outside_the_manifest_are_refused(tiny_graph, tmp_path):
    import json
    import shutil

    path = tiny_recommender(tiny_graph).save(tmp_path / "bundle")
    shutil.copy(path / "doctor_cf.npz", path / "patient_cf.npz")  # present but unlisted
    with pytest.raises(KGError, match="patient_cf.npz: not listed"):
        Recommender.load(path)
    (path / "patient_cf.npz").unlink()
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"]["../outside.npz"] = manifest["files"]["doctor_cf.npz"]
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(KGError, match="points outside"):
        Recommender.load(path)


def test_new_patient_through_conditions_and_safety(tiny_graph):
    rec = tiny_recommender(tiny_graph)
    out = rec.recommend_for_new_patient(conditions=["disease:DOID:9352"], current_drugs=["drug:DB00682"], k=3)
    ids = [r.drug_id for r in out]
    assert "drug:DB00682" not in ids, "a current drug is never recommended"
    assert "drug:DB00945" not in ids and {(e.drug_id, e.reason) for e in out.removed} == {("drug:DB00945", "interaction")}
    assert out[0].entity_id == "disease:DOID:9352", "explained from the condition that supports it"
    assert out.current_problems == []  # one current drug: nothing among them to review
    both = rec.recommend_for_new_patient(current_drugs=["drug:DB00682", "drug:DB00945"], k=1)
    assert {(e.drug_id, e.reason, e.because_of) for e in both.current_problems} == {
        ("drug:DB00682", "interaction", "drug:DB00945")}  # warfarin and aspirin, the pair once
    assert rec.recommend_for_new_patient(current_drugs=["drug:DB00682", "drug:DB00945"], k=1,
                                         safety=False).current_problems == []
    by_class = rec.recommend_for_new_patient(conditions=["disease:DOID:9352"], allergies=["atc:A10B"], k=3)
    assert "drug:DB00331" not in [r.drug_id for r in by_class]  # metformin is A10BA02
    with pytest.raises(KGError, match="condition id\\(s\\) are not diseases"):
        rec.recommend_for_new_patient(conditions=["drug:DB00331"])
    with pytest.raises(KGError, match="at least one condition or one current drug"):
        rec.recommend_for_new_patient()


def test_new_doctor_similar_drugs_profile_and_explain(tiny_graph):
    rec = tiny_recommender(tiny_graph)
    out = rec.recommend_for_new_doctor({"drug:DB00331": 10.0}, k=2)
    assert "drug:DB00331" not in [r.drug_id for r in out] and out.dropped_components == []
    assert out[0].entity_id == "drug:DB00331"
    with pytest.raises(KGError, match="prescribed drug id\\(s\\) are not drugs"):
        rec.recommend_for_new_doctor({"disease:DOID:9352": 3})
    for count in (float("inf"), float("nan"), 0.0, -2.0, "40", True):  # refused before any component reads it
        with pytest.raises(KGError, match=r"the claim count of drug:DB00331 must be a positive finite number"):
            rec.recommend_for_new_doctor({"drug:DB00331": count})
    similar = rec.similar_drugs("drug:DB00331", k=2)
    assert len(similar) == 2 and "drug:DB00331" not in [d for d, _, _ in similar]
    assert rec.similar_drugs("drug:DB00331", k=1, by="prescribing")[0][0] == "drug:DB01076"
    with pytest.raises(KGError, match=r"not in the prescribing data \(nobody in it prescribes .+\); "
                                      r"compare it by graph"):
        rec.similar_drugs("drug:DB00945", by="prescribing")
    with pytest.raises(KGError, match="choose 'graph' or 'prescribing'"):
        rec.similar_drugs("drug:DB00331", by="smell")
    profile = rec.profile_doctor("doctor:NPI:1003000126")
    assert profile.n_drugs == 2 and profile.areas[1]
    with pytest.raises(KGError, match="is a disease, not a doctor"):
        rec.profile_doctor("disease:DOID:9352")
    why = rec.explain("disease:DOID:1287", "drug:DB01076")
    assert why["paths"] and why["text"].startswith("Score +")
    assert "The graph links Atorvastatin to" in why["text"]
    assert set(why["components"]) == {"graph", "popularity"}
    assert abs(sum(c["part"] for c in why["contributions"]) - why["score"]) < 1e-3


def test_new_doctor_fold_in_matches_known_doctor(shipped_graph):
    drugs = sorted(shipped_graph.nodes_of_type("drug")["id"])
    doctors = doctor_drug_interactions(shipped_graph)
    rec = Recommender(shipped_graph, np.zeros((0, len(drugs))), [], drugs,
                      doctor_cf=ALSRecommender(factors=16).fit(doctors),
                      doctor_popularity=GroupPopularityRecommender(smoothing=0.05).fit(doctors))
    specialty = doctors.attribute("specialty")
    overlaps = []
    for row in range(0, 2000, 100):
        doctor = doctors.user_ids[row]
        known = [r.drug_id for r in rec.recommend_for_doctor(doctor, k=10)]
        new = [r.drug_id for r in rec.recommend_for_new_doctor(doctors.items_of(doctor),
                                                               specialty=specialty[row], k=10)]
        overlaps.append(len(set(known) & set(new)) / 10)
    assert np.mean(overlaps) >= 0.9
    why = rec.explain(doctors.user_ids[0], rec.recommend_for_doctor(doctors.user_ids[0], k=1)[0].drug_id)
    assert why["cf_evidence"]["similar_users"] == 20


def test_a_new_doctor_with_specialty_and_state_gets_a_known_doctors_list_from_side_information_ease(shipped_graph):
    """EASE with the prescribers' attributes as inputs folds a new doctor in exactly: the same
    claims, specialty and state give the known doctor's list; without them it changes."""
    from recsys.cf import EASERecommender

    drugs = sorted(shipped_graph.nodes_of_type("drug")["id"])
    doctors = doctor_drug_interactions(shipped_graph)
    rec = Recommender(shipped_graph, np.zeros((0, len(drugs))), [], drugs,
                      doctor_cf=EASERecommender(1500.0, "log1p", side_weight=8.0).fit(doctors),
                      weights={"doctor": {"cf": 1.0}})
    specialty, state = doctors.attribute("specialty"), doctors.attribute("state")
    changed = 0
    for row in range(0, 2000, 200):
        doctor = doctors.user_ids[row]
        known = [r.drug_id for r in rec.recommend_for_doctor(doctor, k=10)]
        new = [r.drug_id for r in rec.recommend_for_new_doctor(doctors.items_of(doctor), specialty=specialty[row],
                                                               state=state[row], k=10)]
        assert new == known
        bare = [r.drug_id for r in rec.recommend_for_new_doctor(doctors.items_of(doctor), k=10)]
        changed += bare != known
    assert changed >= 5
    # A value no training prescriber has would be read as none at all: it is an error naming the close ones.
    claims = doctors.items_of(doctors.user_ids[0])
    with pytest.raises(KGError, match="'Cardiolgy'.*did you mean 'Cardiology'.*leave the specialty out"):
        rec.recommend_for_new_doctor(claims, specialty="Cardiolgy")
    with pytest.raises(KGError, match="unknown state 'Ca'.*did you mean 'CA'"):
        rec.recommend_for_new_doctor(claims, specialty="Cardiology", state="Ca")


def test_a_new_doctor_known_by_specialty_alone_gets_what_the_specialty_prescribes_most(shipped_graph):
    from recsys.cf import EASERecommender

    drugs = sorted(shipped_graph.nodes_of_type("drug")["id"])
    doctors = doctor_drug_interactions(shipped_graph)
    popularity = GroupPopularityRecommender(smoothing=0.05).fit(doctors)
    rec = Recommender(shipped_graph, np.zeros((0, len(drugs))), [], drugs,
                      doctor_cf=EASERecommender(1500.0, "log1p", side_weight=8.0).fit(doctors),
                      doctor_popularity=popularity, weights={"doctor_sparse": {"cf": 1.0, "popularity": -1.0}})
    out = rec.recommend_for_new_doctor({}, specialty="Cardiology", k=5)
    # the share of cardiologists prescribing each drug, highest first, whatever the learned weights say
    is_cardiology = np.asarray(doctors.attribute("specialty")) == "Cardiology"
    share = np.asarray((doctors.matrix[is_cardiology] > 0).mean(axis=0)).ravel()
    expected = [str(doctors.item_ids[i]) for i in np.argsort(-share, kind="stable")[:5]]
    assert [r.drug_id for r in out] == expected and out.dropped_components == ["graph", "cf"]
    assert out[0].kind == "doctor_specialty" and out[0].components["cf"] is None
    assert "of the graph's Cardiology prescribers prescribe it" in out[0].explanation
    every = rec.recommend_for_new_doctor({}, specialty="Cardiology", k=5, candidates="all")
    assert [r.drug_id for r in every] == expected  # drugs nobody prescribes sit at the middle
    with pytest.raises(KGError, match="needs at least one prescribed drug, or a specialty"):
        rec.recommend_for_new_doctor({}, state="MA")
    with pytest.raises(KGError, match="unknown specialty 'Cardiolgy'") as refused:
        rec.recommend_for_new_doctor({}, specialty="Cardiolgy")
    # Leaving the specialty out would leave nothing to rank by: the message does not suggest it.
    assert "leave the specialty out" not in str(refused.value) and "give one the model knows" in str(refused.value)


def test_the_cf_sentence_of_an_item_item_model_is_the_sum_its_score_is(shipped_graph):
    """The explanation names the largest terms of the CF score itself (own drugs x item-item
    weights, plus the pairs', the attributes' and the attribute-drug combinations' parts), so it cannot
    contradict the score."""
    from recsys.cf import EASERecommender

    drugs = sorted(shipped_graph.nodes_of_type("drug")["id"])
    doctors = doctor_drug_interactions(shipped_graph)
    model = EASERecommender(1500.0, "log1p", side_weight=8.0, pairs=200, attribute_pairs=300).fit(doctors)
    rec = Recommender(shipped_graph, np.zeros((0, len(drugs))), [], drugs, doctor_cf=model,
                      weights={"doctor": {"cf": 1.0}})
    with_pairs = 0
    for doctor in doctors.user_ids[:300:60]:
        scores = model.score_users([doctor])[0]
        for r in rec.recommend_for_doctor(doctor, k=3):
            evidence = rec.cf_evidence(doctor, r.drug_id)
            terms = evidence["score_terms"]
            assert abs(terms["score"] - scores[model.train.item_index([r.drug_id])[0]]) < 1e-9
            pairs = sum(v for _, v in terms["own_pairs"])
            combos = sum(v for _, v in terms["attribute_pairs"])
            assert abs(sum(v for _, v in terms["own_drugs"]) + pairs + terms["attributes"] + combos
                       - terms["score"]) < 1e-9
            assert not terms["own_pairs"] or f"pairs of their drugs taken together add {pairs:+.2f}" in evidence["sentence"]
            assert not terms["attribute_pairs"] or f"with their drugs add {combos:+.2f}" in evidence["sentence"]
            with_pairs += bool(terms["own_pairs"]) and bool(terms["attribute_pairs"])
            top = [rec.names[d] for d, v in terms["own_drugs"] if v > 0][:2]
            assert evidence["most_like_own_drugs"] == top
            assert all(name in evidence["sentence"] for name in top) and f"{terms['score']:+.2f}" in evidence["sentence"]
    assert with_pairs  # the pairs and combinations parts are covered, not only the plain terms


def test_batch_recommendations_match_single_calls(tiny_graph):
    rec = tiny_recommender(tiny_graph)
    ids, scores = rec.recommend_many(["doctor:NPI:1003000126"], k=2)
    assert [i for i in ids[0] if i is not None] == [r.drug_id for r in rec.recommend_for_doctor(
        "doctor:NPI:1003000126", k=2)]
    ids, _ = rec.recommend_many(["patient:demo:p1"], k=4)
    single = [r.drug_id for r in rec.recommend_for_patient("patient:demo:p1", k=4)]
    assert [i for i in ids[0] if i is not None] == single
    ids, scores = rec.recommend_many(["disease:DOID:1287", "disease:DOID:9352"], k=3)
    assert ids.shape == scores.shape == (2, 3)
    with pytest.raises(KGError, match="entities of one type"):
        rec.recommend_many(["disease:DOID:1287", "doctor:NPI:1003000126"])


def test_a_patients_own_history_comes_first_only_when_continuation_is_allowed(tiny_graph):
    rec = tiny_recommender(tiny_graph)
    assert rec.weights["patient"]["history"] == 0.0  # off until a fitted blend turns it on
    history = rec.component_scores("patient", ["patient:demo:p1"])["history"]
    assert history[0, list(rec.drug_ids).index("drug:DB00331")] == 1.0 and (history == 0).sum() == 3
    rec.weights["patient"] = {"graph": 1.0, "cf": 1.0, "popularity": 1.0, "history": 10.0}
    continued = rec.recommend_for_patient("patient:demo:p1", k=2, exclude_current=False)
    assert continued[0].drug_id == "drug:DB00331"
    assert continued[0].components["history"] is not None
    new_only = rec.recommend_for_patient("patient:demo:p1", k=4)
    assert "drug:DB00331" not in [r.drug_id for r in new_only]
    assert any(e.drug_id == "drug:DB00331" and e.reason == "already taken" for e in new_only.removed)


@pytest.mark.parametrize("weights", [None, {"graph": 0.0, "cf": 1.0, "popularity": 0.0}],
                         ids=["default weights", "CF alone, as deployed"])
def test_batch_and_single_agree_on_doctors_without_claims(weights):

    from kg.graph import KnowledgeGraph
    from recsys.cf import EASERecommender
    from tests.linkgraph import people_graph

    base = people_graph()
    extra = pd.DataFrame([{"id": "doctor:NPI:9000", "type": "doctor", "name": "no claims", "specialty": "specialty 2"},
                          {"id": "doctor:NPI:9001", "type": "doctor", "name": "no claims, no specialty"}])
    graph = KnowledgeGraph(pd.concat([base.nodes, extra], ignore_index=True), base.edges, base.tables)
    drugs = sorted(graph.nodes_of_type("drug")["id"])
    diseases = sorted(graph.nodes_of_type("disease")["id"])
    doctors = doctor_drug_interactions(graph)
    rec = Recommender(graph, np.zeros((len(diseases), len(drugs))), diseases, drugs,
                      doctor_cf=EASERecommender(regularization=10.0).fit(doctors),
                      doctor_popularity=GroupPopularityRecommender().fit(doctors))
    if weights:  # popularity weighs nothing, yet it is all a prescriber without claims can be ranked by
        rec.weights["doctor"] = dict(weights)
    # A known specialty but no claims: ranked by within-specialty popularity, as a new doctor is.
    single = [r.drug_id for r in rec.recommend_for_doctor("doctor:NPI:9000", k=3)]
    expected = list(rec.doctor_popularity.recommend_new([{}], k=3, attributes=[{"specialty": "specialty 2"}])[0][0])
    assert single == expected
    ids, scores = rec.recommend_many(["doctor:NPI:9000", "doctor:NPI:9001", "doctor:NPI:0000"], k=3)
    assert list(ids[0]) == single
    assert list(ids[1]) == [None, None, None] and np.isneginf(scores[1]).all()  # nothing can score it
    with pytest.raises(KGError, match="no component can score"):
        rec.recommend_for_doctor("doctor:NPI:9001", k=3)
    assert None not in list(ids[2])


def test_ranking_from_a_bundle_never_imports_torch(tiny_graph, tmp_path):
    import subprocess
    import sys

    path = tiny_recommender(tiny_graph).save(tmp_path / "bundle")
    code = ("import sys\nfrom recsys import Recommender\n"
            f"rec = Recommender.load({str(path)!r})\n"
            "rec.recommend_for_disease('disease:DOID:1287', k=2)\n"
            "rec.recommend_for_doctor('doctor:NPI:1003000126', k=2)\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_calibration_recovers_the_rate_of_true_pairs():
    from recsys.recommender.fitting import calibrated, fit_calibration

    rng = np.random.default_rng(0)
    scores = rng.normal(size=(400, 50))
    truth = 1 / (1 + np.exp(-(1.5 * scores - 4.0)))
    positives = rng.random(scores.shape) < truth
    usable = np.ones_like(positives)
    usable[:, 0] = False  # known pairs: neither positives nor negatives
    fit = fit_calibration(scores, positives & usable, usable)
    assert abs(fit["slope"] - 1.5) < 0.2 and abs(fit["intercept"] + 4.0) < 0.3
    assert fit["pairs"] == 400 * 49 and fit["brier"] < fit["base_rate"]
    probability = calibrated(fit, scores)
    assert np.all(np.diff(calibrated(fit, np.sort(scores.ravel()))) >= 0)
    high = scores > 2  # observed and predicted rates agree among high scores
    assert abs(positives[high & usable].mean() - probability[high & usable].mean()) < 0.05
    assert np.isnan(calibrated(None, scores[:2])).all()
    assert fit_calibration(scores, np.zeros_like(positives), usable) is None


def test_fitted_weights_come_with_a_calibration_saved_in_the_bundle(tiny_graph, tmp_path):
    rec = tiny_recommender(tiny_graph)
    rec.fit_weights("disease", [("disease:DOID:1287", "drug:DB01076")], known=[("disease:DOID:9352", "drug:DB00331")])
    calibration = rec.calibration("disease")
    assert calibration is not None and calibration["positives"] == 1
    loaded = Recommender.load(rec.save(tmp_path / "bundle"))
    top = loaded.recommend_for_disease("disease:DOID:1287", k=2)
    assert all(0.0 < r.probability < 1.0 for r in top)
    assert top[0].as_dict()["probability"] == round(top[0].probability, 4)
    assert np.isnan(tiny_recommender(tiny_graph).recommend_for_disease("disease:DOID:1287", k=1)[0].probability)


def test_patients_graph_component_reads_the_disease_scorer_their_validation_prefers():
    from recsys.recommender.fitting import choose_patient_graph, validation_masks


    drug_index = pd.Index(["drug:a", "drug:b", "drug:c"])
    by = {"good": np.array([[0.0, 1.0, 0.2], [1.0, 0.0, 0.2]]), "bad": np.array([[1.0, 0.0, 0.2], [0.0, 1.0, 0.2]])}

    def condition_scores(patients, scorers):
        if scorers is None:  # the disease blend: the bad scorer here
            return by["bad"]
        return by[scorers[0]]

    positives, usable = validation_masks(drug_index, ["p1", "p2"], [("p1", "drug:b"), ("p2", "drug:a")], known=[])
    choice = choose_patient_graph(condition_scores, ["good", "bad"], ["p1", "p2"], positives, usable)
    assert choice["scorers"] == ["good"] and choice["val_mrr"]["good"] == 1.0
    assert choice["val_mrr"]["disease blend"] == choice["val_mrr"]["bad"] < 1.0


def test_a_bundle_stores_the_explanation_index_and_explains_the_same(tiny_graph, tmp_path):
    from recsys.recommender.explain import PathExplainer

    rec = tiny_recommender(tiny_graph)
    loaded = Recommender.load(rec.save(tmp_path / "bundle"))
    assert (tmp_path / "bundle" / "explain_index.npz").exists()
    fresh = PathExplainer(tiny_graph)
    for entity in ("disease:DOID:1287", "doctor:NPI:1003000126"):
        for drug in loaded.drug_ids:
            stored = loaded.explainer.paths(entity, drug, k=5)
            built = fresh.paths(entity, drug, k=5)
            assert [(p.nodes, p.score) for p in stored] == [(p.nodes, p.score) for p in built]
    assert set(loaded.explainer.matrices) == set(fresh.matrices)


def test_a_safety_filter_built_by_hand_still_reads_the_patients_records():
    from recsys.recommender.safety import SafetyFilter

    graph = planted_graph()
    drugs = sorted(graph.nodes_of_type("drug")["id"])
    rec = Recommender(graph, np.zeros((0, len(drugs))), [], drugs)
    rec.safety = SafetyFilter(interactions={"drug:DB00945": frozenset({"drug:DB00682"}),
                                            "drug:DB00682": frozenset({"drug:DB00945"})})
    out = rec.recommend_for_patient("patient:demo:p1", k=5)
    assert ("drug:DB00682", "already taken") in {(e.drug_id, e.reason) for e in out.removed}
    assert "drug:DB00945" not in {r.drug_id for r in out}


def test_a_new_patient_with_conditions_only_is_ranked_by_what_can_score_them():
    """The deployed patient blend can be CF alone; a patient without drugs has no CF score, so
    the list must come from the graph and the other components, never from drug-index order."""
    from recsys.cf import EASERecommender
    from recsys.link.metapath import MetapathModel
    from recsys.link.task import LinkTask
    from tests.linkgraph import people_graph

    graph = people_graph()
    task = LinkTask.for_deployment(graph)
    diseases, drugs = task.id_maps["disease"], task.id_maps["drug"]
    scores = MetapathModel(folds=3).fit(task).score_matrix(np.arange(len(diseases)))
    rec = Recommender(graph, {"metapath": scores}, diseases, drugs,
                      patient_cf=EASERecommender(regularization=10.0).fit(patient_drug_interactions(graph)))
    rec.weights["patient"] = {"graph": 0.0, "cf": 1.0, "popularity": 0.0, "history": 0.0, "diagnosis": 0.0}
    treats = graph.edges[EdgeType("drug", "treats", "disease")]
    for cluster in range(3):
        condition = f"disease:DOID:{1000 + cluster * 100}"
        cluster_drugs = {f"drug:DB{10000 + cluster * 100 + i:05d}" for i in range(6)}
        top = [r.drug_id for r in rec.recommend_for_new_patient(conditions=[condition], k=5, safety=False)]
        assert len(set(top) & cluster_drugs) >= 4, (condition, top)  # the condition's own cluster
        assert set(treats.loc[treats["dst"] == condition, "src"].astype(str)) & set(top)


def test_drugs_still_running_rank_above_more_recent_stopped_ones():

    from kg.graph import KnowledgeGraph
    from recsys.recommender.history import PatientHistory

    nodes = pd.DataFrame({"id": ["patient:x:1", "drug:A", "drug:B", "drug:C", "drug:E"],
                          "type": ["patient", "drug", "drug", "drug", "drug"], "name": [None, "A", "B", "C", "E"]})
    takes = pd.DataFrame({"src": ["patient:x:1"] * 4, "dst": ["drug:A", "drug:B", "drug:C", "drug:E"],
                          "time": pd.to_datetime(["2020-01-01", "2020-02-01", "2020-03-01", "2020-02-15"]),
                          "end_time": pd.to_datetime([None, "2020-02-10", "2020-03-05", "2020-03-01"])})
    graph = KnowledgeGraph(nodes, {EdgeType("patient", "takes", "drug"): takes}, {})
    history = PatientHistory(graph, ["drug:A", "drug:B", "drug:C", "drug:D", "drug:E"])
    recency, running = history.scores(["patient:x:1"])[0], history.scores(["patient:x:1"], True)[0]
    assert list(np.argsort(-recency)[:4]) == [2, 4, 1, 0]      # repeat-last: C (latest start) first
    # A (no stop) and C (stopping after the latest record) are running; E stopped when C started (a
    # switch) and B before, so they follow by recency
    assert list(np.argsort(-running)[:4]) == [2, 0, 4, 1]
    assert recency[3] == running[3] == 0.0                  # never taken


# ------------------------------------------------------ which prescribers should hear about a drug
def test_prescribers_for_a_prescribed_drug_are_those_whose_list_it_tops():
    from linkgraph import people_graph, people_recommender

    rec = people_recommender(people_graph())
    drug = "drug:DB10100"  # prescribed by the doctors of clusters 0 and 1
    out = rec.recommend_doctors_for_drug(drug, k=5)
    prescribers = set(rec.doctor_cf.train.user_ids[rec.doctor_cf.train.matrix.tocsc()[
        :, rec.doctor_cf.train.item_index([drug])[0]].nonzero()[0]])
    assert len(out) == 5 and not {p.doctor_id for p in out} & prescribers
    assert [p.place for p in out] == sorted(p.place for p in out) and {p.route for p in out} == {"prescribing"}
    first = out[0]  # the place is the drug's place in that doctor's own deployed list
    assert rec.recommend_for_doctor(first.doctor_id, k=first.place)[first.place - 1].drug_id == drug
    assert first.reason.startswith(f"#{first.place} in their list")


def test_a_drug_nobody_prescribes_reaches_the_prescribers_of_drugs_that_treat_the_same_diseases():
    """A planted cold drug: cluster 0's doctors lose every prescription of it, so CF knows nothing
    of it; its predicted indications are cluster 0's, so the prescribers of cluster 0's drugs come
    first: cluster 0's own doctors, and cluster 5's, who also prescribe two of cluster 0's drugs."""
    from linkgraph import people_graph, people_recommender

    graph = people_graph()
    prescribes = EdgeType("doctor", "prescribes", "drug")
    edges = graph.edges[prescribes]
    cold = "drug:DB10005"
    graph = KnowledgeGraph(graph.nodes, {**graph.edges, prescribes: edges[edges["dst"] != cold].reset_index(drop=True)},
                           graph.tables)
    rec = people_recommender(graph)
    assert not rec.doctor_cf.train.has_item(cold)
    out = rec.recommend_doctors_for_drug(cold, k=8)
    assert {p.route for p in out} == {"graph"} and all(p.place is None for p in out)
    assert {p.specialty for p in out} <= {"specialty 0", "specialty 5"}
    assert sum(p.specialty == "specialty 0" for p in out) >= 4  # most of them cluster 0's own
    assert out[0].reason.startswith("prescribes drug 0.") and "which share indication disease 0." in out[0].reason
    with pytest.raises(KGError, match="not a drug"):
        rec.recommend_doctors_for_drug("disease:DOID:1000")
