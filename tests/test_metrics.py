"""Rank metrics against a brute-force reference, ties included."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from recsys.metrics import hits_at_k, mean_reciprocal_rank, ranks_with_ties


def _brute_rank(row: np.ndarray, true: int) -> float:
    # Mean position over all orderings that break ties uniformly.
    better = sum(1 for j, s in enumerate(row) if s > row[true])
    tied = sum(1 for j, s in enumerate(row) if s == row[true])
    return better + np.mean(np.arange(1, tied + 1))


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 8)),
              elements=st.sampled_from([0.0, 0.5, 1.0, 2.0])), st.data())
def test_ranks_match_brute_force(scores, data):
    true = np.array([data.draw(st.integers(0, scores.shape[1] - 1)) for _ in range(scores.shape[0])])
    expected = [_brute_rank(scores[i], true[i]) for i in range(len(true))]
    assert np.allclose(ranks_with_ties(scores, true), expected)


def test_mrr_and_hits():
    ranks = np.array([1.0, 2.0, 4.0])
    assert mean_reciprocal_rank(ranks) == pytest.approx((1 + 0.5 + 0.25) / 3)
    assert hits_at_k(ranks, 2) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        hits_at_k(ranks, 0)


def test_constant_scores_give_the_random_rank():
    assert ranks_with_ties(np.zeros((1, 9)), np.array([4]))[0] == 5.0


# ------------------------------------------------------------------ set metrics
_TIED = st.sampled_from([0.0, 0.5, 1.0, 2.0, -np.inf])


def _relevance(data, shape) -> np.ndarray:
    truth = data.draw(arrays(np.bool_, shape))
    for i in range(shape[0]):  # every row needs one relevant item
        if not truth[i].any():
            truth[i, data.draw(st.integers(0, shape[1] - 1))] = True
    return truth


def _brute_order(row: np.ndarray) -> list[int]:
    # Highest score first; a tie goes to the lower column (the documented tie rule).
    return sorted(range(len(row)), key=lambda j: (-row[j], j))


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 9)), elements=_TIED), st.data(),
       st.integers(1, 6))
def test_set_metrics_and_jaccard_match_brute_force(scores, data, k):
    import scipy.sparse as sp

    from recsys.metrics import jaccard_at_true_size, set_ranking_metrics

    truth = _relevance(data, scores.shape)
    got = set_ranking_metrics(scores, sp.csr_matrix(truth), k=k)
    jaccard = jaccard_at_true_size(scores, sp.csr_matrix(truth))
    for i, row in enumerate(scores):
        order = _brute_order(row)
        relevant = set(np.flatnonzero(truth[i]))
        top = order[:k]
        hits = [j in relevant for j in top]
        dcg = sum(1 / np.log2(pos + 2) for pos, hit in enumerate(hits) if hit)
        ideal = sum(1 / np.log2(pos + 2) for pos in range(min(len(relevant), k, len(order))))
        first = next(pos for pos, j in enumerate(order) if j in relevant) + 1
        chosen = set(order[:len(relevant)])
        assert got["recall"][i] == pytest.approx(sum(hits) / len(relevant))
        assert got["ndcg"][i] == pytest.approx(dcg / ideal)
        assert got["rr"][i] == pytest.approx(1 / first)
        assert jaccard[i] == pytest.approx(len(chosen & relevant) / len(chosen | relevant))


@settings(max_examples=300, deadline=None)
@given(arrays(np.float64, st.integers(1, 12), elements=_TIED), st.data())
def test_average_precision_matches_threshold_brute_force(scores, data):
    from recsys.metrics import average_precision

    positive = data.draw(arrays(np.bool_, scores.shape))
    if not positive.any():
        assert np.isnan(average_precision(scores, positive))
        return
    # Precision and recall at every distinct threshold, highest first (ties are one threshold).
    expected, previous_recall = 0.0, 0.0
    for t in sorted(set(scores.tolist()), reverse=True):
        predicted = scores >= t
        precision = (predicted & positive).sum() / predicted.sum()
        recall = (predicted & positive).sum() / positive.sum()
        expected += (recall - previous_recall) * precision
        previous_recall = recall
    assert average_precision(scores, positive) == pytest.approx(expected)


def test_average_precision_of_a_perfect_and_a_reversed_ranking():
    from recsys.metrics import average_precision

    positive = np.array([True, True, False, False])
    assert average_precision(np.array([4.0, 3.0, 2.0, 1.0]), positive) == pytest.approx(1.0)
    assert average_precision(np.array([1.0, 2.0, 3.0, 4.0]), positive) == pytest.approx((1 / 3 + 2 / 4) / 2)
    assert average_precision(np.zeros(4), positive) == pytest.approx(0.5)  # all tied: the base rate


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_disease_metrics_match_brute_force(seed):
    """Filtered rank, AUROC, AUPRC and the hard-negative rate of every held-out disease."""
    from linkgraph import cluster_graph

    from recsys.link.evaluate import hard_negative_rates, per_disease_metrics
    from recsys.link.task import LinkTask
    from recsys.link.split import split_links

    task = LinkTask.from_split(split_links(cluster_graph(), "random", seed=seed % 7))
    rng = np.random.default_rng(seed)
    diseases = np.arange(task.num_dst)
    scores = rng.integers(0, 4, size=(task.num_dst, task.num_src)).astype(float)  # many ties
    hard = np.stack([rng.integers(0, task.num_src, 30), rng.integers(0, task.num_dst, 30)], axis=1)
    got = per_disease_metrics(scores, diseases, task, "test")
    rates = hard_negative_rates(scores, diseases, task, hard, "test")
    known = {tuple(p) for p in task.known_pairs}
    held = task.pairs("test")
    for i, d in enumerate(got["disease"]):
        row = scores[d]
        pos = [s for s, dd in held if dd == d]
        neg = [s for s in range(task.num_src) if (s, d) not in known]
        ranks = [1 + sum(row[n] > row[p] for n in neg) + 0.5 * sum(row[n] == row[p] for n in neg) for p in pos]
        auc = np.mean([(row[p] > row[n]) + 0.5 * (row[p] == row[n]) for p in pos for n in neg])
        assert got["mrr"][i] == pytest.approx(np.mean([1 / r for r in ranks]))
        assert got["hits_at_10"][i] == pytest.approx(np.mean([r <= 10 for r in ranks]))
        assert got["auroc"][i] == pytest.approx(auc)
        candidates = np.array(pos + neg)
        from recsys.metrics import average_precision
        assert got["auprc"][i] == pytest.approx(
            average_precision(row[candidates], np.isin(candidates, pos)))
        hard_here = [s for s, dd in hard if dd == d and (s, dd) not in known]
        if hard_here:
            expected = np.mean([(row[h] > row[p]) + 0.5 * (row[h] == row[p]) for p in pos for h in hard_here])
            assert rates[int(d)] == pytest.approx(expected)
        else:
            assert int(d) not in rates


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 9)), elements=_TIED), st.integers(1, 10))
def test_top_columns_and_cf_top_k_break_ties_towards_the_lower_column(scores, k):
    from recsys.cf.base import top_k
    from recsys.metrics import top_columns

    expected = [_brute_order(row)[:k] for row in scores]
    assert top_columns(scores, k).tolist() == expected
    best, values = top_k(scores, k)
    assert best.tolist() == expected and np.array_equal(values, np.take_along_axis(scores, best, axis=1))
