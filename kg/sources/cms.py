"""CMS Medicare Part D prescribers (2014, as in the public "U.S. Opiate Prescriptions" set).

One row per prescriber: NPI, gender, state, credentials, specialty, then one column
per drug (brand or generic name, dots for spaces) holding the prescriber's claim
count, and an ``Opioid.Prescriber`` flag. Each row becomes a ``doctor`` node; each
non-zero claim cell a ``prescribes`` edge to every DrugBank ingredient its column
maps to, weighted by the claim count. Records read = prescriber rows + non-zero
cells; a cell whose column maps to no DrugBank drug (a pen needle) is out of scope.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kg.builder import EdgeBatch, NodeBatch, SourceData
from kg.errors import ProblemLog
from kg.mapping import MappingTally, load_mappers
from kg.schema import EdgeType
from kg.sources._clinical import explode_matches, product_table, set_aside
from kg.sources._io import check_pattern, data_line_numbers, read_table, records_read

#: More claims than this for one drug by one prescriber in a year is not a count but a mistake.
MAX_CLAIMS = 10**9

__all__ = ["load_cms_prescribers", "PRESCRIBER_COLUMNS"]

PRESCRIBER_COLUMNS = ("NPI", "Gender", "State", "Credentials", "Specialty")
_FLAG = "Opioid.Prescriber"
NPI = (r"^\d{10}$", "a 10-digit NPI")
PRESCRIBES = EdgeType("doctor", "prescribes", "drug")


def _parsed_as_numbers(cells: pd.DataFrame) -> bool:
    return all(dtype == np.float64 for dtype in cells.dtypes)


def _claim_counts(cells: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The claim-count cells as floats, and which cells were filled in. An unparsable cell
    becomes NaN in the counts while still filled in (the caller reports it)."""
    if _parsed_as_numbers(cells):
        return cells, cells.notna()
    values = cells.to_numpy(dtype=object)
    try:  # fast path: one C-level conversion of the whole matrix (empty cells are NaN already)
        parsed = values.astype(np.float64)
        frame = pd.DataFrame(parsed, index=cells.index, columns=cells.columns)
        return frame, frame.notna()
    except (TypeError, ValueError):
        return cells.apply(pd.to_numeric, errors="coerce"), cells.notna()


def _not_counts(counts: pd.DataFrame, filled: pd.DataFrame) -> pd.DataFrame:
    """Filled-in cells that are not a claim count: unparsable, negative, fractional or absurd."""
    return filled & (counts.isna() | (counts < 0) | (counts % 1 != 0) | (counts > MAX_CLAIMS))


def load_cms_prescribers(path: Path, vocabulary: Path, name: str = "cms") -> SourceData:
    """Load the prescriber table; drug columns are mapped through ``vocabulary``."""
    drugs, _ = load_mappers(vocabulary)
    data = SourceData(name=name, files=[str(path)])
    log = ProblemLog(str(path), name)
    # Six million claim cells: parsed as numbers by the C parser, read as text only to quote a bad one.
    frame = read_table(Path(path), log, required=PRESCRIBER_COLUMNS, numbers_except=(*PRESCRIBER_COLUMNS, _FLAG))
    if frame is None:
        data.problems += log.problems
        return data
    drug_columns = [c for c in frame.columns if c not in PRESCRIBER_COLUMNS and c != _FLAG]
    counts, filled = _claim_counts(frame[drug_columns])
    not_count = _not_counts(counts, filled)
    if not_count.to_numpy().any() and _parsed_as_numbers(counts):  # a bad count is quoted as written: read the text
        frame = read_table(Path(path), ProblemLog(str(path), name), required=PRESCRIBER_COLUMNS)
        counts, filled = _claim_counts(frame[drug_columns])
        not_count = _not_counts(counts, filled)
    lines = data_line_numbers(frame)
    bad = check_pattern(frame, "NPI", NPI, log)
    bad_cells = not_count.to_numpy()
    for row in np.flatnonzero(bad_cells.any(axis=1) & ~bad.to_numpy()):
        cells = ", ".join(f"{drug_columns[c]}={frame[drug_columns[c]].iloc[row]!r}"
                          for c in np.flatnonzero(bad_cells[row]))
        log.add(f"not a claim count (a non-negative integer): {cells}", line=int(lines.iloc[row]))
    bad |= not_count.any(axis=1)
    ok = frame[~bad]
    data.rows_read = records_read(frame)

    doctors = pd.DataFrame({
        "id": ("doctor:NPI:" + ok["NPI"]).to_numpy(),
        "type": "doctor",
        "name": None,
        "gender": ok["Gender"].to_numpy(),
        "state": ok["State"].to_numpy(),
        "credentials": ok["Credentials"].to_numpy(),
        "specialty": ok["Specialty"].to_numpy(),
        "opioid_prescriber": (ok[_FLAG].to_numpy() if _FLAG in ok.columns else None),
        "source": name,
        "_line": lines[~bad].to_numpy(),
    })
    data.nodes.append(NodeBatch(str(path), doctors))

    # Non-zero cells of the valid rows, as (row, column) pairs.
    matrix = counts[~bad].fillna(0).to_numpy()
    rows, cols = np.nonzero(matrix)
    data.rows_read += len(rows)
    cells = pd.DataFrame({
        "src": ("doctor:NPI:" + ok["NPI"]).to_numpy()[rows],
        "column": np.asarray(drug_columns, dtype=object)[cols],
        "weight": matrix[rows, cols].astype("float64"),
        "_line": lines[~bad].to_numpy()[rows],
    })
    matches = [drugs.map_name(c.replace(".", " ")) for c in drug_columns]
    column_mapped = np.array([bool(m) for m in matches], dtype=bool)
    mapped = column_mapped[cols]
    tally = MappingTally("drug column", "DrugBank")
    tally.add(cells["column"], mapped, np.asarray([m.method for m in matches], dtype=object)[cols])
    edges, expanded = explode_matches(cells[mapped], [matches[c] for c in cols[mapped]], "drug:")
    data.rows_expanded += expanded
    data.edges.append(EdgeBatch(str(path), PRESCRIBES, edges[["src", "dst", "weight", "_line"]]))
    data.nodes.append(NodeBatch(str(path), drugs.drug_nodes(matches), implied=True))
    data.summaries["products"] = product_table(name, drug_columns, matches,
                                            np.bincount(cols, minlength=len(drug_columns)))
    unmapped = cells[~mapped]
    if len(unmapped):
        data.out_of_scope.append(set_aside(
            name, str(path), unmapped["_line"], unmapped["src"] + " -> " + unmapped["column"],
            "drug column " + unmapped["column"] + " maps to no DrugBank drug"))
    data.mapping["drug_columns"] = {**tally.to_dict(), "columns": len(drug_columns),
                                    "columns_mapped": int(column_mapped.sum()),
                                    "column_rate": round(float(column_mapped.mean()) if len(matches) else 0.0, 4)}
    data.problems += log.problems
    return data
