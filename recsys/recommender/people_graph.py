"""The graph for people: drugs scored by what they share with someone's drugs
(:class:`DrugNeighbours`: doctors and patients), and the doctors' graph component (:class:`DoctorGraph`):
what a drug shares with a prescriber's drugs, plus what the people GNN learned from prescribing
about drugs like it.

Two scores, both available for every drug of the graph, prescribed or not:

- **profiles**: the sum over the prescriber's drugs of log(1 + claims) x the cosine of the two
  drugs' graph profiles (:func:`~recsys.recommender.drugprofiles.neighbour_scores`); fixed
  similarity, no learning;
- **people GNN** (:mod:`recsys.people`): a drug embedded from its knowledge-graph neighbourhood,
  the prescriber from their drugs and specialty, trained on the claims to predict held-out drugs.

Each is standardised by its mean and spread over the training prescribers' scores (one affine map
for all, so the sum still ranks prescribers for a drug as well as drugs for a prescriber), and
the component is their sum. On the drug cold-start splits of seeds 1 and 2
(``python -m benchmarks.bench_people``, means of the two) the sum is the best answer to the
reverse question, which prescribers take up a new drug (AUROC 0.920 against 0.914 for the GNN
alone and 0.905 for the profiles; Precision@100 0.822 against 0.761 and 0.817), and close to the
GNN alone on ranking the new drugs for a prescriber (Recall@5 0.369 against 0.379; profiles
0.308). Weights 0.5 and 2 on the GNN did no better in the first trials.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from kg.graph import KnowledgeGraph
from recsys.cf.interactions import Interactions
from recsys.people import PeopleGNNConfig, PeopleScorer, specialties_of
from recsys.recommender.drugprofiles import DrugProfiles, fact_text, neighbour_scores

if TYPE_CHECKING:  # torch: imported only where a model is trained
    from recsys.people.train import KnowledgeInputs

__all__ = ["DrugNeighbours", "DoctorGraph", "DoctorGraphRecipe", "SCALE_PRESCRIBERS"]

#: Prescribers whose scores set the standardisation (a seeded sample beyond).
SCALE_PRESCRIBERS = 2000
SCALE_KEYS = ("profile_mean", "profile_spread", "gnn_mean", "gnn_spread")


class DoctorGraph:
    """The component (module doc); profiles alone without a GNN. ``gnn.scale`` holds the
    standardisation, fitted with it by :class:`DoctorGraphRecipe`."""

    def __init__(self, profiles: DrugProfiles, gnn: PeopleScorer | None = None) -> None:
        self.profiles, self.gnn = profiles, gnn
        self._similarity: dict[tuple[tuple[str, ...], tuple[str, ...]], np.ndarray] = {}

    def scores(self, history: sp.spmatrix, item_ids: Sequence[str], columns: Sequence[str],
               specialty: Sequence[object] | None = None, keep: bool = False) -> np.ndarray:
        """Prescribers x ``columns``: the component for prescribers whose claims are ``history``'s
        rows over ``item_ids``, with ``specialty`` per row (None for unknown). ``keep`` keeps the
        profile similarities of these drug lists for the next call (a model's fixed lists)."""
        return sum(self.halves(history, item_ids, columns, specialty, keep).values())

    def halves(self, history: sp.spmatrix, item_ids: Sequence[str], columns: Sequence[str],
               specialty: Sequence[object] | None = None, keep: bool = False) -> dict[str, np.ndarray]:
        """The two halves :meth:`scores` adds, standardised: ``profiles`` and ``people GNN``
        (the raw profile score alone without a GNN)."""
        history = sp.csr_matrix(history, dtype=np.float64)
        key = (tuple(str(i) for i in item_ids), tuple(str(c) for c in columns))
        similarity = self._similarity.get(key)
        if similarity is None:
            similarity = self.profiles.similarity(*key)
            if keep:
                self._similarity[key] = similarity
        profile = neighbour_scores(history, similarity)
        if self.gnn is None:
            return {"profiles": profile}
        p_mean, p_spread, g_mean, g_spread = (self.gnn.scale.get(k, d) for k, d in zip(SCALE_KEYS, (0, 1, 0, 1)))
        learned = np.nan_to_num(self.gnn.scores(history, key[0], specialty, key[1]), nan=g_mean)
        return {"profiles": (profile - p_mean) / p_spread, "people GNN": (learned - g_mean) / g_spread}


@dataclass(frozen=True)
class DoctorGraphRecipe:
    """How to fit the component on some claims: the graph, the drugs' profiles (over at least the
    drugs scored) and the GNN's settings (None: profiles alone)."""

    graph: KnowledgeGraph
    profiles: DrugProfiles
    gnn: PeopleGNNConfig | None = field(default_factory=PeopleGNNConfig)
    progress: bool = False

    @cached_property
    def inputs(self) -> KnowledgeInputs:
        """The graph as the people GNN's encoder reads it, built once for every fit of this recipe
        (with its adjacencies' transposes, which the first training step builds and keeps)."""
        from recsys.people.train import KnowledgeInputs

        return KnowledgeInputs.from_graph(self.graph)

    def fit(self, claims: Interactions) -> DoctorGraph:
        """The component fitted on ``claims`` (prescribers x drugs, with specialties)."""
        from recsys.people.train import fit_people_gnn

        if self.gnn is None:
            return DoctorGraph(self.profiles)
        gnn = fit_people_gnn(self.graph, claims, self.gnn, progress=self.progress, inputs=self.inputs).export()
        matrix = sp.csr_matrix(claims.matrix, dtype=np.float64)
        rows = np.flatnonzero(np.diff(matrix.indptr) > 0)
        rows = np.sort(np.random.default_rng(self.gnn.seed).choice(rows, min(len(rows), SCALE_PRESCRIBERS),
                                                                    replace=False))
        items = [str(i) for i in claims.item_ids]
        profile = DoctorGraph(self.profiles).scores(matrix[rows], items, items)
        learned = gnn.scores(matrix[rows], items, specialties_of(claims)[rows], items)
        gnn.scale = dict(zip(SCALE_KEYS, (float(profile.mean()), _spread(profile), float(np.nanmean(learned)),
                                          _spread(learned))))
        return DoctorGraph(self.profiles, gnn)


class DrugNeighbours:
    """Drugs scored through the graph for people, over one drug list: the doctors' ``graph``
    component (:class:`DoctorGraph`, with the people GNN when the model has one) and the patients'
    ``graph_drugs``. Built from the graph on first use."""

    def __init__(self, graph: KnowledgeGraph, drug_ids: np.ndarray, gnn: PeopleScorer | None = None) -> None:
        self._graph = graph
        self.drug_ids = drug_ids
        self.gnn = gnn
        self._profiles: DrugProfiles | None = None
        self._doctors: DoctorGraph | None = None
        self._binary: np.ndarray | None = None

    @property
    def profiles(self) -> DrugProfiles:
        if self._profiles is None:
            self._profiles = DrugProfiles.from_graph(self._graph, [str(d) for d in self.drug_ids])
        return self._profiles

    @property
    def doctor_graph(self) -> DoctorGraph:
        if self._doctors is None:
            self._doctors = DoctorGraph(self.profiles, self.gnn)
        return self._doctors

    def scores(self, history: sp.spmatrix, item_ids: Sequence[str], keep: bool = True,
               specialty: Sequence[object] | None = None) -> np.ndarray:
        """Users x this drug list: the doctors' graph component for users whose drugs are
        ``history``'s rows over ``item_ids`` (raw claim counts) and whose specialties are
        ``specialty``; NaN rows for users without any. ``keep`` keeps the similarities of
        ``item_ids`` for the next call (the CF model's item list)."""
        history = sp.csr_matrix(history)
        out = self.doctor_graph.scores(history, item_ids, self.drug_ids, specialty, keep)
        out[np.diff(history.indptr) == 0] = np.nan
        return out

    def of_drug_sets(self, uses: np.ndarray) -> np.ndarray:
        """Users x this drug list: the sum of each candidate's similarity to the drugs a user uses
        (``uses``: users x this drug list, True where they use it; a patient's ``graph_drugs``,
        which records whether, not how often, a drug was given: validation preferred it to
        log(1 + records)); NaN rows for users without any."""
        if self._binary is None:
            ids = [str(d) for d in self.drug_ids]
            self._binary = self.profiles.similarity(ids, ids)
        uses = np.asarray(uses, dtype=bool)
        out = np.full(uses.shape, np.nan)
        for row in np.flatnonzero(uses.any(axis=1)):  # a few drugs each: their rows only
            out[row] = self._binary[uses[row]].sum(axis=0)
        return out

    def sentence(self, drug_id: str, used: Mapping[str, float], names: Mapping[str, str],
                 verb: str = "prescribe") -> str:
        """The graph component's evidence for ``drug_id``: the drugs of ``used`` (drug -> claims or
        records) that add most to it (log(1 + count) x similarity) and the facts each shares with it."""
        drugs = [d for d in used if d != drug_id]
        if not drugs:
            return ""
        similarity = self.profiles.similarity(drugs, [drug_id])[:, 0]
        weight = np.log1p(np.maximum(np.array([used[d] for d in drugs], dtype=np.float64), 0.0)) * similarity
        best = [i for i in np.argsort(-weight, kind="stable")[:2] if weight[i] > 0]
        if not best:
            return ""
        shares = []
        for i in best:
            facts = ", ".join(fact_text(f, names) for f in self.profiles.shared(drugs[i], drug_id, 2))
            shares.append(f"{names.get(drugs[i]) or drugs[i]} ({facts})")
        return f"In the graph it is like drugs they {verb}: {'; '.join(shares)}."

    def halves_sentence(self, drug_id: str, prescribed: Mapping[str, float], specialty: str | None) -> str:
        """How the doctors' graph score of ``drug_id`` splits between its two halves, for a
        prescriber of ``prescribed`` (drug -> claims); empty without a people GNN."""
        if self.gnn is None or not prescribed:
            return ""
        row = sp.csr_matrix(np.array([list(prescribed.values())], dtype=np.float64))
        parts = self.doctor_graph.halves(row, list(prescribed), [drug_id], [specialty])
        return ("Its graph score (standardised) is drug profiles " + f"{parts['profiles'][0, 0]:+.2f}"
                + f" plus the people GNN {parts['people GNN'][0, 0]:+.2f}.")


def _spread(block: np.ndarray) -> float:
    spread = float(np.nanstd(block)) if block.size else 0.0
    return spread if spread > 1e-12 else 1.0
