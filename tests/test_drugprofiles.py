"""The graph for prescribers: drug profiles from graph facts, the doctors' graph component, every
drug of the graph as a candidate, and the mixed drug cold-start split it is fitted on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from kg.errors import KGError
from kg.graph import KnowledgeGraph
from kg.schema import EdgeType
from linkgraph import people_graph, people_recommender
from pipelines.coldsplit import mixed_split
from recsys.cf import Interactions, doctor_drug_interactions
from recsys.recommender.doctor_side import neutral_fill
from recsys.recommender.drugprofiles import DrugProfiles, neighbour_scores

BINDS = EdgeType("drug", "binds", "target")
INCLUDES = EdgeType("pharmacologic_class", "includes", "drug")
PRESCRIBES = EdgeType("doctor", "prescribes", "drug")
PLANTED = "drug:DB19999"


def _with_planted_drug(graph: KnowledgeGraph) -> KnowledgeGraph:
    """``graph`` plus a drug nobody prescribes that binds cluster 0's genes and shares a class
    with cluster 0's drugs (and nothing else: no indication, no look-alike)."""
    nodes = pd.concat([graph.nodes, pd.DataFrame([
        {"id": PLANTED, "type": "drug", "name": "planted"},
        {"id": "class:N0000000001", "type": "pharmacologic_class", "name": "cluster 0 class"}])], ignore_index=True)
    edges = dict(graph.edges)
    genes = [f"target:{50000 + i}" for i in range(5)]
    edges[BINDS] = pd.concat([edges[BINDS], pd.DataFrame({"src": PLANTED, "dst": genes})], ignore_index=True)
    members = [f"drug:DB{10000 + i:05d}" for i in range(6)] + [PLANTED]
    edges[INCLUDES] = pd.DataFrame({"src": "class:N0000000001", "dst": members})
    return KnowledgeGraph(nodes, edges, graph.tables)


@pytest.fixture(scope="module")
def planted():
    return _with_planted_drug(people_graph())


def test_profiles_weigh_shared_facts_by_rarity_and_never_read_prescribing(planted):
    profiles = DrugProfiles.from_graph(planted)
    same = profiles.similarity([PLANTED], ["drug:DB10000", "drug:DB10100", PLANTED])[0]
    assert same[0] > 0.3 and same[1] == 0.0 and same[2] == 0.0  # cluster 0 alike, cluster 1 not, itself not
    assert {f.split(":")[0] for f in profiles.shared(PLANTED, "drug:DB10000", k=10)} == {"classes", "targets"}
    unprescribed = KnowledgeGraph(planted.nodes, {e: f for e, f in planted.edges.items() if e != PRESCRIBES})
    assert (DrugProfiles.from_graph(unprescribed).matrix != profiles.matrix).nnz == 0
    # A fact every drug has says nothing; one fact shared by two drugs says a lot.
    rare = pd.DataFrame({"src": ["drug:DB10000", "drug:DB10500"], "dst": "target:99999"})
    common = pd.DataFrame({"src": sorted(planted.nodes_of_type("drug")["id"]), "dst": "target:88888"})
    edges = {**planted.edges, BINDS: pd.concat([planted.edges[BINDS], rare, common], ignore_index=True)}
    shared = DrugProfiles.from_graph(KnowledgeGraph(planted.nodes, edges)).shared("drug:DB10000", "drug:DB10500")
    assert shared == ["targets:binds:target:99999"]


def test_neighbour_scores_sum_log_claims_times_similarity():
    history = sp.csr_matrix(np.array([[0.0, np.e - 1.0], [0.0, 0.0]]))
    similarity = np.array([[1.0, 0.5], [0.25, 0.0]])
    assert np.allclose(neighbour_scores(history, similarity), [[0.25, 0.0], [0.0, 0.0]])
    assert history[0, 1] == np.e - 1.0  # the input is not changed


def test_neutral_fill_gives_missing_scores_the_row_mean_and_leaves_empty_rows_alone():
    block = np.array([[1.0, 3.0, np.nan], [np.nan, np.nan, np.nan]])
    out = neutral_fill(block)
    assert out[0, 2] == 2.0 and np.isnan(out[1]).all() and np.isnan(block[0, 2])


def test_mixed_split_hides_cold_drugs_whole_and_a_fifth_of_the_rest():
    rng = np.random.default_rng(0)
    users, items = [], []
    for u in range(60):
        for d in rng.choice(25, size=10, replace=False):
            users.append(f"u{u}")
            items.append(f"d{d}")
    claims = Interactions.from_triples(users, items)
    split = mixed_split(claims, {}, seed=3)
    assert split.cold == mixed_split(claims, {}, seed=3).cold and len(split.cold) >= 4
    assert not set(map(str, split.train.item_ids)) & set(split.cold)  # a cold drug has no column
    cold = split.items.get_indexer(split.cold)
    full = sp.csr_matrix(claims.matrix)[split.users]
    assert (split.truth[:, cold] != full[:, cold]).nnz == 0  # every prescription of a cold drug is to be found
    assert split.history.multiply(split.truth).nnz == 0 and (split.history + split.truth != full).nnz == 0
    warm = np.setdiff1d(np.arange(len(split.items)), cold)
    kept_and_held = np.diff(full[:, warm].indptr)
    assert (np.diff(split.truth[:, warm].indptr) == np.floor(0.2 * kept_and_held + 1e-9)).all()


def test_a_never_prescribed_drug_sharing_targets_and_class_with_a_prescribers_drugs_is_ranked_for_them(planted):
    rec = people_recommender(planted)
    assert not rec.doctor_cf.train.has_item(PLANTED)
    rec.weights["doctor_all"] = {"graph": 1.0, "cf": 1.0, "popularity": 0.0}
    cluster_0 = [d for d in rec.doctor_cf.train.user_ids if str(d).startswith("doctor:NPI:0")]
    for doctor in cluster_0:
        ranked = rec.recommend_for_doctor(doctor, k=3, candidates="all")
        assert PLANTED in [r.drug_id for r in ranked], doctor
        why = next(r for r in ranked if r.drug_id == PLANTED).explanation
        assert "In the graph it is like drugs they prescribe" in why and "class cluster 0 class" in why
        assert PLANTED not in [r.drug_id for r in rec.recommend_for_doctor(doctor, k=40)]  # default: prescribed only
    column = rec.drug_index.get_loc(PLANTED)
    prescribed_only = rec.component_scores("doctor", cluster_0[:1])["cf"][0]
    every = rec.component_scores("doctor_all", cluster_0[:1])["cf"][0]
    assert np.isnan(prescribed_only[column]) and every[column] == pytest.approx(np.nanmean(prescribed_only))
    other = rec.recommend_for_doctor("doctor:NPI:3000", k=3, candidates="all")  # cluster 3 shares nothing with it
    assert PLANTED not in [r.drug_id for r in other]
    new = rec.recommend_for_new_doctor({"drug:DB10000": 50.0, "drug:DB10001": 20.0}, k=5, candidates="all")
    assert [r.drug_id for r in new][-1] == PLANTED  # after cluster 0's other four drugs; no retraining
    ids, _ = rec.recommend_many(cluster_0[:3], k=40)
    assert PLANTED not in set(ids.ravel())  # the batch form ranks drugs somebody prescribes, as the default does
    for row, doctor in enumerate(cluster_0[:3]):
        assert [i for i in ids[row] if i is not None] == [r.drug_id for r in rec.recommend_for_doctor(doctor, k=40)]
    with pytest.raises(KGError, match="candidates must be one of"):
        rec.recommend_for_doctor(cluster_0[0], candidates="everything")


def test_doctor_all_weights_are_fitted_on_a_mixed_split_of_the_claims(planted):
    from pipelines.cfchoice import unvalidated_choice
    from pipelines.doctors import fit_doctors_all
    from recsys.recommender.drugclasses import Combinations

    from recsys.recommender.people_graph import DoctorGraphRecipe

    claims = doctor_drug_interactions(planted)
    recipe = DoctorGraphRecipe(planted, DrugProfiles.from_graph(planted, [str(i) for i in claims.item_ids]), None)
    weights, record = fit_doctors_all(claims, recipe, Combinations.from_graph(planted).partners,
                                      unvalidated_choice("ease", {"ease": [{"regularization": [10.0]}]}), seed=0)
    assert set(weights) == {"graph", "cf", "popularity"} and record["cold_drugs"] > 0
    assert weights["graph"] > 0  # on clustered prescribing, the graph finds the cold drugs


def test_a_patients_graph_drugs_component_scores_what_their_drugs_are_like(planted):
    rec = people_recommender(planted)
    patient = "patient:synth:0-0"  # takes four of cluster 0's drugs
    taken = rec.records.drugs(patient)
    scores = rec.component_scores("patient", [patient])["graph_drugs"][0]
    column = rec.drug_index.get_indexer
    assert scores[column([PLANTED])[0]] > 0 and scores[column(["drug:DB10300"])[0]] == 0  # cluster 3 shares nothing
    untaken = [d for d in (f"drug:DB{10000 + i:05d}" for i in range(6)) if d not in taken]
    assert min(scores[column(untaken)]) > scores[column([PLANTED])[0]]  # cluster 0's own drugs share more
    nobody = pd.DataFrame([{"id": "patient:synth:none", "type": "patient"}])
    alone = KnowledgeGraph(pd.concat([planted.nodes, nobody], ignore_index=True), planted.edges, planted.tables)
    assert np.isnan(people_recommender(alone).component_scores("patient", ["patient:synth:none"])["graph_drugs"]).all()
    rec.weights["patient_new"] = {"graph_drugs": 1.0}
    first = rec.recommend_for_patient(patient, k=1, safety=False)[0]
    assert first.drug_id in untaken and "In the graph it is like drugs they take" in first.explanation
    new = rec.recommend_for_new_patient(current_drugs=["drug:DB10000"], k=3, safety=False)
    assert {r.drug_id for r in new} <= {f"drug:DB{10000 + i:05d}" for i in range(1, 6)}  # no retraining
