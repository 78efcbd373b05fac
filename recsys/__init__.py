"""rxkg recommenders: disease -> drug link prediction and doctor/patient -> drug CF; the hybrid follows.

Three packages over shared modules, imported in this order only:
``recsys.metrics``, ``recsys.blend``, ``recsys.logistic`` (shared) -> ``recsys.link`` (link prediction)
and ``recsys.cf`` (collaborative filtering), which never import each other ->
``recsys.recommender`` (what users call). ``recsys`` imports :mod:`kg`, never :mod:`pipelines`.

Everything shares one contract (:class:`recsys.link.scorer.LinkScorer`: ``fit(task)``,
``score_matrix``, ``recommend(ids, k)``) and one evaluator
(:func:`recsys.link.evaluate.evaluate_scorer`), so comparing models is one call::

    from recsys import split_links, LinkTask, GNNScorer, MetapathModel, evaluate_scorer
    task = LinkTask.from_split(split_links(graph, "zero_shot", seed=0))
    evaluate_scorer(MetapathModel().fit(task), task, "test")

Model classes load lazily: importing :mod:`recsys` for metrics does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from recsys.metrics import hits_at_k, mean_reciprocal_rank, ranks_with_ties

_LAZY = {
    "split_links": "recsys.link.split", "LinkSplit": "recsys.link.split",
    "LinkTask": "recsys.link.task",
    "evaluate_scorer": "recsys.link.evaluate", "LinkMetrics": "recsys.link.evaluate",
    "LinkScorer": "recsys.link.scorer",
    "DegreePrior": "recsys.link.priors",
    "MetapathModel": "recsys.link.metapath",
    "KGEScorer": "recsys.link.kge", "KGEConfig": "recsys.link.kge",
    "GNNScorer": "recsys.link.gnn", "GNNConfig": "recsys.link.gnn",
    "StackedScorer": "recsys.link.stacking",
    "Interactions": "recsys.cf", "doctor_drug_interactions": "recsys.cf",
    "patient_drug_interactions": "recsys.cf", "holdout_split": "recsys.cf",
    "unseen_user_split": "recsys.cf", "ALSRecommender": "recsys.cf", "BPRRecommender": "recsys.cf",
    "PopularityRecommender": "recsys.cf", "GroupPopularityRecommender": "recsys.cf",
    "EASERecommender": "recsys.cf", "RP3betaRecommender": "recsys.cf",
    "CFRecommender": "recsys.cf", "evaluate_cf": "recsys.cf.evaluate",
    "profile_doctor": "recsys.cf.profile",
    "Recommender": "recsys.recommender.api", "Recommendation": "recsys.recommender.results",
    "SafetyFilter": "recsys.recommender.safety", "PathExplainer": "recsys.recommender.explain",
}

__all__ = ["hits_at_k", "mean_reciprocal_rank", "ranks_with_ties", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'recsys' has no attribute {name!r}")
