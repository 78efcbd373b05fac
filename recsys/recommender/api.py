"""The hybrid recommender users call: drugs for a disease, a doctor or a patient, safe and explained.

:class:`Recommender` is a :class:`~recsys.recommender.ranking.Ranker` (components, blend,
safety, ranking of known entities) with the entry points of
:mod:`recsys.recommender.entities` as methods and a bundle on disk
(:mod:`recsys.recommender.bundle`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from recsys.cf.profile import DoctorProfile
from recsys.recommender import entities
from recsys.recommender.audience import Prescriber, doctors_for_drug
from recsys.recommender.bundle import read_recommender_parts, save_recommender
from recsys.recommender import reasons
from recsys.recommender.contributions import Explanation
from recsys.recommender.explain import PathExplainer
from recsys.recommender.ranking import Ranker
from recsys.recommender.results import Recommendation, Recommendations

__all__ = ["Recommendation", "Recommendations", "Recommender"]


class Recommender(Ranker):
    """Blend of the graph scorer, CF and popularity for diseases, doctors and patients.

    Examples
    --------
    >>> rec = Recommender(graph, scores, disease_ids, drug_ids, doctor_cf=als)   # doctest: +SKIP
    >>> [r.name for r in rec.recommend_for_disease("disease:DOID:9352", k=3)]    # doctest: +SKIP
    """

    # ------------------------------------------------------ explanations
    @property
    def explainer(self) -> PathExplainer:
        """The path finder of explanations: a bundle's stored adjacency, else built from the graph."""
        return self.path_finder.get()

    def explain_pair(self, kind: str, entity_id: str, drug_id: str,
                     components: Mapping[str, float | None], k: int = 3) -> Explanation:
        """Why ``drug_id`` stands where it does for ``entity_id`` under ``kind``'s weights, from its
        standardised ``components``; see :mod:`recsys.recommender.reasons`."""
        return reasons.explain_pair(self, kind, entity_id, drug_id, components, k)

    def cf_evidence(self, entity_id: str, drug_id: str, peers: int = 20) -> dict[str, object]:
        """How many of the entity's nearest CF peers use the drug, and which of its own drugs are
        most like it (doctors and patients known to CF; empty otherwise); see :mod:`.evidence`."""
        return reasons.cf_evidence_of(self, entity_id, drug_id, peers)

    # ------------------------------------------------------ new entities
    def recommend_for_new_patient(self, conditions: Sequence[str] = (), current_drugs: Sequence[str] = (),
                                  allergies: Sequence[str] = (), k: int = 10,
                                  safety: bool = True) -> Recommendations:
        """Top-``k`` for a patient not in the graph; see :func:`entities.recommend_for_new_patient`."""
        return entities.recommend_for_new_patient(self, conditions, current_drugs, allergies, k, safety)

    def recommend_for_new_doctor(self, prescriptions: Mapping[str, float], specialty: str | None = None,
                                 k: int = 10, state: str | None = None, candidates: str = "prescribed"
                                 ) -> Recommendations:
        """Top-``k`` for a prescriber not in the graph; see :func:`entities.recommend_for_new_doctor`."""
        return entities.recommend_for_new_doctor(self, prescriptions, specialty, k, state, candidates)

    def recommend_many(self, entity_ids: Sequence[str], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Batch form: top-``k`` ids and scores for many entities; see :func:`entities.recommend_many`."""
        return entities.recommend_many(self, entity_ids, k)

    # -------------------------------------------------- drugs and doctors
    def similar_drugs(self, drug_id: str, k: int = 10, by: str = "graph") -> list[tuple[str, str, float]]:
        """Drugs most like ``drug_id`` (``by="graph"`` or ``"prescribing"``); see :func:`entities.similar_drugs`."""
        return entities.similar_drugs(self, drug_id, k, by)

    def recommend_doctors_for_drug(self, drug_id: str, k: int = 10) -> list[Prescriber]:
        """Prescribers who do not prescribe ``drug_id`` yet, those it suits best first, also for a
        drug nobody prescribes (through the graph); see :mod:`recsys.recommender.audience`."""
        return doctors_for_drug(self, drug_id, k)

    def profile_doctor(self, doctor_id: str, peers: int = 5) -> DoctorProfile:
        """The prescriber's therapeutic areas, differences from their specialty, and peers."""
        return entities.profile_doctor(self, doctor_id, peers)

    def explain(self, entity_id: str, drug_id: str, k: int = 3, exclude_current: bool = True) -> dict[str, object]:
        """Why ``drug_id`` for ``entity_id``: each component's part of its score, graph paths, CF
        evidence, one text; a patient's under the weights of new drugs only, as
        :meth:`recommend_for_patient` ranks by default, or with ``exclude_current=False`` of
        continuation plus new drugs."""
        return entities.explain(self, entity_id, drug_id, k, exclude_current)

    # ---------------------------------------------------------- persistence
    def save(self, path: str | Path, force: bool = False) -> Path:
        """Write the bundle directory (graph, scores, CF models, weights, sha256 manifest)."""
        return save_recommender(self, path, force)

    @classmethod
    def load(cls, path: str | Path) -> "Recommender":
        """Read a bundle written by :meth:`save`, every checksum verified."""
        return cls(**read_recommender_parts(path))
