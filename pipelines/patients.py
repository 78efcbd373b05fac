"""The patient side's blend weights, fitted one way for ``rxkg train`` and for ``rxkg evaluate``'s
patient protocols (which call ``rxkg train`` on their history graph and score what it deploys).

The patients' records are split by time (:func:`pipelines.temporal.time_split`): a validation
recommender is built from what was known before each validation patient's cutoff, and the
``patient`` weights (every drug taken after it) and ``patient_new`` weights (only drugs new to the
patient) are chosen on what came after, on NDCG@10 per patient, the logistic blend's L2 penalty
among them (out of fold). Records without dates fall back to a random 20% of each patient's drugs.
The same pairs as the ``patient`` weights then choose whether that list ranks the drugs new to a
patient by the ``patient_new`` blend (:func:`fit_continuation`). With ``ablations`` the same
validation pairs also choose the weights of the blends without each family of components
(:data:`ABLATIONS`), the evaluation's ablation rows.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from kg.errors import KGError
from kg.graph import KnowledgeGraph
from kg.schema import EdgeType
from recsys.recommender.continuation import ADDED, added_weights

__all__ = ["ABLATIONS", "PATIENT_BLEND_METRIC", "PATIENT_PENALTIES", "fit_patient_blends", "fit_continuation",
           "validation_parts", "patient_time_split", "interaction_pairs"]

TAKES = EdgeType("patient", "takes", "drug")
#: A blend's validation sample: its entities' components (entities x drugs), positives and usable pairs.
ValidationParts = tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]
#: The patient blend's ablations: components left out, the weights chosen again without them.
ABLATIONS: dict[str, tuple[str, ...]] = {"without history": ("history", "running", "frequency", "sequence"),
                                         "without CF": ("cf",),
                                         "without graph": ("graph", "graph_drugs", "people_gnn")}
#: What the patient blends are chosen on: NDCG@10 per patient, which weighs every patient once (MRR
#: over validation pairs lets patients with many later drugs decide). On the evaluation's
#: validation patients (seed 0, never its test) the blends chosen on it reach Recall@10 0.715 and
#: NDCG@10 0.853 on every later drug (0.695 and 0.838 chosen on MRR), 0.467 and 0.314 on new drugs
#: (0.429 and 0.279: CF alone).
PATIENT_BLEND_METRIC = "ndcg@10"
#: The L2 penalties the patients' logistic blends choose from, out of fold on the same validation
#: patients (:func:`recsys.blend.cross_fitted_penalty`); the doctors' and diseases' blends keep
#: 1e-2. On run_train's own validation patients of the evaluation's history graph (seed 0) the
#: out-of-fold NDCG@10 of the every-later-drug blend is 0.8658 at 3e-4 against 0.8610 at 1e-2,
#: and of the new-drugs blend 0.3471 at 3e-3 against 0.3311.
PATIENT_PENALTIES = (3e-4, 1e-3, 3e-3, 1e-2)


def fit_patient_blends(validation, patient_time, patient_split, seed: int, ablations: bool,
                       log: Callable[[str], None]) -> dict[str, dict[str, dict[str, float]]]:
    """Choose ``validation``'s (a :class:`~recsys.recommender.api.Recommender` built without the
    validation pairs) ``patient`` and ``patient_new`` weights in place, on the time split
    ``patient_time`` or, without one, the random ``patient_split``; returns the ablations' weights
    per blend (empty unless ``ablations``, and without a time split: the evaluation's ablation rows
    come from its time split), with the :data:`~recsys.recommender.continuation.ADDED` weights of
    each ablation when the deployed list is merged."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    calibrations: dict[str, dict[str, dict | None]] = {}  # the ablations' (each blend's Platt scaling)

    def fit(kind: str, pairs: list[tuple[str, str]], known: list[tuple[str, str]] | tuple = (),
            ablate: bool = ablations, keep: bool = False) -> ValidationParts | None:
        """Fit ``kind``'s weights; its validation components (scored once, after the fit chose the
        patients' graph scorer) serve the ablations and, with ``keep``, the caller."""
        validation.fit_weights(kind, pairs, known=known, penalty=PATIENT_PENALTIES, seed=seed,
                               metric=PATIENT_BLEND_METRIC)
        sample = validation_parts(validation, kind, pairs, known, seed) if ablate or keep else None
        if ablate:
            out[kind], calibrations[kind] = _ablations(validation, kind, sample, seed)
        return sample

    if patient_time is not None:
        later, new, history = _time_pairs(patient_time, validation.drug_index)
        every_later = fit("patient", later, keep=bool(new))
        if new:
            fit("patient_new", new, history)
            merged = fit_continuation(validation, every_later, seed)
            if merged and ablations and all(c is not None for cs in calibrations.values() for c in cs.values()):
                # the ablations' lists are merged as the deployed one is
                out[ADDED] = {label: added_weights(out["patient_new"][label], calibrations["patient"][label],
                                                   calibrations["patient_new"][label]) for label in ABLATIONS}
        else:
            validation.weights["patient_new"] = dict(validation.weights["patient"])
    elif patient_split is not None and patient_split.test.nnz:  # no dates: a random 20% of each one's drugs
        fit("patient", interaction_pairs(patient_split.test), interaction_pairs(patient_split.history), ablate=False)
        validation.weights["patient_new"] = dict(validation.weights["patient"])
    else:
        log("  patient: no patients with enough drugs in the graph; their blend keeps default weights")
    return out


def validation_parts(ranker, kind: str, pairs: list[tuple[str, str]], known: list[tuple[str, str]] | tuple,
                     seed: int) -> ValidationParts:
    """``kind``'s validation sample as its weights are fitted on it
    (:func:`~recsys.recommender.fitting.validation_sample`), with ``ranker``'s components of it."""
    from recsys.recommender.fitting import validation_sample

    entities, positives, usable = validation_sample(ranker.drug_index, pairs, known, 2000, seed)
    return ranker.component_scores(kind, entities), positives, usable


def fit_continuation(ranker, sample: ValidationParts, seed: int) -> bool:
    """Choose on the ``patient`` weights' validation ``sample`` (:func:`validation_parts`) whether
    ``ranker``'s (both patient blends fitted) list that continues a patient's drugs ranks the new
    ones by the ``patient_new`` blend (:mod:`recsys.recommender.continuation`); records the choice
    in ``selection["patient"]`` and returns whether it does."""
    from recsys.recommender.continuation import choose_continuation

    parts, positives, usable = sample
    added, record = choose_continuation(parts, ranker.weights["patient"],
                                        (ranker.calibration("patient"), ranker.calibration("patient_new")),
                                        ranker.weights["patient_new"], positives, usable, PATIENT_BLEND_METRIC, seed)
    ranker.selection["patient"]["new_drugs"] = record
    ranker.weights.pop(ADDED, None)
    if added is not None:
        ranker.weights[ADDED] = added
    return added is not None


def _ablations(validation, kind: str, sample: ValidationParts, seed: int
               ) -> tuple[dict[str, dict[str, float]], dict[str, dict | None]]:
    """The weights ``kind``'s blend gets on the same validation ``sample`` without each ablation's
    components (chosen as the deployed weights are: :func:`fit_on_validation`), and their calibrations."""
    from recsys.recommender.fitting import fit_on_validation

    parts, positives, usable = sample
    out, calibrations = {}, {}
    for label, left_out in ABLATIONS.items():
        kept = [c for c in validation.components[kind] if c not in left_out]
        weights, record = fit_on_validation(parts, kept, positives, usable, PATIENT_PENALTIES, None, seed,
                                            PATIENT_BLEND_METRIC)
        out[label] = {c: float(weights.get(c, 0.0)) for c in validation.components[kind]}
        calibrations[label] = record.get("calibration")
    return out, calibrations


def patient_time_split(graph: KnowledgeGraph, seed: int, log: Callable[[str], None]):
    """The patients' validation split by time, or None (logged) when their records cannot be split."""
    from pipelines.temporal import HISTORY_SHARE, time_split

    try:
        return time_split(graph, HISTORY_SHARE, 0.5, seed=seed)
    except KGError as err:
        log(f"  patients: {err}; their blend is validated on a random 20% of each patient's drugs")
        return None


def _time_pairs(split, drugs: pd.Index) -> tuple[list[tuple[str, str]], ...]:
    """(every drug taken after the cutoff, the new ones among them, the history) of every
    patient the time split evaluates (both of its parts: training tests nothing)."""
    future = split.future[drugs.get_indexer(split.future["drug"]) >= 0]
    later = list(zip(future["patient"], future["drug"]))
    new = [pair for pair, is_new in zip(later, future["new"]) if is_new]
    takes = split.graph.edges[TAKES]
    mine = takes[takes["src"].astype(str).isin(set(future["patient"]))]
    return later, new, list(zip(mine["src"].astype(str), mine["dst"].astype(str)))


def interaction_pairs(inter) -> list[tuple[str, str]]:
    """The (user, item) pairs of an :class:`~recsys.cf.interactions.Interactions` matrix."""
    coo = inter.matrix.tocoo()
    return list(zip(inter.user_ids[coo.row], inter.item_ids[coo.col]))
