"""Faithful explanations: components in the order of their part of the score, parts that add up
to it, graph paths only when the graph raised the score, and the paths the metapath model
relies on most, each with exactly its metapath's part of the model's score."""

from __future__ import annotations

import numpy as np
import pytest

from kg.errors import KGError
from recsys.cf import EASERecommender, doctor_drug_interactions, patient_drug_interactions
from recsys.link.adjacency import relation_matrices
from recsys.link.dwpc import DWPCGraphs
from recsys.link.metapath import MetapathModel
from recsys.link.task import LinkTask
from recsys.link.terms import MetapathTerms
from recsys.recommender.api import Recommender
from recsys.recommender.contributions import LABELS, contributions
from tests.linkgraph import people_graph

PATIENT = "patient:synth:0-0"


@pytest.fixture(scope="module")
def fitted():
    graph = people_graph()
    task = LinkTask.for_deployment(graph)
    model = MetapathModel(folds=3).fit(task)
    return graph, task, model


def recommender(fitted, patient_weights: dict[str, float]) -> Recommender:
    graph, task, model = fitted
    diseases, drugs = task.id_maps["disease"], task.id_maps["drug"]
    rec = Recommender(graph, {"metapath": model.score_matrix(np.arange(len(diseases)))}, diseases, drugs,
                      doctor_cf=EASERecommender(regularization=10.0).fit(doctor_drug_interactions(graph)),
                      patient_cf=EASERecommender(regularization=10.0).fit(patient_drug_interactions(graph)),
                      graph_terms=MetapathTerms.of(model))
    rec.weights["patient"] = dict(patient_weights)
    return rec


def test_contributions_add_up_to_the_score_and_are_named_in_their_order(fitted):
    rec = recommender(fitted, {"graph": 0.5, "cf": 2.0, "history": 0.3, "running": 1.0, "diagnosis": 0.7,
                               "popularity": -0.2})
    lists = [rec.recommend_for_patient(PATIENT, k=6, safety=False, exclude_current=False),
             rec.recommend_for_disease("disease:DOID:1000", k=4), rec.recommend_for_doctor("doctor:NPI:0000", k=4)]
    for ranked in lists:
        for r in ranked:
            parts = r.contributions
            assert abs(sum(c.part for c in parts) - r.score) < 1e-9
            assert [c.part for c in parts] == sorted((c.part for c in parts), reverse=True)
            lead = r.explanation.split(". ")[0]
            positions = [lead.index(f"{LABELS[c.component]} {c.part:+.2f}") for c in parts if round(c.part, 2)]
            assert positions == sorted(positions), (lead, parts)
    # unweighted components are never named; a component that cannot score is absent
    doctor = lists[2][0]
    assert [c.component for c in doctor.contributions] == ["graph", "cf"]  # default weights: popularity is not fitted
    graph = rec.weights["doctor"]["graph"] * doctor.components["graph"]
    assert ("In the graph it is like drugs they prescribe" in doctor.explanation) == (graph > 0)
    rec.weights["doctor"]["graph"] = 0.0
    doctor = rec.recommend_for_doctor("doctor:NPI:0000", k=1)[0]
    assert [c.component for c in doctor.contributions] == ["cf"] and "graph" not in doctor.explanation


def test_graph_paths_appear_only_when_the_graph_raised_the_score(fitted):
    with_graph = recommender(fitted, {"graph": 1.0, "cf": 1.0})
    without = recommender(fitted, {"graph": 0.0, "cf": 1.0})
    seen_paths = 0
    for rec in (with_graph, without):
        for r in rec.recommend_for_patient(PATIENT, k=8, safety=False, exclude_current=False):
            graph_part = {c.component: c.part for c in r.contributions}.get("graph", 0.0)
            if graph_part > 0:
                assert r.paths and "The graph links" in r.explanation
                seen_paths += 1
            else:
                assert r.paths == [] and "The graph links" not in r.explanation
    assert seen_paths, "the graph raised some drug's score"


def test_a_patients_graph_paths_start_at_the_condition_that_gives_the_graph_score(fitted):
    rec = recommender(fitted, {"graph": 1.0})
    disease_z = rec.disease_z_of(rec.patient_scorers)
    conditions = sorted(rec.records.conditions(PATIENT))
    for r in rec.recommend_for_patient(PATIENT, k=5, safety=False, exclude_current=False):
        column = rec.drug_index.get_loc(r.drug_id)
        best = max(conditions, key=lambda c: disease_z[rec.disease_index.get_loc(c), column])
        assert r.reasons.paths_from == best
        graph_score = rec.condition_scores([PATIENT], rec.patient_scorers)[0, column]
        assert graph_score == disease_z[rec.disease_index.get_loc(best), column]
        assert all(p.nodes[0] == best and p.nodes[-1] == r.drug_id for p in r.paths)


def test_model_paths_carry_exactly_their_metapaths_part_of_the_score(fitted):
    """Each shown path's score is weight x (f(DWPC) - f(0)) of its metapath, with the DWPC the
    model itself computes; the paths come in the order of those parts."""
    graph, task, model = fitted
    rec = recommender(fitted, {"graph": 1.0})
    terms = rec.graph_terms
    assert not terms.contributions(np.zeros(len(terms.paths))).any(), "no path: no part of the score"
    dwpc_graphs = DWPCGraphs.of(relation_matrices(task.train_graph, task.id_maps), model.damping)
    drugs, diseases = task.id_maps["drug"], task.id_maps["disease"]
    checked = 0
    for disease in ("disease:DOID:1000", "disease:DOID:1201", "disease:DOID:1402"):
        d = diseases.index(disease)
        for drug in rec.recommend_for_disease(disease, k=3):
            s = drugs.index(drug.drug_id)
            dwpc = np.array([dwpc_graphs.dwpc(p, np.array([d]))[s, 0] for p in terms.paths])
            expected = terms.contributions(dwpc)
            paths = rec.explainer.model_paths(disease, drug.drug_id, terms, k=len(terms.paths))
            assert [p.score for p in paths] == sorted((p.score for p in paths), reverse=True)
            for path in paths:
                j = next(i for i, p in enumerate(terms.paths) if rec.explainer._from_disease(p) == path.metaedges)
                assert path.score == pytest.approx(expected[j], rel=1e-6, abs=1e-12)
                checked += 1
            shown = {p.metaedges for p in paths}
            assert all(expected[j] <= 0 or rec.explainer._from_disease(p) in shown
                       or rec.explainer._from_disease(p) is None for j, p in enumerate(terms.paths)
                       if not _repeats_only(rec, disease, drug.drug_id, p))
    assert checked >= 9


def _repeats_only(rec, disease: str, drug: str, metapath) -> bool:
    """Whether every walk of ``metapath`` between the pair repeats a node (nothing to show)."""
    walkable = rec.explainer._from_disease(metapath)
    if walkable is None:
        return True
    _, src = rec.explainer._locate(disease)
    _, dst = rec.explainer._locate(drug)
    return all(len(set(nodes)) < len(nodes) for nodes, _ in rec.explainer._walk(walkable, src, dst))


def test_people_see_clinical_paths_before_molecular_ones(fitted):
    rec = recommender(fitted, {"graph": 1.0})
    molecular = {"target", "pathway", "biological_process", "cellular_component", "molecular_function"}
    for r in rec.recommend_for_patient(PATIENT, k=5, safety=False, exclude_current=False):
        kinds = [any(rec.node_types.get(n) in molecular for n in p.nodes) for p in r.paths]
        assert kinds == sorted(kinds)


def test_metapath_terms_survive_a_bundle_and_a_malformed_file_is_named(fitted, tmp_path):
    rec = recommender(fitted, {"graph": 1.0, "cf": 1.0})
    loaded = Recommender.load(rec.save(tmp_path / "bundle"))
    for name in ("paths", "weights", "scale", "cap", "mean", "std", "damping"):
        assert np.array_equal(np.asarray(getattr(loaded.graph_terms, name), dtype=object),
                              np.asarray(getattr(rec.graph_terms, name), dtype=object))
    before = [r.explanation for r in rec.recommend_for_disease("disease:DOID:1000", k=3)]
    after = [r.explanation for r in loaded.recommend_for_disease("disease:DOID:1000", k=3)]
    assert before == after and all("The graph links" in text for text in after)
    np.savez(tmp_path / "bad.npz", paths=np.array(["drug|treats"]), weights=np.ones(1), scale=np.ones(1),
             cap=np.ones(1), mean=np.zeros(1), std=np.ones(1), damping=np.array([0.4]))
    with pytest.raises(KGError, match="malformed metapath 'drug|treats'"):
        MetapathTerms.load(tmp_path / "bad.npz")


def test_an_entity_no_weighted_component_scores_is_explained_by_the_equal_blend():
    parts = contributions({"cf": None, "graph": 1.5, "popularity": -0.5}, {"cf": 1.0})
    assert [(c.component, c.weight) for c in parts] == [("graph", 0.5), ("popularity", 0.5)]


def test_explain_says_what_a_recommendation_of_the_same_drug_says(fitted):
    rec = recommender(fitted, {"graph": 0.5, "cf": 1.0, "running": 1.0})
    rec.weights["patient_new"] = {"graph": 1.0, "cf": 0.5, "diagnosis": 1.0}
    for exclude_current in (True, False):
        for r in rec.recommend_for_patient(PATIENT, k=4, safety=False, exclude_current=exclude_current):
            why = rec.explain(PATIENT, r.drug_id, exclude_current=exclude_current)
            assert why["text"] == r.explanation and why["score"] == pytest.approx(r.score)
    doctor = rec.recommend_for_doctor("doctor:NPI:1003", k=1)[0]
    assert rec.explain("doctor:NPI:1003", doctor.drug_id)["text"] == doctor.explanation


def test_a_merged_list_ranks_new_drugs_by_their_blend_and_still_explains_every_score(fitted):
    from recsys.blend import blend_components
    from recsys.recommender.continuation import ADDED, NEW_DRUG, added_weights
    from recsys.recommender.fitting import calibrated

    rec = recommender(fitted, {"graph": 0.5, "cf": 1.0, "running": 1.0, "history": 0.5})
    rec.weights["patient_new"] = {"graph": 1.0, "cf": 0.2, "diagnosis": 1.0}
    calibrations = {"patient": {"slope": 1.5, "intercept": -4.0}, "patient_new": {"slope": 0.8, "intercept": -6.0}}
    for kind, calibration in calibrations.items():
        rec.selection[kind] = {"calibration": calibration}
    rec.weights[ADDED] = added_weights(rec.weights["patient_new"], calibrations["patient"], calibrations["patient_new"])
    taken = rec.records.drugs(PATIENT)
    ranked = rec.recommend_for_patient(PATIENT, k=12, safety=False, exclude_current=False)
    assert {r.kind for r in ranked} == {"patient", ADDED}  # their drugs and new ones, in one list
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)
    parts = rec.component_scores("patient", [PATIENT])
    own = blend_components(parts, rec.weights["patient"], False)[0][0]
    new = blend_components(parts, rec.weights["patient_new"], False)[0][0]
    for r in ranked:
        column = rec.drug_index.get_loc(r.drug_id)
        assert (r.kind == ADDED) == (r.drug_id not in taken) == (r.components.get(NEW_DRUG) == 1.0)
        assert abs(sum(c.part for c in r.contributions) - r.score) < 1e-9
        if r.kind == ADDED:  # the probability its own blend gives it
            assert r.probability == pytest.approx(calibrated(calibrations["patient_new"], new[column]))
            assert "new to them" in r.explanation or round(rec.weights[ADDED][NEW_DRUG], 2) == 0
        else:
            assert r.score == pytest.approx(own[column])
        why = rec.explain(PATIENT, r.drug_id, exclude_current=False)
        assert why["text"] == r.explanation and why["score"] == pytest.approx(r.score)
    batch = rec.scores([PATIENT])[0]  # batch scoring merges the same way
    assert [batch[rec.drug_index.get_loc(r.drug_id)] for r in ranked] == pytest.approx([r.score for r in ranked])


def test_the_patients_own_metapath_model_is_read_by_patients_only_and_survives_a_bundle(fitted, tmp_path):
    from recsys.recommender.patient_side import PATIENT_METAPATH
    from recsys.recommender.reasons import _terms

    graph, task, model = fitted
    other = MetapathModel(folds=3, penalties=(1e-1,), examples=("sampled",), families=("without people",)).fit(task)
    rec = recommender(fitted, {"graph": 1.0, "cf": 0.5})
    everything = np.arange(task.num_dst)
    rec = Recommender(graph, {"metapath": model.score_matrix(everything), PATIENT_METAPATH: other.score_matrix(everything)},
                      task.id_maps["disease"], task.id_maps["drug"], patient_cf=rec.patient_cf, weights=rec.weights,
                      graph_terms=MetapathTerms.of(model), patient_graph_terms=MetapathTerms.of(other))
    assert rec.components["disease"] == ("metapath", "popularity")  # never a disease blend's component
    assert set(rec.component_scores("disease", ["disease:DOID:1000"])) == {"metapath", "popularity"}
    np.testing.assert_allclose(rec.disease_z, rec.disease_z_of(["metapath"]))
    assert _terms(rec, "patient") is rec.graph_terms  # the patients read the disease blend until chosen otherwise
    rec.selection["patient_graph"] = {"scorers": [PATIENT_METAPATH]}
    graph_part = rec.component_scores("patient", [PATIENT])["graph"]
    np.testing.assert_allclose(graph_part, rec.condition_scores([PATIENT], [PATIENT_METAPATH]))
    assert rec.disease_z_of([PATIENT_METAPATH]) is rec.disease_z_of((PATIENT_METAPATH,))  # standardised once
    assert not np.allclose(graph_part, rec.condition_scores([PATIENT], ["metapath"]), equal_nan=True)
    assert _terms(rec, "patient") is rec.patient_graph_terms and _terms(rec, "disease") is rec.graph_terms
    loaded = Recommender.load(rec.save(tmp_path / "bundle"))
    assert set(loaded.disease_scores) == {"metapath", PATIENT_METAPATH} and loaded.patient_scorers == [PATIENT_METAPATH]
    assert loaded.patient_graph_terms.paths == rec.patient_graph_terms.paths
    first = rec.recommend_for_patient(PATIENT, k=3, safety=False)
    assert [r.explanation for r in loaded.recommend_for_patient(PATIENT, k=3, safety=False)] == [
        r.explanation for r in first]
