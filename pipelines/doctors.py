"""The doctor side of the deployed recommender, fitted one way for ``rxkg train`` and for
``rxkg evaluate``'s doctor protocols.

From a prescriber x drug claim matrix: a validation split (20% of each prescriber's drugs),
the CF model chosen on it (:func:`pipelines.cfchoice.choose_cf`), within-specialty
popularity, and the blend of the two chosen on the same validation pairs
(:func:`recsys.recommender.fitting.fit_on_validation`: the logistic blend or a component
alone); then both components refitted on every claim. Training calls :func:`fit_doctors`
on all of the graph's claims; an evaluation calls it on its split's training part and
scores the result, so the hybrid it reports is the one a bundle deploys.

:func:`fit_doctors_all` chooses the ``doctor_all`` weights, which rank every drug of the graph
(``recommend_for_doctor(..., candidates="all")``): on a mixed split of the claims
(:func:`pipelines.coldsplit.mixed_split`: some drugs lose every prescription, and each prescriber
20% of the others), the same CF model, within-specialty popularity and the graph component
(what a drug shares with the prescriber's drugs) blended on the held-out drugs of both kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pipelines.coldsplit import MixedSplit, mixed_split
from pipelines.cfchoice import CF_CANDIDATES, QUICK_SEARCH, CFChoice, choose_cf, unvalidated_choice
from recsys.cf import CFRecommender, CFSplit, Interactions
from recsys.recommender.drugprofiles import DrugProfiles

__all__ = ["DoctorFit", "fit_doctors", "fit_doctors_all", "mixed_parts", "split_parts", "doctor_validation",
           "DOCTOR_COMPONENTS", "ALL_COMPONENTS", "MAX_VALIDATION_PRESCRIBERS"]

#: The doctor blend's components without drug profiles: CF and within-specialty popularity.
DOCTOR_COMPONENTS = ("cf", "popularity")
#: The ``doctor_all`` blend's: the graph scores the drugs nobody prescribes.
ALL_COMPONENTS = ("graph", "cf", "popularity")
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
                quick_search: dict[str, list[dict[str, list[Any]]]] = QUICK_SEARCH,
                profiles: DrugProfiles | None = None) -> DoctorFit:
    """Choose and fit the doctor side on ``claims`` (see the module doc); ``quick`` searches the
    CF ``candidates``' ``quick_search`` settings, else their full grids. With the drugs' graph
    ``profiles`` the graph component competes in the blend too. (The evaluation's anchor, plain
    EASE with within-specialty popularity, is this with one plain EASE setting, no profiles.)"""
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
        found, record = _blend_on_validation(*fitted(validation.train), validation, seed, profiles)
        weights, selection = {"graph": 0.0, **found}, record
    return DoctorFit(choice, weights, selection, *fitted(claims))


def _blend_on_validation(cf: CFRecommender, popularity: CFRecommender, validation: CFSplit,
                         seed: int, profiles: DrugProfiles | None = None) -> tuple[dict[str, float], dict]:
    from recsys.recommender.fitting import fit_on_validation

    n = validation.test.shape[0]
    rows = np.sort(np.random.default_rng(seed).choice(n, min(n, MAX_VALIDATION_PRESCRIBERS), replace=False))
    parts = {name: block[rows] for name, block in split_parts(cf, popularity, validation, profiles).items()}
    positives = (validation.test.matrix[rows] > 0).toarray()
    usable = (validation.history.matrix[rows].toarray() == 0) | positives
    return fit_on_validation(parts, tuple(parts), positives, usable, penalty=1e-2, reference=None, seed=seed)


def split_parts(cf: CFRecommender, popularity: CFRecommender, split: CFSplit,
                profiles: DrugProfiles | None = None) -> dict[str, np.ndarray]:
    """The evaluated prescribers' raw component scores over ``split``'s drugs: CF, popularity and,
    with the drugs' graph ``profiles``, the graph component from their history."""
    from recsys.cf.evaluate import score_split
    from recsys.recommender.drugprofiles import neighbour_scores

    parts = {"cf": score_split(cf, split), "popularity": score_split(popularity, split)}
    if profiles is not None:
        items = [str(i) for i in split.train.item_ids]
        parts["graph"] = neighbour_scores(split.history.matrix, profiles.similarity(items, items))
    return parts


def fit_doctors_all(claims: Interactions, profiles: DrugProfiles, partners: dict[str, frozenset[str]], choice: CFChoice,
                    seed: int = 0, smoothing: float = 0.05) -> tuple[dict[str, float], dict]:
    """The ``doctor_all`` weights and their selection record (module doc), on a mixed split of
    ``claims`` drawn with ``seed + 1``; ``profiles`` are the drugs' graph profiles, ``choice``
    the doctor CF model."""
    from recsys.cf import MODELS, GroupPopularityRecommender
    from recsys.recommender.fitting import fit_on_validation

    split = mixed_split(claims, partners, seed + 1)
    if not len(split.users):
        return {name: 1.0 for name in ALL_COMPONENTS}, {}
    cf = MODELS[choice.model](**choice.params).fit(split.train)
    popularity = GroupPopularityRecommender(smoothing=smoothing).fit(split.train)
    n = len(split.users)
    rows = np.sort(np.random.default_rng(seed).choice(n, min(n, MAX_VALIDATION_PRESCRIBERS), replace=False))
    parts = {name: block[rows] for name, block in mixed_parts(cf, popularity, profiles, split).items()}
    positives = (split.truth[rows] > 0).toarray()
    usable = (split.history[rows].toarray() == 0) | positives
    weights, record = fit_on_validation(parts, ALL_COMPONENTS, positives, usable, penalty=1e-2, reference=None,
                                        seed=seed)
    record["cold_drugs"] = len(split.cold)
    return weights, record


def mixed_parts(cf: CFRecommender, popularity: CFRecommender, profiles: DrugProfiles, split: MixedSplit,
                neutral: bool = True) -> dict[str, np.ndarray]:
    """The evaluated prescribers' raw component scores over every drug of ``split.items``: CF and
    popularity fitted on ``split.train`` (NaN for the cold drugs, which they cannot know), and the
    graph component from their kept drugs. ``neutral``: the cold drugs' CF and popularity are each
    prescriber's mean, as ``doctor_all`` ranks (:func:`~recsys.recommender.doctor_side.neutral_fill`)."""
    from recsys.recommender.doctor_side import neutral_fill
    from recsys.recommender.drugprofiles import neighbour_scores

    ids = split.train.user_ids[split.users]
    columns = split.items.get_indexer([str(i) for i in split.train.item_ids])
    out = {}
    for name, model in (("cf", cf), ("popularity", popularity)):
        block = np.full((len(ids), len(split.items)), np.nan)
        block[:, columns] = model.score_users(list(ids))
        out[name] = neutral_fill(block) if neutral else block
    out["graph"] = neighbour_scores(split.history, profiles.similarity(list(split.items), list(split.items)))
    return out
