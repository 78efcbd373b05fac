"""What a loader hands the builder: node and edge records per file, still carrying their lines."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from kg.errors import Problem
from kg.schema import EdgeType

__all__ = ["NodeBatch", "EdgeBatch", "SourceData", "LINE", "FILE", "SOURCE", "RECORDS"]

LINE = "_line"
FILE = "_file"
SOURCE = "_source"
#: Optional column: how many input rows or triples a record stands for (RDF folds several into one).
RECORDS = "_records"


@dataclass
class NodeBatch:
    """Node records from one file; ``frame`` has ``id``, ``type``, ``name``, attributes, ``_line``.

    ``annotate_only`` batches add attributes to nodes another source creates; a row
    whose node no source creates is out of scope. ``implied`` batches are nodes a
    source's edges need but no row of it describes (a DrugBank drug a prescription
    maps to): they are created if absent and counted apart from the rows read.
    """

    file: str
    frame: pd.DataFrame
    annotate_only: bool = False
    implied: bool = False


@dataclass
class EdgeBatch:
    """Edge records of one type from one file; ``frame`` has ``src``, ``dst``, attributes, ``_line``.

    With ``restrict_to_graph`` an edge whose endpoint is not in the graph is out of
    scope (reported, not an error): reference tables such as DrugBank's cover far
    more drugs than a graph holds.
    """

    file: str
    edge_type: EdgeType
    frame: pd.DataFrame
    restrict_to_graph: bool = False


@dataclass
class SourceData:
    """Everything one source contributed, before graph-level validation."""

    name: str
    nodes: list[NodeBatch] = field(default_factory=list)
    edges: list[EdgeBatch] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: Tables summarising records already counted elsewhere (the ``products`` a loader's
    #: rows named): kept with the graph, never counted as rows read.
    summaries: dict[str, pd.DataFrame] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    rows_read: int = 0
    files: list[str] = field(default_factory=list)
    #: Valid rows the loader itself set aside as outside the graph (source, file, line, record, reason).
    out_of_scope: list[pd.DataFrame] = field(default_factory=list)
    #: Extra edge records beyond one per row (a combination product's second ingredient, ...).
    rows_expanded: int = 0
    #: Mapping rates of the source's codes, by field (see :class:`kg.mapping.MappingTally`).
    mapping: dict[str, dict[str, object]] = field(default_factory=dict)
