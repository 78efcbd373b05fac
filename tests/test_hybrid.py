"""Hybrid blend: normalisation with missing coverage, weights from validation pairs only."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.blend import blend_scores, fit_blend, scored_rows, standardise_rows


def test_standardise_rows_handles_uncovered_drugs_and_entities():
    scores = np.array([[1.0, 2.0, 3.0, np.nan], [np.nan] * 4, [5.0, 5.0, 5.0, 5.0]])
    z = standardise_rows(scores)
    np.testing.assert_allclose(z[0, :3], [-1.2247, 0.0, 1.2247], atol=1e-4)
    assert z[0, 3] == z[0, :3].min(), "a drug the component cannot score gets no evidence"
    assert (z[1] == 0).all(), "a row the component cannot score drops out"
    assert np.allclose(z[2], 0.0)
    assert list(scored_rows(scores)) == [True, False, True]


def test_blend_weights_follow_the_informative_component():
    rng = np.random.default_rng(0)
    truth = rng.random((60, 40)) < 0.1
    informative = truth + rng.normal(0, 0.3, truth.shape)
    noise = rng.normal(0, 1, truth.shape)
    weights, _ = fit_blend([informative, noise], truth)
    assert weights[0] > 1.0 and abs(weights[1]) < 0.3
    blended = blend_scores([informative, noise], weights)
    assert blended.shape == truth.shape
    assert blended[truth].mean() > blended[~truth].mean() + 1.0


def test_blend_reads_only_the_pairs_it_is_given():
    """Fitting sees validation pairs only: changing other pairs' labels cannot move the weights."""
    rng = np.random.default_rng(1)
    components = [rng.normal(size=(30, 20)), rng.normal(size=(30, 20))]
    validation = rng.random((30, 20)) < 0.15
    usable = np.ones_like(validation)
    usable[:, :5] = False  # say these columns hold training and test pairs
    a = fit_blend(components, validation, usable)
    flipped = validation.copy()
    flipped[:, :5] = ~flipped[:, :5]  # whatever sits in the unusable pairs
    b = fit_blend(components, flipped, usable)
    np.testing.assert_array_equal(a[0], b[0])
    with pytest.raises(ValueError, match="no positive"):
        fit_blend(components, np.zeros((30, 20), dtype=bool))


# ------------------------------------------------------- weights tuned for the ranking
def test_filtered_reciprocal_ranks_match_a_brute_force_loop():
    from recsys.metrics import filtered_reciprocal_ranks

    rng = np.random.default_rng(3)
    for _ in range(200):
        n, m = rng.integers(1, 6), rng.integers(1, 10)
        scores = rng.integers(0, 4, (n, m)).astype(float)  # many ties
        scores[rng.random((n, m)) < 0.1] = np.nan
        scores[rng.random((n, m)) < 0.1] = -np.inf
        positives, usable = rng.random((n, m)) < 0.3, rng.random((n, m)) < 0.8
        rows, reciprocal = filtered_reciprocal_ranks(scores, positives, usable)
        expected = []
        for row, col in zip(*np.nonzero(positives)):
            others = scores[row, usable[row] & ~positives[row]]
            expected.append(1.0 / (1.0 + (others > scores[row, col]).sum() + 0.5 * (others == scores[row, col]).sum()))
        assert np.array_equal(rows, np.nonzero(positives)[0]) and np.allclose(reciprocal, expected)


def test_coordinate_ascent_finds_the_mixture_that_ranks_best():
    """Positives ranked best by z(a) + 0.5 z(b): the ascent finds that ratio, above either alone."""
    from recsys.ascent import coordinate_ascent

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 40)), rng.normal(size=(300, 40))
    truth = standardise_rows(a) + 0.5 * standardise_rows(b)
    positives = truth >= np.sort(truth, axis=1)[:, [-2]]  # each row's top two
    weights, mrr = coordinate_ascent([standardise_rows(a), standardise_rows(b)], positives, np.ones_like(positives))
    assert weights[1] / weights[0] == pytest.approx(0.5)
    assert mrr == pytest.approx(1.0)


def test_a_tuned_blend_of_noise_is_not_deployed():
    """In-sample, coordinate ascent finds a use for a pure-noise component on 40 validation
    entities; judged out of fold it loses, and the strong component alone is kept."""
    from recsys.ascent import coordinate_ascent
    from recsys.blend import select_blend

    rng = np.random.default_rng(5)
    signal = rng.normal(size=(40, 30))
    positives = (signal + rng.normal(scale=1.5, size=signal.shape)) > 2.0
    noise = rng.normal(size=signal.shape)
    choice = select_blend({"signal": signal, "noise": noise}, positives, seed=0)
    in_sample, flattered = coordinate_ascent([standardise_rows(signal), standardise_rows(noise)], positives,
                                             np.ones_like(positives))
    assert in_sample[1] > 0 and flattered > choice.val_mrr["signal"]
    assert choice.val_mrr["tuned"] < choice.val_mrr["signal"]
    assert choice.chosen == "signal" and choice.weights == {"signal": 1.0, "noise": 0.0}


def test_the_logistic_blends_penalty_is_chosen_out_of_fold():
    """Two copies of one signal, one clean and one noisy: a strong L2 penalty spreads the weight
    over both (ridge weighs correlated inputs alike), a weak one keeps it on the clean copy. The
    penalty chosen is the one whose blend ranks the held-out half of the entities best, and it is
    the one the logistic blend is then fitted with."""
    from recsys.blend import cross_fitted_penalty, fit_blend, select_blend

    rng = np.random.default_rng(3)
    signal = rng.normal(size=(60, 40))
    clean, noisy = signal + rng.normal(scale=0.3, size=signal.shape), signal + rng.normal(scale=2.0, size=signal.shape)
    positives = signal > 1.6
    best, values = cross_fitted_penalty([clean, noisy], positives, None, (10.0, 1e-3), seed=0)
    assert set(values) == {10.0, 1e-3} and best == 1e-3 and values[1e-3] > values[10.0] + 0.05
    assert cross_fitted_penalty([clean, noisy], positives, None, (10.0, 1e-3), seed=0) == (best, values)  # seeded
    choice = select_blend({"clean": clean, "noisy": noisy}, positives, penalty=(10.0, 1e-3), seed=0)
    assert choice.penalty == 1e-3 and choice.penalty_val == values
    weights, _ = fit_blend([clean, noisy], positives, None, 1e-3)
    strong = select_blend({"clean": clean, "noisy": noisy}, positives, penalty=10.0)
    assert choice.val_mrr["blend"] > strong.val_mrr["blend"]
    assert weights[0] > 5 * abs(weights[1])
    # One penalty: nothing to choose; a half without a positive: the larger penalty, the simpler blend.
    assert cross_fitted_penalty([clean], positives, None, (0.5,)) == (0.5, {})
    lone = np.zeros_like(positives)
    lone[0, 0] = True
    assert cross_fitted_penalty([clean, noisy], lone, None, (1e-3, 10.0)) == (10.0, {})


def test_the_selection_record_names_the_penalty_chosen():
    from recsys.recommender.fitting import fit_on_validation

    rng = np.random.default_rng(3)
    signal = rng.normal(size=(60, 40))
    parts = {"clean": signal + rng.normal(scale=0.3, size=signal.shape),
             "noisy": signal + rng.normal(scale=2.0, size=signal.shape)}
    positives = signal > 1.6
    _, record = fit_on_validation(parts, list(parts), positives, np.ones_like(positives), (10.0, 1e-3), None, 0,
                                  "ndcg@10")
    assert record["penalty"] == 1e-3 and set(record["penalty_oof_ndcg@10"]) == {"10", "0.001"}
    _, fixed = fit_on_validation(parts, list(parts), positives, np.ones_like(positives), 1e-2, None, 0)
    assert "penalty" not in fixed


def test_new_drugs_are_ranked_by_their_blend_only_when_validation_says_so():
    from recsys.recommender.continuation import NEW_DRUG, added_weights, choose_continuation

    rng = np.random.default_rng(0)
    n, m = 60, 30
    taken = np.zeros((n, m), dtype=bool)
    taken[:, :3] = True  # every patient took the first three drugs; they all continue
    signal = rng.normal(size=(n, m))
    noise = rng.normal(size=(n, m))
    positives = taken | (signal > 1.5)  # which new drugs follow: what the new-drugs blend reads
    parts = {"frequency": taken.astype(float), "running": taken.astype(float), "signal": signal, "noise": noise}
    calibrations = ({"slope": 1.0, "intercept": -2.0}, {"slope": 1.0, "intercept": -3.0})
    added, record = choose_continuation(parts, {"running": 3.0, "noise": 1.0}, calibrations, {"signal": 1.0},
                                        positives, np.ones_like(positives), "ndcg@10")
    assert record["chosen"] == "new drugs by their blend" and added == added_weights({"signal": 1.0}, *calibrations)
    assert added[NEW_DRUG] == -1.0 and record["val_ndcg@10"]["new drugs by their blend"] > record["val_ndcg@10"][
        "one blend"]
    # new drugs that follow the noise: the patient blend already orders them; merging would not help
    positives = taken | (noise > 1.5)
    added, record = choose_continuation(parts, {"running": 3.0, "noise": 1.0}, calibrations, {"signal": 1.0},
                                        positives, np.ones_like(positives), "ndcg@10")
    assert added is None and record["chosen"] == "one blend"
    assert choose_continuation(parts, {"running": 1.0}, (None, calibrations[1]), {"signal": 1.0}, positives,
                               np.ones_like(positives), "ndcg@10")[0] is None
