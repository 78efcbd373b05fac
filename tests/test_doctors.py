"""Doctors: the deployed CF component is chosen on validation exactly as the evaluation chooses it."""

from __future__ import annotations

import numpy as np

import pipelines.doctors
from pipelines.cfchoice import choose_cf
from pipelines.evaluation.config import EvaluateConfig
from pipelines.evaluation.doctor import cf_splits, doctor_protocol
from pipelines.train import TrainConfig, run_train
from recsys.cf import MODELS, doctor_drug_interactions, holdout_split
from tests.linkgraph import people_graph


def _spy(monkeypatch) -> list:
    calls = []
    original = pipelines.doctors.choose_cf

    def spy(validation, *args, **kwargs):
        choice = original(validation, *args, **kwargs)
        calls.append((validation, choice))
        return choice

    monkeypatch.setattr(pipelines.doctors, "choose_cf", spy)  # training and evaluation both choose there
    return calls


def test_deployed_doctor_model_is_the_evaluated_choice(monkeypatch):
    graph = people_graph()
    calls = _spy(monkeypatch)
    recommender, result = run_train(graph, TrainConfig(seed=0, gnn=None))
    (validation, choice), = calls
    doctors = doctor_drug_interactions(graph)
    expected = holdout_split(doctors, 0.2, seed=1)  # the training side's own validation split (seed + 1)
    assert (validation.test.matrix != expected.test.matrix).nnz == 0
    assert type(recommender.doctor_cf) is MODELS[choice.model]
    assert recommender.doctor_cf.config() == MODELS[choice.model](**choice.params).config()
    assert result.selection["doctor_cf"] == recommender.selection["doctor_cf"] == choice.as_dict()
    # The sparse prescribers' weights come from the same fit: refitting the doctor side as the
    # evaluation does (fit_doctors, same recipe) gives the bundle's doctor_sparse weights.
    from pipelines.train import people_gnn_config
    from recsys.recommender.drugprofiles import DrugProfiles
    from recsys.recommender.people_graph import DoctorGraphRecipe

    config = TrainConfig(seed=0, gnn=None)
    recipe = DoctorGraphRecipe(graph, DrugProfiles.from_graph(graph, [str(i) for i in doctors.item_ids]),
                               people_gnn_config(config))
    side = pipelines.doctors.fit_doctors(doctors, 0, config.cf_search == "quick", config.doctor_smoothing,
                                         recipe=recipe)
    assert recommender.weights["doctor_sparse"] == side.sparse_weights
    assert recommender.selection["doctor_sparse"]["chosen"] == side.sparse_selection["chosen"]

    # The evaluation's hybrid is fitted by the same function on its split's training part, whose
    # validation split is the protocol's, and deploys what it chose.
    calls.clear()
    protocol = doctor_protocol(doctors, "holdout", EvaluateConfig(quick=True, bootstrap=0), log=lambda m: None)
    (evaluated_validation, evaluated_choice), (anchor_validation, anchor_choice) = calls  # deployed, then anchor
    _, validation_split = cf_splits(doctors, "holdout", 0)
    assert (evaluated_validation.test.matrix != validation_split.test.matrix).nnz == 0
    hybrid = next(m for m in protocol.models if m.role == "hybrid")
    assert hybrid.params["cf_choice"] == evaluated_choice.as_dict()
    # The anchor row is chosen on the same validation, among plain EASE settings only.
    assert (anchor_validation.test.matrix != validation_split.test.matrix).nnz == 0
    assert anchor_choice.model == "ease" and anchor_choice.params.get("side_weight", 0.0) == 0.0
    assert any(m.model == "EASE + within-specialty popularity" and m.role == "baseline" for m in protocol.models)


def test_choice_is_the_best_validation_candidate():
    doctors = doctor_drug_interactions(people_graph())
    split = holdout_split(doctors, 0.2, seed=0)
    choice = choose_cf(split, quick=True)
    scores = {name: s.best_score for name, s in choice.searches.items()}
    assert set(scores) == {"ease", "als"}
    assert scores[choice.model] == max(scores.values())
    # The search keeps its best fit, which the blend's choice on the same split reuses: it is the
    # model a fresh fit with the chosen parameters gives.
    kept = choice.searches[choice.model].best_model
    fresh = MODELS[choice.model](**choice.params).fit(split.train)
    assert kept.config() == fresh.config()
    users = list(split.train.user_ids[:20])
    np.testing.assert_allclose(kept.score_users(users), fresh.score_users(users))


def test_training_without_the_doctors_leaves_every_patient_score_unchanged(tmp_path, capsys):
    """``doctors = false`` (what the patient protocols train with) leaves the doctors' components out
    and changes nothing a patient is ranked by; the model then says why it cannot rank a doctor."""
    import pytest

    from kg.errors import KGError
    from pipelines.cli import main

    graph = people_graph()
    full, _ = run_train(graph, TrainConfig(seed=0, gnn=None))
    patients_only, result = run_train(graph, TrainConfig(seed=0, gnn=None, doctors=False))
    assert full.doctor_cf is not None and patients_only.doctor_cf is None and patients_only.doctor_popularity is None
    assert "doctor_cf" not in result.selection and "doctor" not in result.selection
    patients = sorted(graph.nodes_of_type("patient")["id"])
    for kind in ("patient", "patient_new"):
        assert patients_only.weights[kind] == full.weights[kind]
        assert patients_only.selection[kind] == full.selection[kind]
    np.testing.assert_array_equal(patients_only.scores(patients), full.scores(patients))
    assert [r.drug_id for r in patients_only.recommend_for_patient(patients[0])] == \
        [r.drug_id for r in full.recommend_for_patient(patients[0])]
    doctor = sorted(graph.nodes_of_type("doctor")["id"])[0]
    with pytest.raises(KGError, match=r"no doctor components: .*\[train\] doctors = false"):
        patients_only.recommend_for_doctor(doctor)
    with pytest.raises(KGError, match="nothing to rank a new doctor by"):
        patients_only.recommend_for_new_doctor({"drug:DB10000": 12.0})
    assert full.recommend_for_doctor(doctor)  # the same graph, trained with them
    patients_only.save(tmp_path / "model")
    assert main(["info", str(tmp_path / "model")]) == 0
    shown = capsys.readouterr().out
    assert "doctor_sparse       unused: no doctor components" in shown and "patient_new         " in shown
