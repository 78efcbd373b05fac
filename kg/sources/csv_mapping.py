"""A user's own CSV/TSV files, described by a small TOML mapping.

A mapping lists node files and edge files and says which column holds what::

    [[nodes]]
    file = "drugs.csv"
    id = "drugbank_id"
    node_type = "drug"          # fixed type, or `type = "kind"` for a column of types
    # namespace = "NPI"         # un-namespaced ids get it (a roster of prescribers by NPI)
    name = "name"
    attributes = ["atc_codes"]  # copied as node attributes
    ignore = ["comment"]        # read but deliberately not loaded

    [[edges]]
    file = "indications.csv"
    source = "drug"
    target = "disease"
    relation = "treats"         # fixed relation, or `relation_column = "rel"`
    source_type = "drug"        # needed only when ids are not namespaced (TYPE:ID)
    target_type = "disease"
    # source_namespace = "NPI"  # un-namespaced ids get it: 1386962785 -> doctor:NPI:1386962785
    # target_map = "drug_name"  # or rxnorm, ndc (drugs); disease_name, icd9, icd10, snomed (diseases)
    weight = "score"            # optional column names
    time = "date"
    attributes = []

Every column of a file must be mapped or listed under ``ignore``; an unmapped
column is an error, so a renamed or added column never goes unnoticed. File paths
are relative to the mapping file. ``source_map``/``target_map`` read names or codes
instead of graph ids, through the build's code vocabulary (:mod:`kg.sources.csv_codes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kg.errors import KGError
from kg.schema import NODE_TYPES, SCHEMA
from kg.sources.csv_codes import CODE_MAPS
from kg.tomlfile import check_types, read_toml

__all__ = ["NodeFileMapping", "EdgeFileMapping", "CsvMapping", "load_csv_mapping"]


@dataclass(frozen=True)
class NodeFileMapping:
    file: str
    id: str
    type: str | None = None
    node_type: str | None = None
    namespace: str | None = None
    name: str | None = None
    attributes: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    delimiter: str | None = None

    def columns(self) -> list[str]:
        cols = [self.id] + [c for c in (self.type, self.name) if c] + list(self.attributes)
        return cols


@dataclass(frozen=True)
class EdgeFileMapping:
    file: str
    source: str
    target: str
    relation: str | None = None
    relation_column: str | None = None
    source_type: str | None = None
    target_type: str | None = None
    source_namespace: str | None = None
    target_namespace: str | None = None
    source_map: str | None = None
    target_map: str | None = None
    weight: str | None = None
    time: str | None = None
    attributes: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    delimiter: str | None = None

    def columns(self) -> list[str]:
        named = (self.relation_column, self.weight, self.time)
        return [self.source, self.target] + [c for c in named if c] + list(self.attributes)


@dataclass(frozen=True)
class CsvMapping:
    nodes: tuple[NodeFileMapping, ...] = ()
    edges: tuple[EdgeFileMapping, ...] = ()
    base_dir: Path = field(default_factory=Path)


def load_csv_mapping(path: str | Path) -> CsvMapping:
    """Parse and check a mapping file; mistakes raise :class:`KGError` naming the file and entry."""
    path = Path(path)
    raw = read_toml(path, "mapping file")
    unknown = set(raw) - {"nodes", "edges"}
    if unknown:
        raise KGError(f"{path}: unknown section(s) {sorted(unknown)}; expected [[nodes]] and [[edges]]")
    nodes = tuple(_entry(NodeFileMapping, e, path, "nodes", i) for i, e in enumerate(raw.get("nodes", [])))
    edges = tuple(_entry(EdgeFileMapping, e, path, "edges", i) for i, e in enumerate(raw.get("edges", [])))
    if not nodes and not edges:
        raise KGError(f"{path}: mapping lists no [[nodes]] or [[edges]] files")
    for i, n in enumerate(nodes):
        where = f"{path}: [[nodes]] entry {i + 1} ({n.file})"
        if (n.type is None) == (n.node_type is None):
            raise KGError(f"{where}: give exactly one of 'type' (a column) or 'node_type' (fixed)")
        if n.node_type is not None and n.node_type not in NODE_TYPES:
            raise KGError(f"{where}: node_type {n.node_type!r} is not in the schema; known: {list(NODE_TYPES)}")
    for i, e in enumerate(edges):
        where = f"{path}: [[edges]] entry {i + 1} ({e.file})"
        if (e.relation is None) == (e.relation_column is None):
            raise KGError(f"{where}: give exactly one of 'relation' (fixed) or 'relation_column'")
        for t in (e.source_type, e.target_type):
            if t is not None and t not in NODE_TYPES:
                raise KGError(f"{where}: node type {t!r} is not in the schema")
        for side in ("source", "target"):
            kind = getattr(e, f"{side}_map")
            if kind is None:
                continue
            if kind not in CODE_MAPS:
                raise KGError(f"{where}: {side}_map {kind!r} is not a code system; known: {list(CODE_MAPS)}")
            declared = getattr(e, f"{side}_type")
            if declared is not None and declared != CODE_MAPS[kind][0]:
                raise KGError(f"{where}: {side}_map {kind!r} yields {CODE_MAPS[kind][0]} ids, "
                              f"but {side}_type is {declared!r}")
            if getattr(e, f"{side}_namespace") is not None:
                raise KGError(f"{where}: give {side}_map or {side}_namespace, not both")
        if e.relation is not None and e.relation not in _relation_words():
            raise KGError(f"{where}: relation {e.relation!r} is not in the schema; "
                          f"known: {sorted(SCHEMA.relation_names())}")
    return CsvMapping(nodes, edges, path.parent)


def _entry(cls: type, entry: Any, path: Path, section: str, index: int) -> Any:
    if not isinstance(entry, dict):
        raise KGError(f"{path}: [[{section}]] entry {index + 1} is not a table")
    fields = set(cls.__dataclass_fields__)
    unknown = set(entry) - fields
    if unknown:
        raise KGError(f"{path}: [[{section}]] entry {index + 1}: unknown key(s) {sorted(unknown)}; "
                      f"allowed: {sorted(fields)}")
    missing = [f for f in ("file", "id", "source", "target") if f in fields and f not in entry]
    if missing:
        raise KGError(f"{path}: [[{section}]] entry {index + 1}: missing key(s) {missing}")
    return cls(**check_types(cls, entry, f"{path}: [[{section}]] entry {index + 1}"))


def _relation_words() -> set[str]:
    return SCHEMA.relation_names() | {et.key for et in SCHEMA.edge_types}
