"""PharmacotherapyDB indications: disease-modifying (treats), symptomatic (palliates)
and curated non-indications.

Non-indications are evidence that a drug does *not* treat a disease; they are kept
as the ``non_indications`` table for evaluation (hard negatives), never as edges.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kg.builder import EdgeBatch, SourceData
from kg.errors import ProblemLog
from kg.schema import EdgeType
from kg.sources._io import data_line_numbers, parse_numbers, read_table
from kg.sources.drugbank import DRUGBANK_ID_RE

__all__ = ["load_indications", "CATEGORY_RELATIONS"]

COLUMNS = ["doid_id", "drugbank_id", "disease", "drug", "category", "n_curators", "n_resources"]
CATEGORY_RELATIONS = {
    "DM": EdgeType("drug", "treats", "disease"),
    "SYM": EdgeType("drug", "palliates", "disease"),
}
NOT = "NOT"


def load_indications(path: Path, name: str = "indications") -> SourceData:
    """Load ``indications.tsv`` (columns as in PharmacotherapyDB v1.0)."""
    data = SourceData(name=name, files=[str(path)])
    log = ProblemLog(str(path), name)
    frame = read_table(Path(path), log, columns=COLUMNS)
    if frame is not None:
        data.rows_read = len(frame)
        lines = data_line_numbers(frame)
        ok = pd.Series(True, index=frame.index)
        bad = ~frame["drugbank_id"].fillna("").str.match(DRUGBANK_ID_RE)
        for line, value in zip(lines[bad], frame["drugbank_id"][bad]):
            log.add(f"column 'drugbank_id': {value!r} is not a DrugBank id", line=int(line))
        ok &= ~bad
        bad = ~frame["doid_id"].fillna("").str.match(r"^DOID:\d+$")
        for line, value in zip(lines[bad], frame["doid_id"][bad]):
            log.add(f"column 'doid_id': {value!r} is not a Disease Ontology id", line=int(line))
        ok &= ~bad
        known = list(CATEGORY_RELATIONS) + [NOT]
        bad = ~frame["category"].isin(known)
        for line, value in zip(lines[bad], frame["category"][bad]):
            log.add(f"column 'category': {value!r} is not one of {known}", line=int(line))
        ok &= ~bad
        counts = {}
        for col in ("n_curators", "n_resources"):
            before = len(log)
            counts[col] = parse_numbers(frame[col], lines, col, log, integer=True)
            if len(log) > before:
                ok &= ~(frame[col].notna() & counts[col].isna())
        f = frame[ok]
        for category, et in CATEGORY_RELATIONS.items():
            sel = f["category"] == category
            data.edges.append(EdgeBatch(str(path), et, pd.DataFrame({
                "src": ("drug:" + f.loc[sel, "drugbank_id"]).to_numpy(),
                "dst": ("disease:" + f.loc[sel, "doid_id"]).to_numpy(),
                "n_curators": counts["n_curators"][f.index][sel].to_numpy(),
                "n_resources": counts["n_resources"][f.index][sel].to_numpy(),
                "_line": lines[f.index][sel].to_numpy(),
            })))
        sel = f["category"] == NOT
        data.tables["non_indications"] = pd.DataFrame({
            "drug_id": ("drug:" + f.loc[sel, "drugbank_id"]).to_numpy(),
            "disease_id": ("disease:" + f.loc[sel, "doid_id"]).to_numpy(),
            "n_curators": counts["n_curators"][f.index][sel].to_numpy(),
            "n_resources": counts["n_resources"][f.index][sel].to_numpy(),
        })
    data.problems += log.problems
    return data
