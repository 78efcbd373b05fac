"""Hetionet v1.0 nodes (TSV) and edges (SIF) mapped onto the rxkg schema.

Hetionet ids look like ``Compound::DB00118`` and ``Gene::1017``; they become
``drug:DB00118`` and ``target:1017``. Metaedges become edge types through
:data:`kg.schema.HETIONET_METAEDGES`. Parsing works on the (few thousand) distinct
ids rather than on the million edge rows, which keeps the full load near the cost
of reading the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from kg.builder import EdgeBatch, NodeBatch, SourceData
from kg.errors import KGError, ProblemLog
from kg.schema import HETIONET_KINDS, HETIONET_METAEDGES
from kg.sources._io import data_line_numbers, read_table, records_read

__all__ = ["load_hetionet"]

_TYPE_TO_KIND = {v: k for k, v in HETIONET_KINDS.items()}


def load_hetionet(nodes_path: Path, edges_path: Path, name: str = "hetionet",
                  exclude_metaedges: Iterable[str] = ()) -> SourceData:
    """Load Hetionet's ``nodes.tsv`` and ``edges.sif`` (optionally gzipped).

    ``exclude_metaedges`` (e.g. ``["CbG", "CcSE"]``, the non-commercial DrugBank- and
    SIDER-derived edges) are left out; their rows are reported as out of scope.
    """
    exclude = set(exclude_metaedges)
    unknown = exclude - set(HETIONET_METAEDGES)
    if unknown:
        raise KGError(f"unknown Hetionet metaedge(s) to exclude: {sorted(unknown)}")
    data = SourceData(name=name, files=[str(nodes_path), str(edges_path)])
    node_log = ProblemLog(str(nodes_path), name)
    nodes = read_table(Path(nodes_path), node_log, columns=["id", "name", "kind"])
    if nodes is not None:
        data.rows_read += records_read(nodes)
        data.nodes.append(NodeBatch(str(nodes_path), _convert_nodes(nodes, node_log)))
    data.problems += node_log.problems

    edge_log = ProblemLog(str(edges_path), name)
    edges = read_table(Path(edges_path), edge_log, columns=["source", "metaedge", "target"])
    if edges is not None:
        data.rows_read += records_read(edges)
        if exclude:
            dropped = edges["metaedge"].isin(exclude)
            data.out_of_scope.append(pd.DataFrame({
                "source": name, "file": str(edges_path), "line": data_line_numbers(edges)[dropped].to_numpy(),
                "record": (edges.loc[dropped, "source"] + " " + edges.loc[dropped, "metaedge"] + " "
                           + edges.loc[dropped, "target"]).to_numpy(),
                "reason": "metaedge excluded by configuration"}))
            edges = edges[~dropped]
        data.edges += _convert_edges(edges, str(edges_path), edge_log)
    data.problems += edge_log.problems
    return data


def _convert_nodes(frame: pd.DataFrame, log: ProblemLog) -> pd.DataFrame:
    lines = data_line_numbers(frame)
    node_type = frame["kind"].map(HETIONET_KINDS)
    prefix, local = _split_hetionet_ids(frame["id"])
    bad_kind = node_type.isna()
    for line, kind in zip(lines[bad_kind], frame["kind"][bad_kind]):
        log.add(f"unknown Hetionet node kind {kind!r}; known: {sorted(HETIONET_KINDS)}", line=int(line))
    bad_id = ~bad_kind & ((prefix != frame["kind"]) | local.isna() | (local == ""))
    for line, raw, kind in zip(lines[bad_id], frame["id"][bad_id], frame["kind"][bad_id]):
        log.add(f"node id {raw!r} does not have the form '{kind}::ID'", line=int(line))
    missing_name = frame["name"].isna() & ~bad_kind & ~bad_id
    for line, raw in zip(lines[missing_name], frame["id"][missing_name]):
        log.add(f"node {raw!r} has no name", line=int(line))
    ok = ~(bad_kind | bad_id | missing_name)
    out = pd.DataFrame({
        "id": (node_type[ok] + ":" + local[ok]).to_numpy(),
        "type": node_type[ok].to_numpy(),
        "name": frame.loc[ok, "name"].to_numpy(),
        "_line": lines[ok].to_numpy(),
    })
    return out


def _split_hetionet_ids(ids: pd.Series) -> tuple[pd.Series, pd.Series]:
    parts = ids.astype(object).str.split("::", n=1)
    prefix = parts.str[0]
    local = parts.map(lambda p: p[1] if isinstance(p, list) and len(p) > 1 else None)
    return prefix, local


def _convert_edges(frame: pd.DataFrame, file: str, log: ProblemLog) -> list[EdgeBatch]:
    lines = data_line_numbers(frame).to_numpy()
    batches: list[EdgeBatch] = []
    # Parse the distinct ids once; rows refer to them by categorical code.
    src_cat = pd.Categorical(frame["source"])
    dst_cat = pd.Categorical(frame["target"])
    src_kind, src_new = _convert_categories(src_cat.categories)
    dst_kind, dst_new = _convert_categories(dst_cat.categories)
    groups = frame.groupby("metaedge", sort=True).indices
    for metaedge, rows in groups.items():
        et = HETIONET_METAEDGES.get(metaedge)
        if et is None:
            for line in lines[rows]:
                log.add(f"unknown Hetionet metaedge {metaedge!r}", line=int(line))
            continue
        s_codes, d_codes = src_cat.codes[rows], dst_cat.codes[rows]
        s_ok = src_kind[s_codes] == _TYPE_TO_KIND[et.src]
        d_ok = dst_kind[d_codes] == _TYPE_TO_KIND[et.dst]
        for i in np.nonzero(~(s_ok & d_ok))[0]:
            raw = frame["source"].iat[rows[i]] if not s_ok[i] else frame["target"].iat[rows[i]]
            end = "source" if not s_ok[i] else "target"
            want = _TYPE_TO_KIND[et.src] if not s_ok[i] else _TYPE_TO_KIND[et.dst]
            log.add(f"metaedge {metaedge}: {end} {raw!r} is not a {want} node", line=int(lines[rows[i]]))
        keep = rows[s_ok & d_ok]
        if not len(keep):
            continue
        edges = pd.DataFrame({
            "src": pd.Categorical.from_codes(src_cat.codes[keep], categories=src_new),
            "dst": pd.Categorical.from_codes(dst_cat.codes[keep], categories=dst_new),
            "_line": lines[keep],
        })
        batches.append(EdgeBatch(file, et, edges))
    return batches


def _convert_categories(categories: pd.Index) -> tuple[np.ndarray, pd.Index]:
    """Hetionet kind of each distinct id and its rxkg id (``Gene::1017`` -> ``target:1017``)."""
    raw = pd.Series(categories, dtype=object)
    prefix, local = _split_hetionet_ids(raw)
    node_type = prefix.map(HETIONET_KINDS)
    well_formed = node_type.notna() & local.notna() & (local != "")
    # A malformed id keeps its raw text behind a "?:" namespace: categories stay unique, and the
    # edge is reported by the builder as pointing at a node that does not exist.
    # Object (not pandas' string) categories: the builder's membership checks and merges on
    # a million categorical rows run about twice as fast on them (measured: 1.2 s vs 2.4 s).
    new = (node_type + ":" + local).where(well_formed, "?:" + raw).astype(object)
    return prefix.fillna("").to_numpy(dtype=object), pd.Index(new)
