"""Ranking known entities: components scored per entity, standardised, blended and filtered.

:class:`Ranker` composes fitted components over one drug list:
- ``graph``: the disease -> drug scorers' matrices (a patient's: a drug's best standardised one over their conditions);
- ``cf``: collaborative filtering (doctor x drug, patient x drug), fold-in for new users;
- doctors' ``graph``: what a drug shares with the prescriber's drugs (:mod:`~recsys.recommender.doctor_side`);
- ``popularity``: indications per drug, within-specialty prescribing, share of patients;
- patients only: ``history``, ``running``, ``frequency`` (:mod:`~recsys.recommender.history`), ``sequence``
  (:mod:`~recsys.recommender.sequences`), ``diagnosis``, ``graph_drugs`` and ``people_gnn`` (the graph through
  the drugs they take, :mod:`~recsys.recommender.patient_side`).
Each is standardised per entity (:mod:`recsys.blend`); a component that cannot score an entity drops out and the
result says so. Patients get the safety filter by default, and three weight sets: ``patient`` (continuation plus
new drugs; the new ones by ``patient_new``'s when chosen, :mod:`~recsys.recommender.continuation`), ``patient_new``
(new only), ``patient_conditions`` (a new patient known from conditions alone); doctors four: ``doctor`` (drugs
somebody prescribes), ``doctor_sparse`` (the same, at most three drugs known), ``doctor_all`` (every drug),
``doctor_specialty`` (a new prescriber known by specialty alone). A patient's ``graph`` may read PATIENT_METAPATH.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from kg.errors import KGError
from kg.graph import KnowledgeGraph
from kg.schema import EdgeType
from kg.search import LazyNameIndex
from recsys.blend import blend_components, blend_scores, standardise_rows
from recsys.cf.base import CFRecommender, check_k
from recsys.link.terms import MetapathTerms
from recsys.people import PeopleScorer
from recsys.recommender.explain import ExplainerOnDemand
from recsys.recommender.kernel_reasons import KernelReasonsOnDemand, kernel_weight
from recsys.recommender.continuation import ADDED, NEW_DRUG, merge_new_drugs, merges
from recsys.recommender.listing import ranked_list
from recsys.recommender.fitting import choose_patient_graph, fit_on_validation, validation_sample
from recsys.recommender.diagnosis import ConditionPopularity
from recsys.recommender.doctor_side import SPECIALTY_ONLY, blend_by_history, doctor_components, doctor_kind
from recsys.recommender.patient_side import (CONDITIONS_ONLY, PATIENT_COMPONENTS, PATIENT_METAPATH, PATIENT_ONLY,
                                              patient_components)
from recsys.recommender.people_graph import DrugNeighbours
from recsys.recommender.history import PatientHistory
from recsys.recommender.sequences import DrugSequences
from recsys.recommender.results import Recommendations
from recsys.recommender.drugclasses import Combinations
from recsys.recommender.patient_records import PatientRecords
from recsys.recommender.safety import PatientContext, SafetyFilter

__all__ = ["Ranker"]

TREATS = EdgeType("drug", "treats", "disease")
TAKES = EdgeType("patient", "takes", "drug")


class Ranker:
    """The state every entry point shares (drug and disease indexes, components, weights, safety
    filter) and the ranking of known entities; :class:`~recsys.recommender.api.Recommender` adds
    the entry points for new entities, batches and explanations, and persistence."""

    def __init__(self, graph: KnowledgeGraph, disease_scores: np.ndarray | Mapping[str, np.ndarray],
                 disease_ids: Sequence[str], drug_ids: Sequence[str], doctor_cf: CFRecommender | None = None,
                 doctor_popularity: CFRecommender | None = None, patient_cf: CFRecommender | None = None,
                 weights: Mapping[str, Mapping[str, float]] | None = None,
                 selection: Mapping[str, dict] | None = None, explain_index: str | Path | None = None,
                 graph_terms: MetapathTerms | None = None, people_gnn: PeopleScorer | None = None,
                 patient_gnn: PeopleScorer | None = None, patient_graph_terms: MetapathTerms | None = None) -> None:
        self.graph = graph
        self.drug_ids = np.asarray(drug_ids, dtype=object)
        self.drug_index = pd.Index(self.drug_ids)
        self.disease_ids = list(disease_ids)
        self.disease_index = pd.Index(self.disease_ids)
        self._disease_row = {d: i for i, d in enumerate(self.disease_ids)}  # per-patient lookups: no pandas call
        if not isinstance(disease_scores, Mapping):
            disease_scores = {"graph": disease_scores}
        #: The disease -> drug scorers' matrices by component name (e.g. "metapath", "gnn").
        self.disease_scores = {name: np.asarray(m, dtype=np.float64) for name, m in disease_scores.items()}
        for name, matrix in self.disease_scores.items():
            if matrix.shape != (len(self.disease_index), len(self.drug_ids)):
                raise KGError(f"disease scores {name!r} {matrix.shape} do not match "
                              f"{len(self.disease_index)} diseases x {len(self.drug_ids)} drugs")
            if name in ("popularity", "cf"):
                raise KGError(f"a disease scorer may not be called {name!r}")
        #: Components per entity kind; the disease scorers together are a patient's "graph".
        self.components: dict[str, tuple[str, ...]] = {
            "disease": (*self.disease_scorers, "popularity"), "doctor": ("graph", "cf", "popularity"),
            "patient": PATIENT_COMPONENTS}
        # New drugs only (own drugs excluded) is another task than continuation plus new drugs: its own weights.
        self.components["patient_new"] = self.components["patient"]
        self.components[CONDITIONS_ONLY] = self.components["patient"]  # a new patient without drugs
        # Never-prescribed drugs compete (doctor_all), at most three drugs known (doctor_sparse), none: other weights.
        self.components["doctor_all"] = self.components["doctor_sparse"] = self.components[SPECIALTY_ONLY] = \
            self.components["doctor"]
        weights = dict(weights or {})
        for kind, older in (("patient_new", "patient"), ("doctor_sparse", "doctor"), (CONDITIONS_ONLY, "patient_new")):
            if older in weights:  # a bundle from before this weight set: the older one serves both
                weights.setdefault(kind, weights[older])
        self.doctor_cf, self.doctor_popularity, self.patient_cf = doctor_cf, doctor_popularity, patient_cf
        self.patient_gnn = patient_gnn  # the people GNN trained on patients' records (``people_gnn``)
        self.weights = {kind: dict(weights.get(kind, {})) for kind in self.components}
        if ADDED in weights:  # new drugs in a patient's list, when chosen (:mod:`~recsys.recommender.continuation`)
            self.weights[ADDED] = dict(weights[ADDED])
        #: How each choice was made on validation: ``fit_weights`` per kind (validation MRR of
        #: every candidate), the doctor CF model (``doctor_cf``); saved in the bundle.
        self.selection: dict[str, dict] = dict(selection or {})
        for kind, names in self.components.items():
            for name in names:
                self.weights[kind].setdefault(name, 0.0 if name in PATIENT_ONLY else 1.0)
        self._refresh_disease_graph()
        nodes = graph.nodes
        ids = nodes["id"].to_numpy(dtype=object)  # object arrays: Arrow strings iterate 10x slower
        self.names = {i: n for i, n in zip(ids, nodes["name"].to_numpy(dtype=object)) if isinstance(n, str) and n}
        self.node_types = dict(zip(ids, nodes["type"].to_numpy(dtype=object)))
        self.indication_counts = self._per_drug_counts(graph.edges.get(TREATS), "src")
        takes = graph.edges.get(TAKES, pd.DataFrame(columns=["src", "dst"]))  # a graph without patients: none
        self.patient_share = self._per_drug_counts(takes.drop_duplicates(["src", "dst"]), "dst")
        self.records = PatientRecords(graph)  # each patient's drugs and conditions, grouped on first use
        self._safety: SafetyFilter | None = None  # built on first use: diseases and doctors never need it
        self._combinations: Combinations | None = None
        self.lookup = LazyNameIndex(graph)  # "did you mean ...?" for unknown ids
        self.history = PatientHistory(graph, self.drug_ids)
        self.sequences = DrugSequences(graph, self.drug_ids)  # what follows a patient's drugs
        self.drug_neighbours = DrugNeighbours(graph, self.drug_ids, people_gnn)  # the graph's people components
        self.diagnosis = ConditionPopularity(graph, self.drug_ids)
        doctors = nodes[nodes["type"] == "doctor"]
        specialty = doctors["specialty"].to_numpy(dtype=object) if "specialty" in nodes.columns else ()
        self.specialties = {d: s for d, s in zip(doctors["id"].tolist(), specialty) if isinstance(s, str) and s}
        self.path_finder = ExplainerOnDemand(graph, explain_index)  # explanations' paths, built on first use
        self.graph_terms = graph_terms  # the metapath model's score split by metapath: faithful paths
        self.patient_graph_terms = patient_graph_terms  # the same of the patients' own (PATIENT_METAPATH)
        self.kernel_reasons = KernelReasonsOnDemand(graph, drug_ids, disease_ids, kernel_weight(self.selection))
        self._columns: dict[int, tuple[CFRecommender, np.ndarray]] = {}
        self._unprescribed: tuple[CFRecommender | None, frozenset[str]] | None = None

    @property
    def safety(self) -> SafetyFilter:
        if self._safety is None:
            self._safety = replace(SafetyFilter.from_graph(self.graph, names=self.names), records=self.records)
        return self._safety

    @safety.setter
    def safety(self, value: SafetyFilter) -> None:  # a filter built by hand reads this graph's patients
        self._safety = value if value.records is not None else replace(value, records=self.records)

    @property
    def combinations(self) -> Combinations:
        """Drugs only given inside a product: the safety filter's, or read alone (far cheaper)."""
        if self._safety is not None:
            return self._safety.combinations
        if self._combinations is None:
            self._combinations = Combinations.from_graph(self.graph)
        return self._combinations

    # ------------------------------------------------------------- ranking
    def recommend_for_disease(self, disease_id: str, k: int = 10, exclude_known: bool = False) -> Recommendations:
        """Top-``k`` drugs for a disease; ``exclude_known`` leaves out its known indications."""
        self.check_entity(disease_id, "disease", k)
        treats = self.graph.edges.get(TREATS) if exclude_known else None
        known = set(treats.loc[treats["dst"] == disease_id, "src"]) if treats is not None else set()
        return self._rank("disease", disease_id, k, skip=known)

    def recommend_for_doctor(self, doctor_id: str, k: int = 10, candidates: str = "prescribed") -> Recommendations:
        """Top-``k`` drugs the prescriber does not prescribe yet, among the drugs somebody
        prescribes (``candidates="prescribed"``) or every drug of the graph (``"all"``)."""
        self.check_entity(doctor_id, "doctor", k)
        seen = set(self.doctor_cf.train.items_of(doctor_id)) if self.knows(self.doctor_cf, doctor_id) else set()
        kind = doctor_kind(candidates, len(seen))
        return self._rank(kind, doctor_id, k, skip=seen | (self.unprescribed if kind != "doctor_all" else set()))

    @property
    def unprescribed(self) -> frozenset[str]:
        """Drugs of the graph nobody in the claims data prescribes (kept per doctor CF model)."""
        if self._unprescribed is None or self._unprescribed[0] is not self.doctor_cf:
            known = set(map(str, self.doctor_cf.train.item_ids)) if self.doctor_cf and self.doctor_cf.train else set()
            self._unprescribed = (self.doctor_cf, frozenset(str(d) for d in self.drug_ids) - known)
        return self._unprescribed[1]

    def recommend_for_patient(self, patient_id: str, k: int = 10, safety: bool = True,
                              exclude_current: bool = True) -> Recommendations:
        """Top-``k`` drugs for a patient; with ``safety`` (default) nothing interacting with what
        they take and nothing they are allergic to; ``exclude_current=False`` lets the drugs they
        take now come back (continuation plus new drugs, the ``patient`` weights) instead of new
        drugs only (the ``patient_new`` weights)."""
        self.check_entity(patient_id, "patient", k)
        context = self.safety.patient_context(patient_id, allow_current=not exclude_current) if safety else None
        skip = self.records.drugs(patient_id) if exclude_current and not safety else frozenset()
        return self._rank("patient_new" if exclude_current else "patient", patient_id, k, skip, context)

    def score(self, entity_id: str, drug_ids: Sequence[str]) -> np.ndarray:
        """Blended scores of arbitrary candidate drugs for one entity (no filtering)."""
        kind = self.kind_of(entity_id)
        if (columns := self.drug_index.get_indexer(list(drug_ids))).min(initial=0) < 0:
            bad = [d for d, c in zip(drug_ids, columns) if c < 0]
            raise KGError(f"unknown drug id(s): {bad[:5]}{self.lookup.suggest(bad[0], 'drug')}")
        blended = self.blend(kind, [entity_id])[0]
        return blended[0, columns]

    def scores(self, entity_ids: Sequence[str], chunk: int = 512) -> np.ndarray:
        """Blended scores (entities x all drugs) for many entities of one type, ``chunk`` at a time into one
        array (2,048-row chunks' buffers went back to the system: 10,000 prescribers took 0.43 or 1.2 s by turns)."""
        kinds = {self.kind_of(e) for e in entity_ids}
        if len(kinds) != 1:
            raise KGError(f"batch scoring needs entities of one type, got {sorted(kinds)}")
        kind, ids = kinds.pop(), list(entity_ids)
        out = np.empty((len(ids), len(self.drug_ids)))
        for start in range(0, len(ids), chunk):
            out[start:start + chunk] = self.blend(kind, ids[start:start + chunk], only_weighted=True)[0]
        return out

    # ---------------------------------------------------------- components
    def component_scores(self, kind: str, entity_ids: Sequence[str],
                         skip: Sequence[str] = ()) -> dict[str, np.ndarray]:
        """Raw scores per component (entities x drugs), NaN where a component cannot score.

        Components named in ``skip`` are left out of the result.
        """
        n = len(entity_ids)
        out: dict[str, np.ndarray] = {}
        if kind == "disease":
            rows = self.disease_index.get_indexer(list(entity_ids))
            for name in self.disease_scorers:
                out[name] = self.disease_scores[name][rows]
            out["popularity"] = np.tile(np.log1p(self.indication_counts), (n, 1))
        elif kind.startswith("doctor"):
            out.update(doctor_components(self, entity_ids, kind, skip))
        elif kind.startswith("patient"):
            out.update(patient_components(self, entity_ids, skip))
        else:
            raise KGError(f"unknown entity kind {kind!r}")
        return {name: scores for name, scores in out.items() if name not in skip}

    @property
    def disease_scorers(self) -> list[str]:
        """The disease scorers a disease's blend weighs (every one but :data:`PATIENT_METAPATH`)."""
        return [name for name in self.disease_scores if name != PATIENT_METAPATH]

    @property
    def patient_scorers(self) -> list[str] | None:
        """The disease scorers a patient's graph component reads (chosen on patients' validation by
        ``fit_weights``; None: the disease blend)."""
        return (self.selection.get("patient_graph") or {}).get("scorers")

    def disease_z_of(self, scorers: Sequence[str] | None = None) -> np.ndarray:
        """Standardised disease scores: the disease blend, or ``scorers`` blended with equal weights."""
        if scorers is None:
            return self.disease_z
        key = tuple(scorers)
        if key not in self._z_of:  # once per choice: a patient's graph component reads them on every call
            unknown = [s for s in key if s not in self.disease_scores]
            if unknown:
                raise KGError(f"unknown disease scorer(s) {unknown}; known: {list(self.disease_scores)}")
            self._z_of[key] = standardise_rows(blend_scores([self.disease_scores[s] for s in key], [1.0] * len(key)))
        return self._z_of[key]

    def condition_scores(self, patient_ids: Sequence[str], scorers: Sequence[str] | None = None) -> np.ndarray:
        """The patients' graph component: per drug, the best standardised disease score over
        each patient's conditions (NaN rows for patients without a scored condition), from the
        disease blend or ``scorers`` (e.g. ``["gnn"]`` for the GNN alone)."""
        disease_z = self.disease_z_of(scorers)
        out = np.full((len(patient_ids), len(self.drug_ids)), np.nan)
        for row, patient in enumerate(patient_ids):
            rows = [self._disease_row[d] for d in self.records.conditions(patient) if d in self._disease_row]
            if rows:
                out[row] = disease_z[rows].max(axis=0)
        return out

    def cf_block(self, model: CFRecommender | None, entity_ids: Sequence[str]) -> np.ndarray:
        block = np.full((len(entity_ids), len(self.drug_ids)), np.nan)
        if model is None:
            return block
        known = [i for i, e in enumerate(entity_ids) if self.knows(model, e)]
        if known:
            block[known] = self.onto_drugs(model, model.score_users([entity_ids[i] for i in known]))
        return block

    def blend(self, kind: str, entity_ids: Sequence[str], only_weighted: bool = False, by_history: bool = True):
        """Blended scores, each component's standardised scores, and the components that dropped out.

        ``only_weighted`` (batch scoring) skips components with weight 0 and the per-component
        copies, except for the rows no weighted component can score (see :func:`blend_components`).
        ``doctor``: each prescriber under the weights of their history (``by_history``, :func:`blend_by_history`).
        """
        if kind == "doctor" and by_history:
            return blend_by_history(self, entity_ids, only_weighted)
        parts = self.component_scores(kind, entity_ids, skip=self._unweighted(kind) if only_weighted else ())
        blended, standardised, dropped, scored = self.blend_parts(kind, parts, not only_weighted)
        rest = np.flatnonzero(~scored)
        if only_weighted and len(rest) and self._unweighted(kind):
            blended[rest], _, _, scored[rest] = self.blend_parts(
                kind, self.component_scores(kind, [entity_ids[i] for i in rest]), False)
        return blended, standardised, dropped, scored

    def blend_parts(self, kind: str, parts: dict[str, np.ndarray], keep_standardised: bool = True):
        """:func:`~recsys.blend.blend_components` of ``parts`` under ``kind``'s weights; a patient's list
        that continues their drugs scores the drugs new to them by the :data:`ADDED` weights when
        those were chosen (``standardised`` then marks them: :data:`NEW_DRUG` 1)."""
        blended, standardised, dropped, scored = blend_components(parts, self.weights[kind], keep_standardised)
        if kind == "patient" and merges(self.weights):
            blended, new = merge_new_drugs(parts, blended, self.weights[ADDED])
            if keep_standardised:
                standardised[NEW_DRUG] = new.astype(np.float64)
        return blended, standardised, dropped, scored

    def calibration(self, kind: str) -> dict[str, float] | None:
        """The Platt scaling fitted on ``kind``'s validation pairs (None before ``fit_weights``)."""
        return self.selection.get(kind, {}).get("calibration")

    def _unweighted(self, kind: str) -> tuple[str, ...]:
        if kind == "patient" and merges(self.weights):  # two weight sets, told apart by what they took
            added = self.weights[ADDED]
            return tuple(name for name, weight in self.weights[kind].items()
                         if weight == 0.0 and added.get(name, 0.0) == 0.0 and name != "frequency")
        return tuple(name for name, weight in self.weights[kind].items() if weight == 0.0)

    def _rank(self, kind: str, entity_id: str, k: int, skip: set[str] = frozenset(),
              context: PatientContext | None = None) -> Recommendations:
        parts = self.component_scores(kind, [entity_id])
        return self.rank_parts(kind, parts, lambda drug: entity_id, k, skip, context, entity_id)

    def rank_parts(self, kind: str, parts: dict[str, np.ndarray], explain_from: Callable[[str], str], k: int,
                   skip: set[str] = frozenset(), context: PatientContext | None = None,
                   who: str = "the entity") -> Recommendations:
        """Rank one entity's blended scores; ``explain_from(drug)`` names the node its paths start at
        (:func:`~recsys.recommender.listing.ranked_list`)."""
        return ranked_list(self, kind, parts, explain_from, k, skip, context, who)

    # ------------------------------------------------------------- weights
    def fit_weights(self, kind: str, pairs: Sequence[tuple[str, str]],
                    known: Sequence[tuple[str, str]] = (), penalty: float | Sequence[float] = 1e-2,
                    max_entities: int = 2000, seed: int = 0, metric: str = "mrr") -> dict[str, float]:
        """Fit ``kind``'s blend weights on validation ``pairs`` (entity, drug) and keep them.

        Build the recommender from the training side of a split first (its components never saw
        ``pairs``); ``known`` training pairs are neither positives nor negatives; more than
        ``max_entities`` entities are subsampled (seeded). The logistic blend competes with each
        component alone on validation ``metric`` (``selection[kind]`` records it); for diseases the
        metapath model stays unless the winner beats it with bootstrap support."""
        if kind not in self.components:
            raise KGError(f"unknown entity kind {kind!r}")
        entities, positives, usable = validation_sample(self.drug_index, pairs, known, max_entities, seed)
        if kind == "patient":  # first: the graph component the blend then weighs
            self.selection["patient_graph"] = choose_patient_graph(
                self.condition_scores, list(self.disease_scores), entities, positives, usable)
        # A GNN stacked on the metapath model replaces it only when validation resamples support it.
        reference = "metapath" if kind == "disease" and "metapath" in self.components[kind] else None
        self.weights[kind], self.selection[kind] = fit_on_validation(
            self.component_scores(kind, entities), self.components[kind], positives, usable, penalty, reference, seed,
            metric)
        if kind == "disease":
            self._refresh_disease_graph()
        return dict(self.weights[kind])

    def _refresh_disease_graph(self) -> None:
        """Standardised blend of the disease scorers (popularity left out): a patient's graph
        component (best over their conditions), similar drugs, new patients."""
        names = self.disease_scorers
        weights = [self.weights["disease"].get(n, 0.0) for n in names]
        if not any(weights):
            weights = [1.0] * len(names)
        self.disease_z = standardise_rows(blend_scores([self.disease_scores[n] for n in names], weights))
        self._z_of: dict[tuple[str, ...], np.ndarray] = {}  # disease_z_of's, per choice of scorers

    # ------------------------------------------------------------- helpers
    def _per_drug_counts(self, edges: pd.DataFrame | None, column: str) -> np.ndarray:
        positions = self.drug_index.get_indexer(edges[column]) if edges is not None and len(edges) else np.empty(0, int)
        return np.bincount(positions[positions >= 0], minlength=len(self.drug_ids)).astype(np.float64)

    @staticmethod
    def knows(model: CFRecommender | None, entity_id: str) -> bool:
        """Whether ``model`` was trained with ``entity_id`` as a user."""
        return model is not None and model.train is not None and model.train.has_user(entity_id)

    def kind_of(self, entity_id: str, expected: str | None = None) -> str:
        """The entity's type (disease, doctor or patient); an unknown id's error suggests ``expected`` ones first."""
        if (kind := self.node_types.get(entity_id)) is None:
            hint = (expected and self.lookup.suggest(entity_id, expected)) or self.lookup.suggest(entity_id)
            raise KGError(f"unknown id {entity_id!r}: not a node of the graph{hint}")
        if kind not in self.components:
            raise KGError(f"{entity_id!r} is a {kind}; recommendations are for diseases, doctors and patients")
        return kind

    def check_entity(self, entity_id: str, expected: str, k: int) -> None:
        """Raise unless ``entity_id`` is a node of type ``expected`` and ``k`` is valid."""
        check_k(k)
        kind = self.kind_of(entity_id, expected)
        if kind != expected:
            raise KGError(f"{entity_id!r} is a {kind}, not a {expected}")

    def onto_drugs(self, model: CFRecommender, scores: np.ndarray) -> np.ndarray:
        """``model``'s scores (users x its items) laid onto this drug list, NaN where it has none."""
        block = np.full((scores.shape[0], len(self.drug_ids)), np.nan)
        cached = self._columns.get(id(model))
        if cached is None or cached[0] is not model:  # the model's items on this drug list, looked up once
            cached = self._columns[id(model)] = (model, self.drug_index.get_indexer(model.train.item_ids))
        columns = cached[1]
        block[:, columns[columns >= 0]] = scores[:, columns >= 0]
        return block
