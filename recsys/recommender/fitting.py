"""Blend weights and score calibration chosen on validation pairs (what a
:class:`~recsys.recommender.ranking.Ranker` fits on)."""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from kg.errors import KGError
from recsys.blend import blend_components, select_blend, validation_mrr

__all__ = ["validation_sample", "validation_masks", "fit_on_validation", "fit_calibration", "calibrated",
           "choose_patient_graph"]


def validation_sample(drug_index: pd.Index, pairs: Sequence[tuple[str, str]], known: Sequence[tuple[str, str]],
                      max_entities: int, seed: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The validation entities (sorted; more than ``max_entities`` are subsampled, seeded, which
    keeps fitting to seconds on all of CMS) and their ``(positives, usable)`` masks."""
    entities = sorted({e for e, _ in pairs})
    if not entities:
        raise KGError("no validation pairs to fit blend weights on")
    if len(entities) > max_entities:
        picked = np.random.default_rng(seed).choice(len(entities), max_entities, replace=False)
        entities = sorted(entities[i] for i in picked)
        chosen = set(entities)
        pairs = [(e, d) for e, d in pairs if e in chosen]
    return (entities, *validation_masks(drug_index, entities, pairs, known))


def fit_on_validation(parts: Mapping[str, np.ndarray], components: Sequence[str], positives: np.ndarray,
                      usable: np.ndarray, penalty: float | Sequence[float], reference: str | None, seed: int,
                      metric: str = "mrr") -> tuple[dict[str, float], dict]:
    """Blend weights chosen on validation (see :func:`recsys.blend.select_blend`: a ``reference``
    component is replaced only with bootstrap support; ``metric`` names what is compared; several
    ``penalty`` values: the logistic blend's chosen out of fold) and the selection record
    (candidates' validation ``metric`` as ``val_<metric>``, the verdict, the penalty when one was
    chosen, the calibration of the chosen blend's scores)."""
    choice = select_blend({n: parts[n] for n in components}, positives, usable, penalty, reference=reference,
                          seed=seed, metric=metric)
    calibration = fit_calibration(blend_components(parts, choice.weights, False)[0], positives, usable)
    penalties = ({"penalty": choice.penalty, f"penalty_oof_{metric}": {f"{p:g}": round(v, 4)
                                                                       for p, v in choice.penalty_val.items()}}
                 if choice.penalty_val else {})
    return choice.weights, {"chosen": choice.chosen, f"val_{metric}": choice.val_mrr,
                            **({"metric": metric} if metric != "mrr" else {}), **penalties,
                            **({"note": choice.note} if choice.note else {}), "calibration": calibration}


def validation_masks(drug_index: pd.Index, entities: Sequence[str], pairs: Sequence[tuple[str, str]],
                     known: Sequence[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
    """``(positives, usable)`` (entities x drugs): the validation pairs, and every cell but the
    ``known`` training pairs, which are neither positives nor negatives."""
    row = {e: i for i, e in enumerate(entities)}
    columns = drug_index.get_indexer([d for _, d in pairs])
    if (columns < 0).any():
        raise KGError(f"validation pairs name drugs outside the recommender: {pairs[int(np.argmin(columns))]}")
    positives = np.zeros((len(entities), len(drug_index)), dtype=bool)
    positives[[row[e] for e, _ in pairs], columns] = True
    usable = np.ones_like(positives)
    known_rows = [(row[e], d) for e, d in known if e in row]
    if known_rows:
        known_columns = drug_index.get_indexer([d for _, d in known_rows])
        found = known_columns >= 0
        usable[np.array([r for r, _ in known_rows])[found], known_columns[found]] = False
    usable |= positives
    return positives, usable


def fit_calibration(scores: np.ndarray, positives: np.ndarray, usable: np.ndarray) -> dict[str, float] | None:
    """Platt scaling of blended scores on validation: P(a held-out true pair | score).

    The probability reads the same for every kind of list ("how often a drug scored like this
    was a held-out real indication / prescription / medication"), which the blended score,
    standardised per list, does not. ``None`` without positives and negatives to fit on.
    """
    from recsys.logistic import fit_logistic_regression

    keep = usable & np.isfinite(scores)
    x, y = scores[keep], positives[keep]
    if not y.any() or y.all():
        return None
    weight, bias = fit_logistic_regression(x[:, None].astype(np.float64), y.astype(np.float64), penalty=1e-6)
    probability = calibrated({"slope": float(weight[0]), "intercept": float(bias)}, x)
    return {"slope": round(float(weight[0]), 6), "intercept": round(float(bias), 6), "pairs": int(keep.sum()),
            "positives": int(y.sum()), "brier": round(float(np.mean((probability - y) ** 2)), 6),
            "base_rate": round(float(y.mean()), 6)}


def calibrated(calibration: Mapping[str, float] | None, scores: np.ndarray | float) -> np.ndarray:
    """Probabilities for blended ``scores`` under a fitted calibration (NaN without one)."""
    values = np.asarray(scores, dtype=np.float64)
    if not calibration:
        return np.full(values.shape, np.nan)
    return 1.0 / (1.0 + np.exp(-(calibration["slope"] * values + calibration["intercept"])))


def choose_patient_graph(condition_scores: Callable[[Sequence[str], Sequence[str] | None], np.ndarray],
                         scorers: Sequence[str], entities: Sequence[str], positives: np.ndarray,
                         usable: np.ndarray) -> dict:
    """Which disease scorer a patient's graph component reads (its best score over their
    conditions), chosen on the patients' validation pairs: the deployed disease blend is chosen
    for ranking drugs per disease, which is not the same task as a patient's next drugs.
    Returns the selection record: ``scorers`` (None: the disease blend) and each candidate's MRR."""
    candidates: dict[str, Sequence[str] | None] = {"disease blend": None, **{name: [name] for name in scorers}}
    mrr = {}
    for label, chosen in candidates.items():
        scores = condition_scores(entities, chosen)
        mrr[label] = round(validation_mrr(np.where(np.isnan(scores), -np.inf, scores), positives, usable), 4)
    best = max(mrr, key=lambda label: (mrr[label], label == "disease blend"))  # a tie keeps the blend
    return {"scorers": candidates[best], "val_mrr": mrr}
