"""Choosing the metapath model's settings on its cross-fitting folds (recsys.link.crossval)."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.link.crossval import SEARCH_TOLERANCE, FoldRanking, assign_folds, fold_grouping
from recsys.link.evaluate import evaluate_scorer
from recsys.link.metapath import MetapathModel
from recsys.link.split import LinkSplit
from recsys.link.task import LinkTask
from recsys.logistic import fit_logistic_regression
from tests.test_metapath_rules import SMALL, TREATS, shared_target_graph, task_of


def zero_shot_task() -> LinkTask:
    """The shared-target graph with every indication of diseases 10 and 11 held out (10: validation)."""
    graph, _, _ = shared_target_graph()
    treats = graph.edges[TREATS]
    held = treats["dst"].isin(["disease:DOID:110", "disease:DOID:111"])
    train = type(graph)(graph.nodes, {**graph.edges, TREATS: treats[~held]})
    val, test = treats[treats["dst"] == "disease:DOID:110"], treats[treats["dst"] == "disease:DOID:111"]
    return LinkTask.from_split(LinkSplit(train, val.reset_index(drop=True), test.reset_index(drop=True), TREATS,
                                         "zero_shot", 0))


def test_folds_group_indications_as_the_validation_pairs_are_held_out():
    random_task, zero_shot = task_of(*shared_target_graph()), zero_shot_task()
    assert fold_grouping(random_task) == "pair" and fold_grouping(zero_shot) == "disease"
    assert fold_grouping(zero_shot, "pair") == "pair"
    deployment = task_of(*shared_target_graph())
    deployment.val_pairs = np.empty((0, 2), dtype=np.int64)
    assert fold_grouping(deployment) == "pair"
    with pytest.raises(ValueError, match="fold grouping"):
        fold_grouping(random_task, "drug")

    pairs = np.array([[s, d] for d in range(10) for s in range(7)])
    by_disease = assign_folds(pairs, 20, 5, "disease", np.random.default_rng(0))
    for d in range(10):  # a disease sits in one fold, and the ten diseases fill the five evenly
        assert len(set(by_disease[pairs[:, 1] == d])) == 1
    assert np.bincount(by_disease[::7], minlength=5).tolist() == [2] * 5
    by_pair = assign_folds(pairs, 20, 5, "pair", np.random.default_rng(0))
    assert np.bincount(by_pair[:20], minlength=5).tolist() == [4] * 5


def test_the_folds_mrr_is_each_held_out_fold_ranked_by_a_model_fitted_without_it():
    rng = np.random.default_rng(3)
    diseases, drugs, folds = 6, 15, 3
    every = np.array([[s, d] for d in range(diseases) for s in range(drugs)])
    is_positive = rng.random(len(every)) < 0.2
    is_positive[::drugs] = True  # every disease has an indication
    pairs = np.concatenate([every[is_positive], every[~is_positive]])
    labels = np.concatenate([np.ones(is_positive.sum()), np.zeros((~is_positive).sum())])
    x = np.asfortranarray(rng.normal(size=(len(pairs), 4)) + labels[:, None] * [1.0, 0.5, 0.0, 0.0]).astype(np.float32)
    fold = assign_folds(pairs, int(labels.sum()), folds, "disease", np.random.default_rng(0))
    negatives = np.arange(int(labels.sum()), len(pairs))
    ranking = FoldRanking.of(x, labels, pairs, fold, negatives, folds)
    columns = np.array([True, True, False, True])
    rows = np.arange(len(pairs))
    got = ranking.scores(rows, columns, [1e-1, 1e-2])

    # By hand: each fold fitted without its rows (the second penalty warm-started from the
    # first, at the search's tolerance), each of its diseases' indications ranked against
    # that disease's other rows, reciprocal ranks and AUROCs averaged per disease first.
    mrr, auroc = {1e-1: [], 1e-2: []}, {1e-1: [], 1e-2: []}
    for k in range(folds):
        train, fitted = rows[fold != k], None
        for penalty in (1e-1, 1e-2):
            fitted = fit_logistic_regression(x[np.ix_(train, columns)], labels[train], penalty, init=fitted,
                                             tolerance=SEARCH_TOLERANCE)
            score = x[:, columns] @ fitted[0]
            for d in np.unique(pairs[(fold == k) & (labels == 1), 1]):
                negative = score[(pairs[:, 1] == d) & (labels == 0)]
                positive = score[(pairs[:, 1] == d) & (labels == 1)]
                above = np.array([(negative > s).sum() for s in positive])
                tied = np.array([(negative == s).sum() for s in positive])
                mrr[penalty].append(np.mean(1 / (1 + above + 0.5 * tied)))
                auroc[penalty].append(np.mean((len(negative) - above - 0.5 * tied) / len(negative)))
    for got_one, penalty in zip(got, (1e-1, 1e-2)):
        assert got_one["mrr"] == pytest.approx(np.mean(mrr[penalty]), abs=1e-9)
        assert got_one["auroc"] == pytest.approx(np.mean(auroc[penalty]), abs=1e-9)
    assert got[0]["mrr"] != got[1]["mrr"], "the two penalties must rank differently for the test to bite"


def test_the_model_chooses_on_the_folds_and_a_zero_shot_task_folds_by_disease():
    task = zero_shot_task()
    model = MetapathModel(**SMALL, combine="folds", fold_by="auto").fit(task)
    assert model.folded_by == "disease" and model.chosen_settings()["fold_by"] == "disease"
    assert all("folds_mrr" in c and "val_mrr" not in c for c in model.candidates)
    best = max(model.candidates, key=lambda c: c["folds_mrr"])
    assert model.chosen["folds_mrr"] == best["folds_mrr"] and "val_mrr" in model.chosen
    # A disease's own treatments never describe it in training, as at test: the held-out
    # diseases' drugs are reached through what resembles them, here nothing, so no fold is perfect.
    assert 0 < best["folds_mrr"] < 1
    again = MetapathModel(**model.chosen_settings()).fit(task)
    assert again.folded_by == "disease" and len(again.candidates) == 1
    assert {k: again.chosen[k] for k in ("examples", "family", "penalty")} == \
        {k: model.chosen[k] for k in ("examples", "family", "penalty")}
    on_validation = MetapathModel(**SMALL, combine="validation").fit(task)
    assert all("val_mrr" in c and "folds_mrr" not in c for c in on_validation.candidates)
    with pytest.raises(ValueError, match="combine"):
        MetapathModel(combine="test")


def test_the_averaged_model_is_the_mean_of_every_candidates_fit(monkeypatch):
    import recsys.link.search as search

    fits = []

    def spy(x, y, penalty, **kwargs):
        fitted = fit_logistic_regression(x, y, penalty, **kwargs)
        fits.append((x.shape[1], penalty, *fitted))
        return fitted

    monkeypatch.setattr(search, "fit_logistic_regression", spy)
    task = task_of(*shared_target_graph())
    grid = {**SMALL, "penalties": (1e-1, 1e-2)}
    averaged = MetapathModel(**grid, combine="average").fit(task)
    assert len(fits) == len(averaged.candidates) == 2 * 2 * 2  # examples x families x penalties
    assert averaged.chosen["candidates"] == 8 and sorted({p for _, p, _, _ in fits}) == [1e-2, 1e-1]
    people = averaged._people_columns()  # the features a "without people" fit leaves out
    assert people.any() and not people.all()
    total = np.zeros(len(people))
    for width, _, weights, _ in fits:  # "without people" fits cover the other features only
        total[np.flatnonzero(~people) if width < len(people) else np.arange(len(people))] += weights
    np.testing.assert_allclose(averaged.weights, total / 8, rtol=1e-12)
    assert averaged.bias == pytest.approx(np.mean([b for *_, b in fits]), rel=1e-12)
    assert evaluate_scorer(averaged, task, "test").mrr == 1.0
    again = MetapathModel(**averaged.chosen_settings()).fit(task)
    np.testing.assert_array_equal(again.weights, averaged.weights)


def test_an_averaged_model_keeps_the_candidate_the_validation_rule_chooses():
    task = task_of(*shared_target_graph())
    grid = {**SMALL, "penalties": (1e-1, 1e-2, 1e-3)}
    averaged = MetapathModel(**grid, combine="average").fit(task)
    chosen = MetapathModel(**grid, combine="validation").fit(task)
    kept = averaged.preferred
    assert kept is not None and chosen.preferred is None
    assert {k: kept.chosen[k] for k in ("examples", "family", "penalty", "val_mrr")} == {
        k: chosen.chosen[k] for k in ("examples", "family", "penalty", "val_mrr")}
    every = np.arange(task.num_dst)
    np.testing.assert_allclose(kept.score_matrix(every), chosen.score_matrix(every), rtol=1e-5, atol=1e-5)
    assert kept.chosen_settings()["penalties"] == (chosen.chosen["penalty"],)  # refits as the one candidate
    # Refitted (deployment), the averaged model keeps the candidate it kept on validation, by name.
    settings = averaged.chosen_settings()
    assert settings["prefer"] == {k: kept.chosen[k] for k in ("examples", "family", "penalty")}
    again = MetapathModel(**settings).fit(task)
    assert again.preferred.chosen["penalty"] == kept.chosen["penalty"]
    # Its scores are made when first read (a disease ranking never reads them), views too.
    assert again.preferred.scores_ is None
    pairs = task.train_pairs[:2]
    np.testing.assert_allclose(again.preferred.scores_without(pairs), chosen.scores_without(pairs), rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_array_equal(again.preferred.score_matrix(every), kept.score_matrix(every))
    with pytest.raises(ValueError, match="no averaged candidate"):
        MetapathModel(**{**settings, "prefer": {"examples": "sampled", "family": "x", "penalty": 1.0}}).fit(task)
