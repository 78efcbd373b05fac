"""Collaborative filtering: a checkerboard with a known answer, fold-in, updates, persistence, splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from kg.errors import KGError
from recsys.cf import (MODELS, ALSRecommender, BPRRecommender, EASERecommender, GroupPopularityRecommender,
                       Interactions, PopularityRecommender, RP3betaRecommender, doctor_drug_interactions,
                       holdout_split, patient_drug_interactions, unseen_user_split)
from recsys.cf.evaluate import evaluate_cf
from recsys.cf.profile import profile_doctor

N_USERS, N_ITEMS = 40, 12  # two blocks: users 0-19 use items 0-5, users 20-39 items 6-11


def checkerboard(drop_diagonal: bool = True) -> Interactions:
    """Each user uses every item of their block except one (the one the model must find).

    User u of block b misses item ``6 b + u % 6``; claim counts vary so transforms matter.
    """
    rng = np.random.default_rng(7)
    users, items, weights = [], [], []
    for u in range(N_USERS):
        block = u // 20
        for i in range(6 * block, 6 * block + 6):
            if drop_diagonal and i == 6 * block + u % 6:
                continue
            users.append(f"doctor:u{u}"), items.append(f"drug:i{i:02d}")
            weights.append(float(rng.integers(1, 50)))
    attributes = pd.DataFrame({"specialty": ["Cardiology"] * 20 + ["Psychiatry"] * 20,
                               "state": ["MA", "NY"] * 10 + ["CA", "TX"] * 10},
                              index=[f"doctor:u{u}" for u in range(N_USERS)])
    return Interactions.from_triples(users, items, weights,
                                     item_ids=[f"drug:i{i:02d}" for i in range(N_ITEMS)],
                                     user_attributes=attributes)


def small_models():
    """Every model under the contract, sized for the checkerboard."""
    return {
        "als": ALSRecommender(factors=4, regularization=1.0, iterations=20, seed=3),
        "bpr": BPRRecommender(factors=4, learning_rate=0.05, iterations=300, seed=3),
        "group_popularity": GroupPopularityRecommender(smoothing=0.01),
        "ease": EASERecommender(regularization=5.0, transform="binary"),
        "rp3beta": RP3betaRecommender(alpha=1.0, beta=0.3),
    }


@pytest.mark.parametrize("name", ["als", "bpr", "group_popularity", "ease", "rp3beta"])
def test_checkerboard_missing_item_is_recommended_first(name):
    inter = checkerboard()
    model = small_models()[name].fit(inter)
    users = [f"doctor:u{u}" for u in range(N_USERS)]
    ids, scores = model.recommend(users, k=3)
    assert ids.shape == scores.shape == (N_USERS, 3)
    expected = [f"drug:i{6 * (u // 20) + u % 6:02d}" for u in range(N_USERS)]
    assert list(ids[:, 0]) == expected
    assert np.all(np.diff(scores, axis=1) <= 0)


def test_every_model_in_the_table_follows_the_contract(tmp_path):
    inter = checkerboard()
    for name, cls in MODELS.items():
        model = cls().fit(inter)
        ids, scores = model.recommend(["doctor:u0", "doctor:u25"], k=4)
        assert ids.shape == (2, 4) and np.isfinite(scores).all()
        assert not set(ids[0]) & set(inter.items_of("doctor:u0")), f"{name} recommended a seen item"
        new_ids, _ = model.recommend_new([["drug:i00", "drug:i01"]], k=2,
                                         attributes=[{"specialty": "Cardiology"}])
        assert not {"drug:i00", "drug:i01"} & set(new_ids[0])
        similar, _ = model.similar_items(["drug:i00"], k=3)
        assert "drug:i00" not in similar[0]
        peers, _ = model.similar_users(["doctor:u0"], k=3)
        assert "doctor:u0" not in peers[0]
        path = model.save(tmp_path / f"{name}.npz")
        loaded = type(model).load(path)
        users = list(inter.user_ids)
        np.testing.assert_array_equal(loaded.score_users(users), model.score_users(users))
        assert loaded.config() == model.config()


@pytest.mark.parametrize("name", ["ease", "rp3beta"])
def test_item_item_fold_in_is_exact(name):
    inter = checkerboard()
    model = small_models()[name].fit(inter)
    users = list(inter.user_ids)
    np.testing.assert_allclose(model.score_new([inter.items_of(u) for u in users]), model.score_users(users))


def test_ease_matches_its_closed_form_computed_by_brute_force():
    rng = np.random.default_rng(0)
    dense = (rng.random((30, 8)) < 0.35) * rng.integers(1, 9, (30, 8))
    users, items = np.nonzero(dense)
    inter = Interactions.from_triples([f"u{u}" for u in users], [f"i{i}" for i in items],
                                      dense[users, items].astype(float), item_ids=[f"i{i}" for i in range(8)])
    lam = 7.0
    model = EASERecommender(regularization=lam, transform="log1p").fit(inter)
    x = np.log1p(dense[[int(u[1:]) for u in inter.user_ids]].astype(float))
    # Each column j solves min ||x_j - X b_j||^2 + lam ||b_j||^2 subject to b_jj = 0:
    # a ridge regression of item j on the other items, solved directly here.
    expected = np.zeros((8, 8))
    for j in range(8):
        others = [i for i in range(8) if i != j]
        a = x[:, others]
        expected[others, j] = np.linalg.solve(a.T @ a + lam * np.eye(7), a.T @ x[:, j])
    np.testing.assert_allclose(model.item_matrix, expected, atol=1e-8)
    np.testing.assert_allclose(model.score_users(list(inter.user_ids)), x @ expected, atol=1e-8)
    # EDLAE's dropout p: each input's coefficient is penalised by lam + p / (1 - p) x its squared norm.
    p = 0.25
    dropped = EASERecommender(regularization=lam, transform="log1p", dropout=p).fit(inter)
    for j in range(8):
        others = [i for i in range(8) if i != j]
        a = x[:, others]
        penalty = np.diag(lam + p / (1 - p) * (a ** 2).sum(axis=0))
        expected[others, j] = np.linalg.solve(a.T @ a + penalty, a.T @ x[:, j])
    np.testing.assert_allclose(dropped.item_matrix, expected, atol=1e-8)
    with pytest.raises(KGError, match="dropout must be in"):
        EASERecommender(dropout=1.0)


@pytest.mark.parametrize("n", [1, 7, 64, 65, 200])
def test_ease_inverse_from_the_cholesky_factor_equals_the_general_inverse(n):
    from recsys.cf.gram import spd_inverse

    rng = np.random.default_rng(n)
    a = rng.standard_normal((n, n // 2 + 1))
    gram = a @ a.T + 0.5 * np.eye(n)
    inverse = spd_inverse(gram.copy(), block=32)  # blocks of 32: the copy across blocks is exercised
    np.testing.assert_allclose(inverse, np.linalg.inv(gram), rtol=1e-9, atol=1e-12)
    assert np.array_equal(inverse, inverse.T) and inverse.flags["C_CONTIGUOUS"]
    # Not positive definite: the general inverse, not a wrong answer.
    indefinite = gram - 2.0 * np.abs(np.linalg.eigvalsh(gram)).max() * np.eye(n)
    np.testing.assert_allclose(spd_inverse(indefinite), np.linalg.inv(indefinite), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dense_columns", [0, 5, 40])
def test_ease_gram_matrix_in_threads_is_scipys_column_products_bit_for_bit(dense_columns, monkeypatch):
    """The sparse parts, a run of rows per thread, add the same terms in the same order as scipy's
    products of the transposed columns, whatever the thread count; the whole is x^T W x."""
    import scipy.sparse as sp

    from recsys.cf import gram

    rng = np.random.default_rng(dense_columns)
    x = sp.random(5000, 60, density=0.08, format="csr", random_state=rng, dtype=np.float64)
    weights = rng.uniform(0.2, 3.0, 5000)
    result = gram.gram_matrix(x, weights, dense_columns, chunk=1024)
    np.testing.assert_allclose(result, (x.T @ sp.diags(weights) @ x).toarray(), rtol=1e-12, atol=1e-12)
    for threads in (1, 3):
        monkeypatch.setattr(gram, "GRAM_THREADS", threads)
        assert np.array_equal(gram.gram_matrix(x, weights, dense_columns, chunk=1024), result)
    if dense_columns:  # the products of the sparse columns, as the transposed column-major products give them
        weighted = sp.csr_matrix(sp.diags(weights) @ x)
        tail = x[:, dense_columns:]
        assert np.array_equal(result[dense_columns:, dense_columns:],
                              (tail.T @ weighted[:, dense_columns:]).toarray())
        crossed = sum(np.asarray(tail[s:s + 1024].T @ weighted[s:s + 1024, :dense_columns].toarray())
                      for s in range(0, 5000, 1024))
        assert np.array_equal(result[dense_columns:, :dense_columns], crossed)


def test_ease_user_weight_is_the_weighted_ridge_regression_computed_by_brute_force(tmp_path):
    rng = np.random.default_rng(1)
    dense = (rng.random((40, 6)) < 0.4) * rng.integers(1, 9, (40, 6))
    dense[0] = 1  # one heavy user among light ones
    users, items = np.nonzero(dense)
    inter = Interactions.from_triples([f"u{u}" for u in users], [f"i{i}" for i in items],
                                      dense[users, items].astype(float), item_ids=[f"i{i}" for i in range(6)])
    lam, g = 3.0, 0.5
    model = EASERecommender(regularization=lam, transform="binary", user_weight=g).fit(inter)
    x = (dense[[int(u[1:]) for u in inter.user_ids]] > 0).astype(float)
    # Each user's squared errors weighed by (their distinct items) ** -g, the weights scaled to mean 1.
    w = x.sum(axis=1) ** -g
    w *= len(w) / w.sum()
    expected = np.zeros((6, 6))
    for j in range(6):
        others = [i for i in range(6) if i != j]
        a = x[:, others]
        expected[others, j] = np.linalg.solve(a.T @ (w[:, None] * a) + lam * np.eye(5), a.T @ (w * x[:, j]))
    np.testing.assert_allclose(model.item_matrix, expected, atol=1e-8)
    plain = EASERecommender(regularization=lam, transform="binary").fit(inter)
    assert not np.allclose(plain.item_matrix, expected, atol=1e-3)  # the weights change the fit
    # A new user is scored from their history as before, and the setting survives a round trip.
    np.testing.assert_allclose(model.score_new([inter.items_of("u0")]), x[[0]] @ expected, atol=1e-8)
    model.save(tmp_path / "ease.npz")
    loaded = EASERecommender.load(tmp_path / "ease.npz")
    assert loaded.user_weight == g
    np.testing.assert_allclose(loaded.score_users(["u0"]), model.score_users(["u0"]))
    with pytest.raises(KGError, match="user_weight must be in"):
        EASERecommender(user_weight=-0.5)


def test_ease_pairs_are_the_constrained_ridge_regression_computed_by_brute_force(tmp_path):
    rng = np.random.default_rng(3)
    dense = (rng.random((60, 7)) < 0.45) * rng.integers(1, 9, (60, 7))
    users, items = np.nonzero(dense)
    inter = Interactions.from_triples([f"u{u}" for u in users], [f"i{i}" for i in items],
                                      dense[users, items].astype(float), item_ids=[f"i{i}" for i in range(7)])
    lam, m = 4.0, 6
    model = EASERecommender(regularization=lam, transform="log1p", pairs=m).fit(inter)
    x = np.log1p(dense[[int(u[1:]) for u in inter.user_ids]].astype(float))
    used = (x > 0).astype(float)
    # The m pairs most users share (ties in index order), each input 1 where a user has both.
    shared = [(int(used[:, i] @ used[:, j]), i, j) for i in range(7) for j in range(i + 1, 7)]
    pairs = [(i, j) for _, i, j in sorted(shared, key=lambda t: -t[0])[:m]]
    assert model.pair_items.tolist() == [list(p) for p in pairs]
    a = np.hstack([x, np.column_stack([used[:, i] * used[:, j] for i, j in pairs])])
    # Item j is regressed on every input except itself and the pairs holding it: solved directly.
    expected = np.zeros((a.shape[1], 7))
    for j in range(7):
        keep = [c for c in range(a.shape[1]) if c != j and not (c >= 7 and j in pairs[c - 7])]
        sub = a[:, keep]
        expected[keep, j] = np.linalg.solve(sub.T @ sub + lam * np.eye(len(keep)), sub.T @ x[:, j])
    np.testing.assert_allclose(model.item_matrix, expected[:7], atol=1e-8)
    np.testing.assert_allclose(model.pair_matrix, expected[7:], atol=1e-8)
    ids = list(inter.user_ids)
    np.testing.assert_allclose(model.score_users(ids), a @ expected, atol=1e-8)
    # Fold-in is exact, the score splits into own items, pairs and attributes, and a round trip keeps it.
    np.testing.assert_allclose(model.score_new([inter.items_of(u) for u in ids]), a @ expected, atol=1e-8)
    heavy = max(ids, key=lambda u: len(inter.items_of(u)))
    terms = model.score_terms(heavy, "i2")
    assert terms["pairs"] and all(isinstance(p, tuple) and len(p) == 2 for p, _ in terms["pairs"])
    parts = sum(v for _, v in terms["own_items"]) + sum(v for _, v in terms["pairs"]) + terms["attributes"]
    assert abs(parts - terms["score"]) < 1e-9
    assert abs(terms["score"] - model.score_users([heavy])[0, 2]) < 1e-9
    loaded = EASERecommender.load(model.save(tmp_path / "ease.npz"))
    assert loaded.config() == model.config()
    np.testing.assert_array_equal(loaded.score_users(ids), model.score_users(ids))
    with pytest.raises(KGError, match="pairs must be"):
        EASERecommender(pairs=-1)


def test_ease_pairs_let_a_combination_add_more_than_its_parts():
    # c comes only with a and b together; a alone or b alone comes with d. Plain EASE is linear, so
    # the score of a user holding a and b is exactly the sum of a's and b's; a pair input adds the
    # combination's own term: up for c, down for d.
    groups = {0: ["a", "d"], 1: ["b", "d"], 2: ["a", "b", "c"], 3: ["d", "e"]}
    users, items = [], []
    for u in range(40):
        users += [f"u{u}"] * len(groups[u % 4])
        items += groups[u % 4]
    inter = Interactions.from_triples(users, items, item_ids=["a", "b", "c", "d", "e"])
    for pairs, check in ((0, lambda d: np.allclose(d, 0.0, atol=1e-12)), (10, lambda d: d[2] > 0.3 and d[3] < -0.3)):
        model = EASERecommender(regularization=1.0, transform="binary", pairs=pairs).fit(inter)
        both, only_a, only_b = model.score_new([["a", "b"], ["a"], ["b"]])
        assert check(both - only_a - only_b), (pairs, both - only_a - only_b)
    assert [0, 1] in model.pair_items.tolist()  # a and b, shared by ten users


def test_ease_attribute_pairs_are_the_constrained_ridge_regression_computed_by_brute_force(tmp_path):
    rng = np.random.default_rng(5)
    n_users, n_items = 80, 6
    dense = (rng.random((n_users, n_items)) < 0.5) * rng.integers(1, 9, (n_users, n_items))
    specialty = rng.choice(["Cardiology", "Oncology", "Psychiatry"], n_users)
    state = rng.choice(["MA", "NY"], n_users)
    users, items = np.nonzero(dense)
    ids = [f"u{u}" for u in range(n_users)]
    inter = Interactions.from_triples([ids[u] for u in users], [f"i{i}" for i in items],
                                      dense[users, items].astype(float), item_ids=[f"i{i}" for i in range(n_items)],
                                      user_attributes=pd.DataFrame({"specialty": specialty, "state": state}, index=ids))
    lam, weight, m, k = 3.0, 2.0, 4, 9
    model = EASERecommender(regularization=lam, transform="log1p", side_weight=weight, pairs=m,
                            attribute_pairs=k).fit(inter)
    rows = [int(u[1:]) for u in inter.user_ids]
    x = np.log1p(dense[rows].astype(float))
    used = (x > 0).astype(float)
    one_hot = np.column_stack([specialty[rows] == v for v in ("Cardiology", "Oncology", "Psychiatry")]
                              + [state[rows] == v for v in ("MA", "NY")]).astype(float)
    shared = [(int(used[:, i] @ used[:, j]), i, j) for i in range(n_items) for j in range(i + 1, n_items)]
    pairs = [(i, j) for _, i, j in sorted(shared, key=lambda t: -t[0])[:m]]
    # The k (attribute value, item) combinations most users share (ties in column, item order).
    combos = [(c, i) for _, c, i in sorted(((int(one_hot[:, c] @ used[:, i]), c, i) for c in range(5)
                                              for i in range(n_items)), key=lambda t: -t[0])[:k]]
    assert model.attribute_pair_items.tolist() == [list(c) for c in combos]
    a = np.hstack([x, weight * one_hot, np.column_stack([used[:, i] * used[:, j] for i, j in pairs]),
                   np.column_stack([one_hot[:, c] * used[:, i] for c, i in combos])])
    first_pair, first_combo = n_items + 5, n_items + 5 + m
    expected = np.zeros((a.shape[1], n_items))
    for j in range(n_items):  # item j may not predict itself: own column, its pairs, its combinations
        keep = [c for c in range(a.shape[1]) if c != j
                and not (first_pair <= c < first_combo and j in pairs[c - first_pair])
                and not (c >= first_combo and combos[c - first_combo][1] == j)]
        sub = a[:, keep]
        expected[keep, j] = np.linalg.solve(sub.T @ sub + lam * np.eye(len(keep)), sub.T @ x[:, j])
    np.testing.assert_allclose(model.attribute_pair_matrix, expected[first_combo:], atol=1e-8)
    np.testing.assert_allclose(model.item_matrix, expected[:n_items], atol=1e-8)
    users_ = list(inter.user_ids)
    np.testing.assert_allclose(model.score_users(users_), a @ expected, atol=1e-8)
    attributes = inter.user_attributes.to_dict("records")
    np.testing.assert_allclose(model.score_new([inter.items_of(u) for u in users_], attributes), a @ expected,
                               atol=1e-8)  # fold-in is exact
    user = next(u for u in users_ if len(model.score_terms(u, "i1")["attribute_pairs"]) >= 2)
    terms = model.score_terms(user, "i1")
    assert all(len(c) == 3 and c[0] in ("specialty", "state") for c, _ in terms["attribute_pairs"])
    parts = (sum(v for _, v in terms["own_items"]) + sum(v for _, v in terms["pairs"]) + terms["attributes"]
             + sum(v for _, v in terms["attribute_pairs"]))
    assert abs(parts - terms["score"]) < 1e-9 and abs(terms["score"] - model.score_users([user])[0, 1]) < 1e-9
    loaded = EASERecommender.load(model.save(tmp_path / "ease.npz"))
    assert loaded.config() == model.config()
    np.testing.assert_array_equal(loaded.score_users(users_), model.score_users(users_))
    with pytest.raises(KGError, match="attribute_pairs must be"):
        EASERecommender(attribute_pairs=1.5)


def test_ease_attribute_pairs_let_a_drug_say_different_things_in_different_specialties():
    # In cardiology a comes with c, in oncology with d; b is everyone's. Plain EASE with side
    # information is additive, so adding a to a history raises c exactly as much in both
    # specialties; a (specialty, drug) combination input lets a's effect depend on the specialty.
    groups = {"Cardiology": [["a", "c"], ["b", "e"], ["a", "b", "c"]],
              "Oncology": [["a", "d"], ["b", "e"], ["a", "b", "d"]]}
    users, items, specialty = [], [], {}
    for name, baskets in groups.items():
        for u in range(30):
            user = f"{name}{u}"
            specialty[user] = name
            users += [user] * len(baskets[u % 3])
            items += baskets[u % 3]
    attributes = pd.DataFrame({"specialty": pd.Series(specialty)})
    inter = Interactions.from_triples(users, items, item_ids=["a", "b", "c", "d", "e"], user_attributes=attributes)
    for combos in (0, 20):
        model = EASERecommender(regularization=1.0, transform="binary", side_weight=1.0,
                                attribute_pairs=combos).fit(inter)
        effect = {}
        for name in groups:
            with_a, without = model.score_new([["a", "b"], ["b"]], [{"specialty": name}] * 2)
            effect[name] = with_a - without
        gap = effect["Cardiology"][2] - effect["Oncology"][2]  # a's effect on c: cardiology minus oncology
        assert (abs(gap) < 1e-9) if combos == 0 else gap > 0.3, (combos, gap)


def test_ease_with_side_information_is_the_closed_form_on_history_plus_one_hot_attributes():
    inter = checkerboard()
    weight, lam = 3.0, 5.0
    model = EASERecommender(regularization=lam, transform="binary", side_weight=weight).fit(inter)
    x = (inter.matrix > 0).astype(float).toarray()
    specialty = inter.user_attributes["specialty"].to_numpy()
    state = inter.user_attributes["state"].to_numpy()
    one_hot = np.column_stack([weight * (specialty == v) for v in ("Cardiology", "Psychiatry")]
                              + [weight * (state == v) for v in ("CA", "MA", "NY", "TX")])
    a = np.hstack([x, one_hot])
    p = np.linalg.inv(a.T @ a + lam * np.eye(a.shape[1]))
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0.0)
    expected = a @ b[:, :N_ITEMS]
    users = list(inter.user_ids)
    np.testing.assert_allclose(model.score_users(users), expected, atol=1e-8)
    # Fold-in with the same history and attributes is exact; without attributes it is plain history.
    attributes = inter.user_attributes.to_dict("records")
    np.testing.assert_allclose(model.score_new([inter.items_of(u) for u in users], attributes), expected,
                               atol=1e-8)
    np.testing.assert_allclose(model.score_new([inter.items_of(u) for u in users]), x @ b[:N_ITEMS, :N_ITEMS],
                               atol=1e-8)


def test_ease_side_information_ranks_a_new_users_specialty_first_and_survives_a_round_trip(tmp_path):
    model = EASERecommender(regularization=5.0, transform="binary", side_weight=2.0).fit(checkerboard())
    ids, _ = model.recommend_new([[], []], k=6, attributes=[{"specialty": "Psychiatry"}, {"specialty": "Cardiology"}])
    assert all(int(i[-2:]) >= 6 for i in ids[0]) and all(int(i[-2:]) < 6 for i in ids[1])
    unknown = model.score_new([["drug:i00"]], [{"specialty": "Dermatology", "state": None}])
    np.testing.assert_allclose(unknown, model.score_new([["drug:i00"]]))  # an unseen value adds nothing
    loaded = EASERecommender.load(model.save(tmp_path / "ease.npz"))
    users = list(model.train.user_ids)
    np.testing.assert_array_equal(loaded.score_users(users), model.score_users(users))
    assert loaded.config() == model.config() and set(loaded.side_values) == {"specialty", "state"}
    with pytest.raises(KGError, match="side_weight"):
        EASERecommender(side_weight=-1.0)


@pytest.mark.parametrize("name", ["als", "bpr"])
def test_fold_in_of_a_known_user_reproduces_its_recommendations(name):
    inter = checkerboard()
    model = small_models()[name].fit(inter)
    users = [f"doctor:u{u}" for u in range(N_USERS)]
    trained, _ = model.recommend(users, k=3)
    folded, _ = model.recommend_new([inter.items_of(u) for u in users], k=3)
    overlap = np.mean([len(set(a) & set(b)) / 3 for a, b in zip(trained, folded)])
    assert overlap >= 0.9
    assert list(folded[:, 0]) == list(trained[:, 0])
    if name == "als":  # a closed-form solve: the same vector up to the last half-step
        trained_scores = model.score_users(users)
        folded_scores = model.score_new([inter.items_of(u) for u in users])
        assert np.corrcoef(trained_scores.ravel(), folded_scores.ravel())[0, 1] > 0.99


@pytest.mark.parametrize("name", ["als", "bpr"])
def test_same_seed_same_model_and_other_seed_differs(name):
    inter = checkerboard()
    a, b = small_models()[name].fit(inter), small_models()[name].fit(inter)
    np.testing.assert_array_equal(a.user_factors, b.user_factors)
    np.testing.assert_array_equal(a.item_factors, b.item_factors)
    other = type(a)(**{**a.config(), "seed": 11}).fit(inter)
    assert not np.array_equal(a.item_factors, other.item_factors)


def test_als_is_deterministic_across_thread_counts():
    inter = checkerboard()
    one = ALSRecommender(factors=4, seed=1, num_threads=1).fit(inter)
    two = ALSRecommender(factors=4, seed=1, num_threads=2).fit(inter)
    np.testing.assert_array_equal(one.user_factors, two.user_factors)


@pytest.mark.parametrize("name", ["als", "bpr", "group_popularity"])
def test_update_adds_a_new_doctor_and_a_new_drug_without_refit(name):
    model = small_models()[name].fit(checkerboard())
    # A new cardiology-like prescriber, and a new drug that block-0 prescribers start using.
    new = Interactions.from_triples(
        ["doctor:new", "doctor:new", "doctor:new"] + [f"doctor:u{u}" for u in range(10)],
        ["drug:i00", "drug:i01", "drug:i02"] + ["drug:new"] * 10,
        [5, 5, 5] + [3] * 10,
        user_attributes=pd.DataFrame({"specialty": ["Cardiology"]}, index=["doctor:new"]))
    model.update(new)
    assert model.train.shape == (N_USERS + 1, N_ITEMS + 1)
    assert model.train.items_of("doctor:u0")["drug:new"] == 3.0
    ids, _ = model.recommend(["doctor:new"], k=3)
    assert set(ids[0]) <= {"drug:i03", "drug:i04", "drug:i05", "drug:new"}
    # The new drug now ranks within block 0 for block-0 prescribers who do not use it yet.
    ids, _ = model.recommend(["doctor:u15"], k=2)  # u15 misses i03 of its block
    assert set(ids[0]) == {"drug:i03", "drug:new"}


def test_a_user_with_almost_every_item_gets_no_seen_item_as_padding():
    inter = checkerboard()
    model = PopularityRecommender().fit(inter)
    ids, scores = model.recommend(["doctor:u0"], k=8)  # u0 has 5 of 12 items: 7 left
    assert list(ids[0, :7]) and None not in list(ids[0, :7]) and ids[0, 7] is None
    assert not set(ids[0, :7]) & set(inter.items_of("doctor:u0"))
    assert np.isneginf(scores[0, 7])


def test_errors_name_the_problem(tmp_path):
    model = ALSRecommender(factors=2).fit(checkerboard())
    with pytest.raises(KGError, match="unknown user id"):
        model.recommend(["doctor:nobody"])
    with pytest.raises(KGError, match="k must be a positive integer"):
        model.recommend(["doctor:u0"], k=0)
    with pytest.raises(KGError, match="does not know"):
        model.recommend_new([["drug:unknown"]])
    ids, _ = model.recommend_new([["drug:i00", "drug:unknown"]], k=2, ignore_unknown=True)
    assert ids.shape == (1, 2)
    with pytest.raises(KGError, match="not fitted"):
        ALSRecommender().recommend(["doctor:u0"])
    with pytest.raises(KGError, match="unknown confidence transform"):
        ALSRecommender(transform="sqrt")
    pickled = tmp_path / "evil.npz"
    np.savez(pickled, format=np.array([{"a": 1}], dtype=object))
    with pytest.raises(KGError, match="not a readable rxkg CF model"):
        ALSRecommender.load(pickled)
    with pytest.raises(KGError, match="holds a als model"):
        BPRRecommender.load(model.save(tmp_path / "als.npz"))


def test_holdout_split_hides_test_items_and_leaves_input_alone():
    inter = checkerboard(drop_diagonal=False)
    before = inter.matrix.copy()
    split = holdout_split(inter, fraction=0.2, seed=5)
    assert (inter.matrix != before).nnz == 0
    overlap = split.history.matrix.multiply(split.test.matrix)
    assert overlap.nnz == 0, "a test item is also in training"
    # six items each: floor(1.2) = 1 held out per user, all users evaluated
    assert split.test.shape[0] == N_USERS and split.test.nnz == N_USERS
    assert split.train.nnz + split.test.nnz == inter.nnz
    again = holdout_split(inter, fraction=0.2, seed=5)
    assert (again.test.matrix != split.test.matrix).nnz == 0


def test_unseen_user_split_keeps_held_out_users_out_of_training():
    inter = checkerboard(drop_diagonal=False)
    split = unseen_user_split(inter, by="state", groups=["CA"], test_fraction=0.2, seed=1)
    assert split.held_out_groups == ("CA",)
    assert not set(split.test.user_ids) & set(split.train.user_ids)
    assert set(split.test.user_ids) == {f"doctor:u{u}" for u in range(20, 40, 2)}
    assert split.history.matrix.multiply(split.test.matrix).nnz == 0
    drawn = unseen_user_split(inter, by="state", user_fraction=0.3, seed=2, exclude_groups=("CA",))
    assert "CA" not in drawn.held_out_groups and len(drawn.test.user_ids) >= 12
    with pytest.raises(KGError, match="no users with state"):
        unseen_user_split(inter, groups=["ZZ"])


def test_evaluation_on_the_checkerboard_is_perfect_for_als():
    inter = checkerboard(drop_diagonal=False)
    split = holdout_split(inter, fraction=0.2, seed=0)
    model = ALSRecommender(factors=4, regularization=1.0, iterations=20).fit(split.train)
    result = evaluate_cf(model, split, k=5, n_resamples=50)
    assert result.users == N_USERS
    assert result.means["recall@5"] == 1.0 and result.means["mrr"] == 1.0
    unseen = unseen_user_split(inter, by="state", groups=["CA"], seed=0)
    folded = evaluate_cf(ALSRecommender(factors=4, regularization=1.0).fit(unseen.train), unseen, k=5)
    assert folded.means["recall@5"] == 1.0
    lo, hi = folded.intervals["mrr"]
    assert lo <= folded.means["mrr"] <= hi


def test_profile_shares_specialty_differences_and_peers():
    inter = Interactions.from_triples(
        ["doctor:a", "doctor:a", "doctor:b", "doctor:b", "doctor:c"],
        ["drug:metformin", "drug:lisinopril", "drug:metformin", "drug:lisinopril", "drug:metformin"],
        [30, 10, 10, 30, 20],
        user_attributes=pd.DataFrame({"specialty": ["Internal Medicine"] * 3, "state": ["MA"] * 3},
                                     index=["doctor:a", "doctor:b", "doctor:c"]))
    atc = {"drug:metformin": ["A10BA02"], "drug:lisinopril": ["C09AA03"]}
    profile = profile_doctor("doctor:a", inter, atc, drug_names={"drug:metformin": "Metformin"}, peers=2)
    assert profile.n_drugs == 2 and profile.total_claims == 40
    assert profile.top_drugs[0] == ("drug:metformin", "Metformin", 0.75)
    level1 = {a.code: a for a in profile.areas[1]}
    assert level1["A"].share == pytest.approx(0.75) and level1["A"].name.startswith("Alimentary")
    # specialty mean of A: (0.75 + 0.25 + 1.0) / 3
    assert level1["A"].specialty_share == pytest.approx(2.0 / 3.0)
    assert level1["A"].difference == pytest.approx(0.75 - 2.0 / 3.0)
    assert {a.code for a in profile.areas[3]} == {"A10B", "C09A"}
    assert profile.unclassified_share == pytest.approx(0.0)
    # cosine of log claims: b prescribes the same two drugs (0.94), c only metformin (0.81)
    assert [p.doctor_id for p in profile.peers] == ["doctor:b", "doctor:c"]
    assert [p.shared_drugs for p in profile.peers] == [2, 1]
    assert profile.to_dict()["areas"]["1"][0]["code"] == "A"
    assert "Internal Medicine" in profile.text()


def test_cms_prescribers_als_beats_within_specialty_popularity(shipped_graph):
    """On a validation split of the shipped CMS data (the benchmark has the full protocol)."""
    inter = doctor_drug_interactions(shipped_graph)
    assert inter.shape[0] > 20_000 and {"specialty", "state"} <= set(inter.user_attributes.columns)
    split = holdout_split(holdout_split(inter, 0.2, seed=0).train, 0.2, seed=1)
    als = evaluate_cf(ALSRecommender().fit(split.train), split, n_resamples=200)
    group = evaluate_cf(GroupPopularityRecommender().fit(split.train), split, n_resamples=200)
    assert als.intervals["ndcg@10"][0] > group.intervals["ndcg@10"][1]
    assert als.means["recall@10"] > group.means["recall@10"]


def test_patient_drug_interactions_binary_and_duration(shipped_graph):
    binary = patient_drug_interactions(shipped_graph)
    duration = patient_drug_interactions(shipped_graph, weighting="duration")
    assert binary.shape == duration.shape and binary.nnz == duration.nnz > 1000
    assert set(binary.matrix.data) == {1.0}
    assert duration.matrix.data.max() > 30  # long-term therapy weighs more than one day
    with pytest.raises(KGError, match="weighting"):
        patient_drug_interactions(shipped_graph, weighting="dose")
    model = ALSRecommender(factors=8, regularization=1.0).fit(duration)
    ids, _ = model.recommend(list(duration.user_ids[:3]), k=5)
    assert ids.shape == (3, 5)


def test_interactions_reject_bad_input():
    with pytest.raises(KGError, match="negative or missing weight"):
        Interactions.from_triples(["u"], ["i"], [-1.0])
    with pytest.raises(KGError, match="not in item_ids"):
        Interactions.from_triples(["u"], ["i"], [1.0], item_ids=["j"])
    with pytest.raises(KGError, match="does not match"):
        Interactions(sp.csr_matrix((2, 2)), np.array(["u"]), np.array(["i", "j"]))


def test_als_gpu_fit_needs_cuda_and_keeps_the_cpu_contract(tmp_path):
    import implicit.gpu

    model = ALSRecommender(factors=4, regularization=0.1, use_gpu=True)
    if not implicit.gpu.HAS_CUDA:
        with pytest.raises(KGError, match="no CUDA support"):
            model.fit(checkerboard())
        return
    model.fit(checkerboard())  # on a GPU machine: factors come back to the CPU
    assert isinstance(model.item_factors, np.ndarray) and model.item_factors.shape[1] == 4
    model.save(tmp_path / "als.npz")
    loaded = ALSRecommender.load(tmp_path / "als.npz")
    assert np.allclose(loaded.score_users(["doctor:u0"]), model.score_users(["doctor:u0"]))


def test_staged_search_fits_the_best_model_so_far_once_when_a_later_stage_names_it_again(monkeypatch):
    from recsys.cf import tuning

    split = holdout_split(checkerboard(), 0.3, seed=0)
    stages = [{"transform": ["binary"], "regularization": [5.0]}, {"regularization": [5.0, 50.0]},
              {"dropout": [0.0, 0.5]}]  # a dropout of 0 is the default: the best model so far again
    fitted = []

    class Counting(EASERecommender):
        def _fit(self, interactions):
            fitted.append(self.config())
            super()._fit(interactions)

    monkeypatch.setitem(tuning.MODELS, "counting", Counting)
    search = tuning.staged_search("counting", split, stages=stages)
    # Five grid points, two of them the best model so far again: three fits, three distinct trials.
    assert len(fitted) == len(search.trials) == 3 and len({repr(c) for c in fitted}) == 3
    # The same choice and score as fitting every grid point: each stage's best among its own points.
    scores = {}
    for params in [{"transform": "binary", "regularization": r} for r in (5.0, 50.0)] + [
            {"transform": "binary", "regularization": search.best_params["regularization"], "dropout": d}
            for d in (0.0, 0.5)]:
        model = EASERecommender(**params).fit(split.train)
        scores[repr(sorted(params.items()))] = evaluate_cf(model, split, n_resamples=0).means["ndcg@10"]
    assert search.best_score == max(scores.values())
    assert search.best_model is not None and search.best_model.config() == EASERecommender(**search.best_params).config()
