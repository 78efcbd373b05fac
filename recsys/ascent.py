"""Blend weights that rank well: coordinate ascent on validation MRR, judged out of fold.

The logistic blend (:func:`recsys.blend.fit_blend`) fits pairs one at a time, but a user
sees a ranking, and on narrow catalogues the weight that classifies pairs best is not the
one that ranks each entity's positives highest (on CMS prescribers the logistic blend of
EASE and within-specialty popularity gains 0.0005 validation MRR over EASE alone, a
ranking-tuned one 0.0018). Coordinate ascent (Metzler and Croft, "Linear feature-based
models for information retrieval", 2007; RankLib's linear ranker) optimises the metric
itself: each weight in turn takes the grid value that maximises filtered MRR with the
others held, until a round changes nothing. With a handful of components it needs tens of
validation scorings, each one sort per entity.

Weights tuned on a validation set flatter it, so :func:`cross_fitted_ascent` also tunes on
each half of the validation entities and scores the other half: those out-of-fold
reciprocal ranks are what the tuned blend is compared with the other candidates on.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from recsys.metrics import filtered_reciprocal_ranks

__all__ = ["coordinate_ascent", "cross_fitted_ascent", "WEIGHT_GRID"]

#: Values each weight may take (standardised components; a ranking ignores the overall scale).
WEIGHT_GRID = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)


def coordinate_ascent(standardised: Sequence[np.ndarray], positives: np.ndarray, usable: np.ndarray,
                      grid: Sequence[float] = WEIGHT_GRID, rounds: int = 3) -> tuple[np.ndarray, float]:
    """Non-negative weights of row-standardised components maximising filtered MRR.

    Starts from the best component alone (the strongest simple choice), then sweeps the
    weights in order; a change is kept only if it raises MRR. Returns the weights and
    their MRR.
    """
    z = [np.asarray(c, dtype=np.float64) for c in standardised]

    def mrr(weights: np.ndarray) -> float:
        blended = sum(w * c for w, c in zip(weights, z) if w)
        _, reciprocal = filtered_reciprocal_ranks(blended, positives, usable)
        return float(reciprocal.mean()) if len(reciprocal) else float("nan")

    singles = [mrr(np.eye(len(z))[i]) for i in range(len(z))]
    weights = np.eye(len(z))[int(np.argmax(singles))]
    best = max(singles)
    for _ in range(rounds):
        changed = False
        for i in range(len(z)):
            for value in grid:
                if value == weights[i]:
                    continue
                trial = weights.copy()
                trial[i] = value
                if not trial.any():
                    continue
                score = mrr(trial)
                if score > best + 1e-12:
                    weights, best, changed = trial, score, True
        if not changed:
            break
    return weights, best


def cross_fitted_ascent(standardised: Sequence[np.ndarray], positives: np.ndarray, usable: np.ndarray | None,
                        seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights tuned on every validation entity, and the out-of-fold ``(rows, reciprocal
    ranks)`` of every positive (:func:`filtered_reciprocal_ranks` order): each half of the
    entities scored by weights tuned on the other half."""
    positives = np.asarray(positives, dtype=bool)
    usable = np.ones_like(positives) if usable is None else np.asarray(usable, dtype=bool)
    weights, _ = coordinate_ascent(standardised, positives, usable)
    rows = np.nonzero(positives)[0]  # filtered_reciprocal_ranks' order
    reciprocal = np.full(len(rows), np.nan)
    fold = np.random.default_rng(seed).permutation(positives.shape[0]) % 2
    for held in (0, 1):
        train, test = fold != held, fold == held
        if not positives[train].any() or not positives[test].any():
            return weights, rows, filtered_reciprocal_ranks(
                sum(w * c for w, c in zip(weights, standardised)), positives, usable)[1]
        tuned, _ = coordinate_ascent([c[train] for c in standardised], positives[train], usable[train])
        blended = sum(w * c[test] for w, c in zip(tuned, standardised))
        _, scored = filtered_reciprocal_ranks(blended, positives[test], usable[test])
        reciprocal[np.isin(rows, np.flatnonzero(test))] = scored
    return weights, rows, reciprocal
