"""The people GNN: drugs embedded from the knowledge graph, prescribers from their drugs; the
doctors' graph component that adds it to the drug profiles; its file in the bundle."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from kg.errors import KGError
from linkgraph import people_graph, people_recommender
from recsys.cf import doctor_drug_interactions
from recsys.people import PeopleGNNConfig, PeopleScorer
from recsys.people.train import fit_people_gnn
from recsys.recommender.drugprofiles import DrugProfiles
from recsys.recommender.people_graph import DoctorGraphRecipe
from test_drugprofiles import PLANTED, _with_planted_drug

SMALL = PeopleGNNConfig(dim=16, epochs=40, lr=0.01, batch_size=64, seed=0)


@pytest.fixture(scope="module")
def planted():
    return _with_planted_drug(people_graph())


@pytest.fixture(scope="module")
def fitted(planted):
    return fit_people_gnn(planted, doctor_drug_interactions(planted), SMALL).export()


def test_a_never_prescribed_drug_sharing_targets_and_class_is_scored_for_the_prescribers_of_its_likes(planted, fitted):
    claims = doctor_drug_interactions(planted)
    assert not claims.has_item(PLANTED)
    scores = fitted.scores(claims.matrix, claims.item_ids, claims.attribute("specialty"))
    column = fitted.drug_ids.get_loc(PLANTED)
    cluster = np.array([str(d)[len("doctor:NPI:")] for d in claims.user_ids])
    # The reverse question: every prescriber of cluster 0 (whose drugs it is like) above every other.
    assert scores[cluster == "0", column].min() > scores[cluster != "0", column].max()
    # And for them it comes before every drug of the clusters they do not prescribe from.
    strangers = [j for j, d in enumerate(fitted.drug_ids) if d != PLANTED and d[9] not in "01"]
    assert (scores[cluster == "0", column][:, None] > scores[cluster == "0"][:, strangers]).all()


def test_a_new_prescriber_is_embedded_from_their_drugs_without_retraining(planted, fitted):
    claims = doctor_drug_interactions(planted)
    row = claims.user_index(["doctor:NPI:0000"])[0]
    known = fitted.scores(claims.matrix[row], claims.item_ids, ["specialty 0"])
    items = [str(i) for i in claims.item_ids]
    history = dict(zip(np.asarray(items)[claims.matrix[row].indices], claims.matrix[row].data))
    new = fitted.scores(sp.csr_matrix([list(history.values())]), list(history), ["specialty 0"])
    assert np.allclose(known, new)
    # An unknown specialty is no specialty; a drug outside the graph is ignored, not an error.
    assert np.allclose(fitted.scores(sp.csr_matrix([[3.0]]), ["drug:DB10000"], ["no such specialty"]),
                       fitted.scores(sp.csr_matrix([[3.0]]), ["drug:DB10000"], [None]))
    out = fitted.scores(sp.csr_matrix([[3.0, 1.0]]), ["drug:DB10000", "drug:DB99999"], None, ["drug:DB10001", "x"])
    assert np.isfinite(out[0, 0]) and np.isnan(out[0, 1])


def test_same_seed_same_model_and_the_file_round_trips(planted, fitted, tmp_path):
    claims = doctor_drug_interactions(planted)
    trained = fit_people_gnn(planted, claims, SMALL)
    assert trained.log.epochs == SMALL.epochs and np.isfinite(trained.log.loss).all()
    first = fitted.scores(claims.matrix, claims.item_ids)
    assert np.array_equal(first, trained.export().scores(claims.matrix, claims.item_ids))
    fitted.scale = {"gnn_mean": 0.5}
    fitted.save(tmp_path / "people_gnn.npz")
    loaded = PeopleScorer.load(tmp_path / "people_gnn.npz")
    assert np.array_equal(first, loaded.scores(claims.matrix, claims.item_ids)) and loaded.scale == {"gnn_mean": 0.5}
    with np.load(tmp_path / "people_gnn.npz", allow_pickle=False) as data:  # arrays only: no code runs
        arrays = {k: data[k] for k in data.files}
    np.savez(tmp_path / "cut.npz", **{**arrays, "drug_bias": arrays["drug_bias"][:-1]})
    with pytest.raises(KGError, match="do not fit together"):
        PeopleScorer.load(tmp_path / "cut.npz")
    (tmp_path / "other.npz").write_bytes(b"not a model")
    with pytest.raises(KGError, match="not a people GNN file"):
        PeopleScorer.load(tmp_path / "other.npz")


def test_the_doctors_graph_component_adds_the_standardised_gnn_to_the_standardised_profiles(planted):
    claims = doctor_drug_interactions(planted)
    items = [str(i) for i in claims.item_ids]
    profiles = DrugProfiles.from_graph(planted, items)
    alone = DoctorGraphRecipe(planted, profiles, None).fit(claims)
    assert alone.gnn is None
    both = DoctorGraphRecipe(planted, profiles, SMALL).fit(claims)
    scale = both.gnn.scale
    assert set(scale) == {"profile_mean", "profile_spread", "gnn_mean", "gnn_spread"} and scale["gnn_spread"] > 0
    profile = alone.scores(claims.matrix, items, items)
    learned = both.gnn.scores(claims.matrix, items, claims.attribute("specialty"), items)
    expected = ((profile - scale["profile_mean"]) / scale["profile_spread"]
                + (learned - scale["gnn_mean"]) / scale["gnn_spread"])
    assert np.allclose(both.scores(claims.matrix, items, items, claims.attribute("specialty")), expected)
    assert abs(expected.mean()) < 0.5  # standardised over the training prescribers


def test_the_bundle_carries_the_people_gnn_and_scores_the_same_after_loading(planted, tmp_path):
    from recsys.recommender.api import Recommender

    claims = doctor_drug_interactions(planted)
    component = DoctorGraphRecipe(planted, DrugProfiles.from_graph(planted), SMALL).fit(claims)
    base = people_recommender(planted)
    rec = Recommender(base.graph, base.disease_scores, base.disease_ids, list(base.drug_ids),
                      doctor_cf=base.doctor_cf, doctor_popularity=base.doctor_popularity, people_gnn=component.gnn,
                      weights={"doctor_all": {"graph": 1.0, "cf": 0.0, "popularity": 0.0}})
    doctors = ["doctor:NPI:0000", "doctor:NPI:3001"]
    before = rec.component_scores("doctor_all", doctors)["graph"]
    rec.save(tmp_path / "bundle")
    loaded = Recommender.load(tmp_path / "bundle")
    assert loaded.drug_neighbours.gnn is not None
    assert np.allclose(before, loaded.component_scores("doctor_all", doctors)["graph"])
    halves = loaded.drug_neighbours.doctor_graph.halves(
        loaded.doctor_cf.train.matrix[loaded.doctor_cf.train.user_index(doctors)], loaded.doctor_cf.train.item_ids,
        loaded.drug_ids, ["specialty 0", "specialty 3"])
    assert set(halves) == {"profiles", "people GNN"} and np.allclose(sum(halves.values()), before)
    first = loaded.recommend_for_doctor("doctor:NPI:0000", k=1, candidates="all")[0]
    column = loaded.drug_index.get_loc(first.drug_id)
    said = f"drug profiles {halves['profiles'][0, column]:+.2f} plus the people GNN {halves['people GNN'][0, column]:+.2f}"
    assert said in first.explanation
    top = loaded.recommend_doctors_for_drug(PLANTED, k=8)
    assert {p.doctor_id[:len("doctor:NPI:0")] for p in top} == {"doctor:NPI:0"}  # cluster 0's prescribers
