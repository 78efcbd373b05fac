"""The kernel ridge's reasons: which known indications a drug's kernel score for a disease rests on.

The deployed metapath model adds a two-step kernel ridge's scores to its own
(:mod:`recsys.link.kernel`). Its score of drug ``d`` for disease ``s`` is exactly a sum over the
known indications ``(d', s')`` of the graph: how much ``d`` is like ``d'`` (shared ATC
subgroups, pharmacologic classes, targets, side effects) times how much of ``s'`` the ridge
passes on to ``s`` (shared anatomy, genes, expression changes, resemblances, pathophysiology).
:meth:`KernelReasons.terms` returns the largest of those terms with the features each pair
shares, so a reader can check both halves in the graph: "Atorvastatin (like it: ATC C10AA,
HMGCR) treats hypercholesterolemia (like it: liver, LDLR)".

The kernels are rebuilt from the bundle's graph on first use (about half a second on the shipped
graph): the same blocks over the same drug and disease lists as the model's fit, so the same
numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from kg.graph import KnowledgeGraph
from recsys.link.kernel import FeatureBlock, FeatureKernels, TwoStepRidge, feature_blocks
from recsys.link.split import TREATS

__all__ = ["KernelTerm", "KernelReasons", "KernelReasonsOnDemand", "kernel_weight", "kernel_sentence"]

#: How a signed expression feature reads (:func:`recsys.link.kernel._signed_block` names them).
_DIRECTION = {"up": "raises", "do": "lowers"}
#: How a shared node of a block reads (a class or a pathophysiology reads as its name).
_VERBS = {"binds": "binds", "causes": "causes", "localizes": "localizes to", "associates": "gene",
          "resembles": "resembles"}


@dataclass(frozen=True)
class KernelTerm:
    """One known indication (``drug`` treats ``disease``) and its ``part`` of the ridge's score,
    with the features the scored drug shares with ``drug`` and the scored disease with
    ``disease``: (block, label) pairs (:func:`~recsys.link.kernel.feature_blocks`), largest
    shared weight first, none for the same node."""

    drug: str
    disease: str
    part: float
    drug_shares: tuple[tuple[str, str], ...]
    disease_shares: tuple[tuple[str, str], ...]

    def as_dict(self) -> dict[str, object]:
        return {"drug": self.drug, "disease": self.disease, "part": round(self.part, 6),
                "drug_shares": [list(s) for s in self.drug_shares],
                "disease_shares": [list(s) for s in self.disease_shares]}


def kernel_weight(selection: Mapping[str, dict]) -> float:
    """The kernel ridge's weight in the deployed disease scorer, from a bundle's selection record
    (0: none, or a bundle from before the kernel)."""
    chosen = (selection.get("disease_metapath") or {}).get("chosen") or {}
    return float(chosen.get("kernel_weight") or 0.0)


class KernelReasons:
    """The ridge of a graph's known indications over ``drug_ids`` x ``disease_ids`` (module doc)."""

    def __init__(self, graph: KnowledgeGraph, drug_ids: Sequence[str], disease_ids: Sequence[str]) -> None:
        self.drug_ids, self.disease_ids = list(drug_ids), list(disease_ids)
        self._drug_row = pd.Index(self.drug_ids)
        self._disease_row = pd.Index(self.disease_ids)
        self.drug_blocks, self.disease_blocks = feature_blocks(graph, {"drug": self.drug_ids,
                                                                       "disease": self.disease_ids})
        self.ridge = TwoStepRidge(FeatureKernels.from_blocks(self.drug_blocks, self.disease_blocks,
                                                             len(self.drug_ids), len(self.disease_ids)))
        treats = graph.edges.get(TREATS)
        pairs = np.empty((0, 2), dtype=np.int64)
        if treats is not None and len(treats):
            pairs = np.column_stack([self._drug_row.get_indexer(treats["src"].astype(str)),
                                     self._disease_row.get_indexer(treats["dst"].astype(str))])
            pairs = pairs[(pairs >= 0).all(axis=1)]
        self.positives = np.unique(pairs, axis=0)
        self._trained, self._smoothed = self.ridge.smoothed(self.positives)  # once: every disease reads it

    def raised(self, disease_id: str, drug_id: str) -> bool:
        """Whether the ridge scores the drug above its mean over the disease's drugs: only then did
        it raise the model's score (the model adds the ridge's standardised scores)."""
        if not len(self.positives):
            return False
        disease = np.array([self._disease_row.get_loc(disease_id)])
        row = self._smoothed @ self.ridge.transfer(self._trained, disease)[:, 0]
        return bool(row[self._drug_row.get_loc(drug_id)] > row.mean())

    def terms(self, disease_id: str, drug_id: str, k: int = 2, shares: int = 2) -> list[KernelTerm]:
        """The ``k`` known indications that add most to the ridge's score of (``drug_id``,
        ``disease_id``), largest first, each with up to ``shares`` shared features per side."""
        drug, disease = self._drug_row.get_loc(drug_id), self._disease_row.get_loc(disease_id)
        pairs, parts = self.ridge.pair_terms(self.positives, disease, drug)
        out = []
        for i in np.argsort(-parts, kind="stable")[:k]:
            if parts[i] <= 0:
                break
            other_drug, other_disease = (int(v) for v in pairs[i])
            out.append(KernelTerm(self.drug_ids[other_drug], self.disease_ids[other_disease], float(parts[i]),
                                  _shared(self.drug_blocks, drug, other_drug, shares),
                                  _shared(self.disease_blocks, disease, other_disease, shares)))
        return out

    def reasons(self, disease_id: str, drug_id: str, k: int = 2) -> list[KernelTerm]:
        """:meth:`terms` when the ridge raised the drug's score (:meth:`raised`), else none."""
        return self.terms(disease_id, drug_id, k) if self.raised(disease_id, drug_id) else []


def kernel_sentence(terms: Sequence[KernelTerm], disease_id: str, drug_id: str, names: Mapping[str, str],
                    weight: float) -> str:
    """"Drugs like it treat diseases like X (kernel ridge, weight 0.5): ..." from
    :meth:`KernelReasons.reasons` ("" without terms)."""
    if not terms:
        return ""
    disease = names.get(disease_id) or disease_id
    texts = []
    for term in terms:
        who = "it" if term.drug == drug_id else _named(term.drug, names) + _like("it", term.drug_shares, names)
        what = (f"{disease} itself" if term.disease == disease_id
                else _named(term.disease, names) + _like(disease, term.disease_shares, names))
        texts.append(f"{who} treats {what}")
    return f"Drugs like it treat diseases like {disease} (kernel ridge, weight {weight:g}): {'; '.join(texts)}."


class KernelReasonsOnDemand:
    """A :class:`KernelReasons` built on the first explanation that needs one (never for a model
    without the kernel ridge: ``weight`` 0)."""

    def __init__(self, graph: KnowledgeGraph, drug_ids: Sequence[str], disease_ids: Sequence[str],
                 weight: float) -> None:
        self._graph, self._drug_ids, self._disease_ids = graph, list(drug_ids), list(disease_ids)
        self.weight = weight
        self._reasons: KernelReasons | None = None

    def get(self) -> KernelReasons | None:
        if self.weight <= 0:
            return None
        if self._reasons is None:
            self._reasons = KernelReasons(self._graph, self._drug_ids, self._disease_ids)
        return self._reasons


def _shared(blocks: dict[str, FeatureBlock], a: int, b: int, n: int) -> tuple[tuple[str, str], ...]:
    """The (block, label) features rows ``a`` and ``b`` share, by the product of their weights
    (what the pair adds to the kernel), largest first."""
    if a == b:
        return ()
    found: list[tuple[float, str, str]] = []
    for name, block in blocks.items():
        both = block.matrix[a].multiply(block.matrix[b]).tocsr()
        found += [(float(v), name, str(block.labels[j])) for j, v in zip(both.indices, both.data) if v > 0]
    return tuple((name, label) for _, name, label in sorted(found, key=lambda f: (-f[0], f[1], f[2]))[:n])


def _named(node_id: str, names: Mapping[str, str]) -> str:
    return names.get(node_id) or node_id


def _feature_text(block: str, label: str, names: Mapping[str, str]) -> str:
    """A shared feature as a reader sees it: ``ATC C10AA``, ``binds HMGCR``, ``causes Nausea``,
    ``raises PPARG``, ``localizes to liver``, a class's name, a pathophysiology."""
    if block == "ATC":
        return f"ATC {label}"
    if block == "expression":  # "up:target:..." or "do:target:..."
        direction, _, gene = label.partition(":")
        return f"{_DIRECTION.get(direction, direction)} {_named(gene, names)}"
    verb = _VERBS.get(block)
    return f"{verb} {_named(label, names)}" if verb else _named(label, names)


def _like(what: str, shares: tuple[tuple[str, str], ...], names: Mapping[str, str]) -> str:
    return f" (like {what}: {', '.join(_feature_text(b, l, names) for b, l in shares)})" if shares else ""
