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
