"""The doctor side of the deployed recommender, fitted one way for ``rxkg train`` and for
``rxkg evaluate``'s doctor protocols.

From a prescriber x drug claim matrix: a validation split (20% of each prescriber's drugs),
the CF model chosen on it (:func:`pipelines.cfchoice.choose_cf`), within-specialty
popularity, and the blend of the two chosen on the same validation pairs
(:func:`recsys.recommender.fitting.fit_on_validation`: the logistic blend or a component
alone); the ``doctor_sparse`` blend, for prescribers with at most three known drugs, is chosen
the same way on 10% of the prescribers left out of training, each folded in from one to three of
their drugs with every other drug to find (:func:`recsys.cf.split.sparse_users`: the components
refitted without them); then both components refitted on every claim. Training calls
:func:`fit_doctors` on all of the graph's claims; an evaluation calls it on its split's training
part and scores the result, so the hybrid it reports is the one a bundle deploys.

:func:`fit_doctors_all` chooses the ``doctor_all`` weights, which rank every drug of the graph
(``recommend_for_doctor(..., candidates="all")``): on a mixed split of the claims
(:func:`pipelines.coldsplit.mixed_split`: some drugs lose every prescription, and each prescriber
20% of the others), the same CF model, within-specialty popularity and the graph component
(:mod:`recsys.recommender.people_graph`: what a drug shares with the prescriber's drugs, and the
people GNN) blended on the held-out drugs of both kinds. The graph component is fitted like the
CF model: on the validation split's training part to choose weights, on every claim to deploy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from kg.errors import KGError
from pipelines.coldsplit import MixedSplit, mixed_split
from pipelines.cfchoice import CF_CANDIDATES, QUICK_SEARCH, CFChoice, choose_cf, unvalidated_choice
from recsys.cf import CFRecommender, CFSplit, Interactions
from recsys.cf.split import new_user_split, sparse_users
from recsys.recommender.doctor_side import SPARSE_DRUGS
from recsys.recommender.people_graph import DoctorGraph, DoctorGraphRecipe

__all__ = ["DoctorFit", "fit_doctors", "fit_doctors_all", "mixed_parts", "split_parts", "blended_scores",
           "doctor_validation",
           "DOCTOR_COMPONENTS", "ALL_COMPONENTS", "MAX_VALIDATION_PRESCRIBERS"]

#: The doctor blend's components without the graph: CF and within-specialty popularity.
DOCTOR_COMPONENTS = ("cf", "popularity")
#: The ``doctor_all`` blend's: the graph scores the drugs nobody prescribes.
ALL_COMPONENTS = ("graph", "cf", "popularity")
#: Validation prescribers the blend is fitted on (a seeded sample beyond: seconds on all of CMS).
MAX_VALIDATION_PRESCRIBERS = 2000
#: Share of the prescribers left out of training to choose the ``doctor_sparse`` weights on.
SPARSE_VALIDATION_SHARE = 0.1
#: What the ``doctor_sparse`` blend is chosen on (:data:`recsys.ascent.OBJECTIVES`).
SPARSE_METRIC = "ndcg@10"


@dataclass
class DoctorFit:
    """The chosen CF model, the blend weights (the ``doctor`` kind of a recommender) with the
    record of how they were chosen, and the components fitted on every claim (the graph
    component only when a recipe for it was given); ``sparse_weights`` and ``sparse_selection``:
    the ``doctor_sparse`` kind's (the ``doctor`` ones where nothing could validate them)."""

    choice: CFChoice
    weights: dict[str, float]
    selection: dict
    cf: CFRecommender
    popularity: CFRecommender
    graph: DoctorGraph | None = None
    sparse_weights: dict[str, float] | None = None
    sparse_selection: dict | None = None

    def __post_init__(self) -> None:
        if self.sparse_weights is None:
            self.sparse_weights, self.sparse_selection = dict(self.weights), dict(self.selection)


def doctor_validation(claims: Interactions, seed: int) -> CFSplit:
    """The validation split the doctor side is chosen on: 20% of each prescriber's drugs
    (``seed + 1``, so a split carved from an evaluation's training part is not its twin)."""
    from recsys.cf import holdout_split

    return holdout_split(claims, 0.2, seed=seed + 1)


def fit_doctors(claims: Interactions, seed: int = 0, quick: bool = True, smoothing: float = 0.05,
                k: int = 10, candidates: tuple[str, ...] = CF_CANDIDATES,
                quick_search: dict[str, list[dict[str, list[Any]]]] = QUICK_SEARCH,
                recipe: DoctorGraphRecipe | None = None, choose_sparse: bool = True) -> DoctorFit:
    """Choose and fit the doctor side on ``claims`` (see the module doc); ``quick`` searches the
    CF ``candidates``' ``quick_search`` settings, else their full grids. With a ``recipe`` for the
    graph component it competes in the blend too. (The evaluation's anchor, plain EASE with
    within-specialty popularity, is this with one plain EASE setting, no graph.) ``choose_sparse``
    False skips the ``doctor_sparse`` blend (its weights are then the ``doctor`` ones), for
    evaluations that never read it: it costs a CF and a graph component fit of its own."""
    from recsys.cf import MODELS, GroupPopularityRecommender

    validation = doctor_validation(claims, seed)
    if validation.test.nnz:
        choice = choose_cf(validation, seed, quick=quick, k=k, candidates=candidates, quick_search=quick_search)
    else:  # too few prescribers to validate anything: the shipped data's choice, default weights
        choice = unvalidated_choice(candidates[0], quick_search)

    def fitted(data: Interactions) -> tuple[CFRecommender, CFRecommender]:
        search = choice.searches.get(choice.model)  # the search already fitted the choice on validation
        cf = (search.best_model if search is not None and search.best_model is not None and data is validation.train
              else MODELS[choice.model](**choice.params).fit(data))
        return cf, GroupPopularityRecommender(smoothing=smoothing).fit(data)

    weights: dict[str, float] = {"graph": 0.0, **{c: 1.0 for c in DOCTOR_COMPONENTS}}
    selection: dict = {}
    sparse: tuple[dict[str, float], dict] | None = None
    if validation.test.nnz:
        graph = recipe.fit(validation.train) if recipe is not None else None
        cf, popularity = fitted(validation.train)
        found, record = _blend_on_validation(cf, popularity, validation, seed, graph)
        weights, selection = {"graph": 0.0, **found}, record
        sparse = _sparse_blend(claims, seed, fitted, recipe) if choose_sparse else None
    return DoctorFit(choice, weights, selection, *fitted(claims), recipe.fit(claims) if recipe is not None else None,
                     *(sparse or (None, None)))


def _sparse_blend(claims: Interactions, seed: int,
                  fitted: Callable[[Interactions], tuple[CFRecommender, CFRecommender]],
                  recipe: DoctorGraphRecipe | None) -> tuple[dict[str, float], dict] | None:
    """The ``doctor_sparse`` weights and record, on prescribers the components never saw (module
    doc); None when there are too few prescribers to leave some out."""
    try:
        left_out = new_user_split(claims, SPARSE_VALIDATION_SHARE, seed + 2)  # not the main validation's draw
    except KGError:
        return None
    cut = sparse_users(left_out, SPARSE_DRUGS, seed)
    if not cut.test.nnz:
        return None
    graph = recipe.fit(cut.train) if recipe is not None else None
    # Chosen on NDCG@10 per prescriber: each has some thirty drugs to find, and MRR over pairs lets
    # the heaviest prescribers decide (it chose popularity x2 where NDCG chose CF, popularity and
    # the graph, which the test split of rxkg evaluate also prefers).
    found, record = _blend_on_validation(*fitted(cut.train), cut, seed, graph, metric=SPARSE_METRIC)
    return {"graph": 0.0, **found}, record


def _blend_on_validation(cf: CFRecommender, popularity: CFRecommender, validation: CFSplit, seed: int,
                         graph: DoctorGraph | None = None, metric: str = "mrr") -> tuple[dict[str, float], dict]:
    """Weights chosen on ``validation``'s held-out drugs (a seeded sample of its prescribers)."""
    from recsys.recommender.fitting import fit_on_validation

    n = validation.test.shape[0]
    rows = np.sort(np.random.default_rng(seed).choice(n, min(n, MAX_VALIDATION_PRESCRIBERS), replace=False))
    parts = {name: block[rows] for name, block in split_parts(cf, popularity, validation, graph).items()}
    positives = (validation.test.matrix[rows] > 0).toarray()
    usable = (validation.history.matrix[rows].toarray() == 0) | positives
    return fit_on_validation(parts, tuple(parts), positives, usable, penalty=1e-2, reference=None, seed=seed,
                             metric=metric)


def split_parts(cf: CFRecommender, popularity: CFRecommender, split: CFSplit,
                graph: DoctorGraph | None = None) -> dict[str, np.ndarray]:
    """The evaluated prescribers' raw component scores over ``split``'s drugs: CF, popularity and,
    with a ``graph`` component fitted on ``split.train``, the graph's from their history."""
    from recsys.cf.evaluate import score_split
    from recsys.people import specialties_of

    parts = {"cf": score_split(cf, split), "popularity": score_split(popularity, split)}
    if graph is not None:
        items = [str(i) for i in split.train.item_ids]
        parts["graph"] = graph.scores(split.history.matrix, items, items, specialties_of(split.history))
    return parts


def blended_scores(side: DoctorFit, split: CFSplit, weights: dict[str, float]) -> np.ndarray:
    """``split``'s evaluated prescribers scored by ``side``'s components (fitted on ``split.train``)
    blended with ``weights``: one of its weight sets, as a row of an evaluation."""
    from recsys.blend import blend_components

    return blend_components(split_parts(side.cf, side.popularity, split, side.graph), weights, False)[0]


def fit_doctors_all(claims: Interactions, recipe: DoctorGraphRecipe, partners: dict[str, frozenset[str]],
                    choice: CFChoice, seed: int = 0, smoothing: float = 0.05) -> tuple[dict[str, float], dict]:
    """The ``doctor_all`` weights and their selection record (module doc), on a mixed split of
    ``claims`` drawn with ``seed + 1``; ``recipe`` fits the graph component on its training
    part, ``choice`` is the doctor CF model."""
    from recsys.cf import MODELS, GroupPopularityRecommender
    from recsys.recommender.fitting import fit_on_validation

    split = mixed_split(claims, partners, seed + 1)
    if not len(split.users):
        return {name: 1.0 for name in ALL_COMPONENTS}, {}
    cf = MODELS[choice.model](**choice.params).fit(split.train)
    popularity = GroupPopularityRecommender(smoothing=smoothing).fit(split.train)
    n = len(split.users)
    rows = np.sort(np.random.default_rng(seed).choice(n, min(n, MAX_VALIDATION_PRESCRIBERS), replace=False))
    graph = recipe.fit(split.train)
    parts = {name: block[rows] for name, block in mixed_parts(cf, popularity, graph, split).items()}
    positives = (split.truth[rows] > 0).toarray()
    usable = (split.history[rows].toarray() == 0) | positives
    weights, record = fit_on_validation(parts, ALL_COMPONENTS, positives, usable, penalty=1e-2, reference=None,
                                        seed=seed)
    record["cold_drugs"] = len(split.cold)
    return weights, record


def mixed_parts(cf: CFRecommender, popularity: CFRecommender, graph: DoctorGraph, split: MixedSplit,
                neutral: bool = True) -> dict[str, np.ndarray]:
    """The evaluated prescribers' raw component scores over every drug of ``split.items``: CF and
    popularity fitted on ``split.train`` (NaN for the cold drugs, which they cannot know), and the
    graph component (fitted on ``split.train``) from their kept drugs. ``neutral``: the cold drugs'
    CF and popularity are each prescriber's mean, as ``doctor_all`` ranks
    (:func:`~recsys.recommender.doctor_side.neutral_fill`)."""
    from recsys.people import specialties_of
    from recsys.recommender.doctor_side import neutral_fill

    ids = split.train.user_ids[split.users]
    columns = split.items.get_indexer([str(i) for i in split.train.item_ids])
    out = {}
    for name, model in (("cf", cf), ("popularity", popularity)):
        block = np.full((len(ids), len(split.items)), np.nan)
        block[:, columns] = model.score_users(list(ids))
        out[name] = neutral_fill(block) if neutral else block
    out["graph"] = graph.scores(split.history, split.items, split.items, specialties_of(split.train)[split.users])
    return out
