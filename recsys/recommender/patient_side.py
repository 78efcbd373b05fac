"""A patient's components: their conditions and drugs read through the graph, collaborative
filtering, popularity, their own history (:mod:`~recsys.recommender.history`), what followed their
drugs in other patients' records (``sequence``, :mod:`~recsys.recommender.sequences`) and
most-popular-given-diagnosis.

The graph reaches a patient three ways: ``graph``, each drug's best disease score over the
patient's conditions; ``graph_drugs``, what a drug shares in the graph with the drugs they take
(:class:`~recsys.recommender.people_graph.DrugNeighbours`); and ``people_gnn``, the people GNN
trained on patients' records (:mod:`recsys.people`): every drug embedded by an R-GCN from its
knowledge-graph neighbourhood, the patient from the drugs they took, scored by what patients
with such drugs went on to take. The first reads what a drug is for, the second what it is
like, the third which drugs go together in the records, learned over the graph.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import scipy.sparse as sp

from recsys.people import PeopleScorer

__all__ = ["patient_components", "people_gnn_scores", "PATIENT_COMPONENTS", "PATIENT_ONLY", "CONDITIONS_ONLY",
           "CONDITIONS_ONLY_WEIGHTS", "PATIENT_METAPATH"]

#: Every component a patient's blend weighs.
PATIENT_COMPONENTS = ("graph", "cf", "popularity", "history", "diagnosis", "running", "frequency", "sequence",
                      "graph_drugs", "people_gnn")
#: Components only a fitted blend weighs (0 by default): a patient's own records and their conditions'.
PATIENT_ONLY = ("history", "diagnosis", "running", "frequency", "sequence", "graph_drugs", "people_gnn")
#: The weight set of a new patient known from conditions alone (``recommend_for_new_patient``
#: without drugs), and its weights: the conditions' disease scores alone. With no drug to read,
#: the question is what treats their conditions, which the disease scorers answer and are
#: validated for (held-out indications). The drugs patients were started on after a time split
#: are no guide here: mostly hospital drugs whatever the condition, they taught the new-drugs blend
#: to weigh popularity and most-popular-given-diagnosis, which for a conditions-only patient put
#: acetaminophen and heparin above every treatment (11% of the top 10 indications of the condition
#: or in their ATC class, against 88% for the disease scores).
CONDITIONS_ONLY = "patient_conditions"
#: A disease scorer only a patient's graph component may read (never a disease blend's component):
#: the metapath model chosen on validation, kept beside an averaged one that ranks diseases' drugs
#: (``rxkg train``'s ``metapath_combine``). Averaging mixes in the fits without the metapaths through
#: patients, which are what a patient's conditions say about their next drugs: read by patients, the
#: averaged model fell from Recall@10 0.245 to 0.113 on every later drug (docs/evaluation.md).
PATIENT_METAPATH = "patient_metapath"
CONDITIONS_ONLY_WEIGHTS = {"graph": 1.0}


def patient_components(ranker, patient_ids: Sequence[str], skip: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """Raw scores per component (patients x the ranker's drugs), NaN where one cannot score."""
    n = len(patient_ids)
    out = {"graph": ranker.condition_scores(patient_ids, ranker.patient_scorers),
           "cf": ranker.cf_block(ranker.patient_cf, patient_ids),
           "popularity": np.tile(np.log1p(ranker.patient_share), (n, 1))}
    out["history"], out["running"], out["frequency"] = ranker.history.components(patient_ids)
    out["sequence"] = ranker.sequences.scores(patient_ids)
    taken = out["frequency"] > 0
    if "graph_drugs" not in skip:  # batches skip what their weights ignore
        out["graph_drugs"] = ranker.drug_neighbours.of_drug_sets(taken)
    if "people_gnn" not in skip:
        out["people_gnn"] = people_gnn_scores(ranker.patient_gnn, taken, ranker.drug_ids)
    out["diagnosis"] = ranker.diagnosis.scores(patient_ids)
    return {name: scores for name, scores in out.items() if name not in skip}


def people_gnn_scores(gnn: PeopleScorer | None, taken: np.ndarray, drug_ids: Sequence[str]) -> np.ndarray:
    """Patients x ``drug_ids``: the patients' people GNN for patients who took the drugs marked in
    ``taken`` (patients x ``drug_ids``, True where taken; whether, not how often: the GNN is
    trained on that); NaN rows for patients without a drug, everywhere without a GNN."""
    taken = np.asarray(taken, dtype=bool)
    out = np.full(taken.shape, np.nan)
    rows = np.flatnonzero(taken.any(axis=1))
    if gnn is None or not len(rows):
        return out
    ids = [str(d) for d in drug_ids]
    out[rows] = gnn.scores(sp.csr_matrix(taken[rows], dtype=np.float64), ids, None, ids)
    return out
