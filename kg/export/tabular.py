"""CSV exports: plain nodes/edges CSV (with a mapping that reloads it) and Neo4j bulk import.

The plain CSV directory holds ``nodes.csv``, ``edges.csv``, ``mapping.toml`` (which
:func:`kg.sources.load_csv_source` reads back into an equal graph) and the
auxiliary tables under ``tables/``.

The Neo4j directory holds one node file per type and one relationship file per
relation with typed headers (``id:ID``, ``:LABEL``, ``:START_ID``, ``weight:double``)
and ``import.sh`` with the matching ``neo4j-admin database import`` command.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pandas as pd

from kg.records import edge_attribute_columns, node_attribute_columns
from kg.graph import KnowledgeGraph
from kg.schema import SCHEMA

__all__ = ["write_csv", "write_neo4j"]

_NEO4J_TYPES = {"str": "string", "float": "double", "int": "long", "datetime": "datetime"}


def _iso(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%Y-%m-%dT%H:%M:%S")
        elif isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype(str)
    return out


def write_csv(graph: KnowledgeGraph, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    node_cols = ["id"] + node_attribute_columns(graph)
    if "name" not in node_cols:
        node_cols.append("name")
    graph.nodes.reindex(columns=node_cols).to_csv(directory / "nodes.csv", index=False)
    edge_dtypes = edge_attribute_columns(graph)
    edge_cols = list(edge_dtypes)
    frames = []
    for et, frame in graph.edges.items():
        frames.append(_iso(frame).assign(relation=et.rel).reindex(columns=["src", "relation", "dst"] + edge_cols))
    edges = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["src", "relation", "dst"])
    for c, dtype in edge_dtypes.items():
        if dtype == "int":  # concat with relations lacking the column turned it into floats
            edges[c] = edges[c].astype("Float64").astype("Int64")
    edges.to_csv(directory / "edges.csv", index=False)
    attrs = [c for c in node_cols if c not in ("id", "type", "name")]
    special = [c for c in edge_cols if c not in ("weight", "time")]
    lines = [
        "# rxkg CSV export; reload with kg.sources.load_csv_source('mapping.toml')",
        "[[nodes]]", 'file = "nodes.csv"', 'id = "id"', 'type = "type"', 'name = "name"',
        f"attributes = {attrs!r}".replace("'", '"'), "",
        "[[edges]]", 'file = "edges.csv"', 'source = "src"', 'target = "dst"',
        'relation_column = "relation"',
    ]
    if "weight" in edge_cols:
        lines.append('weight = "weight"')
    if "time" in edge_cols:
        lines.append('time = "time"')
    lines.append(f"attributes = {special!r}".replace("'", '"'))
    (directory / "mapping.toml").write_text("\n".join(lines) + "\n")
    if graph.tables:
        (directory / "tables").mkdir(exist_ok=True)
        for name, table in graph.tables.items():
            _iso(table).to_csv(directory / "tables" / f"{name}.csv", index=False)


def _label(node_type: str) -> str:
    return "".join(p.capitalize() for p in node_type.split("_"))


#: How rxkg joins several values in one attribute (ATC codes, DrugBank groups): Neo4j arrays.
ARRAY_DELIMITER = "|"
_BOOLEAN_WORDS = {"true": "true", "false": "false", "1": "true", "0": "false"}


def _neo4j_property(name: str, values: pd.Series) -> tuple[str, pd.Series]:
    """The Neo4j import type of one node attribute, inferred from every value, and the values
    written that way: boolean (True/False or 0/1 flags), long, double, date, string[] (values
    joined by ``|``), else string. Names stay strings whatever they hold."""
    present = values.dropna()
    text = present.astype(str).str.strip()
    if name != "name":
        if len(text) and text.str.lower().isin(_BOOLEAN_WORDS).all() and text.nunique() <= 2:
            return "boolean", values.map(lambda v: None if pd.isna(v) else _BOOLEAN_WORDS[str(v).strip().lower()])
        if len(text) and text.str.fullmatch(r"-?\d{1,18}").all():
            return "long", values
        if len(text) and text.str.fullmatch(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?").all():
            return "double", values
        if len(text) and text.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all():
            return "date", values
        if text.str.contains(ARRAY_DELIMITER, regex=False).any():
            return "string[]", values
    return "string", values


def write_neo4j(graph: KnowledgeGraph, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    # Fields may span lines (a quoted name with a line break from a source that allows one).
    args = ["neo4j-admin", "database", "import", "full", "neo4j", "--overwrite-destination",
            "--multiline-fields=true", f"--array-delimiter={ARRAY_DELIMITER}"]
    for node_type, frame in graph.nodes.groupby("type", sort=False):
        cols = [c for c in frame.columns if c not in ("id", "type") and frame[c].notna().any()]
        out = frame[["id"] + cols].copy()
        headers = ["id:ID"]
        for c in cols:
            kind, out[c] = _neo4j_property(c, out[c])
            headers.append(f"{c}:{kind}")
        out.columns = headers
        out[":LABEL"] = _label(str(node_type))
        name = f"nodes_{node_type}.csv"
        out.to_csv(directory / name, index=False)
        args.append(f"--nodes={name}")
    for et, frame in graph.edges.items():
        dtypes = SCHEMA.spec(et).attributes
        cols = [c for c in frame.columns if c not in ("src", "dst") and frame[c].notna().any()]
        out = _iso(frame[["src", "dst"] + cols])
        out.columns = [":START_ID", ":END_ID"] + [f"{c}:{_NEO4J_TYPES[dtypes.get(c, 'str')]}" for c in cols]
        out[":TYPE"] = et.rel.upper()
        name = f"relationships_{et.key}.csv"
        out.to_csv(directory / name, index=False)
        args.append(f"--relationships={name}")
    script = ("#!/usr/bin/env sh\n# Bulk-load this directory into an empty Neo4j 5 database "
              "(run from this directory, Neo4j stopped).\nset -e\n"
              + " \\\n  ".join(shlex.quote(a) for a in args) + "\n")
    (directory / "import.sh").write_text(script)
    (directory / "import.sh").chmod(0o755)
