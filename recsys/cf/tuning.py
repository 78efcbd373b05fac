"""Hyper-parameter search for CF models on a validation split (never the test split).

A staged grid: each stage is a small grid over some parameters, searched with the
best values of the stages before it; the criterion is validation NDCG@10 unless told
otherwise. Every trial is kept so a report can show the whole search.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from kg.errors import KGError
from recsys.cf.base import CFRecommender
from recsys.cf.evaluate import evaluate_cf
from recsys.cf.models import MODELS
from recsys.cf.split import CFSplit

__all__ = ["SEARCH_STAGES", "SearchResult", "staged_search"]

#: The default search per model: transform and capacity first, then confidence scale.
SEARCH_STAGES: dict[str, list[dict[str, list[Any]]]] = {
    "popularity": [],
    "group_popularity": [{"smoothing": [0.0, 0.05, 0.2, 1.0]}],
    "als": [{"transform": ["log1p", "bm25", "binary"], "factors": [16, 32, 64],
             "regularization": [5.0, 50.0, 200.0]},
            {"alpha": [0.5, 1.0, 2.0, 4.0]}],
    "bpr": [{"factors": [16, 32], "learning_rate": [0.05, 0.1], "iterations": [20, 50, 100]},
            {"regularization": [0.01, 0.001]}],
    "ease": [{"transform": ["log1p", "binary"], "regularization": [30.0, 100.0, 300.0, 1000.0, 3000.0]},
             {"regularization": [1500.0, 2000.0, 5000.0, 10000.0]},
             {"side_weight": [0.0, 1.0, 2.0, 4.0, 8.0]},  # user attributes as inputs (doctors)
             {"user_weight": [0.0, 0.25, 0.5, 0.75]},  # every user's rows weighed alike (n ** -g)
             {"regularization": [300.0, 500.0, 1000.0, 1500.0, 2000.0, 3000.0]},
             {"dropout": [0.0, 0.05, 0.1, 0.25]},  # EDLAE's emphasised-denoising penalty
             {"pairs": [0, 500, 1000, 2000]},  # the most shared item pairs as inputs (higher-order EASE)
             {"attribute_pairs": [0, 3000, 6000]}],  # (specialty or state, drug) combinations as inputs
    "rp3beta": [{"alpha": [0.5, 0.8, 1.0], "beta": [0.2, 0.35, 0.5, 0.7]}],
}


@dataclass
class SearchResult:
    model: str
    metric: str
    best_params: dict[str, Any]
    best_score: float
    trials: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    #: The best trial's model, fitted on the validation split's train part: whoever needs that
    #: fit next (the blend's choice on the same split) takes it instead of fitting it again.
    best_model: CFRecommender | None = field(default=None, repr=False)


def staged_search(name: str, validation: CFSplit, stages: Sequence[Mapping[str, Sequence[Any]]] | None = None,
                  fixed: Mapping[str, Any] | None = None, metric: str = "ndcg@10",
                  k: int = 10, verbose: bool = False) -> SearchResult:
    """Search ``MODELS[name]``'s parameters on ``validation`` (fit on its train, score its test part).

    ``fixed`` parameters (e.g. ``seed``) hold in every trial. Returns the best
    parameters (``fixed`` included) and every trial's metrics.

    >>> val = holdout_split(holdout_split(inter, 0.2).train, 0.2, seed=1)  # doctest: +SKIP
    >>> staged_search("als", val).best_params                              # doctest: +SKIP
    """
    if name not in MODELS:
        raise KGError(f"unknown CF model {name!r}; choose from {sorted(MODELS)}")
    stages = SEARCH_STAGES[name] if stages is None else stages
    best = dict(fixed or {})
    start = time.perf_counter()
    trials: list[dict[str, Any]] = []
    best_score, best_model = float("-inf"), None
    for stage in stages or [{}]:
        keys = list(stage)
        stage_best, stage_score, stage_model = dict(best), float("-inf"), None
        for values in itertools.product(*(stage[key] for key in keys)):
            params = {**best, **dict(zip(keys, values))}
            model = MODELS[name](**params)
            if best_model is not None and model.config() == best_model.config():
                # A stage's grid holding the best model so far (a penalty of 1000 among 1000 and
                # 300, or a default dropout of 0): its fit and score stand, the fit is not repeated.
                score, model = best_score, best_model
            else:
                model.fit(validation.train)
                result = evaluate_cf(model, validation, k=k, n_resamples=0)  # means only
                if metric not in result.means:
                    raise KGError(f"unknown metric {metric!r}; have {sorted(result.means)}")
                score = result.means[metric]
                trials.append({"params": params, **{m: round(v, 4) for m, v in result.means.items()},
                               "fit_s": round(model.fit_seconds, 2)})
                if verbose:
                    print(f"    {name} {params}: {metric} {score:.4f}", flush=True)
            if score > stage_score:
                stage_best, stage_score, stage_model = params, score, model
        best, best_score, best_model = stage_best, stage_score, stage_model
    return SearchResult(name, metric, best, best_score, trials, time.perf_counter() - start, best_model)
