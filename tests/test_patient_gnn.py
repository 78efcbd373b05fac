"""The people GNN trained on patients' records: the patients' ``people_gnn`` component, its exact
split by drug for explanations, its file in the bundle, and its training on validation's side only."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from linkgraph import people_graph, people_recommender
from recsys.cf import patient_drug_interactions
from recsys.recommender.patient_side import people_gnn_scores
from test_drugprofiles import PLANTED, _with_planted_drug
from test_people_gnn import SMALL


@pytest.fixture(scope="module")
def planted():
    return _with_planted_drug(people_graph())


@pytest.fixture(scope="module")
def gnn(planted):
    from pipelines.train import train_patient_gnn

    return train_patient_gnn(planted, patient_drug_interactions(planted), SMALL)


def test_a_drug_nobody_takes_that_shares_targets_and_class_is_scored_for_the_patients_of_its_likes(planted, gnn):
    records = patient_drug_interactions(planted)
    assert not records.has_item(PLANTED)
    drugs = [str(d) for d in gnn.drug_ids]
    taken = np.asarray((records.matrix > 0).todense())
    onto = np.zeros((records.shape[0], len(drugs)), dtype=bool)
    onto[:, gnn.drug_ids.get_indexer([str(i) for i in records.item_ids])] = taken
    scores = people_gnn_scores(gnn, onto, drugs)
    column = drugs.index(PLANTED)
    cluster = np.array([str(p)[len("patient:synth:")] for p in records.user_ids])
    assert scores[cluster == "0", column].min() > scores[cluster != "0", column].max()
    # A patient without a drug cannot be scored: a NaN row, not a guess; no model, no scores.
    assert np.isnan(people_gnn_scores(gnn, np.zeros((1, len(drugs)), dtype=bool), drugs)).all()
    assert np.isnan(people_gnn_scores(None, onto[:2], drugs)).all()


def test_the_split_by_drug_adds_up_to_the_person_drug_product(gnn):
    used = ["drug:DB10000", "drug:DB10001", "drug:DB10102"]
    parts = gnn.drug_parts(used, PLANTED)
    assert set(parts) == set(used)
    score = gnn.scores(sp.csr_matrix(np.ones((1, 3))), used, None, [PLANTED])[0, 0]
    person = (gnn.weights(sp.csr_matrix(np.ones((1, 3))), used) @ gnn.drug_vectors) @ gnn.from_drugs.T
    person += gnn.specialty_vectors[0]
    scale = 1.0 if gnn.person_norm is None else gnn.person_norm / np.linalg.norm(person)
    target = gnn.drug_ids.get_loc(PLANTED)
    rest = (scale * gnn.specialty_vectors[0] @ gnn.drug_vectors[target] + gnn.drug_bias[target]
            + np.log1p([3.0, 3.0]) @ gnn.activity_weight + gnn.activity_bias)
    assert np.isclose(sum(parts.values()) + rest, score)
    assert parts["drug:DB10000"] > parts["drug:DB10102"]  # cluster 0's drug points to cluster 0's look-alike
    assert gnn.drug_parts(used, "drug:not-in-the-graph") == {} and gnn.drug_parts(["x"], PLANTED) == {}


def test_the_bundle_carries_the_patient_gnn_and_patients_are_ranked_and_explained_by_it(planted, gnn, tmp_path):
    from recsys.recommender.api import Recommender

    base = people_recommender(planted)
    weights = {kind: {"people_gnn": 1.0, "graph": 0.0, "cf": 0.0, "popularity": 0.0}
               for kind in ("patient", "patient_new")}
    rec = Recommender(base.graph, base.disease_scores, base.disease_ids, list(base.drug_ids), patient_gnn=gnn,
                      weights=weights)
    patients = ["patient:synth:0-0", "patient:synth:3-1"]
    before = rec.component_scores("patient", patients)["people_gnn"]
    assert np.isfinite(before).all()
    rec.save(tmp_path / "bundle")
    loaded = Recommender.load(tmp_path / "bundle")
    assert loaded.patient_gnn is not None
    assert np.allclose(before, loaded.component_scores("patient", patients)["people_gnn"])
    first = loaded.recommend_for_patient("patient:synth:0-0", k=3, safety=False, exclude_current=True)[0]
    assert first.explanation.startswith("Score ") and ": graph (people GNN) +" in first.explanation
    assert "The people GNN (drugs embedded from the knowledge graph, trained on patients' records) links it" \
           in first.explanation
    named = [loaded.names.get(d) or d for d in loaded.records.drugs("patient:synth:0-0")]
    assert any(name in first.explanation for name in named)
    # A new patient known from one drug gets the component too, with no retraining.
    new = loaded.recommend_for_new_patient(current_drugs=["drug:DB10000"], k=3, safety=False)
    assert new[0].components["people_gnn"] is not None
    assert "The people GNN (drugs embedded from the knowledge graph, trained on patients' records) links it most " \
           "to their" in new[0].explanation  # explained from their one drug
    with_condition = loaded.recommend_for_new_patient(conditions=["disease:DOID:1000"], current_drugs=["drug:DB10000"],
                                                      k=3, safety=False)
    assert "Its people GNN score (drugs embedded from the knowledge graph, trained on patients' records) comes from " \
           "the drugs they take now." in with_condition[0].explanation


def test_the_validation_recommenders_patient_gnn_never_trains_on_a_validation_pair(monkeypatch):
    import pipelines.train as train

    graph = people_graph()
    calls, splits = [], []
    original_gnn, original_split = train.train_patient_gnn, train.patient_time_split
    monkeypatch.setattr(train, "train_patient_gnn", lambda g, records, *a, **k: (
        calls.append(records), original_gnn(g, records, *a, **k))[1])
    monkeypatch.setattr(train, "patient_time_split", lambda *a: (splits.append(original_split(*a)), splits[-1])[1])
    config = train.TrainConfig(gnn=None, people_gnn=None, patient_gnn={"dim": 8, "epochs": 2})
    recommender, _ = train.run_train(graph, config)
    assert len(calls) == 2 and splits and splits[0] is not None
    validation, deployed = calls
    later = {(p, d) for part in ("val", "test")
             for p, d in splits[0].targets(part, True)[["patient", "drug"]].to_numpy()}
    assert later  # drugs started after the cutoff, new to the patient: validation's targets
    seen = {(str(validation.user_ids[r]), str(validation.item_ids[c])) for r, c in zip(*validation.matrix.nonzero())}
    assert not later & seen
    everything = {(str(deployed.user_ids[r]), str(deployed.item_ids[c])) for r, c in zip(*deployed.matrix.nonzero())}
    assert later <= everything  # the deployed one reads every record
    assert recommender.patient_gnn is not None and "people_gnn" in recommender.weights["patient"]
