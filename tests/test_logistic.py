"""The logistic regression and its sparse standardised inputs (recsys.logistic)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from recsys.link.scaling import FeatureScaler
from recsys.logistic import StandardisedSparse, fit_logistic_regression, select


def counts(rows: int = 400, columns: int = 7, seed: int = 0) -> np.ndarray:
    """Column-major counts, mostly zero, one column never zero (a degree)."""
    rng = np.random.default_rng(seed)
    x = rng.exponential(size=(rows, columns)) * (rng.random((rows, columns)) < 0.15)
    x[:, -1] = rng.integers(1, 9, rows)
    return np.asfortranarray(x)


def design(seed: int = 0) -> tuple[StandardisedSparse, np.ndarray]:
    raw = counts(seed=seed)
    mean, std = raw.mean(axis=0), raw.std(axis=0) + 1e-9
    return StandardisedSparse.of_columns(raw, mean, std), (raw - mean) / std


def test_the_sparse_design_multiplies_as_the_standardised_matrix_does():
    x, dense = design()
    rng = np.random.default_rng(1)
    w, many, r = rng.normal(size=7), rng.normal(size=(7, 3)), rng.normal(size=400)
    assert np.allclose(x @ w, dense @ w) and np.allclose(x @ many, dense @ many)
    assert np.allclose(x.transposed_product(r), dense.T @ r)
    assert np.allclose(x.toarray(), dense) and x.shape == dense.shape
    with ThreadPoolExecutor(2) as pool:  # threads change nothing, to the last bit
        assert np.array_equal(x.product(w, pool), x.product(w))
        assert np.array_equal(x.transposed_product(r, pool), x.transposed_product(r))


def test_rows_and_columns_are_taken_as_from_the_dense_matrix():
    x, dense = design()
    keep = np.array([True, False, True, True, False, True, True])
    for rows in (slice(None), slice(0, 400), slice(0, 150), np.array([3, 1, 399, 42])):
        assert np.allclose(select(x, rows, keep).toarray(), dense[rows][:, keep])
        assert np.allclose(select(x, rows).toarray(), dense[rows])
        column_major = np.asfortranarray(dense)
        assert np.array_equal(select(column_major, rows, keep), column_major[rows][:, keep])


def test_blocks_stored_by_rows_give_the_column_layouts_sums_bit_for_bit():
    """The blocks are stored by rows for speed; each sum still adds the same values in the same order."""
    import scipy.sparse as sp

    x, _ = design(seed=9)
    assert all(sp.isspmatrix_csr(block) and block.has_sorted_indices for block in x.blocks)
    by_columns = StandardisedSparse(tuple(block.tocsc() for block in x.blocks), x.mean, x.std)
    rng = np.random.default_rng(10)
    w, many, r = rng.normal(size=7), rng.normal(size=(7, 3)), rng.normal(size=400)
    keep = np.array([True, True, False, True, True, True, False])
    for rows in (slice(None), slice(0, 150), np.array([3, 1, 399, 42, 7])):
        mine, theirs = select(x, rows, keep), select(by_columns, rows, keep)
        assert all(block.has_sorted_indices for block in mine.blocks)
        assert np.array_equal(mine @ w[keep], theirs @ w[keep])
        assert np.array_equal(mine @ many[keep], theirs @ many[keep])
        assert np.array_equal(mine.transposed_product(r[rows]), theirs.transposed_product(r[rows]))


def test_the_sparse_fit_reaches_the_dense_fit():
    x, dense = design(seed=2)
    rng = np.random.default_rng(3)
    y = (dense @ rng.normal(size=7) + rng.normal(size=400) > 1.0).astype(np.float64)
    for penalty in (1e-3, 1e-1):
        w_dense, b_dense = fit_logistic_regression(dense, y, penalty)
        w_sparse, b_sparse = fit_logistic_regression(x, y, penalty)
        assert np.allclose(w_sparse, w_dense, atol=1e-4) and abs(b_sparse - b_dense) < 1e-4
    # Warm-started from another penalty's solution, as the metapath search fits them.
    warm = fit_logistic_regression(x, y, 1e-2, init=fit_logistic_regression(x, y, 1e-1))
    assert np.allclose(warm[0], fit_logistic_regression(dense, y, 1e-2)[0], atol=1e-4)


def test_the_scaler_gives_the_same_inputs_sparse_or_dense():
    raw = counts(seed=4)
    is_path = np.array([True] * 6 + [False])
    dense_scaler, dense = FeatureScaler.fit_transform(raw.copy(order="F"), is_path, 40)
    sparse_scaler, sparse = FeatureScaler.fit_transform(raw.copy(order="F"), is_path, 40, sparse=True)
    assert isinstance(sparse, StandardisedSparse)
    assert np.allclose(sparse.toarray(), dense)
    for field in ("scale", "cap", "mean", "std"):
        assert np.array_equal(getattr(sparse_scaler, field), getattr(dense_scaler, field))


def test_the_sparse_loss_and_gradient_are_the_whole_rows_formula_bit_for_bit():
    """The closure splits the rows' pointwise work between threads: elementwise, so the loss and
    gradients are exactly those of the formula over every row at once."""
    import torch
    from scipy.special import expit

    from recsys.logistic import _sparse_closure

    x, dense = design(seed=5)
    rng = np.random.default_rng(6)
    y = (rng.random(400) < 0.3).astype(np.float64)
    weights = rng.normal(size=7)
    w = torch.tensor(weights, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(-0.7, dtype=torch.float64, requires_grad=True)
    with ThreadPoolExecutor(2) as pool:
        loss = _sparse_closure(x, y, 1e-2, w, b, pool)()
    logits = x.product(weights) + (-0.7)
    residual = (expit(logits) - y) / len(y)
    expected = np.mean(np.logaddexp(0.0, logits) - y * logits) + 1e-2 * float(weights @ weights)
    assert float(loss) == expected
    assert np.array_equal(w.grad.numpy(), x.transposed_product(residual) + 2.0 * 1e-2 * weights)
    assert float(b.grad) == residual.sum()


def test_a_weighted_column_is_the_weight_times_the_column_bit_for_bit():
    raw = counts(seed=7)
    is_path = np.array([True] * 6 + [False])
    scaler, _ = FeatureScaler.fit_transform(raw.copy(order="F"), is_path, 40)
    block = np.ascontiguousarray(raw[:60].reshape(20, 21))  # any shape, as a DWPC block of drugs x diseases

    def textbook(j: int) -> np.ndarray:  # each step a new array, as the scaling is written down
        x = np.arcsinh(block / scaler.scale[j]) if is_path[j] else np.log1p(block)
        return (np.minimum(x, scaler.cap[j]) - scaler.mean[j]) / scaler.std[j]

    for j, weight in ((0, 0.37), (3, -1.25), (6, 2.0)):
        assert np.array_equal(scaler.column(block, j, weight), weight * textbook(j))
        assert np.array_equal(scaler.column(block, j), textbook(j))
    block = block.astype(np.float32)  # degrees come as float32: their log1p too, before the float64 steps
    assert np.array_equal(scaler.column(block, 6, 2.0), 2.0 * textbook(6))
    assert not np.array_equal(scaler.column(block, 0, 0.37), scaler.column(block, 0))


def test_column_blocks_share_the_non_zeros_evenly():
    from recsys.logistic import _balanced_cuts

    # 15 non-zeros: cut before the heavy column (4 and 11), not after it (14 and 1).
    assert _balanced_cuts(np.array([1, 1, 1, 1, 10, 1])) == [slice(0, 4), slice(4, 6)]
    assert _balanced_cuts(np.array([10, 1, 1])) == [slice(0, 1), slice(1, 3)]
    assert _balanced_cuts(np.array([3, 3, 3, 3])) == [slice(0, 2), slice(2, 4)]
    assert _balanced_cuts(np.array([0, 0, 0])) == [slice(0, 2), slice(2, 3)]  # nothing to share: by count
    x, dense = design(seed=8)  # six sparse columns and a dense one (a degree)
    per_column = np.concatenate([block.getnnz(axis=0) for block in x.blocks])
    assert len(per_column) == dense.shape[1] and len(x.blocks) == 2
    assert abs(x.blocks[0].nnz - x.blocks[1].nnz) <= per_column.max()
    assert x.blocks[1].shape[1] == 1  # the dense column holds as many as the six others: a block of its own
