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


def test_training_without_torchs_debug_fill_of_new_memory_gives_the_same_model_and_restores_settings(
        planted, monkeypatch):
    import contextlib

    import torch

    import recsys.people.train as people_train
    from recsys.link.gnn.determinism import deterministic_kernels

    claims = doctor_drug_interactions(planted)
    settings = PeopleGNNConfig(dim=8, epochs=3, batch_size=64, seed=3)
    before = (torch.are_deterministic_algorithms_enabled(), torch.utils.deterministic.fill_uninitialized_memory)
    with deterministic_kernels():
        assert torch.are_deterministic_algorithms_enabled()
        assert not torch.utils.deterministic.fill_uninitialized_memory
    assert (torch.are_deterministic_algorithms_enabled(), torch.utils.deterministic.fill_uninitialized_memory) == before
    ours = fit_people_gnn(planted, claims, settings).export()

    @contextlib.contextmanager
    def with_the_fill():  # torch's deterministic mode as it comes: every new tensor filled with NaN first
        previous = torch.are_deterministic_algorithms_enabled()
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(previous)

    monkeypatch.setattr(people_train, "deterministic_kernels", with_the_fill)
    assert torch.utils.deterministic.fill_uninitialized_memory  # torch's default: the NaN fill is on
    filled = fit_people_gnn(planted, claims, settings).export()
    assert np.array_equal(ours.drug_vectors, filled.drug_vectors) and np.array_equal(ours.from_drugs, filled.from_drugs)


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


def _planted_cluster_gap(scorer: PeopleScorer, planted) -> float:
    """How far cluster 0's prescribers lie above the others for the planted drug (mean, in spreads)."""
    claims = doctor_drug_interactions(planted)
    column = scorer.scores(claims.matrix, claims.item_ids, claims.attribute("specialty"), [PLANTED])[:, 0]
    cluster0 = np.array([str(d).startswith("doctor:NPI:0") for d in claims.user_ids])
    return float((column[cluster0].mean() - column[~cluster0].mean()) / column.std())


def test_sampled_mode_learns_the_planted_drug_from_sampled_neighbourhoods_and_is_deterministic(planted):
    claims = doctor_drug_interactions(planted)
    config = PeopleGNNConfig(**{**SMALL.__dict__, "mode": "sampled", "fanout": [3, 3]})
    assert config.fanout == (3, 3)  # a TOML list becomes the tuple the sampler reads
    first = fit_people_gnn(planted, claims, config).export()
    assert _planted_cluster_gap(first, planted) > 1.0
    again = fit_people_gnn(planted, claims, config).export()
    assert np.array_equal(first.scores(claims.matrix, claims.item_ids), again.scores(claims.matrix, claims.item_ids))
    wider = fit_people_gnn(planted, claims, PeopleGNNConfig(**{**config.__dict__, "fanout": (50, 50)})).export()
    assert not np.array_equal(first.drug_vectors, wider.drug_vectors)  # the fanout is what is sampled


@pytest.mark.parametrize("settings, message", [
    ({"mode": "minibatch"}, "mode must be one of"),
    ({"mode": "sampled", "fanout": (10,)}, "fanout must be 2 positive integers"),
    ({"mode": "sampled", "fanout": (10, 0)}, "fanout must be 2 positive integers"),
    ({"fanout": 10}, "fanout must be a list"),
])
def test_settings_that_cannot_run_are_refused_by_name(settings, message):
    with pytest.raises(ValueError, match=message):
        PeopleGNNConfig(**settings)


def test_normalised_people_have_one_length_and_the_file_keeps_it(planted, tmp_path):
    claims = doctor_drug_interactions(planted)
    scorer = fit_people_gnn(planted, claims, PeopleGNNConfig(**{**SMALL.__dict__, "normalise_people": True})).export()
    assert scorer.person_norm is not None and scorer.person_norm > 0
    # One drug or all of a cluster's: the person vector has the learned length, so a scores row's
    # spread over the drugs comes from the drugs alone.
    people = scorer.weights(claims.matrix, claims.item_ids) @ scorer.drug_vectors @ scorer.from_drugs.T
    people += scorer.specialty_vectors[scorer.specialty_codes(claims.attribute("specialty"), claims.shape[0])]
    scores = scorer.scores(claims.matrix, claims.item_ids, claims.attribute("specialty"))
    offsets = scores - (people / np.linalg.norm(people, axis=1, keepdims=True) * scorer.person_norm) @ \
        scorer.drug_vectors.T
    assert np.allclose(offsets - offsets[:, :1], (scorer.drug_bias - scorer.drug_bias[0])[None, :])
    assert _planted_cluster_gap(scorer, planted) > 1.0
    scorer.save(tmp_path / "people_gnn.npz")
    assert PeopleScorer.load(tmp_path / "people_gnn.npz").person_norm == scorer.person_norm
    # A file from before normalisation (no person_norm array) still reads, as the model it was.
    with np.load(tmp_path / "people_gnn.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k != "person_norm"}
    np.savez(tmp_path / "older.npz", **arrays)
    assert PeopleScorer.load(tmp_path / "older.npz").person_norm is None


def test_two_process_torchrun_trains_on_shares_of_each_batch_and_rank_zero_writes_the_model(tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from kg.io import write_graph

    write_graph(people_graph(), tmp_path / "graph")
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "pipelines.people_distributed", "--graph", str(tmp_path / "graph"), "--mode", "sampled",
           "--fanout", "3", "3", "--epochs", "40", "--dim", "16", "--lr", "0.01", "--batch-size", "64",
           "--bootstrap", "50", "--train-seed", "5", "--out", str(tmp_path / "out")]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["config"]["mode"] == "sampled" and metrics["cold_drugs"] > 0
    assert metrics["seed"] == 0 and metrics["train_seed"] == metrics["config"]["seed"] == 5  # the split's seed kept
    # Each cold cluster drug is found among the cold drugs by its cluster's prescribers.
    assert metrics["among"]["recall@5"]["mean"] > 0.8 and metrics["reverse"]["auroc"]["mean"] > 0.7
    scorer = PeopleScorer.load(tmp_path / "out" / "people_gnn.npz")
    assert scorer.drug_vectors.shape[1] == 16


def test_the_distributed_trainer_refuses_bad_settings_and_foreign_folders_before_training(tmp_path, capsys):
    from pipelines.people_distributed import main

    assert main(["--graph", str(tmp_path), "--mode", "sampled", "--fanout", "5", "--out", str(tmp_path / "o")]) == 2
    assert "fanout must be 2 positive integers" in capsys.readouterr().err
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("a user's file")
    assert main(["--graph", str(tmp_path), "--out", str(tmp_path / "mine")]) == 1
    assert "was not written by rxkg" in capsys.readouterr().err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "a user's file"
