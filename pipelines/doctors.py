"""The doctor side of the deployed recommender, fitted one way for ``rxkg train`` and for
``rxkg evaluate``'s doctor protocols.

From a prescriber x drug claim matrix: a validation split (20% of each prescriber's drugs),
the CF model chosen on it (:func:`pipelines.cfchoice.choose_cf`), within-specialty
popularity, and the blend of the two chosen on the same validation pairs
(:func:`recsys.recommender.fitting.fit_on_validation`: the logistic blend or a component
alone); then both components refitted on every claim. Training calls :func:`fit_doctors`
on all of the graph's claims; an evaluation calls it on its split's training part and
scores the result, so the hybrid it reports is the one a bundle deploys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pipelines.cfchoice import CF_CANDIDATES, QUICK_SEARCH, CFChoice, choose_cf, unvalidated_choice
from recsys.cf import CFRecommender, CFSplit, Interactions

__all__ = ["DoctorFit", "fit_doctors", "doctor_validation", "DOCTOR_COMPONENTS", "MAX_VALIDATION_PRESCRIBERS"]

#: The doctor blend's components: CF and within-specialty popularity (the graph scores no doctor).
DOCTOR_COMPONENTS = ("cf", "popularity")
#: Validation prescribers the blend is fitted on (a seeded sample beyond: seconds on all of CMS).
MAX_VALIDATION_PRESCRIBERS = 2000


@dataclass
class DoctorFit:
    """The chosen CF model, the blend weights (the ``doctor`` kind of a recommender) with the
    record of how they were chosen, and both components fitted on every claim."""

    choice: CFChoice
    weights: dict[str, float]
    selection: dict
    cf: CFRecommender
    popularity: CFRecommender


def doctor_validation(claims: Interactions, seed: int) -> CFSplit:
    """The validation split the doctor side is chosen on: 20% of each prescriber's drugs
    (``seed + 1``, so a split carved from an evaluation's training part is not its twin)."""
    from recsys.cf import holdout_split

    return holdout_split(claims, 0.2, seed=seed + 1)


def fit_doctors(claims: Interactions, seed: int = 0, quick: bool = True, smoothing: float = 0.05,
                k: int = 10, candidates: tuple[str, ...] = CF_CANDIDATES,
                quick_search: dict[str, list[dict[str, list[Any]]]] = QUICK_SEARCH) -> DoctorFit:
    """Choose and fit the doctor side on ``claims`` (see the module doc); ``quick`` searches the
    CF ``candidates``' ``quick_search`` settings, else their full grids. (The evaluation's
    anchor, plain EASE with within-specialty popularity, is this with one plain EASE setting.)"""
    from recsys.cf import MODELS, GroupPopularityRecommender

    validation = doctor_validation(claims, seed)
    if validation.test.nnz:
        choice = choose_cf(validation, seed, quick=quick, k=k, candidates=candidates, quick_search=quick_search)
    else:  # too few prescribers to validate anything: the shipped data's choice, default weights
        choice = unvalidated_choice(candidates[0], quick_search)

    def fitted(data: Interactions) -> tuple[CFRecommender, CFRecommender]:
        return (MODELS[choice.model](**choice.params).fit(data),
                GroupPopularityRecommender(smoothing=smoothing).fit(data))

    weights: dict[str, float] = {"graph": 0.0, **{c: 1.0 for c in DOCTOR_COMPONENTS}}
    selection: dict = {}
    if validation.test.nnz:
        found, record = _blend_on_validation(*fitted(validation.train), validation, seed)
        weights, selection = {"graph": 0.0, **found}, record
    return DoctorFit(choice, weights, selection, *fitted(claims))


def _blend_on_validation(cf: CFRecommender, popularity: CFRecommender, validation: CFSplit,
                         seed: int) -> tuple[dict[str, float], dict]:
    from recsys.cf.evaluate import score_split
    from recsys.recommender.fitting import fit_on_validation

    n = validation.test.shape[0]
    rows = np.sort(np.random.default_rng(seed).choice(n, min(n, MAX_VALIDATION_PRESCRIBERS), replace=False))
    parts = {"cf": score_split(cf, validation)[rows], "popularity": score_split(popularity, validation)[rows]}
    positives = (validation.test.matrix[rows] > 0).toarray()
    usable = (validation.history.matrix[rows].toarray() == 0) | positives
    return fit_on_validation(parts, DOCTOR_COMPONENTS, positives, usable, penalty=1e-2, reference=None, seed=seed)
