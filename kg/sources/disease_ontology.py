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
from kg.sources._io import DOID, check_pattern, data_line_numbers, read_table, records_read

__all__ = ["load_disease_ontology"]


def load_disease_ontology(slim_terms: Path, xrefs: Path | None = None, term_names: Path | None = None,
                          name: str = "disease_ontology") -> SourceData:
    data = SourceData(name=name, files=[str(slim_terms)])
    log = ProblemLog(str(slim_terms), name)
    terms = read_table(Path(slim_terms), log, columns=["doid", "name", "source", "pathophysiology"])
    slim_ids: set[str] = set()
    if terms is not None:
        data.rows_read += records_read(terms)
        lines = data_line_numbers(terms)
        bad = check_pattern(terms, "doid", DOID, log)
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
            data.rows_read += records_read(table)
            data.tables["xrefs"] = _scoped(table, "doid_code", slim_ids, xrefs, xlog, data, name,
                                           ["resource", "resource_id"])
        data.problems += xlog.problems

    if term_names is not None:
        data.files.append(str(term_names))
        nlog = ProblemLog(str(term_names), name)
        table = read_table(Path(term_names), nlog, columns=["doid", "name", "type"], quoted=True)
        if table is not None:
            data.rows_read += records_read(table)
            data.tables["synonyms"] = _scoped(table, "doid", slim_ids, term_names, nlog, data, name,
                                              ["name", "type"])
        data.problems += nlog.problems
    return data


def _scoped(table: pd.DataFrame, id_col: str, slim_ids: set[str], path: Path, log: ProblemLog,
            data: SourceData, source: str, keep: list[str]) -> pd.DataFrame:
    lines = data_line_numbers(table)
    bad = check_pattern(table, id_col, DOID, log)
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
