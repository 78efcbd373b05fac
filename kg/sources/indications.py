"""PharmacotherapyDB indications: disease-modifying (treats), symptomatic (palliates)
and curated non-indications.

Non-indications are evidence that a drug does *not* treat a disease; they are kept
as the ``non_indications`` table for evaluation (hard negatives), never as edges.
"""

from __future__ import annotations

from pathlib import Path


from kg.builder import EdgeBatch, SourceData
from kg.errors import ProblemLog
from kg.schema import EdgeType
from kg.sources._io import DOID, DRUGBANK_ID, check_pattern, data_line_numbers, parse_numbers, read_table, records_read

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
        data.rows_read = records_read(frame)
        bad = check_pattern(frame, "drugbank_id", DRUGBANK_ID, log) | check_pattern(frame, "doid_id", DOID, log)
        known = list(CATEGORY_RELATIONS) + [NOT]
        unknown = ~frame["category"].isin(known)
        for line, value in zip(data_line_numbers(frame)[unknown], frame["category"][unknown]):
            log.add(f"column 'category': {value!r} is not one of {known}", line=int(line))
        bad |= unknown
        lines = data_line_numbers(frame)
        for col in ("n_curators", "n_resources"):
            counts = parse_numbers(frame[col], lines, col, log, integer=True)
            bad |= frame[col].notna() & counts.isna()
            frame[col] = counts
        f = frame[~bad].assign(drug_id="drug:" + frame["drugbank_id"], disease_id="disease:" + frame["doid_id"],
                               _line=lines)
        for category, et in CATEGORY_RELATIONS.items():
            rows = f[f["category"] == category]
            edges = rows[["drug_id", "disease_id", "n_curators", "n_resources", "_line"]]
            data.edges.append(EdgeBatch(str(path), et, edges.rename(columns={"drug_id": "src",
                                                                              "disease_id": "dst"})))
        rows = f[f["category"] == NOT]
        data.tables["non_indications"] = rows[["drug_id", "disease_id", "n_curators", "n_resources"]]
    data.problems += log.problems
    return data
