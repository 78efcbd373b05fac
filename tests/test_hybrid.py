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
