"""Helpers shared by the clinical loaders (CMS, Synthea, MIMIC-III): mapped edges and set-asides."""

from __future__ import annotations

from pathlib import Path
from typing import Collection, Mapping, Sequence

import numpy as np
import pandas as pd

from kg.builder import SourceData
from kg.errors import Problem, ProblemLog
from kg.mapping import DiseaseMatch, DrugMatch
from kg.sources._io import read_table, records_read

__all__ = ["explode_matches", "product_table", "set_aside", "parse_dates", "read_csv_directory"]


def explode_matches(frame: pd.DataFrame, matches: Sequence[DrugMatch | DiseaseMatch],
                    prefix: str, column: str = "dst") -> tuple[pd.DataFrame, int]:
    """One row per mapped id (``column`` = ``prefix`` + id) for the rows that mapped.

    Returns the exploded rows and how many records beyond one per row a
    combination product (or a condition under two slim diseases) added.
    """
    ids = [m.drugbank_ids if isinstance(m, DrugMatch) else m.graph_doids for m in matches]
    counts = np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(ids))
    keep = counts > 0
    rows = frame.loc[keep].loc[np.repeat(frame.index[keep], counts[keep])] if keep.any() else frame.iloc[:0]
    flat = [prefix + i for group in ids for i in group]
    rows = rows.assign(**{column: np.array(flat, dtype=object)})
    return rows.reset_index(drop=True), int(counts[keep].sum() - keep.sum())


def product_table(source: str, products: Sequence[str], matches: Sequence[DrugMatch],
                  records: Sequence[int] | np.ndarray) -> pd.DataFrame:
    """The ``products`` graph table: each mapped product, its ingredients and how many records name it.

    One row per (product, ingredients). A combination maps to several ingredient
    edges, so the edges alone cannot say which drugs are only ever given together
    (clavulanate with amoxicillin); the safety filter reads that from this table.
    """
    rows = [(str(p), "|".join("drug:" + i for i in m.drugbank_ids), int(n))
            for p, m, n in zip(products, matches, records) if m]
    table = pd.DataFrame(rows, columns=["product", "ingredients", "records"])
    table = table.groupby(["product", "ingredients"], as_index=False, sort=True)["records"].sum()
    return table.assign(source=source)[["product", "ingredients", "records", "source"]]


def set_aside(source: str, file: str, lines: pd.Series | np.ndarray, records: pd.Series | Sequence[str],
              reasons: pd.Series | Sequence[str] | str) -> pd.DataFrame:
    """Out-of-scope records: valid rows whose code maps to nothing in the graph."""
    return pd.DataFrame({"source": source, "file": file, "line": np.asarray(lines),
                         "record": np.asarray(records, dtype=object),
                         "reason": reasons if isinstance(reasons, str) else np.asarray(reasons, dtype=object)})


def parse_dates(values: pd.Series, formats: Sequence[str] = ("ISO8601",)) -> pd.Series:
    """Parse dates trying each format in turn; unparsable cells stay NaT (callers report them)."""
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    todo = values.notna()
    for fmt in formats:
        if not todo.any():
            break
        parsed = pd.to_datetime(values[todo], errors="coerce", format=fmt, utc=True)
        parsed = parsed.dt.tz_localize(None).astype("datetime64[ns]")
        out[todo] = parsed
        todo &= out.isna()
    return out


def read_csv_directory(data: SourceData, directory: Path, files: Mapping[str, Sequence[str]],
                       optional: Collection[str] = (), reference: Collection[str] = (),
                       missing: str = "file not found") -> dict[str, tuple[Path, pd.DataFrame]]:
    """Read ``<stem>.csv`` (or ``.csv.gz``) for each stem of ``files`` with its required columns.

    A missing file that is not ``optional`` is a problem (``missing`` says why it
    matters); every problem goes to
    ``data``. Rows of ``reference`` files (lookup tables such as ICD-9 titles) are
    not records of the graph and are not counted as rows read.
    """
    frames: dict[str, tuple[Path, pd.DataFrame]] = {}
    for stem, columns in files.items():
        path = next((p for p in (directory / f"{stem}.csv", directory / f"{stem}.csv.gz") if p.exists()), None)
        if path is None:
            if stem not in optional:
                data.problems.append(Problem(str(directory / f"{stem}.csv"), missing, source=data.name))
            continue
        log = ProblemLog(str(path), data.name)
        frame = read_table(path, log, required=columns)
        data.problems += log.problems
        data.files.append(str(path))
        if frame is not None:
            frames[stem] = (path, frame)
            if stem not in reference:
                data.rows_read += records_read(frame)
    return frames
