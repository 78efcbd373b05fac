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

__all__ = ["FeatureScaler"]


@dataclass(frozen=True)
class FeatureScaler:
    """Per-feature count scale, cap, mean and standard deviation; ``is_path`` marks path counts."""

    scale: np.ndarray
    cap: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    is_path: np.ndarray

    @classmethod
    def fit(cls, raw: np.ndarray, is_path: np.ndarray, n_positive: int,
            cap_quantile: float | None = 0.999) -> "FeatureScaler":
        """Fit on training rows; the first ``n_positive`` rows are indications. ``cap_quantile=None``: no cap."""
        scale = np.ones(raw.shape[1])
        for j in np.flatnonzero(is_path):
            nonzero = raw[:, j][raw[:, j] > 0]
            if len(nonzero):
                scale[j] = nonzero.mean()
        x = _curve(raw, scale, is_path)
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
        np.minimum(x, cap, out=x)
        return cls(scale, cap, x.mean(axis=0), x.std(axis=0) + 1e-9, np.asarray(is_path, dtype=bool))

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Model inputs of raw feature rows (every column of this scaler)."""
        x = _curve(raw, self.scale, self.is_path)
        np.minimum(x, self.cap, out=x)
        x -= self.mean
        x /= self.std
        return x

    def column(self, raw: np.ndarray, j: int) -> np.ndarray:
        """Model input of feature ``j`` from its raw values (any shape)."""
        x = np.arcsinh(raw / self.scale[j]) if self.is_path[j] else np.log1p(raw)
        return (np.minimum(x, self.cap[j]) - self.mean[j]) / self.std[j]

    def subset(self, columns: np.ndarray) -> "FeatureScaler":
        """The scaler of the selected ``columns`` (a boolean mask)."""
        return FeatureScaler(self.scale[columns], self.cap[columns], self.mean[columns], self.std[columns],
                             self.is_path[columns])


def _curve(raw: np.ndarray, scale: np.ndarray, is_path: np.ndarray) -> np.ndarray:
    """Path counts -> arcsinh(count / scale); degrees -> log1p."""
    x = np.empty_like(raw, dtype=np.float64)
    x[:, is_path] = np.arcsinh(raw[:, is_path] / scale[is_path])
    x[:, ~is_path] = np.log1p(raw[:, ~is_path])
    return x
