"""What the safety filter costs: the share of drugs clinicians actually started that each policy removes.

A filter that blocks what clinicians go on to prescribe is either catching real risks or
too blunt; the report shows both sides per policy so users choose knowingly: the share of
truly started drugs removed (and by which rule), beside the hybrid's recall with that
policy applied.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable, Sequence

import numpy as np

from kg.graph import KnowledgeGraph
from recsys.recommender.patient_records import PatientRecords
from recsys.recommender.safety import SafetyFilter, SafetyPolicy

__all__ = ["POLICIES", "policy_costs"]

#: The policies compared, by the name the report gives them.
POLICIES: dict[str, SafetyPolicy | None] = {
    "no filter": None,
    "default: interactions and allergies removed, contraindications warned": SafetyPolicy(),
    "strict: contraindications removed too": SafetyPolicy(contraindications="remove"),
}


def policy_costs(safety: SafetyFilter, graph: KnowledgeGraph, patients: Sequence[str], drug_ids: Sequence[str],
                 scores: np.ndarray, started, recall: Callable[[np.ndarray], float]) -> dict:
    """Per policy: share of started (patient, drug) pairs removed, removals by rule, and recall.

    ``started`` is the patients x drugs sparse matrix of drugs started after the cutoff;
    ``recall(scores)`` scores a (patients x drugs) matrix where ``-inf`` marks removed drugs.
    """
    out: dict[str, dict] = {}
    records = PatientRecords(graph)  # indexed once for every patient
    contexts = [records.context(p) for p in patients]
    drugs = list(drug_ids)
    for name, policy in POLICIES.items():
        if policy is None:
            out[name] = {"started_removed": 0.0, "by_rule": {}, "recall": round(float(recall(scores)), 4)}
            continue
        judged = safety.with_policy(policy)
        filtered = scores.copy()
        removed, rules = 0, Counter()
        for row, context in enumerate(contexts):
            unsafe = judged.unsafe_mask(drugs, context)
            filtered[row, unsafe] = -np.inf
            for column in started[row].indices:
                if unsafe[column]:
                    removed += 1
                    rules.update({e.reason for e in judged.reasons(drugs[column], context)})
        total = max(int(started.nnz), 1)
        out[name] = {"started_removed": round(removed / total, 4),
                     "by_rule": {rule: round(n / total, 4) for rule, n in sorted(rules.items())},
                     "recall": round(float(recall(filtered)), 4)}
    return {"pairs": int(started.nnz), "patients": len(patients), "policies": out}
