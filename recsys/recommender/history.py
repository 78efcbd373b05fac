"""A patient's own medication history as three components: what they took most recently
(``history``), what is still running, then most recent (``running``), and how often they
were given it (``frequency``).

Repeating what a patient takes is the strongest single predictor of their next drugs
(repeat-last beats every collaborative model on "every drug after the cutoff"), and a drug
whose record is still open (no stop date, or a stop after the patient's latest record) is
the likeliest to continue. ``history`` scores each drug the patient has a ``takes`` record
of by the rank of its last start time among their drugs (1 for the oldest, higher: more
recent); ``running`` adds the number of their drugs when a record of it is still open, so
open drugs rank above every stopped one. Every other drug scores 0: never taken is evidence
too (and a row with one taken drug must still stand out after the blend's per-row
standardisation). ``frequency`` is log(1 + the patient's records of the drug) from the
build's medication episodes (:mod:`kg.episodes`): a drug given at every admission is
likelier to be given again than one given once (personal frequency, the classic strong
baseline of repeat-purchase recommendation). The blend decides how much continuation weighs
against new drugs.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from kg.episodes import medication_episodes
from kg.graph import KnowledgeGraph
from kg.schema import EdgeType
from recsys.recommender.patient_records import still_open

__all__ = ["PatientHistory"]

TAKES = EdgeType("patient", "takes", "drug")


class PatientHistory:
    """Recency of each patient's drugs over one drug list.

    >>> history = PatientHistory(graph, drug_ids)                  # doctest: +SKIP
    >>> history.scores(["patient:mimic3:10006"])                   # doctest: +SKIP
    """

    def __init__(self, graph: KnowledgeGraph, drug_ids: Sequence[str]) -> None:
        self.n_drugs = len(drug_ids)
        takes = graph.edges.get(TAKES)
        #: Per patient: their drugs' columns, recency, running score and number of records.
        self._rows: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        if takes is None or not len(takes):
            return
        episodes = medication_episodes(graph)
        records = episodes.groupby(["patient", "drug"], sort=False).size()
        times = pd.to_datetime(takes["time"]) if "time" in takes.columns else pd.Series(pd.NaT, index=takes.index)
        times = times.astype("datetime64[ns]")  # nanoseconds: the unit of pd.Timestamp.min, an unknown start's fill
        ends = (pd.to_datetime(takes["end_time"]) if "end_time" in takes.columns
                else pd.Series(pd.NaT, index=takes.index))
        frame = pd.DataFrame({"patient": takes["src"].astype(str),
                              "drug": pd.Index(drug_ids).get_indexer(takes["dst"].astype(str)),
                              "time": times.fillna(pd.Timestamp.min), "end": ends})
        frame = frame[frame["drug"] >= 0]
        frame["open"] = still_open(frame["patient"], frame["time"], frame["end"])
        last = frame.groupby(["patient", "drug"], sort=False).agg(time=("time", "max"), open=("open", "any"))
        last = last.reset_index()
        last["recency"] = last.groupby("patient")["time"].rank(method="average", ascending=True)
        ids = np.asarray(drug_ids, dtype=object)
        last["records"] = records.reindex(pd.MultiIndex.from_arrays(
            [last["patient"].to_numpy(), ids[last["drug"].to_numpy()]])).fillna(1).to_numpy()
        for patient, group in last.groupby("patient", sort=False):
            recency = group["recency"].to_numpy(dtype=np.float64)
            running = recency + len(group) * group["open"].to_numpy(dtype=np.float64)
            self._rows[patient] = (group["drug"].to_numpy(), recency, running,
                                   group["records"].to_numpy(dtype=np.int64))

    def scores(self, patient_ids: Sequence[str], running_first: bool = False) -> np.ndarray:
        """Patients x drugs: the recency rank of each drug they took (``running_first``: drugs still
        running above every stopped one); 0 for the others."""
        return self.components(patient_ids)[1 if running_first else 0]

    def components(self, patient_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(history, running, frequency)`` scores (patients x drugs) in one pass over the patients."""
        recency, running, frequency = np.zeros((3, len(patient_ids), self.n_drugs))
        for row, patient in enumerate(patient_ids):
            found = self._rows.get(patient)
            if found is not None:
                columns, recency[row, columns], running[row, columns], counts = found
                frequency[row, columns] = np.log1p(counts)
        return recency, running, frequency

    def records(self, patient_id: str, drug_column: int) -> int:
        """How many records of the drug (by its column) the patient has; 0 if none."""
        columns, _, _, counts = self._rows.get(patient_id, (np.empty(0, dtype=np.int64),) * 4)
        return int(counts[columns == drug_column].sum())
