"""A patient's own medication history as a component: what they took, the most recent first.

Repeating what a patient takes is the strongest single predictor of their next drugs
(repeat-last beats every collaborative model on "every drug after the cutoff"). The
component scores each drug the patient has a ``takes`` record of by the rank of its last
start time among their drugs (1 for the oldest, higher: more recent) and every other drug
0: never taken is evidence too (and a row with one taken drug must still stand out after
the blend's per-row standardisation). The blend decides how much continuation weighs
against new drugs.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from kg.graph import KnowledgeGraph
from kg.schema import EdgeType

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
        self._rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if takes is None or not len(takes):
            return
        times = pd.to_datetime(takes["time"]) if "time" in takes.columns else pd.Series(pd.NaT, index=takes.index)
        frame = pd.DataFrame({"patient": takes["src"].astype(str),
                              "drug": pd.Index(drug_ids).get_indexer(takes["dst"].astype(str)),
                              "time": times.fillna(pd.Timestamp.min)})
        frame = frame[frame["drug"] >= 0]
        last = frame.groupby(["patient", "drug"], sort=False)["time"].max().reset_index()
        last["recency"] = last.groupby("patient")["time"].rank(method="average", ascending=True)
        for patient, group in last.groupby("patient", sort=False):
            self._rows[patient] = (group["drug"].to_numpy(), group["recency"].to_numpy(dtype=np.float64))

    def scores(self, patient_ids: Sequence[str]) -> np.ndarray:
        """Patients x drugs: the recency rank of each drug they took, 0 for the others."""
        out = np.zeros((len(patient_ids), self.n_drugs))
        for row, patient in enumerate(patient_ids):
            found = self._rows.get(patient)
            if found is not None:
                out[row, found[0]] = found[1]
        return out
