"""Sparse prescribers (at most three known drugs): their split, and the weight set that ranks them
in every entry point (single, batch, new prescriber, explanation, bundle)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from kg.graph import KnowledgeGraph
from linkgraph import people_graph, people_recommender
from kg.errors import KGError
from recsys.cf import Interactions, doctor_drug_interactions
from recsys.cf.interactions import PRESCRIBES
from recsys.cf.split import CFSplit, new_user_split, sparse_users
from recsys.recommender.doctor_side import SPARSE_DRUGS, doctor_kind

SPARSE_DOCTOR = "doctor:NPI:0000"  # cut down to two drugs below


def _split() -> CFSplit:
    rng = np.random.default_rng(0)
    history = sp.csr_matrix((rng.random((40, 12)) < 0.4) * rng.integers(1, 9, (40, 12)), dtype=np.float64)
    test = sp.csr_matrix((rng.random((40, 12)) < 0.2) * (history.toarray() == 0), dtype=np.float64)
    users, items = np.array([f"u{i}" for i in range(40)], dtype=object), np.array([f"i{j}" for j in range(12)])
    frame = pd.DataFrame(index=range(40))
    make = lambda m: Interactions(m, users, items, frame)  # noqa: E731
    return CFSplit("unseen", Interactions(sp.csr_matrix((0, 12)), [], items), make(history), make(test))


def test_sparse_users_keep_one_to_three_items_and_find_every_other():
    split = _split()
    cut = sparse_users(split, 3, seed=0)
    full = (split.history.matrix + split.test.matrix).tocsr()
    rows = pd.Index(split.history.user_ids).get_indexer(cut.history.user_ids)
    kept, found = np.diff(cut.history.matrix.indptr), np.diff(cut.test.matrix.indptr)
    assert kept.min() >= 1 and kept.max() <= 3 and found.min() >= 1
    assert set(kept.tolist()) == {1, 2, 3}  # uniformly many, not always the most
    # Kept and to-find partition each user's items: nothing lost, nothing twice.
    assert ((cut.history.matrix + cut.test.matrix) != full[rows]).nnz == 0
    assert cut.history.matrix.multiply(cut.test.matrix).nnz == 0
    again = sparse_users(split, 3, seed=0)
    assert (again.history.matrix != cut.history.matrix).nnz == 0  # same seed, same cut


def test_new_user_split_leaves_whole_users_out_of_training():
    claims = doctor_drug_interactions(people_graph())
    split = new_user_split(claims, 0.1, seed=0)
    assert not set(split.history.user_ids) & set(split.train.user_ids)
    assert split.history.shape[0] == round(0.1 * claims.shape[0]) and split.test.nnz == 0
    assert split.history.nnz + split.train.nnz == claims.nnz
    with pytest.raises(KGError, match="leaves no split"):
        new_user_split(claims.select_users(np.arange(3)), 0.1)


def test_doctor_kind_picks_the_sparse_weights_for_at_most_three_drugs_among_the_prescribed():
    assert doctor_kind("prescribed", SPARSE_DRUGS) == doctor_kind("prescribed", 0) == "doctor_sparse"
    assert doctor_kind("prescribed", SPARSE_DRUGS + 1) == doctor_kind("prescribed") == "doctor"
    assert doctor_kind("all", 1) == "doctor_all"  # every drug of the graph: one weight set


@pytest.fixture(scope="module")
def recommender():
    graph = people_graph()
    claims = graph.edges[PRESCRIBES]
    mine = claims["src"] == SPARSE_DOCTOR
    keep = ~mine | claims.index.isin(claims.index[mine][:2])
    graph = KnowledgeGraph(graph.nodes, {**graph.edges, PRESCRIBES: claims[keep].reset_index(drop=True)}, graph.tables)
    rec = people_recommender(graph)
    # Prescribers with many drugs: CF alone; sparse ones: within-specialty popularity alone.
    rec.weights["doctor"] = {"graph": 0.0, "cf": 1.0, "popularity": 0.0}
    rec.weights["doctor_sparse"] = {"graph": 0.0, "cf": 0.0, "popularity": 1.0}
    return rec


def test_a_sparse_prescriber_is_ranked_with_the_sparse_weights_in_every_entry_point(recommender, tmp_path):
    rec = recommender
    dense = "doctor:NPI:1001"
    popularity = rec.component_scores("doctor", [SPARSE_DOCTOR])["popularity"][0]
    single = rec.recommend_for_doctor(SPARSE_DOCTOR, k=3)
    assert single[0].kind == "doctor_sparse"
    own = set(rec.doctor_cf.train.items_of(SPARSE_DOCTOR))
    expected = [d for d in rec.drug_ids[np.argsort(-popularity, kind="stable")] if d not in own
                and d not in rec.unprescribed][:3]
    assert [r.drug_id for r in single] == expected
    assert rec.recommend_for_doctor(dense, k=1)[0].kind == "doctor"
    # The batch form blends each prescriber under their own weights, as the single form does.
    batch = rec.scores([SPARSE_DOCTOR, dense])
    assert np.allclose(batch[0], rec.blend("doctor_sparse", [SPARSE_DOCTOR])[0][0])
    assert np.allclose(batch[1], rec.blend("doctor", [dense], by_history=False)[0][0])
    ids, values = rec.recommend_many([SPARSE_DOCTOR, dense], k=3)
    assert np.allclose(values[0], batch[0][rec.drug_index.get_indexer(expected)])  # the same list, ties aside
    # A new prescriber with two drugs, and the explanation of a sparse prescriber's drug.
    new = rec.recommend_for_new_doctor({d: 5.0 for d in sorted(own)}, specialty="specialty 0", k=1)
    assert new[0].kind == "doctor_sparse"
    assert [c["component"] for c in rec.explain(SPARSE_DOCTOR, expected[0])["contributions"]
            if c["weight"]] == ["popularity"]
    # A bundle keeps the set; one from before it serves sparse prescribers with the doctor weights.
    rec.save(tmp_path / "bundle")
    from recsys.recommender.api import Recommender

    assert Recommender.load(tmp_path / "bundle").weights["doctor_sparse"] == rec.weights["doctor_sparse"]
    older = Recommender(rec.graph, rec.disease_scores, rec.disease_ids, list(rec.drug_ids), doctor_cf=rec.doctor_cf,
                        doctor_popularity=rec.doctor_popularity, weights={"doctor": rec.weights["doctor"]})
    assert older.weights["doctor_sparse"] == rec.weights["doctor"]
