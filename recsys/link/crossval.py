"""The metapath model's cross-fitting folds: how they group indications, and what they rank.

The metapath model splits its training indications into folds so that no pair's own edge
feeds its features (:mod:`recsys.link.metapath`). How the folds group the indications
must mirror how the scored pairs are held out (:func:`fold_grouping`): a random split
hides some of a disease's indications, so the folds split pairs; a zero-shot split hides
every indication of a disease, so a fold is a set of whole diseases, whose features then
never see any of that disease's treatments. Grouped by pair on the zero-shot splits, the
averaged model's five-seed test MRR was 0.149 on split Z and 0.159 on the project's
zero-shot split; grouped by disease, 0.201 and 0.199 (docs/evaluation.md).

The folds are also a cross-validation (:class:`FoldRanking`, used by
``MetapathModel(combine="folds")``): fit without fold k's rows, rank every drug for each
disease of fold k, and the mean reciprocal rank of fold k's indications says how a setting
does on pairs it never saw, described exactly as held-out pairs are. Over the folds that
is every training indication, against the 70-odd pairs of a validation split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.link.task import LinkTask
from recsys.logistic import StandardisedSparse, fit_logistic_regression, select

__all__ = ["FOLD_GROUPINGS", "fold_grouping", "assign_folds", "FoldRanking", "SEARCH_TOLERANCE"]

#: How cross-fitting folds group the training indications ("auto": like the validation pairs).
FOLD_GROUPINGS = ("auto", "pair", "disease")
#: Change of the loss at which a fold's fit stops: a ranking settles long before the last digits
#: of the loss do (split R, seeds 0 and 1: the same choices as at 1e-6, in 12 s instead of 17-19 s).
SEARCH_TOLERANCE = 1e-5


def fold_grouping(task: LinkTask, requested: str = "auto") -> str:
    """``"disease"`` when no validation disease has a training indication (a zero-shot task), else ``"pair"``.

    An explicit ``requested`` grouping is returned as it is; a task without validation pairs
    (deployment) is grouped by pair unless asked otherwise.
    """
    if requested not in FOLD_GROUPINGS:
        raise ValueError(f"fold grouping must be one of {FOLD_GROUPINGS}, got {requested!r}")
    if requested != "auto":
        return requested
    if not len(task.val_pairs):
        return "pair"
    zero_shot = not np.isin(task.val_pairs[:, 1], task.train_pairs[:, 1]).any()
    return "disease" if zero_shot else "pair"


def assign_folds(pairs: np.ndarray, n_positive: int, folds: int, grouping: str,
                 rng: np.random.Generator) -> np.ndarray:
    """The fold of each example row (the first ``n_positive`` rows are the indications).

    ``"pair"``: indications dealt evenly at random, other rows at random. ``"disease"``:
    every row of a disease in that disease's fold, diseases dealt evenly at random.
    """
    if grouping == "disease":
        diseases = np.unique(pairs[:, 1])
        of_disease = rng.permutation(len(diseases)) % folds
        return of_disease[np.searchsorted(diseases, pairs[:, 1])]
    return np.concatenate([rng.permutation(n_positive) % folds,
                           rng.integers(0, folds, len(pairs) - n_positive)])


@dataclass(frozen=True)
class _HeldOut:
    """One fold's ranking problems: each of its diseases' indications against that disease's
    unknown drugs. ``*_unit`` numbers the (fold, disease) units 0..n-1."""

    positive_rows: np.ndarray
    positive_unit: np.ndarray
    negative_rows: np.ndarray
    negative_unit: np.ndarray

    def metrics(self, x: np.ndarray | StandardisedSparse, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each unit's mean reciprocal rank and mean AUROC under the scores ``x @ weights``, ties at
        the average rank (as :mod:`recsys.link.evaluate` ranks)."""
        scores = x @ weights  # every row: one pass over the column-major block (the bias cannot change a rank)
        positive, negative = scores[self.positive_rows], scores[self.negative_rows]
        # Exact integer keys (unit, score rank): one sort ranks every unit at once, ties kept as ties.
        _, level = np.unique(np.concatenate([positive, negative]), return_inverse=True)
        width = np.int64(level.max() + 2)
        positive_key = self.positive_unit * width + level[:len(positive)]
        negative_key = np.sort(self.negative_unit * width + level[len(positive):])
        below = np.searchsorted(negative_key, positive_key, side="left")
        not_above = np.searchsorted(negative_key, positive_key, side="right")
        unit_end = np.searchsorted(negative_key, (self.positive_unit + 1) * width, side="left")
        unit_start = np.searchsorted(negative_key, self.positive_unit * width, side="left")
        above, tied = unit_end - not_above, not_above - below
        ranks = 1.0 + above + 0.5 * tied
        auroc = (below - unit_start + 0.5 * tied) / np.maximum(unit_end - unit_start, 1)
        units = int(self.positive_unit.max()) + 1
        count = np.bincount(self.positive_unit, minlength=units)
        return (np.bincount(self.positive_unit, 1.0 / ranks, units) / count,
                np.bincount(self.positive_unit, auroc, units) / count)


@dataclass(frozen=True)
class FoldRanking:
    """What each fold ranks: its indications, each against every unknown drug of its disease.

    ``negative_rows`` (of :meth:`of`) are the rows of every drug x every training disease
    that are not known indications (the metapath model's "every drug" rows); they are
    ranked whatever their own fold, as a held-out indication is ranked against every drug.
    """

    x: np.ndarray | StandardisedSparse  # (rows, features), every example row, model inputs
    labels: np.ndarray
    fold: np.ndarray
    units: list[_HeldOut]  # one per fold

    @classmethod
    def of(cls, x: np.ndarray | StandardisedSparse, labels: np.ndarray, pairs: np.ndarray, fold: np.ndarray,
           negative_rows: np.ndarray, folds: int) -> "FoldRanking":
        negative_rows = np.asarray(negative_rows, dtype=np.int64)
        positive_rows = np.flatnonzero(labels == 1)
        units = []
        for k in range(folds):
            mine = positive_rows[fold[positive_rows] == k]
            held = np.intersect1d(pairs[mine, 1], pairs[negative_rows, 1])  # diseases with drugs to rank
            mine = mine[np.isin(pairs[mine, 1], held)]
            against = negative_rows[np.isin(pairs[negative_rows, 1], held)]
            units.append(_HeldOut(mine, np.searchsorted(held, pairs[mine, 1]), against,
                                  np.searchsorted(held, pairs[against, 1])))
        return cls(x, labels, fold, units)

    @property
    def folds(self) -> int:
        return len(self.units)

    def scores(self, train_rows: np.ndarray, columns: np.ndarray, penalties: list[float]) -> list[dict[str, float]]:
        """Cross-validated MRR and AUROC of the logistic regression at each penalty (in the order given).

        Fitted on ``train_rows`` outside each fold on the ``columns`` features; within a
        fold each penalty warm-starts from the previous one, as the full search does. The
        mean is over (fold, disease) units: each disease's reciprocal ranks averaged first.
        """
        per_penalty: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in penalties]
        column_index = np.flatnonzero(columns)
        for k in range(self.folds):
            if not len(self.units[k].positive_rows):
                continue
            rows = train_rows[self.fold[train_rows] != k]
            x_train = select(self.x, rows, columns)  # one copy per fold
            fitted = None
            for i, penalty in enumerate(penalties):
                fitted = fit_logistic_regression(x_train, self.labels[rows], penalty, init=fitted,
                                                 tolerance=SEARCH_TOLERANCE)
                weights = np.zeros(self.x.shape[1], dtype=np.float32)
                weights[column_index] = fitted[0]
                per_penalty[i].append(self.units[k].metrics(self.x, weights))
        return [{"mrr": float(np.concatenate([m for m, _ in v]).mean()) if v else 0.0,
                 "auroc": float(np.concatenate([a for _, a in v]).mean()) if v else 0.0} for v in per_penalty]
