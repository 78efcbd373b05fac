"""Assemble source records into one validated :class:`~kg.graph.KnowledgeGraph`.

Loaders turn files into :class:`SourceData` (node and edge batches that still carry
their file and line numbers). :class:`GraphBuilder` merges them and checks what
only the whole graph can show: edges whose endpoint does not exist, and the same
node described twice with conflicting attributes. Every rejected record becomes a
:class:`~kg.errors.Problem`; records that are valid but outside the graph's scope
(an interaction between two drugs that are not in the graph) are kept apart as
out-of-scope, with their reason, never silently dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from kg.accounting import SourceStats, contributed, tally, weights, withdraw_rejected
from kg.batches import FILE, LINE, RECORDS, SOURCE, EdgeBatch, NodeBatch, SourceData
from kg.episodes import open_max
from kg.errors import KGValidationError, Policy, Problem, rejected_records
from kg.graph import KnowledgeGraph
from kg.schema import NODE_TYPE_ORDER, SCHEMA, EdgeType

__all__ = ["NodeBatch", "EdgeBatch", "SourceData", "SourceStats", "BuildOutcome", "GraphBuilder"]

@dataclass
class BuildOutcome:
    graph: KnowledgeGraph
    stats: dict[str, SourceStats]
    problems: list[Problem]
    out_of_scope: pd.DataFrame


class GraphBuilder:
    """Collects :class:`SourceData` and builds the graph under one policy.

    >>> builder = GraphBuilder()
    >>> builder.add(load_hetionet(...))          # doctest: +SKIP
    >>> outcome = builder.build(policy="strict")  # doctest: +SKIP
    """

    def __init__(self) -> None:
        self._sources: list[SourceData] = []

    def add(self, data: SourceData) -> None:
        if any(s.name == data.name for s in self._sources):
            raise ValueError(f"source {data.name!r} added twice")
        self._sources.append(data)

    def build(self, policy: Policy = "strict") -> BuildOutcome:
        if policy not in ("strict", "quarantine"):
            raise ValueError(f"policy must be 'strict' or 'quarantine', got {policy!r}")
        stats = {s.name: SourceStats(files=list(s.files), rows_read=s.rows_read,
                                     rows_expanded=s.rows_expanded, mapping=dict(s.mapping))
                 for s in self._sources}
        problems: list[Problem] = [p for s in self._sources for p in s.problems]
        for s in self._sources:
            stats[s.name].rows_expanded -= withdraw_rejected(s)
        out_of_scope: list[pd.DataFrame] = []
        for s in self._sources:
            for frame in s.out_of_scope:
                out_of_scope.append(frame)
                stats[s.name].out_of_scope += len(frame)

        nodes = self._merge_nodes(stats, problems, out_of_scope)
        # Object (not Arrow) indexes: Arrow's isin walks the lookup values one Python string at a time.
        ids_by_type = {t: pd.Index(g["id"].to_numpy(dtype=object)) for t, g in nodes.groupby("type", sort=False)}
        edges, episodes = self._merge_edges(ids_by_type, stats, problems, out_of_scope)
        tables: dict[str, pd.DataFrame] = dict(episodes)  # derived from the edges' counted rows
        for s in self._sources:
            for name, table in s.tables.items():
                tables[name] = pd.concat([tables[name], table], ignore_index=True) if name in tables \
                    else table.reset_index(drop=True)
                stats[s.name].table_rows += len(table)
            for name, table in s.summaries.items():  # derived from counted rows: not counted again
                tables[name] = pd.concat([tables[name], table], ignore_index=True) if name in tables \
                    else table.reset_index(drop=True)

        by_source: dict[str, list[Problem]] = {}
        for p in problems:
            by_source.setdefault(p.source, []).append(p)
        for name, found in by_source.items():
            if name in stats:
                stats[name].rejected = rejected_records(found)
        if policy == "strict" and problems:
            raise KGValidationError(problems)
        empty = [name for name, st in stats.items() if by_source.get(name) and not contributed(st)]
        if empty:  # quarantine keeps good records; a source with none left is a failure, not a build
            problems += [Problem(", ".join(stats[name].files) or name, "every record of this source was "
                                 "rejected: nothing of it would be in the graph", source=name, whole_file=True)
                         for name in empty]
            raise KGValidationError(problems)
        oos = (pd.concat(out_of_scope, ignore_index=True) if out_of_scope
               else pd.DataFrame(columns=["source", "file", "line", "record", "reason"]))
        return BuildOutcome(KnowledgeGraph(nodes, edges, tables), stats, problems, oos)

    # ------------------------------------------------------------------ nodes
    def _merge_nodes(self, stats: dict[str, SourceStats], problems: list[Problem],
                     out_of_scope: list[pd.DataFrame]) -> pd.DataFrame:
        created, annotations, implied = [], [], []
        for s in self._sources:
            for batch in s.nodes:
                frame = batch.frame.assign(**{FILE: batch.file, SOURCE: s.name})
                if batch.implied:
                    implied.append(frame)
                else:
                    (annotations if batch.annotate_only else created).append(frame)
        if not created and not implied:
            return pd.DataFrame({"id": pd.Series(dtype=object), "type": pd.Series(dtype=object),
                                 "name": pd.Series(dtype=object)})
        pool = pd.concat(created, ignore_index=True) if created else None
        if implied:
            # Implied nodes fill gaps only: a node any source describes keeps that description.
            extra = pd.concat(implied, ignore_index=True).drop_duplicates("id")
            if pool is not None:
                extra = extra[~extra["id"].isin(pool["id"])]
            tally(stats, "nodes_implied", extra)
            extra = extra.assign(**{LINE: None, "_implied": True})
            pool = extra if pool is None else pd.concat([pool, extra], ignore_index=True)
        created_ids = pd.Index(pool["id"].unique())
        if annotations:
            extra = pd.concat(annotations, ignore_index=True)
            inside = extra["id"].isin(created_ids)
            if (~inside).any():
                out_of_scope.append(_oos_records(extra[~inside], "id", "node not created by any source"))
                tally(stats, "out_of_scope", extra.loc[~inside])
            tally(stats, "nodes_annotated", extra.loc[inside])
            pool = pd.concat([pool.assign(_annotation=False), extra[inside].assign(_annotation=True)],
                             ignore_index=True)

        merged, rejected_rows, dup_rows = _merge_duplicates(pool, ["id"], problems, "node")
        dup_created = pool.loc[dup_rows]
        if "_annotation" in pool.columns:
            dup_created = dup_created[~dup_created["_annotation"].astype(bool)]
        tally(stats, "duplicates_merged", dup_created)
        merged = merged.drop(columns=[LINE, FILE, SOURCE, RECORDS, "_annotation", "_implied"], errors="ignore")
        # Rejected and merged-away rows are never the first of their id, so the rest is one per node.
        counted = ~pool.index.isin(rejected_rows) & ~pool.index.isin(dup_rows)
        if "_implied" in pool.columns:
            counted &= pool["_implied"].isna().to_numpy()
        tally(stats, "nodes_loaded", pool.loc[counted])
        order = merged["type"].map(NODE_TYPE_ORDER).fillna(len(NODE_TYPE_ORDER))
        merged = merged.assign(_order=order).sort_values(["_order", "id"], kind="stable")
        return merged.drop(columns="_order").reset_index(drop=True)

    # ------------------------------------------------------------------ edges
    def _merge_edges(self, ids_by_type: dict[str, pd.Index], stats: dict[str, SourceStats],
                     problems: list[Problem],
                     out_of_scope: list[pd.DataFrame]
                     ) -> tuple[dict[EdgeType, pd.DataFrame], dict[str, pd.DataFrame]]:
        """The merged edges per relation, and the episode tables of relations that keep them."""
        empty = pd.Index([], dtype=object)
        episodes: dict[str, pd.DataFrame] = {}
        by_type: dict[EdgeType, list[pd.DataFrame]] = {}
        for s in self._sources:
            for batch in s.edges:
                et, frame = batch.edge_type, batch.frame
                src_ok = _isin(frame["src"], ids_by_type.get(et.src, empty))
                dst_ok = _isin(frame["dst"], ids_by_type.get(et.dst, empty))
                ok = src_ok & dst_ok
                if not ok.all():
                    bad = frame[~ok]
                    if batch.restrict_to_graph:
                        reason = f"endpoint not in the graph ({et})"
                        out_of_scope.append(_oos_records(bad.assign(**{FILE: batch.file, SOURCE: s.name}),
                                                         "edge", reason))
                        stats[s.name].out_of_scope += int(weights(bad).sum())
                    else:
                        _report_missing_endpoints(bad, src_ok[~ok], et, batch.file, s.name, problems,
                                                  ids_by_type)
                    frame = frame[ok]
                if not SCHEMA.spec(et).self_loops:
                    loops = frame["src"].astype(str).to_numpy() == frame["dst"].astype(str).to_numpy()
                    if loops.any():
                        _report_self_loops(frame[loops], et, batch.file, s.name, problems)
                        frame = frame[~loops]
                if SCHEMA.spec(et).symmetric:
                    frame = _canonical_orientation(frame)
                by_type.setdefault(et, []).append(frame.assign(**{FILE: batch.file, SOURCE: s.name}))

        edges: dict[EdgeType, pd.DataFrame] = {}
        for et in SCHEMA.edge_types:  # schema order keeps builds deterministic
            parts = by_type.get(et)
            if not parts:
                continue
            frame = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
            frame = frame.reset_index(drop=True)
            merged, rejected_rows, dup_rows = _merge_duplicates(frame, ["src", "dst"], problems,
                                                                f"{et} edge", SCHEMA.spec(et).combine)
            if SCHEMA.spec(et).episodes:
                episodes[SCHEMA.spec(et).episodes] = _episodes(frame.loc[~frame.index.isin(rejected_rows)], et)
            kept = frame.loc[~frame.index.isin(rejected_rows) & ~frame.index.isin(dup_rows)]
            tally(stats, "edges_loaded", kept)
            tally(stats, "duplicates_merged", frame.loc[dup_rows])
            merged = _coerce_attributes(merged.drop(columns=[LINE, FILE, SOURCE, RECORDS], errors="ignore"), et)
            for col in ("src", "dst"):
                if not isinstance(merged[col].dtype, pd.CategoricalDtype):
                    merged[col] = merged[col].astype("category")
                else:
                    merged[col] = merged[col].cat.remove_unused_categories()
            if len(merged):
                edges[et] = merged.reset_index(drop=True)
        return edges, episodes


# ---------------------------------------------------------------- helpers
def _coerce_attributes(frame: pd.DataFrame, et: EdgeType) -> pd.DataFrame:
    """Give every attribute column its schema dtype (merges and concats widen ints to floats)."""
    for col, dtype in SCHEMA.spec(et).attributes.items():
        if col not in frame.columns:
            continue
        if dtype == "int":
            frame[col] = frame[col].astype("Float64").astype("Int64")
        elif dtype == "float":
            frame[col] = frame[col].astype("float64")
        elif dtype == "datetime":
            frame[col] = pd.to_datetime(frame[col]).astype("datetime64[ns]")
        else:
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return frame


def _episodes(frame: pd.DataFrame, et: EdgeType) -> pd.DataFrame:
    """Every record of an event relation as its own row, in the order read: the endpoints in
    columns named by their node types (``patient``, ``drug``: privacy then treats it like every
    table about patients), ``time``, ``end_time`` and ``weight``. It keeps what a merged edge no
    longer tells (a stop, then a restart)."""
    out = pd.DataFrame({et.src: frame["src"].astype(str).to_numpy(), et.dst: frame["dst"].astype(str).to_numpy()})
    for col in ("time", "end_time"):
        out[col] = (pd.to_datetime(frame[col]).astype("datetime64[ns]").to_numpy() if col in frame.columns
                    else np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[ns]"))
    # A record without a weight counts once (an RDF record is read with weight 1, a CSV one without).
    out["weight"] = frame["weight"].astype("float64").fillna(1.0).to_numpy() if "weight" in frame.columns else 1.0
    return out


def _isin(values: pd.Series, index: pd.Index) -> np.ndarray:
    """``values.isin(index)``, evaluated on categories only when the column is categorical."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats_ok = index.get_indexer(values.cat.categories.to_numpy(dtype=object)) >= 0
        codes = values.cat.codes.to_numpy()
        return np.where(codes >= 0, cats_ok[np.maximum(codes, 0)], False)
    return index.get_indexer(values.to_numpy(dtype=object)) >= 0


def _canonical_orientation(frame: pd.DataFrame) -> pd.DataFrame:
    """Store a symmetric pair as (smaller id, larger id) so duplicates in either order meet."""
    src, dst = frame["src"].astype(str), frame["dst"].astype(str)
    swap = (src > dst).to_numpy()
    if not swap.any():
        return frame
    out = frame.copy()
    out["src"] = np.where(swap, dst, src)
    out["dst"] = np.where(swap, src, dst)
    return out


def _merge_duplicates(frame: pd.DataFrame, key: list[str], problems: list[Problem],
                      what: str, combine: Mapping[str, str] | None = None,
                      ) -> tuple[pd.DataFrame, set[int], np.ndarray]:
    """Collapse records that share ``key``.

    Identical or complementary duplicates merge (first non-null value of each
    attribute wins). A duplicate whose attribute contradicts the first record is
    rejected with a problem naming both places, except for attributes with a
    ``combine`` rule, which aggregate instead. Returns the merged frame, the
    rejected row labels and the row labels merged away as duplicates.
    """
    combine = combine or {}
    dup_mask = frame.duplicated(key, keep=False).to_numpy()
    if not dup_mask.any():
        return frame, set(), np.array([], dtype=int)
    dups = frame[dup_mask]
    attr_cols = [c for c in frame.columns if c not in key and not c.startswith("_")]
    rejected: set[int] = set()
    for col in attr_cols:
        if col in combine:
            continue
        per_key = dups.dropna(subset=[col])
        if per_key.empty:
            continue
        first_vals = per_key.groupby(key, sort=False, observed=True)[col].transform("first")
        clash = per_key[per_key[col].astype(str) != first_vals.astype(str)]
        for label, row in clash.iterrows():
            first_row = per_key[(per_key[key] == row[key]).all(axis=1)].iloc[0]
            ident = " -> ".join(str(row[k]) for k in key)
            problems.append(Problem(
                file=str(row[FILE]), line=_int_or_none(row.get(LINE)), source=str(row[SOURCE]),
                reason=(f"duplicate {what} {ident} with conflicting {col}: {row[col]!r} here, "
                        f"{first_row[col]!r} at {first_row[FILE]}:{_int_or_none(first_row.get(LINE))}"),
                record=ident, records=int(row.get(RECORDS, 1) if pd.notna(row.get(RECORDS, 1)) else 1),
            ))
            rejected.add(label)
    dups = dups.drop(index=list(rejected))
    grouped = dups.groupby(key, sort=False, observed=True)
    combined = grouped.first()
    for col, how in combine.items():
        if col in combined.columns and how != "first":
            if how == "sum":
                combined[col] = grouped[col].sum(min_count=1)
            elif how == "open_max":  # one open record (no value) keeps the merged record open
                combined[col] = open_max(grouped[col])
            else:
                combined[col] = grouped[col].agg(how)
    combined = combined.reset_index()
    firsts_idx = dups.groupby(key, sort=False, observed=True).head(1).index
    dup_rows = dups.index.difference(firsts_idx).to_numpy()
    unique = frame[~dup_mask]
    merged = pd.concat([unique, combined[unique.columns.intersection(combined.columns, sort=False)]],
                       ignore_index=True)
    return merged, rejected, dup_rows


def _report_missing_endpoints(bad: pd.DataFrame, src_ok: np.ndarray, et: EdgeType, file: str,
                              source: str, problems: list[Problem],
                              ids_by_type: dict[str, pd.Index] | None = None) -> None:
    lines = bad[LINE].to_numpy() if LINE in bad.columns else [None] * len(bad)
    counts = weights(bad).to_numpy()
    hints = _NamespaceHints(ids_by_type or {})
    for (s, d, line, s_ok, n) in zip(bad["src"].astype(str), bad["dst"].astype(str), lines, src_ok, counts):
        missing, node_type = (d, et.dst) if s_ok else (s, et.src)
        problems.append(Problem(file=file, line=_int_or_none(line), source=source,
                                reason=f"edge {et}: endpoint {missing!r} does not exist "
                                       f"(no {node_type} node with that id){hints.hint(missing, node_type)}",
                                record=f"{s} -> {d}", records=int(n)))


def _report_self_loops(bad: pd.DataFrame, et: EdgeType, file: str, source: str, problems: list[Problem]) -> None:
    lines = bad[LINE].to_numpy() if LINE in bad.columns else [None] * len(bad)
    for node, line, n in zip(bad["src"].astype(str), lines, weights(bad).to_numpy()):
        problems.append(Problem(file=file, line=_int_or_none(line), source=source,
                                reason=f"edge {et} from {node!r} to itself: this relation joins two different "
                                       f"{et.src} nodes", record=f"{node} -> {node}", records=int(n)))


class _NamespaceHints:
    """``doctor:1386962785`` is missing but ``doctor:NPI:1386962785`` exists: say so, and how to map it.
    Also ``doctor:NPI:1386962785.0``: a spreadsheet saved the id as a decimal number."""

    def __init__(self, ids_by_type: dict[str, pd.Index]) -> None:
        self._ids_by_type = ids_by_type
        self._by_local: dict[str, dict[str, str]] = {}
        self._known: dict[str, set[str]] = {}

    def hint(self, missing: str, node_type: str) -> str:
        if node_type not in self._by_local:  # built once per type, only when an endpoint is missing
            ids = self._ids_by_type.get(node_type, pd.Index([], dtype=object)).astype(str)
            self._by_local[node_type] = {i.rsplit(":", 1)[-1]: i for i in ids if i.count(":") >= 2}
            self._known[node_type] = set(ids)
        advice = []
        decimal = re.fullmatch(r"(.*\d)\.0+", missing)
        if decimal is not None and self._lookup(decimal.group(1), node_type) is not None:
            missing = decimal.group(1)
            advice.append("the id was written as a decimal number, as a spreadsheet does to a numeric column: "
                          "save that column as text")
        found = self._lookup(missing, node_type)
        if found is None:
            return ""
        if found != missing:
            advice.append(f"set source_namespace or target_namespace = {found.split(':')[1]!r} in the CSV mapping")
        return f"; did you mean {found!r}? ({'; '.join(advice)})"

    def _lookup(self, ident: str, node_type: str) -> str | None:
        """``ident`` itself when it exists, else the namespaced id with its local part."""
        if ident in self._known[node_type]:
            return ident
        return self._by_local[node_type].get(ident.split(":", 1)[-1])


def _oos_records(frame: pd.DataFrame, kind: str, reason: str) -> pd.DataFrame:
    record = (frame["id"].astype(str) if kind == "id"
              else frame["src"].astype(str) + " -> " + frame["dst"].astype(str))
    return pd.DataFrame({
        "source": frame[SOURCE].to_numpy(),
        "file": frame[FILE].to_numpy(),
        "line": frame[LINE].to_numpy() if LINE in frame.columns else None,
        "record": record.to_numpy(),
        "reason": reason,
    })


def _int_or_none(value: object) -> int | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return int(value)  # type: ignore[arg-type]


