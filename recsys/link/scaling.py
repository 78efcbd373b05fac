"""Feature scaling for the metapath model: robust to outliers, fitted on training rows only.

Path counts become ``arcsinh(count / mean non-zero count)`` and degrees ``log1p(degree)``;
each feature is then capped and standardised. The cap is the largest value any known
indication shows: a pair far beyond every training indication (seven allergy records
behind aspirin, once 150 standard deviations above the mean) gains nothing from the
excess, so one outlier cannot outvote every other feature. A feature no indication has
is capped at a high quantile of its non-zero training values instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.logistic import StandardisedSparse

__all__ = ["FeatureScaler", "compact_columns"]


@dataclass(frozen=True)
class FeatureScaler:
    """Per-feature count scale, cap, mean and standard deviation; ``is_path`` marks path counts."""

    scale: np.ndarray
    cap: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    is_path: np.ndarray

    @classmethod
    def fit_transform(cls, raw: np.ndarray, is_path: np.ndarray, n_positive: int,
                      cap_quantile: float | None = 0.999, overwrite: bool = False,
                      sparse: bool = False) -> tuple["FeatureScaler", np.ndarray | StandardisedSparse]:
        """Fit on training rows (the first ``n_positive`` are indications; ``cap_quantile=None``:
        no cap) and return the scaler with the model inputs of ``raw`` (same layout as ``raw``;
        ``sparse``: as a :class:`~recsys.logistic.StandardisedSparse` of the capped counts, which
        stay zero where the raw counts are).

        Every step runs one column at a time: a column-major ``raw`` (the metapath model's
        100,000-row feature blocks) is then read and written contiguously. ``overwrite``
        writes the inputs into ``raw`` itself (a float64 block the caller no longer needs),
        sparing a second block of the same size.
        """
        is_path = np.asarray(is_path, dtype=bool)
        scale = np.ones(raw.shape[1])
        for j in np.flatnonzero(is_path):
            nonzero = raw[:, j][raw[:, j] > 0]
            if len(nonzero):
                scale[j] = nonzero.mean()
        x = _curve(raw, scale, is_path, out=raw if overwrite and raw.dtype == np.float64 else None)
        cap = np.full(raw.shape[1], np.inf)
        if cap_quantile is not None:
            top = x[:n_positive].max(axis=0) if n_positive else np.zeros(x.shape[1])
            for j in range(raw.shape[1]):
                if top[j] > 0:
                    cap[j] = top[j]
                else:
                    nonzero = x[:, j][x[:, j] > 0]
                    if len(nonzero):
                        cap[j] = np.quantile(nonzero, cap_quantile)
        mean, std = np.empty(raw.shape[1]), np.empty(raw.shape[1])
        for j in range(raw.shape[1]):
            column = x[:, j]
            np.minimum(column, cap[j], out=column)
            mean[j], std[j] = column.mean(), column.std() + 1e-9
            if not sparse:
                column -= mean[j]
                column /= std[j]
        scaler = cls(scale, cap, mean, std, is_path)
        return scaler, (StandardisedSparse.of_columns(x, mean, std) if sparse else x)

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Model inputs of raw feature rows (every column of this scaler; same layout as ``raw``)."""
        x = _curve(raw, self.scale, self.is_path)
        for j in range(raw.shape[1]):
            column = x[:, j]
            np.minimum(column, self.cap[j], out=column)
            column -= self.mean[j]
            column /= self.std[j]
        return x

    def column(self, raw: np.ndarray, j: int, weight: float | np.ndarray = 1.0) -> np.ndarray:
        """Model input of feature ``j`` from its raw values (any shape), times ``weight`` (a number,
        or an array that broadcasts: a weight per column).

        Each step is written over one new array: a metapath model's scores sum one of these per
        metapath over every drug x disease, and on a 1,580 x 72 block a temporary per step took
        three times as long (1.4-1.6 ms against 0.47-0.55 ms), for the same values."""
        if self.is_path[j]:
            x = raw / self.scale[j]
            np.arcsinh(x, out=x)
        else:  # log1p in the degrees' own precision (float32), as the scaler was fitted
            x = np.asarray(np.log1p(raw), dtype=np.float64)
        np.minimum(x, self.cap[j], out=x)
        x -= self.mean[j]
        x /= self.std[j]
        if np.ndim(weight) or weight != 1.0:
            x *= weight
        return x

    def subset(self, columns: np.ndarray) -> "FeatureScaler":
        """The scaler of the selected ``columns`` (a boolean mask)."""
        return FeatureScaler(self.scale[columns], self.cap[columns], self.mean[columns], self.std[columns],
                             self.is_path[columns])


def _curve(raw: np.ndarray, scale: np.ndarray, is_path: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Path counts -> arcsinh(count / scale); degrees -> log1p (column by column, ``raw``'s layout;
    into ``out`` when given, which may be ``raw`` itself)."""
    x = np.empty_like(raw, dtype=np.float64) if out is None else out
    for j in range(raw.shape[1]):
        if is_path[j]:
            np.divide(raw[:, j], scale[j], out=x[:, j])
            np.arcsinh(x[:, j], out=x[:, j])
        else:
            np.log1p(raw[:, j], out=x[:, j])
    return x


def compact_columns(x: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The ``keep`` columns of a column-major ``x``, moved to its front: no second 400 MB block."""
    by_column = x.T
    for new, old in enumerate(np.flatnonzero(keep)):
        if new != old:
            by_column[new] = by_column[old]
    return by_column[:int(keep.sum())].T
