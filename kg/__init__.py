"""rxkg knowledge graph: schema, sources, validation, storage, views and exports."""

from kg.errors import KGError, KGValidationError, Problem
from kg.graph import KnowledgeGraph
from kg.io import read_graph, write_graph
from kg.schema import SCHEMA, EdgeType, make_id, split_id

__version__ = "0.1.0"

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
    "write_graph",
]
