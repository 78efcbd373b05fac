"""Accounting for every row or triple read: what each source loaded, merged, set aside or rejected.

Per source, ``rows read + rows expanded = nodes loaded + nodes annotated + edges loaded +
duplicates merged + table rows + out of scope + rejected``. A record may stand for several
input rows or triples (the ``_records`` column: an RDF node is its type and label triples).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from kg.batches import LINE, RECORDS, SOURCE, SourceData

__all__ = ["SourceStats", "tally", "weights", "withdraw_rejected", "contributed"]


@dataclass
class SourceStats:
    """Per-source counts for the build report."""

    files: list[str] = field(default_factory=list)
    rows_read: int = 0
    rejected: int = 0
    out_of_scope: int = 0
    duplicates_merged: int = 0
    nodes_loaded: int = 0
    nodes_annotated: int = 0
    edges_loaded: int = 0
    table_rows: int = 0
    rows_expanded: int = 0
    nodes_implied: int = 0
    mapping: dict[str, dict[str, object]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def tally(stats: dict[str, SourceStats], counter: str, rows: pd.DataFrame) -> None:
    """Add the rows or triples each source's ``rows`` stand for to its ``counter``."""
    for source, n in weights(rows).groupby(rows[SOURCE].to_numpy()).sum().items():
        setattr(stats[source], counter, getattr(stats[source], counter) + int(n))


def weights(rows: pd.DataFrame) -> pd.Series:
    """Rows or triples of the input each record stands for (1 unless the loader said otherwise)."""
    if RECORDS in rows.columns:
        return rows[RECORDS].fillna(1).astype("int64")
    return pd.Series(1, index=rows.index, dtype="int64")


def withdraw_rejected(source: SourceData) -> int:
    """Remove from ``source`` every record of a line a problem names: a record with a problem is
    rejected whole, wherever a loader put its pieces. Returns how many records beyond one per
    line were removed (a combination product's extra ingredients), which no longer count as
    expanded."""
    bad: dict[str, set[int]] = {}
    for p in source.problems:
        if p.line is not None and not p.whole_file:
            bad.setdefault(p.file, set()).add(p.line)
    if not bad:
        return 0
    removed: dict[tuple[str, int], int] = {}

    def keep(file: str, frame: pd.DataFrame, line_column: str = LINE) -> pd.DataFrame:
        if line_column not in frame.columns or frame.empty or file not in bad:
            return frame
        lines = pd.to_numeric(frame[line_column], errors="coerce")
        hit = lines.isin(bad[file]).to_numpy()
        for n, count in lines[hit].astype(int).value_counts().items():
            removed[(file, n)] = removed.get((file, n), 0) + int(count)
        return frame[~hit] if hit.any() else frame

    for batch in source.nodes:
        if not batch.implied:
            batch.frame = keep(batch.file, batch.frame)
    for batch in source.edges:
        batch.frame = keep(batch.file, batch.frame)
    source.out_of_scope = [pd.concat([keep(str(f), g, "line") for f, g in frame.groupby("file", sort=False)])
                           if len(frame) else frame for frame in source.out_of_scope]
    return sum(n - 1 for n in removed.values())


def contributed(stats: SourceStats) -> bool:
    """Whether a source put anything into the graph (nodes, edges, tables, merged duplicates)."""
    return bool(stats.nodes_loaded or stats.nodes_annotated or stats.edges_loaded or stats.table_rows
                or stats.duplicates_merged)
