"""A user's own CSV/TSV files, described by a small TOML mapping.

A mapping lists node files and edge files and says which column holds what::

    [[nodes]]
    file = "drugs.csv"
    id = "drugbank_id"
    node_type = "drug"          # fixed type, or `type = "kind"` for a column of types
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
    weight = "score"            # optional column names
    time = "date"
    attributes = []

Every column of a file must be mapped or listed under ``ignore``; an unmapped
column is an error, so a renamed or added column never goes unnoticed. File paths
are relative to the mapping file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from kg.builder import EdgeBatch, NodeBatch, SourceData
from kg.errors import KGError, ProblemLog
from kg.schema import NODE_TYPES, SCHEMA, EdgeType, make_id
from kg.sources._io import (CONTROL_CHARS, check_text, data_line_numbers, parse_datetimes, parse_numbers,
                            read_table, records_read)
from kg.tomlfile import check_types, read_toml

__all__ = ["NodeFileMapping", "EdgeFileMapping", "CsvMapping", "load_csv_mapping", "load_csv_source",
           "parse_node_ids"]


@dataclass(frozen=True)
class NodeFileMapping:
    file: str
    id: str
    type: str | None = None
    node_type: str | None = None
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


def load_csv_source(mapping: str | Path | CsvMapping, name: str = "csv") -> SourceData:
    """Load every file a mapping describes."""
    if not isinstance(mapping, CsvMapping):
        mapping = load_csv_mapping(mapping)
    data = SourceData(name=name)
    for m in mapping.nodes:
        path = mapping.base_dir / m.file
        data.files.append(str(path))
        log = ProblemLog(str(path), name)
        frame = _read_mapped(path, m.columns(), m.ignore, m.delimiter, log)
        if frame is not None:
            data.rows_read += records_read(frame)
            data.nodes.append(NodeBatch(str(path), _node_records(frame, m, log)))
        data.problems += log.problems
    for e in mapping.edges:
        path = mapping.base_dir / e.file
        data.files.append(str(path))
        log = ProblemLog(str(path), name)
        frame = _read_mapped(path, e.columns(), e.ignore, e.delimiter, log)
        if frame is not None:
            data.rows_read += records_read(frame)
            data.edges += _edge_batches(frame, e, str(path), log)
        data.problems += log.problems
    return data


def _read_mapped(path: Path, columns: list[str], ignore: tuple[str, ...], delimiter: str | None,
                 log: ProblemLog) -> pd.DataFrame | None:
    frame = read_table(path, log, required=columns, sep=delimiter)
    if frame is None:
        return None
    unmapped = [c for c in frame.columns if c not in columns and c not in ignore]
    if unmapped:
        log.add(f"unmapped column(s) {unmapped}: map them as attributes or list them under 'ignore'",
                line=1, whole_file=True)
        return None
    return frame


def parse_node_ids(raw: pd.Series, declared: pd.Series | str | None, lines: pd.Series,
                   log: ProblemLog, what: str) -> tuple[pd.Series, pd.Series]:
    """Namespaced ids and their types from raw ids and a declared type (fixed, per row, or none).

    Returns ``(ids, types)``; rows with a problem get nulls.
    """
    prefix = raw.str.split(":", n=1).str[0]
    prefix_is_type = _type_prefixed(raw)
    if declared is None:
        types = prefix.where(prefix_is_type)
        bad = raw.notna() & types.isna()
        for line, value in zip(lines[bad], raw[bad]):
            log.add(f"{what} {value!r}: cannot tell its node type; use a namespaced id (TYPE:ID) "
                    f"or give the type in the mapping", line=int(line))
    else:
        types = pd.Series(declared, index=raw.index) if isinstance(declared, str) else declared
        clash = raw.notna() & prefix_is_type & (prefix != types)
        for line, value, t in zip(lines[clash], raw[clash], types[clash]):
            log.add(f"{what} {value!r} is namespaced as another type than {t!r}", line=int(line))
        types = types.where(~clash)
    missing = raw.isna()
    for line in lines[missing]:
        log.add(f"missing {what}", line=int(line))
    text = raw.fillna("").astype(str)
    local = text.where(~prefix_is_type, text.str.extract(r":(.*)$", expand=False).fillna(""))
    malformed = pd.Series(None, index=raw.index, dtype=object)
    malformed[raw.notna() & (text != text.str.strip())] = "has leading or trailing spaces"
    malformed[raw.notna() & malformed.isna() & text.str.contains(CONTROL_CHARS)] = "contains a control character"
    malformed[raw.notna() & malformed.isna() & (local.str.strip() == "")] = "is empty after its namespace"
    for line, value, reason in zip(lines[malformed.notna()], raw[malformed.notna()], malformed[malformed.notna()]):
        log.add(f"{what} {value!r} {reason}", line=int(line))
    ok = types.notna() & raw.notna() & malformed.isna()
    ids = pd.Series([make_id(t, r) if k else None for t, r, k in zip(types, raw, ok)],
                    index=raw.index, dtype=object)
    return ids, types.where(ok)


def _in_namespace(raw: pd.Series, namespace: str | None) -> pd.Series:
    """Ids without a type prefix or the namespace get ``namespace:`` (an NPI column -> ``NPI:<npi>``)."""
    if namespace is None:
        return raw
    text = raw.astype("string")
    done = _type_prefixed(text) | text.str.startswith(namespace + ":")
    return raw.where(raw.isna() | done.fillna(False), namespace + ":" + text)


def _type_prefixed(raw: pd.Series) -> pd.Series:
    """Whether each id starts with a node type and a colon (``drug:DB00945``)."""
    return raw.str.split(":", n=1).str[0].isin(NODE_TYPES) & raw.str.contains(":", regex=False)


def _node_records(frame: pd.DataFrame, m: NodeFileMapping, log: ProblemLog) -> pd.DataFrame:
    lines = data_line_numbers(frame)
    if m.type is not None:
        declared = frame[m.type]
        unknown = declared.notna() & ~declared.isin(NODE_TYPES)
        for line, value in zip(lines[unknown], declared[unknown]):
            log.add(f"unknown node type {value!r}; known: {list(NODE_TYPES)}", line=int(line))
        for line in lines[declared.isna()]:
            log.add(f"missing node type in column {m.type!r}", line=int(line))
        # Rows whose type is already reported are not parsed further (one problem per row).
        typed = declared.notna() & ~unknown
        ids, types = parse_node_ids(frame.loc[typed, m.id], declared[typed], lines[typed], log, "node id")
        ids, types = ids.reindex(frame.index), types.reindex(frame.index)
    else:
        ids, types = parse_node_ids(frame[m.id], m.node_type, lines, log, "node id")
    ok = ids.notna()
    for col in [m.name, *m.attributes] if m.name else list(m.attributes):
        ok &= ~check_text(frame[col], lines, col, log)
    out = pd.DataFrame({"id": ids[ok], "type": types[ok],
                        "name": frame.loc[ok, m.name] if m.name else None})
    for col in m.attributes:
        if col in ("id", "type", "name"):
            log.add(f"attribute column {col!r} clashes with a reserved node column", line=1)
            continue
        out[col] = frame.loc[ok, col]
    out["_line"] = lines[ok]
    return out.reset_index(drop=True)


def _edge_batches(frame: pd.DataFrame, m: EdgeFileMapping, file: str, log: ProblemLog) -> list[EdgeBatch]:
    lines = data_line_numbers(frame)
    src, src_t = parse_node_ids(_in_namespace(frame[m.source], m.source_namespace), m.source_type, lines, log,
                                "source id")
    dst, dst_t = parse_node_ids(_in_namespace(frame[m.target], m.target_namespace), m.target_type, lines, log,
                                "target id")
    relation = (pd.Series(m.relation, index=frame.index) if m.relation is not None
                else frame[m.relation_column])
    ok = src.notna() & dst.notna()
    no_rel = ok & relation.isna()
    for line in lines[no_rel]:
        log.add(f"missing relation in column {m.relation_column!r}", line=int(line))
    ok &= ~no_rel
    edge_types = pd.Series([_resolve(s, r, d) if k else None
                            for s, r, d, k in zip(src_t, relation, dst_t, ok)], index=frame.index)
    undeclared = ok & edge_types.isna()
    for line, s, r, d in zip(lines[undeclared], src_t[undeclared], relation[undeclared], dst_t[undeclared]):
        log.add(f"relation ({s}, {r}, {d}) is not in the schema", line=int(line))
    ok &= ~undeclared

    parsed: dict[str, pd.Series] = {}
    bad_value = pd.Series(False, index=frame.index)
    if m.weight:
        parsed["weight"] = parse_numbers(frame[m.weight], lines, m.weight, log, minimum=0.0)
        bad_value |= frame[m.weight].notna() & parsed["weight"].isna()
    if m.time:
        parsed["time"] = parse_datetimes(frame[m.time], lines, m.time, log)
        bad_value |= frame[m.time].notna() & parsed["time"].isna()
    ok &= ~bad_value

    batches = []
    for et, rows in edge_types[ok].groupby(edge_types[ok].map(lambda e: e.key)).groups.items():
        et = EdgeType.from_key(et)
        spec = SCHEMA.spec(et)
        sub = frame.loc[rows]
        out = pd.DataFrame({"src": src[rows].to_numpy(), "dst": dst[rows].to_numpy()})
        keep_rows = pd.Series(True, index=rows)
        for name, series in parsed.items():
            values = series[rows]
            if values.notna().any() and name not in spec.attributes:
                for line in lines[rows][values.notna()]:
                    log.add(f"relation {et} takes no {name!r} (declared: {sorted(spec.attributes)})", line=int(line))
                keep_rows &= values.isna()
            out[name] = values.to_numpy()
        for col in m.attributes:
            values = sub[col]
            if values.notna().any() and col not in spec.attributes:
                for line in lines[rows][values.notna()]:
                    log.add(f"relation {et} takes no attribute {col!r} (declared: {sorted(spec.attributes)})",
                            line=int(line))
                keep_rows &= values.isna()
                continue
            dtype = spec.attributes.get(col, "str")
            if dtype in ("float", "int"):
                conv = parse_numbers(values, lines[rows], col, log, integer=dtype == "int")
                keep_rows &= ~(values.notna() & conv.isna())
            elif dtype == "datetime":
                conv = parse_datetimes(values, lines[rows], col, log)
                keep_rows &= ~(values.notna() & conv.isna())
            else:
                conv = values
            if values.notna().any():
                out[col] = conv.to_numpy()
        out["_line"] = lines[rows].to_numpy()
        out = out[keep_rows.to_numpy()].reset_index(drop=True)
        batches.append(EdgeBatch(file, et, out))
    return batches


def _resolve(src_type: str, relation: str, dst_type: str) -> EdgeType | None:
    if "__" in relation:
        try:
            et = EdgeType.from_key(relation)
        except ValueError:
            return None
        return et if et in SCHEMA.relations and (et.src, et.dst) == (src_type, dst_type) else None
    return SCHEMA.resolve(src_type, relation, dst_type)
