"""Disease Ontology: slim terms, their propagated cross-references, names and synonyms.

Slim terms annotate the graph's disease nodes (pathophysiology, slim source);
cross-references (SNOMED CT, ICD-9, UMLS, MeSH, ...) and synonyms become the
``xrefs`` and ``synonyms`` tables that clinical code mapping relies on. Names of
terms outside the slim are reference data for the mapper, not graph content: they
are counted as out of scope.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kg.builder import NodeBatch, SourceData
from kg.errors import ProblemLog
from kg.sources._io import data_line_numbers, read_table

__all__ = ["load_disease_ontology"]

_DOID = r"^DOID:\d+$"


def load_disease_ontology(slim_terms: Path, xrefs: Path | None = None, term_names: Path | None = None,
                          name: str = "disease_ontology") -> SourceData:
    data = SourceData(name=name, files=[str(slim_terms)])
    log = ProblemLog(str(slim_terms), name)
    terms = read_table(Path(slim_terms), log, columns=["doid", "name", "source", "pathophysiology"])
    slim_ids: set[str] = set()
    if terms is not None:
        data.rows_read += len(terms)
        lines = data_line_numbers(terms)
        bad = ~terms["doid"].fillna("").str.match(_DOID)
        for line, value in zip(lines[bad], terms["doid"][bad]):
            log.add(f"column 'doid': {value!r} is not a Disease Ontology id", line=int(line))
        t = terms[~bad]
        slim_ids = set(t["doid"])
        data.nodes.append(NodeBatch(str(slim_terms), pd.DataFrame({
            "id": ("disease:" + t["doid"]).to_numpy(),
            "type": "disease",
            "name": t["name"].to_numpy(),
            "do_slim": t["source"].to_numpy(),
            "pathophysiology": t["pathophysiology"].to_numpy(),
            "_line": lines[~bad].to_numpy(),
        }), annotate_only=True))
    data.problems += log.problems

    if xrefs is not None:
        data.files.append(str(xrefs))
        xlog = ProblemLog(str(xrefs), name)
        table = read_table(Path(xrefs), xlog, columns=["doid_code", "doid_name", "resource", "resource_id"])
        if table is not None:
            data.rows_read += len(table)
            data.tables["xrefs"] = _scoped(table, "doid_code", slim_ids, xrefs, xlog, data, name,
                                           ["resource", "resource_id"])
        data.problems += xlog.problems

    if term_names is not None:
        data.files.append(str(term_names))
        nlog = ProblemLog(str(term_names), name)
        table = read_table(Path(term_names), nlog, columns=["doid", "name", "type"], quoted=True)
        if table is not None:
            data.rows_read += len(table)
            data.tables["synonyms"] = _scoped(table, "doid", slim_ids, term_names, nlog, data, name,
                                              ["name", "type"])
        data.problems += nlog.problems
    return data


def _scoped(table: pd.DataFrame, id_col: str, slim_ids: set[str], path: Path, log: ProblemLog,
            data: SourceData, source: str, keep: list[str]) -> pd.DataFrame:
    lines = data_line_numbers(table)
    bad = ~table[id_col].fillna("").str.match(_DOID)
    for line, value in zip(lines[bad], table[id_col][bad]):
        log.add(f"column {id_col!r}: {value!r} is not a Disease Ontology id", line=int(line))
    empty = ~bad & table[keep].isna().any(axis=1)
    for line in lines[empty]:
        log.add(f"missing value in column(s) {keep}", line=int(line))
    valid = ~(bad | empty)
    inside = valid & table[id_col].isin(slim_ids)
    outside = valid & ~inside
    if outside.any():
        data.out_of_scope.append(pd.DataFrame({
            "source": source, "file": str(path), "line": lines[outside].to_numpy(),
            "record": table.loc[outside, id_col].to_numpy(),
            "reason": "Disease Ontology term outside the slim (not a graph disease)",
        }))
    f = table[inside]
    out = pd.DataFrame({"node_id": ("disease:" + f[id_col]).to_numpy()})
    for col in keep:
        out[col] = f[col].to_numpy()
    return out
