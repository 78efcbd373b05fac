"""Safety filter: never recommend a drug the patient takes, one that interacts, or an allergen.

Everything comes from the graph, so a user's own interaction source (CSV or RDF mapped
onto ``interacts_with``) or allergy records (``allergic_to``) work unchanged. An
allergy covers the drug itself (the ingredient) and every drug sharing its ATC
pharmacological subgroup (level 3, e.g. J01C penicillins, M01A NSAIDs), the usual unit
of cross-reactivity; an allergy may also name a class directly (``atc:J01C``).
What the filter removes comes back with its reasons: nothing is dropped silently.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from kg.errors import KGError
from kg.graph import KnowledgeGraph
from kg.schema import EdgeType
from kg.atc import ATC_LEVELS, drug_atc_codes

__all__ = ["Exclusion", "PatientContext", "SafetyFilter", "INTERACTS", "ALLERGIC_TO"]

INTERACTS = EdgeType("drug", "interacts_with", "drug")
ALLERGIC_TO = EdgeType("patient", "allergic_to", "drug")
TAKES = EdgeType("patient", "takes", "drug")
ATC_PREFIX = "atc:"


@dataclass(frozen=True)
class Exclusion:
    """A candidate the filter removed, and why (``reason`` is one of the ``REASONS``)."""

    drug_id: str
    reason: str  # "already taken" | "interaction" | "allergy"
    because_of: str  # the current drug, the allergen or the class behind the reason
    detail: str = ""

    def text(self, names: Mapping[str, str] | None = None) -> str:
        """One sentence; with ``names`` drugs read as ``Acetaminophen (drug:DB00316)``."""
        def label(node_id: str) -> str:
            name = (names or {}).get(node_id)
            return f"{name} ({node_id})" if name else node_id

        drug, cause = label(self.drug_id), label(self.because_of)
        return {"already taken": f"{drug} is already taken",
                "interaction": f"{drug} interacts with current drug {cause}",
                "allergy": f"{drug} matches recorded allergy {cause}{self.detail}"}[self.reason]


@dataclass(frozen=True)
class PatientContext:
    """What safety needs to know about one patient."""

    current_drugs: frozenset[str] = frozenset()
    allergies: frozenset[str] = frozenset()  # drug ids or ``atc:<class>`` codes
    #: Continuation allowed: a current drug may be recommended again (interactions still checked).
    allow_current: bool = False


@dataclass
class SafetyFilter:
    """Known interactions and drug classes, checked against a patient's drugs and allergies.

    Build with :meth:`from_graph`; ``filter`` keeps the safe candidates in order.

    >>> safety = SafetyFilter.from_graph(graph)                                  # doctest: +SKIP
    >>> kept, removed = safety.filter(["drug:DB00945"], safety.context(graph, "patient:mimic3:10006"))  # doctest: +SKIP
    """

    interactions: dict[str, frozenset[str]] = field(default_factory=dict)
    drug_classes: dict[str, frozenset[str]] = field(default_factory=dict)
    class_level: int = 3

    @classmethod
    def from_graph(cls, graph: KnowledgeGraph, class_level: int = 3) -> "SafetyFilter":
        if class_level not in ATC_LEVELS:
            raise KGError(f"allergy class level must be one of {sorted(ATC_LEVELS)}, got {class_level}")
        pairs: dict[str, set[str]] = defaultdict(set)
        edges = graph.edges.get(INTERACTS)
        if edges is not None:
            for a, b in zip(edges["src"], edges["dst"]):
                pairs[a].add(b)
                pairs[b].add(a)  # an interaction is symmetric whichever way a source stores it
        width = ATC_LEVELS[class_level]
        classes = {drug: frozenset(ATC_PREFIX + code[:width] for code in codes)
                   for drug, codes in drug_atc_codes(graph).items()}
        return cls({d: frozenset(p) for d, p in pairs.items()}, classes, class_level)

    # ---------------------------------------------------------------- context
    @staticmethod
    def context(graph: KnowledgeGraph, patient_id: str,
                current_window_days: float | None = None, allow_current: bool = False) -> PatientContext:
        """A patient's current drugs and allergies from the graph.

        By default every drug the patient has a record of counts as current (the safe
        reading of a medication history whose stop dates are often missing); with
        ``current_window_days`` only records without a stop, or stopping within that many
        days of the patient's latest record, do. ``allow_current`` lets current drugs be
        recommended again (they are still checked for interactions).
        """
        if not graph.has_node(patient_id) or graph.node(patient_id)["type"] != "patient":
            raise KGError(f"{patient_id!r} is not a patient in the graph")
        takes = graph.edges.get(TAKES, pd.DataFrame(columns=["src", "dst"]))
        mine = takes[takes["src"] == patient_id]
        if current_window_days is not None and len(mine):
            start = pd.to_datetime(mine.get("time"), errors="coerce")
            end = pd.to_datetime(mine.get("end_time"), errors="coerce")
            latest = pd.concat([start, end]).max()
            keep = end.isna() | (end >= latest - pd.Timedelta(days=current_window_days))
            mine = mine[keep.to_numpy()]
        allergies = graph.edges.get(ALLERGIC_TO, pd.DataFrame(columns=["src", "dst"]))
        return PatientContext(frozenset(mine["dst"]),
                              frozenset(allergies.loc[allergies["src"] == patient_id, "dst"]), allow_current)

    # ---------------------------------------------------------------- checks
    def reasons(self, drug_id: str, context: PatientContext) -> list[Exclusion]:
        """Every reason ``drug_id`` is unsafe for ``context`` (empty when it is safe)."""
        out: list[Exclusion] = []
        if drug_id in context.current_drugs and not context.allow_current:
            out.append(Exclusion(drug_id, "already taken", drug_id))
        for current in sorted(self.interactions.get(drug_id, frozenset()) & context.current_drugs):
            out.append(Exclusion(drug_id, "interaction", current))
        classes = self.drug_classes.get(drug_id, frozenset())
        for allergen in sorted(context.allergies):
            if allergen == drug_id:
                out.append(Exclusion(drug_id, "allergy", allergen, " (same ingredient)"))
            elif allergen.startswith(ATC_PREFIX):
                if any(c.startswith(allergen) or allergen.startswith(c) for c in classes):
                    out.append(Exclusion(drug_id, "allergy", allergen, " (class)"))
            else:
                shared = sorted(classes & self.drug_classes.get(allergen, frozenset()))
                if shared:
                    out.append(Exclusion(drug_id, "allergy", allergen,
                                         f" (same class {shared[0][len(ATC_PREFIX):]})"))
        return out

    def filter(self, candidates: Sequence[str],
               context: PatientContext) -> tuple[list[int], list[Exclusion]]:
        """Positions of the safe candidates (in order) and the exclusions of the others."""
        kept: list[int] = []
        removed: list[Exclusion] = []
        for position, drug in enumerate(candidates):
            why = self.reasons(drug, context)
            if why:
                removed.extend(why)
            else:
                kept.append(position)
        return kept, removed

    def unsafe_mask(self, drug_ids: Sequence[str], context: PatientContext) -> np.ndarray:
        """Boolean mask over ``drug_ids``: True where the drug must not be recommended."""
        return np.fromiter((bool(self.reasons(d, context)) for d in drug_ids), dtype=bool,
                           count=len(drug_ids))
