"""Edge files of a user's CSV source: ids or mapped codes at both ends, relation, weight, time, attributes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kg.builder import EdgeBatch, NodeBatch, SourceData
from kg.errors import ProblemLog
from kg.mapping import DrugMapper, DrugMatch
from kg.schema import SCHEMA, EdgeType
from kg.sources._clinical import explode_matches, product_table, set_aside
from kg.sources._io import data_line_numbers, parse_datetimes, parse_numbers
from kg.sources.csv_codes import CODE_MAPS, map_column
from kg.sources.csv_ids import in_namespace, parse_node_ids
from kg.sources.csv_mapping import EdgeFileMapping

__all__ = ["edge_batches"]


def edge_batches(frame: pd.DataFrame, m: EdgeFileMapping, file: str, log: ProblemLog, data: SourceData,
                  vocabulary: str | Path | None) -> list[EdgeBatch]:
    lines = data_line_numbers(frame)
    ends = {side: _endpoint(frame, m, side, lines, log, data, file, vocabulary) for side in ("source", "target")}
    (src, src_t, src_matches), (dst, dst_t, dst_matches) = ends["source"], ends["target"]
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
        log.add(SCHEMA.undeclared(s, r, d), line=int(line))
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
        out["_row"] = rows.to_numpy()
        out = out[keep_rows.to_numpy()].reset_index(drop=True)
        batches.append(EdgeBatch(file, et, _explode_codes(out, src_matches, dst_matches, data)))
    return batches


def _endpoint(frame: pd.DataFrame, m: EdgeFileMapping, side: str, lines: pd.Series, log: ProblemLog,
              data: SourceData, file: str, vocabulary: str | Path | None
              ) -> tuple[pd.Series, pd.Series, pd.Series | None]:
    """One side's graph ids (the first, for a mapped code), node types, and each row's code match."""
    column, kind = getattr(m, side), getattr(m, f"{side}_map")
    raw = frame[column]
    if kind is None:
        ids, types = parse_node_ids(in_namespace(raw, getattr(m, f"{side}_namespace")), getattr(m, f"{side}_type"),
                                    lines, log, f"{side} id")
        return ids, types, None
    for line in lines[raw.isna()]:
        log.add(f"missing {side} ({CODE_MAPS[kind][2]}) in column {column!r}", line=int(line))
    codes = map_column(raw, kind, Path(vocabulary))  # type: ignore[arg-type]
    mapped = pd.Series(codes.mapped, index=frame.index)
    ids = pd.Series([i[0] if i else None for i in codes.ids], index=frame.index, dtype=object)
    types = pd.Series(codes.node_type, index=frame.index, dtype=object).where(mapped)
    unmapped = raw.notna() & ~mapped
    if unmapped.any():
        data.out_of_scope.append(set_aside(data.name, file, lines[unmapped], raw[unmapped].astype(str),
                                           [codes.reason(v, kind) for v in raw[unmapped]]))
    data.mapping[f"{Path(file).name}:{column}"] = codes.tally.to_dict()
    if codes.node_type == "drug":
        present = raw.notna()
        table = product_table(data.name, raw[present].astype(str).tolist(),
                              [c for c, p in zip(codes.matches, present) if p], [1] * int(present.sum()))
        data.summaries["products"] = (pd.concat([data.summaries["products"], table], ignore_index=True)
                                      if "products" in data.summaries else table)
        data.nodes.append(NodeBatch(file, DrugMapper.drug_nodes(codes.matches), implied=True))
    return ids, types, pd.Series(codes.matches, index=frame.index, dtype=object)


def _explode_codes(out: pd.DataFrame, src_matches: pd.Series | None, dst_matches: pd.Series | None,
                   data: SourceData) -> pd.DataFrame:
    """One edge per mapped id: a combination product's row becomes an edge to each ingredient."""
    for column, matches in (("src", src_matches), ("dst", dst_matches)):
        if matches is not None and len(out):
            row_matches = list(matches.loc[out["_row"]])
            prefix = "drug:" if isinstance(row_matches[0], DrugMatch) else "disease:"
            out, extra = explode_matches(out, row_matches, prefix, column)
            data.rows_expanded += extra
    return out.drop(columns="_row")


def _resolve(src_type: str, relation: str, dst_type: str) -> EdgeType | None:
    if "__" in relation:
        try:
            et = EdgeType.from_key(relation)
        except ValueError:
            return None
        return et if et in SCHEMA.relations and (et.src, et.dst) == (src_type, dst_type) else None
    return SCHEMA.resolve(src_type, relation, dst_type)
