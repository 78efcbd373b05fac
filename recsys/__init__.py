"""rxkg recommenders: GNN link prediction, collaborative filtering, hybrid ranking.

The models arrive with their issues; the shared ranking metrics live in
:mod:`recsys.metrics` so that every model is evaluated by one implementation.
"""

from recsys.metrics import hits_at_k, mean_reciprocal_rank, ranks_with_ties

__all__ = ["hits_at_k", "mean_reciprocal_rank", "ranks_with_ties"]
