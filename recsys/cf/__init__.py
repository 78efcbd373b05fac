"""Collaborative filtering on ``implicit``: doctor x drug and patient x drug.

Holds the interaction matrices and their splits, one model contract (``base``), the
factor models (``factors``), popularity baselines, confidence transforms, tuning,
evaluation and doctor profiles. May import :mod:`kg` and :mod:`recsys.metrics`; never
:mod:`recsys.link` or :mod:`recsys.recommender`.

>>> from recsys.cf import ALSRecommender, doctor_drug_interactions, holdout_split
>>> train, history, test = holdout_split(doctor_drug_interactions(graph), 0.2)  # doctest: +SKIP
>>> ALSRecommender().fit(train).recommend(list(test.user_ids[:2]), k=5)         # doctest: +SKIP
"""

from recsys.cf.base import CFRecommender, top_k
from recsys.cf.confidence import ConfidenceTransform
from recsys.cf.ease import EASERecommender
from recsys.cf.factors import ALSRecommender, BPRRecommender
from recsys.cf.interactions import (
                                    Interactions,
                                    doctor_drug_interactions,
                                    patient_drug_interactions,
)
from recsys.cf.itemitem import RP3betaRecommender
from recsys.cf.models import MODELS
from recsys.cf.popularity import GroupPopularityRecommender, PopularityRecommender
from recsys.cf.split import CFSplit, holdout_split, unseen_user_split

__all__ = ["CFRecommender", "top_k", "ConfidenceTransform", "ALSRecommender", "BPRRecommender",
           "Interactions", "doctor_drug_interactions", "patient_drug_interactions", "MODELS",
           "GroupPopularityRecommender", "PopularityRecommender", "CFSplit", "holdout_split",
           "unseen_user_split", "EASERecommender", "RP3betaRecommender"]
