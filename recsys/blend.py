"""Blending component scores: per-entity normalisation and weights fitted on validation pairs.

Each component (GNN, metapath model, CF, popularity prior) scores a block of entities x
drugs on its own scale, and some cannot score everything: CF knows only drugs somebody
prescribed, and nothing about a disease. Scores are therefore standardised within each
entity's row over the drugs the component *can* score; a drug it cannot score gets the
row's lowest standardised value (no evidence for it), and a row it cannot score at all
becomes zeros, so the component drops out of that entity's blend instead of pulling it.
The weights come from validation pairs only: a logistic regression (its L2 penalty fixed, or
chosen out of fold from a grid), or weights tuned by coordinate ascent on validation MRR
(:mod:`recsys.ascent`), whichever ranks better.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from recsys.ascent import OBJECTIVES, Objective, cross_fitted_ascent
from recsys.logistic import fit_logistic_regression
from recsys.metrics import filtered_reciprocal_ranks

__all__ = ["standardise_rows", "fit_blend", "blend_scores", "blend_components", "scored_rows", "validation_mrr",
           "select_blend", "cross_fitted_penalty", "BlendChoice"]


def standardise_rows(scores: np.ndarray) -> np.ndarray:
    """Row z-scores over finite entries; non-finite entries get the row minimum, empty rows zeros.

    >>> standardise_rows(np.array([[1.0, 3.0, np.nan], [np.nan, np.nan, np.nan]])).round(3)
    array([[-1.,  1., -1.],
           [ 0.,  0.,  0.]])
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape[0] == 1:  # one entity, the API's every call: a few vector operations
        return _standardise_row(scores[0])[None, :]
    finite = np.isfinite(scores)
    rows_any = finite.any(axis=1)
    if not rows_any.any():
        return np.zeros_like(scores)
    columns_all = finite[rows_any].all(axis=0)
    if (finite[rows_any] == columns_all).all():
        # The common block shape (CF knows a fixed set of drugs; a row is scored or not):
        # standardise the dense sub-block only.
        out = np.zeros_like(scores)
        sub = scores[np.ix_(rows_any, columns_all)]
        z = (sub - sub.mean(axis=1, keepdims=True)) / (sub.std(axis=1, keepdims=True) + 1e-9)
        filled = np.repeat(z.min(axis=1, keepdims=True), scores.shape[1], axis=1)
        filled[:, columns_all] = z
        out[rows_any] = filled
        return out
    count = finite.sum(axis=1, keepdims=True)
    safe = np.where(finite, scores, 0.0)
    mean = safe.sum(axis=1, keepdims=True) / np.maximum(count, 1)
    var = (np.where(finite, scores - mean, 0.0) ** 2).sum(axis=1, keepdims=True) / np.maximum(count, 1)
    z = np.where(finite, (scores - mean) / (np.sqrt(var) + 1e-9), np.inf)
    lowest = np.where(count > 0, z.min(axis=1, keepdims=True), 0.0)
    return np.where(finite, z, np.broadcast_to(lowest, z.shape))


def _standardise_row(row: np.ndarray) -> np.ndarray:
    """:func:`standardise_rows` of a single row, with the same arithmetic."""
    finite = np.isfinite(row)
    if finite.all():
        return (row - row.mean()) / (row.std() + 1e-9)
    if not finite.any():
        return np.zeros_like(row)
    values = row[finite]
    z = (values - values.mean()) / (values.std() + 1e-9)
    out = np.full_like(row, z.min())
    out[finite] = z
    return out


def scored_rows(scores: np.ndarray) -> np.ndarray:
    """Which rows a component can score at all (any finite entry)."""
    return np.isfinite(np.asarray(scores, dtype=np.float64)).any(axis=1)


def fit_blend(components: Sequence[np.ndarray], positives: np.ndarray, usable: np.ndarray | None = None,
              penalty: float = 1e-2) -> tuple[np.ndarray, float]:
    """Weights and bias of a logistic regression on row-standardised component scores.

    Parameters
    ----------
    components
        Score matrices of the validation entities (rows) x drugs (columns), one per component.
    positives
        Boolean matrix of the same shape: the validation pairs.
    usable
        Pairs that may serve as examples (False for pairs known from training, which are
        neither positive nor negative here); all by default.
    """
    return _fit_standardised([standardise_rows(c) for c in components], positives, usable, penalty)


def _fit_standardised(standardised: Sequence[np.ndarray], positives: np.ndarray, usable: np.ndarray | None,
                      penalty: float) -> tuple[np.ndarray, float]:
    """:func:`fit_blend` on components already row-standardised."""
    positives = np.asarray(positives, dtype=bool)
    usable = np.ones_like(positives) if usable is None else np.asarray(usable, dtype=bool)
    if not positives[usable].any():
        raise ValueError("the validation pairs hold no positive example")
    features = np.stack([z[usable] for z in standardised], axis=1)
    return fit_logistic_regression(features, positives[usable].astype(np.float64), penalty)


def blend_scores(components: Sequence[np.ndarray], weights: Sequence[float], bias: float = 0.0) -> np.ndarray:
    """The blended scores: sum of weight x row-standardised component scores, plus bias."""
    return sum(w * standardise_rows(c) for w, c in zip(weights, components)) + bias


def blend_components(parts: Mapping[str, np.ndarray], weights: Mapping[str, float], keep_standardised: bool = True
                     ) -> tuple[np.ndarray, dict[str, np.ndarray], list[str], np.ndarray]:
    """Weighted sum of the row-standardised components (entities x drugs).

    A row that no weighted component can score (a prescriber without claims when the blend
    is CF alone) is ranked by the components that can, equally weighted, as a new entity
    would be; a row that none can score stays all zero. Returns the blended scores, each
    component's standardised scores (NaN rows where it cannot score; empty unless
    ``keep_standardised``), the components no row can use, and which rows any component scores.
    """
    n, m = next(iter(parts.values())).shape
    blended = np.zeros((n, m))
    weighted_rows, any_rows = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    standardised: dict[str, np.ndarray] = {}
    dropped: list[str] = []
    every: list[tuple[np.ndarray, np.ndarray]] = []
    for name, raw in parts.items():
        z = standardise_rows(raw)
        scored = scored_rows(raw)
        if not scored.any():
            dropped.append(name)
        if keep_standardised:
            standardised[name] = np.where(scored[:, None], z, np.nan)
        weight = weights.get(name, 0.0)
        blended += weight * z
        weighted_rows |= scored & (weight != 0.0)
        any_rows |= scored
        every.append((z, scored))
    rescue = np.flatnonzero(~weighted_rows & any_rows)
    if len(rescue):  # rare: computed for those rows only
        total, used = np.zeros((len(rescue), m)), np.zeros(len(rescue))
        for z, scored in every:
            total += np.where(scored[rescue, None], z[rescue], 0.0)
            used += scored[rescue]
        blended[rescue] = total / used[:, None]
    return blended, standardised, dropped, any_rows


def validation_mrr(scores: np.ndarray, positives: np.ndarray, usable: np.ndarray | None = None) -> float:
    """Filtered MRR of the ``positives`` (micro-averaged): each is ranked among the usable
    non-positive entries of its row, ties at the mean rank.

    >>> validation_mrr(np.array([[0.9, 0.5, 0.1]]), np.array([[False, True, False]]))
    0.5
    """
    rows, reciprocal = filtered_reciprocal_ranks(scores, positives, usable)
    return float(np.mean(reciprocal)) if len(reciprocal) else float("nan")


#: Fewest validation entities on which a challenger may replace a given reference. Six validation
#: diseases (split Z) allow 462 distinct bootstrap resamples, and winning five of them carries most;
#: on five seeds of split Z the gate on six diseases let the GNN or a tuned blend replace the
#: metapath model three times, each losing on test (by 0.04-0.07 MRR, docs/evaluation.md).
MIN_GATE_ENTITIES = 10


def bootstrap_support(rows: np.ndarray, challenger: np.ndarray, reference: np.ndarray,
                      resamples: int = 200, seed: int = 0) -> float:
    """Share of resamples of the validation entities (rows) in which ``challenger``'s MRR beats ``reference``'s.

    A paired bootstrap over entities: 70-odd validation pairs cannot tell a small gain
    from noise, and a model stacked on another should not replace it on one lucky split.
    """
    entities, inverse = np.unique(rows, return_inverse=True)
    gain = np.bincount(inverse, weights=challenger - reference, minlength=len(entities))
    count = np.bincount(inverse, minlength=len(entities)).astype(np.float64)
    picks = np.random.default_rng(seed).integers(0, len(entities), (resamples, len(entities)))
    return float(np.mean(gain[picks].sum(axis=1) / count[picks].sum(axis=1) > 0))


@dataclass(frozen=True)
class BlendChoice:
    """The weights kept for one entity kind and the validation MRR (or ``metric``) of every candidate."""

    weights: dict[str, float]
    chosen: str
    val_mrr: dict[str, float]
    #: Why the best candidate was or was not kept over the reference, when one was given.
    note: str = ""
    #: The logistic blend's L2 penalty, and the out-of-fold objective of each one tried (None: one was given).
    penalty: float = 1e-2
    penalty_val: dict[float, float] | None = None


def cross_fitted_penalty(components: Sequence[np.ndarray], positives: np.ndarray, usable: np.ndarray | None,
                         penalties: Sequence[float], seed: int = 0, objective: Objective = filtered_reciprocal_ranks
                         ) -> tuple[float, dict[float, float]]:
    """The logistic blend's L2 penalty with the best out-of-fold ``objective``, and each one's value.

    The blend is fitted on each half of the validation entities (the halves of
    :func:`recsys.ascent.cross_fitted_ascent`) and scored on the other: a weaker penalty always
    fits the validation pairs better in sample, and what counts is how it ranks entities it did not
    see. A tie keeps the larger penalty (the simpler blend); so does a split with a half that has
    no positive to score (there is nothing to choose on).
    """
    return _penalty_out_of_fold([standardise_rows(c) for c in components], positives, usable, penalties, seed,
                                objective)


def _penalty_out_of_fold(standardised: Sequence[np.ndarray], positives: np.ndarray, usable: np.ndarray | None,
                         penalties: Sequence[float], seed: int, objective: Objective
                         ) -> tuple[float, dict[float, float]]:
    """:func:`cross_fitted_penalty` on components already row-standardised (a row's z-scores do
    not depend on the other rows, so each half's are the whole's)."""
    penalties = sorted({float(p) for p in penalties}, reverse=True)
    positives = np.asarray(positives, dtype=bool)
    usable = np.ones_like(positives) if usable is None else np.asarray(usable, dtype=bool)
    fold = np.random.default_rng(seed).permutation(positives.shape[0]) % 2
    halves = [(fold != held, fold == held) for held in (0, 1)]
    if len(penalties) == 1 or any(not positives[t].any() or not positives[s].any() for t, s in halves):
        return penalties[0], {}
    values: dict[float, float] = {}
    for penalty in penalties:
        scored = []
        for train, test in halves:
            weights, _ = _fit_standardised([z[train] for z in standardised], positives[train], usable[train], penalty)
            blended = sum(w * z[test] for w, z in zip(weights, standardised))
            scored.append(objective(blended, positives[test], usable[test])[1])
        values[penalty] = float(np.mean(np.concatenate(scored)))
    best = max(penalties, key=lambda p: values[p])  # max keeps the first (largest) of equals
    return best, values


def select_blend(parts: Mapping[str, np.ndarray], positives: np.ndarray, usable: np.ndarray | None = None,
                 penalty: float | Sequence[float] = 1e-2, reference: str | None = None, support: float = 0.95,
                 seed: int = 0, metric: str = "mrr", min_entities: int | None = None) -> BlendChoice:
    """Fit blends of ``parts`` on validation pairs, then keep one only if it wins.

    Two blends are fitted: the logistic regression (``blend``: pairs one by one), and
    weights tuned for the ranking itself by coordinate ascent on validation MRR (``tuned``,
    :mod:`recsys.ascent`), whose MRR is measured out of fold so that tuning does not
    flatter it. They compete with each component alone on validation MRR, and the best is
    kept (on a tie: the logistic blend, else a component alone before the tuned blend).
    Components that score no row get weight 0. A candidate other than the ``reference``
    component (the metapath model a GNN is stacked on; by default the best component alone)
    is kept only if it beats it in at least ``support`` of paired bootstrap resamples of the
    validation entities (:func:`bootstrap_support`); otherwise the next best is tried, and
    the reference is kept if none has that support: a blend that wins validation by 0.0005
    is noise. ``metric``: what "MRR" above is, by :data:`recsys.ascent.OBJECTIVES` name; the
    default weighs every validation pair once, ``"ndcg@10"`` every entity once. ``penalty``: the
    logistic blend's L2 penalty, or several, one chosen out of fold (:func:`cross_fitted_penalty`).
    With a ``reference`` and fewer than ``min_entities`` validation entities (default
    :data:`MIN_GATE_ENTITIES`), the reference is kept: too few entities to support anything.
    """
    objective = OBJECTIVES[metric]
    names = [n for n, scores in parts.items() if scored_rows(scores).any()]
    if not names:
        raise ValueError("no component scores any validation entity")
    standardised = [standardise_rows(parts[n]) for n in names]  # once, for every candidate below
    penalty, penalty_val = _penalty_out_of_fold(standardised, positives, usable,
                                                [penalty] if np.isscalar(penalty) else penalty, seed, objective)
    weights, _ = _fit_standardised(standardised, positives, usable, penalty)
    candidates = {"blend": dict(zip(names, map(float, weights)))} | {n: {n: 1.0} for n in names}
    ranks = {label: objective(sum(w.get(n, 0.0) * z for n, z in zip(names, standardised)), positives, usable)
             for label, w in candidates.items()}
    if len(names) > 1:
        tuned, *ranks["tuned"] = cross_fitted_ascent(standardised, positives, usable, seed, objective)
        candidates["tuned"] = dict(zip(names, map(float, tuned)))
    mrr = {label: float(np.mean(rr)) if len(rr) else float("nan") for label, (_, rr) in ranks.items()}
    explicit_reference = reference in names
    if reference not in names:  # the simplest strong choice: the best component alone
        reference = max(names, key=lambda n: mrr[n])
    # Best first (a tie: the logistic blend, else a component alone before the tuned blend); each
    # candidate above the reference is kept only with bootstrap support, else the next is tried.
    order = sorted(mrr, key=lambda label: (mrr[label], label == "blend", label != "tuned"), reverse=True)
    chosen, verdicts = reference, []
    entities, needed = len(np.unique(ranks[reference][0])), MIN_GATE_ENTITIES if min_entities is None else min_entities
    if explicit_reference and entities < needed:
        note = (f"validation holds {entities} entities, too few for a bootstrap to support replacing {reference} "
                f"(needs {needed}); not deployed: {reference} alone is")
        return BlendChoice({n: 0.0 for n in parts} | candidates[reference], reference, mrr, note, penalty,
                           penalty_val or None)
    for label in order[:order.index(reference)]:
        share = bootstrap_support(ranks[label][0], ranks[label][1], ranks[reference][1], seed=seed)
        verdicts.append(f"{label} beat {reference} in {share:.0%} of bootstrap resamples of the validation entities")
        if share >= support:
            chosen = label
            break
    note = "; ".join(verdicts)
    if verdicts:
        note += f" (needs {support:.0%}); " + ("kept" if chosen != reference else f"not deployed: {reference} alone is")
    return BlendChoice({n: 0.0 for n in parts} | candidates[chosen], chosen, mrr, note, penalty, penalty_val or None)
