"""Medication episodes: every record of a patient's drug, as the build kept it.

A ``takes`` edge merges a patient's records of one drug (first start, last stop), so it
cannot say that a drug was stopped and started again, or how often it was given. The
build keeps each record in the ``medication_episodes`` table (see
:attr:`kg.schema.RelationSpec.episodes`); a graph without that table (built by an older
rxkg, or assembled by hand) is read as one episode per edge.
"""

from __future__ import annotations

import pandas as pd

from kg.graph import KnowledgeGraph
from kg.schema import SCHEMA, EdgeType

__all__ = ["medication_episodes", "open_max", "TAKES", "EPISODES"]

TAKES = EdgeType("patient", "takes", "drug")
#: The table the build keeps ``takes`` records in.
EPISODES = SCHEMA.spec(TAKES).episodes


def open_max(values: "pd.core.groupby.SeriesGroupBy") -> pd.Series:
    """Each group's latest value, missing when any of its records has none: a medication with a
    record still open (no stop) is open. The merge rule of ``takes`` stops, and of a time split's
    stops once those after the cutoff are unknown."""
    return values.max().where(values.count() == values.size())


def medication_episodes(graph: KnowledgeGraph) -> pd.DataFrame:
    """Every medication record (``patient``, ``drug``, ``time``, ``end_time``, ``weight``): the
    graph's episode table, or one episode per ``takes`` edge for a graph without one (empty
    when it has no ``takes`` edges)."""
    table = graph.tables.get(EPISODES)
    if table is not None:
        return pd.DataFrame({"patient": table["patient"].astype(str).to_numpy(),
                             "drug": table["drug"].astype(str).to_numpy(),
                             "time": pd.to_datetime(table["time"]).to_numpy(),
                             "end_time": pd.to_datetime(table["end_time"]).to_numpy(),
                             "weight": table["weight"].astype("float64").to_numpy()})
    takes = graph.edges.get(TAKES, pd.DataFrame(columns=["src", "dst"]))
    nat = pd.Series(pd.NaT, index=takes.index, dtype="datetime64[ns]")
    return pd.DataFrame({"patient": takes["src"].astype(str).to_numpy(), "drug": takes["dst"].astype(str).to_numpy(),
                         "time": pd.to_datetime(takes.get("time", nat)).to_numpy(),
                         "end_time": pd.to_datetime(takes.get("end_time", nat)).to_numpy(),
                         "weight": takes["weight"].astype("float64").to_numpy() if "weight" in takes else 1.0})
