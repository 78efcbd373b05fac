"""The people GNN: drugs embedded from the knowledge graph, prescribers from their drugs.

``model`` and ``train`` hold the torch model and its training; ``scorer`` the trained model as
plain arrays, which is all that serving reads (importing this package does not import torch).
"""

from recsys.people.config import PeopleGNNConfig
from recsys.people.scorer import PeopleScorer, specialties_of

__all__ = ["PeopleGNNConfig", "PeopleScorer", "specialties_of"]
