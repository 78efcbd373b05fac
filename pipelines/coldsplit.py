"""Drugs that lose every prescription: the splits of the drug cold-start questions.

:func:`cold_drugs` draws 20% of the prescribed drugs (seeded, per popularity stratum; drugs
given together in one combination product, and drugs with exactly the same prescribers, go
cold together); :func:`without_drugs` removes their prescriptions and medication records from
a graph; :func:`mixed_split` also holds out 20% of each prescriber's other drugs, so that
prescribed and never-prescribed drugs compete in one list. ``rxkg train`` fits the doctors'
``doctor_all`` weights on a mixed split of the training claims; ``rxkg evaluate`` measures
on another seed's (:mod:`pipelines.evaluation.coldstart`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kg.graph import KnowledgeGraph
from kg.schema import EdgeType
from recsys.cf import Interactions
from recsys.cf.split import per_user_holdout

__all__ = ["cold_drugs", "without_drugs", "mixed_split", "MixedSplit", "ColdSplit", "cold_split", "COLD_SHARE"]

PRESCRIBES = EdgeType("doctor", "prescribes", "drug")
TAKES = EdgeType("patient", "takes", "drug")
#: Share of the prescribed drugs that go cold.
COLD_SHARE = 0.2
#: Share of each prescriber's other drugs a mixed split holds out.
HOLDOUT = 0.2
#: Popularity strata the cold drugs are drawn from.
STRATA = 5


def cold_drugs(claims, partners: dict[str, frozenset[str]], share: float = COLD_SHARE, seed: int = 0) -> list[str]:
    """The cold drugs (sorted): ``share`` of the prescribed drugs of ``claims`` (prescribers x
    drugs), drawn per popularity stratum; drugs linked by ``partners`` (combination products)
    or with identical prescribers are drawn as one unit."""
    matrix = sp.csc_matrix(claims.matrix)
    items = [str(i) for i in claims.item_ids]
    prescribed = [j for j in range(len(items)) if matrix.indptr[j + 1] > matrix.indptr[j]]
    parent = {j: j for j in prescribed}

    def root(j: int) -> int:
        while parent[j] != j:
            parent[j] = parent[parent[j]]
            j = parent[j]
        return j

    position = {items[j]: j for j in prescribed}
    same: dict[bytes, int] = {}
    for j in prescribed:
        key = matrix.indices[matrix.indptr[j]:matrix.indptr[j + 1]].tobytes()
        for other in [same.setdefault(key, j)] + [position[p] for p in partners.get(items[j], ()) if p in position]:
            parent[root(other)] = root(j)
    units: dict[int, list[int]] = {}
    for j in prescribed:
        units.setdefault(root(j), []).append(j)
    prescribers = np.diff(matrix.indptr)
    grouped = sorted(units.values(), key=lambda u: (max(prescribers[j] for j in u), min(u)))
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for stratum in np.array_split(np.arange(len(grouped)), min(STRATA, len(grouped))):
        take = int(round(share * len(stratum)))
        for i in rng.permutation(stratum)[:take]:
            chosen.extend(grouped[i])
    if not chosen and grouped:
        chosen = list(grouped[int(rng.integers(len(grouped)))])
    return sorted(items[j] for j in chosen)


@dataclass(frozen=True)
class ColdSplit:
    """People x drugs cut into the cold drugs' columns (``truth``: what is to be found) and the
    others (``history``: what is known), over ``items`` (every drug of the input)."""

    cold: list[str]
    items: pd.Index
    warm: np.ndarray  # columns of ``items`` that stay
    truth: sp.csr_matrix
    history: sp.csr_matrix

    def warm_part(self, interactions: Interactions) -> Interactions:
        """``interactions`` (the input this split was cut from) without the cold drugs' columns:
        what a model of this split may be trained on."""
        return Interactions(self.history, interactions.user_ids, interactions.item_ids[self.warm],
                            interactions.user_attributes)

    @property
    def users(self) -> np.ndarray:
        """Rows with a cold drug to find and a warm one to find it from."""
        return np.flatnonzero((np.diff(self.truth.indptr) > 0) & (np.diff(self.history.indptr) > 0))


def cold_split(interactions, partners: dict[str, frozenset[str]], seed: int = 0,
               share: float = COLD_SHARE) -> ColdSplit:
    """``interactions`` (people x drugs) split by :func:`cold_drugs` into cold and warm columns."""
    cold = cold_drugs(interactions, partners, share, seed)
    items = pd.Index([str(i) for i in interactions.item_ids])
    warm = np.setdiff1d(np.arange(len(items)), items.get_indexer(cold))
    matrix = sp.csr_matrix(interactions.matrix, dtype=np.float64)
    return ColdSplit(cold, items, warm, matrix[:, items.get_indexer(cold)], matrix[:, warm])


def without_drugs(graph: KnowledgeGraph, drugs: list[str]) -> KnowledgeGraph:
    """A copy of ``graph`` in which nobody prescribes or takes ``drugs`` (edges and episodes)."""
    gone = set(drugs)
    edges = dict(graph.edges)
    for relation in (PRESCRIBES, TAKES):
        frame = edges.get(relation)
        if frame is not None:
            edges[relation] = frame[~frame["dst"].astype(str).isin(gone).to_numpy()].reset_index(drop=True)
    tables = {name: (t[~t["drug"].astype(str).isin(gone).to_numpy()].reset_index(drop=True)
                     if "patient" in t.columns and "drug" in t.columns else t) for name, t in graph.tables.items()}
    return KnowledgeGraph(graph.nodes, edges, tables)


@dataclass(frozen=True)
class MixedSplit:
    """Cold drugs plus a per-prescriber holdout of the others.

    ``train`` has the warm drugs only (a cold drug has no column, as a drug nobody prescribes
    has none in the deployed model) without the held-out entries. ``history`` and ``truth``
    are the evaluated prescribers' rows over every drug of the input (``items``): what
    training kept, and what it must find (held-out warm drugs and their cold drugs).
    """

    cold: list[str]
    items: pd.Index
    train: Interactions
    users: np.ndarray  # rows of the input (and of ``train``) that are evaluated
    history: sp.csr_matrix
    truth: sp.csr_matrix


def mixed_split(claims: Interactions, partners: dict[str, frozenset[str]], seed: int = 0,
                share: float = COLD_SHARE, holdout: float = HOLDOUT) -> MixedSplit:
    """``claims`` (prescribers x drugs) split as :class:`MixedSplit` says; evaluated prescribers
    are those with something to find and something kept."""
    cold = cold_drugs(claims, partners, share, seed)
    items = pd.Index([str(i) for i in claims.item_ids])
    is_cold = np.zeros(len(items), dtype=bool)
    is_cold[items.get_indexer(cold)] = True
    matrix = sp.csr_matrix(claims.matrix)
    warm_entry = ~is_cold[matrix.indices]
    held = per_user_holdout(matrix, holdout, np.random.default_rng(seed), eligible=warm_entry)
    kept = warm_entry & ~held
    history, truth = (sp.csr_matrix((np.where(mask, matrix.data, 0.0), matrix.indices.copy(), matrix.indptr.copy()),
                                    shape=matrix.shape) for mask in (kept, ~kept))  # own arrays: pruned in place
    history.eliminate_zeros()
    truth.eliminate_zeros()
    warm = np.flatnonzero(~is_cold)
    train = Interactions(history[:, warm], claims.user_ids, claims.item_ids[warm], claims.user_attributes)
    users = np.flatnonzero((np.diff(truth.indptr) > 0) & (np.diff(history.indptr) > 0))
    return MixedSplit(cold, items, train, users, history[users], truth[users])
