"""rxkg knowledge graph: schema, sources, validation, storage, views and exports.

The first layer: ``kg`` imports nothing from :mod:`recsys` or :mod:`pipelines`. Within
it, ``schema``, ``errors`` and ``values`` come first, ``graph`` builds on them, and
``views``, ``records``, ``io``, ``sources``, ``mapping`` and ``export`` build on the graph.
"""

from kg.errors import KGError, KGValidationError, Problem
from kg.graph import KnowledgeGraph
from kg.io import read_graph, write_graph
from kg.schema import SCHEMA, EdgeType, make_id, split_id
from kg.version import __version__
from kg.views import to_hetero_data, to_networkx

__all__ = [
    "EdgeType",
    "KGError",
    "KGValidationError",
    "KnowledgeGraph",
    "Problem",
    "SCHEMA",
    "__version__",
    "make_id",
    "read_graph",
    "split_id",
    "to_hetero_data",
    "to_networkx",
    "write_graph",
]
