"""Split patients' medication histories by time (``rxkg evaluate``'s patient protocols and
``rxkg train``'s patient validation): what was known before a cutoff, what came after.

Clinical dates are not comparable across sources (MIMIC-III shifts every patient's
dates into the future by a different amount), so each patient gets their own cutoff:
the distinct times at which the patient first started a drug are ordered and the first
``history_share`` of them (at least one, never all) form the history. Everything the
graph records about an evaluated patient after that cutoff (medications started,
conditions diagnosed, allergies recorded, encounters) is removed from the training
graph, so no model, feature or popularity count can see the future, and a stop date
after the cutoff becomes unknown.

Medications are split episode by episode (the graph's ``medication_episodes`` table keeps
every record; a graph without it is read as one episode per patient and drug): a drug
stopped before the cutoff and restarted after it is history that had stopped, not a drug
still running, and a restart after the cutoff is a target. The targets are the drugs the
patient takes after the cutoff: those with an episode started after it (``new`` when no
episode started before it) and those with an episode still open there (no stop, or a
stop after the cutoff). Patients with a single start time cannot be split and stay whole
in training, like every patient without medications.

Evaluated patients are divided into validation (model selection, blend weights) and
test (scored once) by a seeded draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kg.errors import KGError
from kg.graph import KnowledgeGraph
from kg.episodes import EPISODES, TAKES, medication_episodes, open_max

__all__ = ["TimeSplit", "time_split", "medication_episodes", "TAKES", "HISTORY_SHARE"]
#: The share of a patient's distinct start times that form their history, by default.
HISTORY_SHARE = 0.8


@dataclass(frozen=True)
class TimeSplit:
    """A per-patient split by time of the ``takes`` relation; never changes its input graph.

    ``graph`` is the training graph; ``cutoffs`` maps each evaluated patient to the time
    their history ends; ``future`` lists the (patient, drug) pairs started after it with
    the part ("val" or "test") of the patient and whether the drug is ``new`` (absent
    from the patient's history).
    """

    graph: KnowledgeGraph
    cutoffs: pd.Series
    future: pd.DataFrame
    history_share: float
    seed: int

    def patients(self, part: str) -> list[str]:
        """Evaluated patients of ``part`` ("val" or "test"), sorted."""
        self._check(part)
        return sorted(self.future.loc[self.future["part"] == part, "patient"].unique())

    def targets(self, part: str, new_only: bool = False) -> pd.DataFrame:
        """The (patient, drug) pairs to predict for ``part``; ``new_only`` keeps drugs new to the patient."""
        self._check(part)
        rows = self.future[self.future["part"] == part]
        if new_only:
            rows = rows[rows["new"]]
        return rows[["patient", "drug"]].reset_index(drop=True)

    def summary(self) -> str:
        parts = {p: self.future.loc[self.future["part"] == p] for p in ("val", "test")}
        return ("time split: " + ", ".join(
            f"{p} {rows['patient'].nunique()} patients / {len(rows)} later drugs ({int(rows['new'].sum())} new)"
            for p, rows in parts.items()) + f"; history = first {self.history_share:.0%} of start times")

    @staticmethod
    def _check(part: str) -> None:
        if part not in ("val", "test"):
            raise KGError(f"part must be 'val' or 'test', got {part!r}")


def time_split(graph: KnowledgeGraph, history_share: float = HISTORY_SHARE, val_share: float = 0.3,
               seed: int = 0) -> TimeSplit:
    """Split every patient with at least two distinct medication start times (see the module doc)."""
    if not 0.0 < history_share < 1.0 or not 0.0 < val_share < 1.0:
        raise KGError(f"history_share and val_share must be in (0, 1), got {history_share}, {val_share}")
    takes = graph.edges.get(TAKES)
    if takes is None or takes.empty or "time" not in takes:
        raise KGError("a time split needs patient-takes-drug records with start times")
    episodes = medication_episodes(graph)
    # Cutoffs from each drug's first start (the edges'), not every episode's: a repeat order does
    # not move a patient's timeline on, and the evaluated patients stay those of earlier reports.
    starts = pd.DataFrame({"patient": takes["src"].astype(str), "time": pd.to_datetime(takes["time"])})
    distinct = starts.dropna().drop_duplicates().sort_values(["patient", "time"], kind="stable")
    position = distinct.groupby("patient").cumcount()
    count = distinct.groupby("patient")["time"].transform("size")
    kept = np.minimum(count - 1, np.maximum(1, np.round(history_share * count).astype(int)))
    cutoffs = distinct.loc[(count >= 2) & (position == kept - 1)].set_index("patient")["time"]
    if cutoffs.empty:
        raise KGError("no patient has medications started at two different times; nothing to split")

    edges = dict(graph.edges)
    for et, frame in graph.edges.items():
        side = "src" if et.src == "patient" else "dst" if et.dst == "patient" else None
        if et == TAKES or side is None or "time" not in frame or frame.empty:
            continue
        cutoff = frame[side].astype(str).map(cutoffs)
        after = (pd.to_datetime(frame["time"]) > cutoff).to_numpy()  # NaT and unsplit patients: False
        kept_rows = frame[~after]
        if "end_time" in frame:  # a stop after the cutoff was not known at the cutoff
            end = pd.to_datetime(kept_rows["end_time"])
            kept_rows = kept_rows.assign(end_time=end.mask(end > cutoff[~after]))
        edges[et] = kept_rows.reset_index(drop=True)

    cutoff = episodes["patient"].map(cutoffs)
    after = (episodes["time"] > cutoff).to_numpy()
    known = episodes[~after].assign(end_time=episodes["end_time"].mask(episodes["end_time"] > cutoff)[~after])
    split = cutoff[~after].notna().to_numpy()  # known episodes of split patients
    edges[TAKES] = _takes_known(takes, known[split], cutoffs)
    tables = dict(graph.tables)
    if EPISODES in tables:
        tables[EPISODES] = known.reset_index(drop=True)

    later = episodes[after][["patient", "drug"]].drop_duplicates()
    had = known[split][["patient", "drug"]].drop_duplicates()
    # Open at the cutoff: a known episode without a stop there (none, or a later one).
    running = known[split & known["end_time"].isna().to_numpy()][["patient", "drug"]].drop_duplicates()
    had_key = pd.MultiIndex.from_frame(had)
    future = pd.concat([later.assign(new=~pd.MultiIndex.from_frame(later).isin(had_key)), running.assign(new=False)])
    future = future.drop_duplicates(["patient", "drug"]).reset_index(drop=True)
    patients = np.array(sorted(future["patient"].unique()), dtype=object)
    shuffled = patients[np.random.default_rng(seed).permutation(len(patients))]
    val = set(shuffled[: max(1, int(round(val_share * len(patients))))]) if len(patients) > 1 else set()
    future["part"] = np.where(future["patient"].isin(val), "val", "test")
    future = future.sort_values(["part", "patient", "drug"], kind="stable").reset_index(drop=True)
    train = KnowledgeGraph(graph.nodes, edges, tables)
    return TimeSplit(train, cutoffs.sort_index(), future, history_share, seed)


def _takes_known(takes: pd.DataFrame, known: pd.DataFrame, cutoffs: pd.Series) -> pd.DataFrame:
    """The ``takes`` edges as known at each split patient's cutoff, from their ``known`` episodes:
    a pair without an episode started by then is gone; otherwise its first start, its records'
    weight, and its last stop, empty when an episode is still open there (the build's merge
    rule). Other patients' edges are unchanged."""
    src = takes["src"].astype(str)
    mine = src.isin(cutoffs.index).to_numpy()
    if not mine.any():
        return takes
    grouped = known.groupby(["patient", "drug"], sort=False)
    summary = grouped.agg(time=("time", "min"), weight=("weight", "sum"))
    summary["end_time"] = open_max(grouped["end_time"])
    key = pd.MultiIndex.from_arrays([src[mine].to_numpy(), takes.loc[mine, "dst"].astype(str).to_numpy()])
    found = summary.reindex(key)
    positions = np.flatnonzero(mine)
    stays = np.ones(len(takes), dtype=bool)
    stays[positions] = key.isin(summary.index)
    out = takes.copy()
    for col in ("time", "end_time", "weight"):
        if col in out.columns:
            values = found[col].to_numpy()
            column = out[col].to_numpy(copy=True)
            column[positions] = values.astype(column.dtype) if col == "weight" else values
            out[col] = column
    return out[stays].reset_index(drop=True)
