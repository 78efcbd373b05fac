"""A user's own CSV/TSV files, described by a small TOML mapping (:mod:`kg.sources.csv_mapping`).

Node files become nodes, edge files edges; every problem names the file and line.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kg.builder import NodeBatch, SourceData
from kg.errors import KGError, ProblemLog
from kg.sources._io import check_text, data_line_numbers, read_table, records_read
from kg.sources.csv_edges import edge_batches
from kg.sources.csv_ids import in_namespace, parse_node_ids
from kg.sources.csv_mapping import CsvMapping, EdgeFileMapping, NodeFileMapping, load_csv_mapping
from kg.schema import NODE_TYPES

__all__ = ["NodeFileMapping", "EdgeFileMapping", "CsvMapping", "load_csv_mapping", "load_csv_source",
           "parse_node_ids"]


def load_csv_source(mapping: str | Path | CsvMapping, name: str = "csv",
                    vocabulary: str | Path | None = None) -> SourceData:
    """Load every file a mapping describes; ``vocabulary`` maps the columns given a ``*_map``."""
    if not isinstance(mapping, CsvMapping):
        mapping = load_csv_mapping(mapping)
    coded = [e.file for e in mapping.edges if e.source_map or e.target_map]
    if coded and vocabulary is None:
        raise KGError(f"source {name!r}: {coded[0]} maps codes (source_map/target_map) but the source has no "
                      f"code vocabulary; give it 'vocabulary' in the build config")
    data = SourceData(name=name)
    for m in mapping.nodes:
        path = mapping.base_dir / Path(m.file).expanduser()
        data.files.append(str(path))
        log = ProblemLog(str(path), name)
        frame = _read_mapped(path, m.columns(), m.ignore, m.delimiter, log)
        if frame is not None:
            data.rows_read += records_read(frame)
            data.nodes.append(NodeBatch(str(path), _node_records(frame, m, log)))
        data.problems += log.problems
    for e in mapping.edges:
        path = mapping.base_dir / Path(e.file).expanduser()
        data.files.append(str(path))
        log = ProblemLog(str(path), name)
        frame = _read_mapped(path, e.columns(), e.ignore, e.delimiter, log)
        if frame is not None:
            data.rows_read += records_read(frame)
            data.edges += edge_batches(frame, e, str(path), log, data, vocabulary)
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


def _node_records(frame: pd.DataFrame, m: NodeFileMapping, log: ProblemLog) -> pd.DataFrame:
    lines = data_line_numbers(frame)
    raw = in_namespace(frame[m.id], m.namespace)
    if m.type is not None:
        declared = frame[m.type]
        unknown = declared.notna() & ~declared.isin(NODE_TYPES)
        for line, value in zip(lines[unknown], declared[unknown]):
            log.add(f"unknown node type {value!r}; known: {list(NODE_TYPES)}", line=int(line))
        for line in lines[declared.isna()]:
            log.add(f"missing node type in column {m.type!r}", line=int(line))
        # Rows whose type is already reported are not parsed further (one problem per row).
        typed = declared.notna() & ~unknown
        ids, types = parse_node_ids(raw[typed], declared[typed], lines[typed], log, "node id")
        ids, types = ids.reindex(frame.index), types.reindex(frame.index)
    else:
        ids, types = parse_node_ids(raw, m.node_type, lines, log, "node id")
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
