"""Most popular given diagnosis as a component: what patients with the same conditions take.

For each condition, P(drug | condition) is the share of the graph's patients with that
condition (``has_condition``) who have a ``takes`` record of the drug; a patient's score
for a drug sums it over their conditions. It is the strongest simple baseline for a
patient's *new* drugs after collaborative filtering, and unlike CF it needs no drug
history: a new patient with conditions only gets it too. NaN rows: no known condition.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kg.graph import KnowledgeGraph
from kg.schema import EdgeType

__all__ = ["ConditionPopularity"]

TAKES = EdgeType("patient", "takes", "drug")
HAS_CONDITION = EdgeType("patient", "has_condition", "disease")


class ConditionPopularity:
    """P(drug | condition) from the graph's patients, summed over each patient's conditions.

    >>> diagnosis = ConditionPopularity(graph, drug_ids)                        # doctest: +SKIP
    >>> diagnosis.scores(["patient:mimic3:10006"])                               # doctest: +SKIP
    >>> diagnosis.for_conditions(["disease:DOID:9352"])                          # doctest: +SKIP
    """

    def __init__(self, graph: KnowledgeGraph, drug_ids: Sequence[str]) -> None:
        self.n_drugs = len(drug_ids)
        conditions, takes = graph.edges.get(HAS_CONDITION), graph.edges.get(TAKES)
        empty = pd.DataFrame({"src": pd.Series(dtype=object), "dst": pd.Series(dtype=object)})
        conditions = empty if conditions is None else conditions
        takes = empty if takes is None else takes
        srcs = [conditions["src"].to_numpy(dtype=object), takes["src"].to_numpy(dtype=object)]
        self.patients = pd.Index(pd.unique(np.concatenate(srcs))) if any(len(s) for s in srcs) else pd.Index([])
        self._row = {p: i for i, p in enumerate(self.patients)}  # a dict: one lookup per call, no Index overhead
        self.diseases = pd.Index(pd.unique(conditions["dst"].to_numpy(dtype=object)))
        self._has = self._binary(conditions, self.diseases)
        took = self._binary(takes, pd.Index(drug_ids))
        share = 1.0 / np.maximum(np.asarray(self._has.sum(axis=0)).ravel(), 1.0)
        #: diseases x drugs: the share of the condition's patients who take the drug.
        self.given = sp.csr_matrix(sp.diags(share) @ (self._has.T @ took))

    def _binary(self, edges: pd.DataFrame, columns: pd.Index) -> sp.csr_matrix:
        rows = self.patients.get_indexer(edges["src"].to_numpy(dtype=object))
        cols = columns.get_indexer(edges["dst"].to_numpy(dtype=object))
        keep = (rows >= 0) & (cols >= 0)
        matrix = sp.csr_matrix((np.ones(int(keep.sum())), (rows[keep], cols[keep])),
                               shape=(len(self.patients), len(columns)))
        matrix.data[:] = 1.0  # repeated records of a pair count once
        return matrix

    def scores(self, patient_ids: Sequence[str]) -> np.ndarray:
        """Patients x drugs; NaN rows for patients without a known condition."""
        rows = np.fromiter((self._row.get(p, -1) for p in patient_ids), dtype=np.int64, count=len(patient_ids))
        out = np.full((len(patient_ids), self.n_drugs), np.nan)
        inside = np.flatnonzero(rows >= 0)
        if len(inside):
            has = self._has[rows[inside]]
            scored = np.asarray(has.sum(axis=1)).ravel() > 0
            out[inside[scored]] = (has[scored] @ self.given).toarray()
        return out

    def share(self, disease_id: str, column: int) -> float:
        """P(drug | condition) for one condition and drug column (0 for a condition no patient has)."""
        row = self.diseases.get_indexer([disease_id])[0]
        return float(self.given[row, column]) if row >= 0 else 0.0

    def for_conditions(self, disease_ids: Sequence[str]) -> np.ndarray:
        """One row for a new patient with these conditions (NaN if none is known)."""
        columns = self.diseases.get_indexer(list(disease_ids))
        columns = columns[columns >= 0]
        if not len(columns):
            return np.full((1, self.n_drugs), np.nan)
        return np.asarray(self.given[columns].sum(axis=0)).reshape(1, -1)
