"""Drug-drug interactions (BioSNAP ChCh-Miner: unordered DrugBank id pairs)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kg.builder import EdgeBatch, SourceData
from kg.errors import ProblemLog
from kg.schema import EdgeType
from kg.sources._io import DRUGBANK_ID, check_pattern, data_line_numbers, read_table, records_read

__all__ = ["load_interactions"]

INTERACTS = EdgeType("drug", "interacts_with", "drug")


def load_interactions(path: Path, name: str = "interactions") -> SourceData:
    """Load an interaction table with columns ``Drug1`` and ``Drug2`` (DrugBank ids).

    Pairs whose drugs are not in the graph are out of scope: interaction tables
    cover every DrugBank drug, a graph only some.
    """
    data = SourceData(name=name, files=[str(path)])
    log = ProblemLog(str(path), name)
    frame = read_table(Path(path), log, columns=["Drug1", "Drug2"])
    if frame is not None:
        data.rows_read = records_read(frame)
        lines = data_line_numbers(frame)
        ok = ~(check_pattern(frame, "Drug1", DRUGBANK_ID, log) | check_pattern(frame, "Drug2", DRUGBANK_ID, log))
        self_pair = ok & (frame["Drug1"] == frame["Drug2"])
        for line, value in zip(lines[self_pair], frame["Drug1"][self_pair]):
            log.add(f"drug {value!r} interacts with itself", line=int(line))
        ok &= ~self_pair
        edges = pd.DataFrame({"src": "drug:" + frame.loc[ok, "Drug1"],
                              "dst": "drug:" + frame.loc[ok, "Drug2"], "_line": lines[ok]})
        data.edges.append(EdgeBatch(str(path), INTERACTS, edges, restrict_to_graph=True))
    data.problems += log.problems
    return data
