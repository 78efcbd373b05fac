"""One list of a patient's own drugs and new ones, each part ranked by the blend fitted for it.

The ``patient`` blend is fitted on every drug taken after a cutoff. Most of those continue
what the patient took (on the evaluation's test patients 1,337 of 1,857 are drugs still
running), so its weights are the ones that tell a continued drug from a stopped one, and they
are not the best at ordering drugs the patient never took. The ``patient_new`` blend is fitted
on exactly those. Here the patient's own drugs keep their ``patient`` score, and a new drug gets
its ``patient_new`` score moved onto the ``patient`` blend's scale through both blends'
calibrations (:func:`~recsys.recommender.fitting.fit_calibration`): the probability its own blend
gives it, written as the ``patient`` score with that probability,

    score = (slope_new x new_score + intercept_new - intercept_all) / slope_all.

That is again a weighted sum of the same standardised components (the ``patient_new`` weights
times slope_new / slope_all) plus one part every new drug has, :data:`NEW_DRUG` = (intercept_new
- intercept_all) / slope_all. These are the weights of :data:`ADDED`; so a merged list is sorted
by one score, each drug's parts add up to it, and its probability is the one its own blend gives.
Whether a patient's list is merged this way is chosen on the patients' validation pairs
(:func:`choose_continuation`).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from recsys.ascent import OBJECTIVES
from recsys.blend import blend_components, bootstrap_support

__all__ = ["ADDED", "NEW_DRUG", "added_weights", "merge_new_drugs", "choose_continuation", "merges", "scored_by"]

#: The weight set of the drugs new to a patient in a list that also continues their drugs.
ADDED = "patient_added"
#: The part every new drug's score has in a merged list (its weight; the drug's value is 1).
NEW_DRUG = "new_drug"


def added_weights(new_weights: Mapping[str, float], all_calibration: Mapping[str, float],
                  new_calibration: Mapping[str, float]) -> dict[str, float]:
    """The :data:`ADDED` weights: ``new_weights`` moved onto the scale of the blend calibrated by
    ``all_calibration`` (see the module doc).

    >>> added_weights({"cf": 1.0}, {"slope": 2.0, "intercept": -6.0}, {"slope": 1.0, "intercept": -8.0})
    {'cf': 0.5, 'new_drug': -1.0}
    """
    ratio = new_calibration["slope"] / all_calibration["slope"]
    offset = (new_calibration["intercept"] - all_calibration["intercept"]) / all_calibration["slope"]
    return {**{name: float(ratio * weight) for name, weight in new_weights.items()}, NEW_DRUG: float(offset)}


def merges(weights: Mapping[str, Mapping[str, float]]) -> bool:
    """Whether ``weights`` (a ranker's, by kind) merge a patient's list (an :data:`ADDED` set was chosen)."""
    return NEW_DRUG in weights.get(ADDED, {})


def scored_by(kind: str, components: dict[str, float | None], added: np.ndarray | None, column: int) -> str:
    """The weight set that scored the drug in ``column`` of a one-entity list under ``kind``:
    :data:`ADDED` where ``added`` (the list's :data:`NEW_DRUG` mark) says it is new to the patient,
    which then also joins the drug's ``components`` (its value 1), else ``kind``."""
    if added is None or not added[0, column]:
        return kind
    components[NEW_DRUG] = 1.0
    return ADDED


def merge_new_drugs(parts: Mapping[str, np.ndarray], blended: np.ndarray, added: Mapping[str, float]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``blended`` (patients x drugs, the ``patient`` blend of ``parts``) with every drug a patient
    never took scored by the ``added`` weights instead; returns it and the mask of those drugs.

    ``parts`` must hold ``frequency`` (a patient's records of each drug: what they took).
    """
    new = ~(np.asarray(parts["frequency"]) > 0)
    weights = {name: weight for name, weight in added.items() if name != NEW_DRUG}
    scores = blend_components(parts, weights, False)[0] + added[NEW_DRUG]
    return np.where(new, scores, blended), new


def choose_continuation(parts: Mapping[str, np.ndarray], weights: Mapping[str, float],
                        calibrations: Sequence[Mapping[str, float] | None], new_weights: Mapping[str, float],
                        positives: np.ndarray, usable: np.ndarray, metric: str, seed: int = 0
                        ) -> tuple[dict[str, float] | None, dict]:
    """Whether new drugs in a patient's list are ranked by the new-drugs blend: the :data:`ADDED`
    weights when the merged list beats the ``patient`` blend alone on the validation ``metric``
    (``parts``, ``positives``, ``usable``: the validation patients' components and pairs), else None;
    and the selection record (each list's ``metric``, the paired bootstrap share of the merged one's
    wins). ``calibrations``: the ``patient`` and ``patient_new`` blends'; without both, no merge."""
    if any(c is None for c in calibrations):
        return None, {"chosen": "one blend", "note": "a blend has no calibration: nothing to merge on"}
    added = added_weights(new_weights, *calibrations)  # type: ignore[arg-type]
    one = blend_components(parts, weights, False)[0]
    merged = merge_new_drugs(parts, one, added)[0]
    objective = OBJECTIVES[metric]
    (rows, one_values), (_, merged_values) = objective(one, positives, usable), objective(merged, positives, usable)
    values = {"one blend": float(np.mean(one_values)), "new drugs by their blend": float(np.mean(merged_values))}
    share = bootstrap_support(rows, merged_values, one_values, seed=seed)
    chosen = "new drugs by their blend" if values["new drugs by their blend"] > values["one blend"] else "one blend"
    record = {"chosen": chosen, f"val_{metric}": {k: round(v, 4) for k, v in values.items()},
              "support": round(share, 3)}
    return (added if chosen != "one blend" else None), record
