"""The CF models by name: what the evaluation scripts and the training configuration choose from."""

from __future__ import annotations

from recsys.cf.base import CFRecommender
from recsys.cf.ease import EASERecommender
from recsys.cf.factors import ALSRecommender, BPRRecommender
from recsys.cf.itemitem import RP3betaRecommender
from recsys.cf.popularity import GroupPopularityRecommender, PopularityRecommender

__all__ = ["MODELS"]

MODELS: dict[str, type[CFRecommender]] = {
    "popularity": PopularityRecommender,
    "group_popularity": GroupPopularityRecommender,
    "als": ALSRecommender,
    "bpr": BPRRecommender,
    "ease": EASERecommender,
    "rp3beta": RP3betaRecommender,
}
