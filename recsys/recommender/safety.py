"""Safety filter: never a drug the patient takes, one that interacts, an allergen or a contraindication.

Everything comes from the graph, so a user's own interaction source (CSV or RDF mapped
onto ``interacts_with``, optionally with a ``severity``), allergy records
(``allergic_to``) and contraindication table (``contraindicated_in``) work unchanged.

- A drug only ever given inside a combination product (clavulanate, with amoxicillin)
  is checked as every ingredient of that product (:class:`~recsys.recommender.drugclasses.Combinations`).
- An allergy covers the ingredient itself and every drug sharing its ATC pharmacological
  subgroup (level 3: J01C penicillins, M01A NSAIDs), with subgroups inferred from narrow
  pharmacologic classes and DrugBank categories for drugs without ATC codes
  (:class:`~recsys.recommender.drugclasses.DrugClasses`); an allergy may name a class
  directly (``atc:J01C``).
- Interactions remove at or above ``SafetyPolicy.block_at``; weaker ones warn. An
  interaction whose severity the source does not give always removes.
- Contraindications (side effects that are one of the patient's conditions, and curated
  pairs; :mod:`~recsys.recommender.contraindications`) remove, warn or are ignored by
  ``SafetyPolicy.contraindications``.
- Therapeutic duplication (a drug of a class the patient already takes a member of: a second
  statin; :mod:`~recsys.recommender.duplication`) warns, removes or is ignored by
  ``SafetyPolicy.duplicates``.

What the filter removes comes back with its reasons and evidence; what it lets through
carries warnings, including "no interaction data" for a drug the sources say nothing about.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from kg.atc import ATC_LEVELS
from kg.errors import KGError
from kg.graph import KnowledgeGraph
from kg.schema import EdgeType
from recsys.recommender.contraindications import Contraindications
from recsys.recommender.drugclasses import ATC_PREFIX, Combinations, DrugClasses
from recsys.recommender.duplication import TherapeuticDuplicates
from recsys.recommender.patient_records import PatientContext, PatientRecords

__all__ = ["Exclusion", "PatientContext", "SafetyFilter", "SafetyPolicy", "SEVERITIES",
           "INTERACTS", "ALLERGIC_TO"]

INTERACTS = EdgeType("drug", "interacts_with", "drug")
ALLERGIC_TO = EdgeType("patient", "allergic_to", "drug")
#: Interaction severities, mildest first.
SEVERITIES = ("minor", "moderate", "major", "contraindicated")
#: What a rule that may be meant (contraindications, duplicates) does: remove, warn or nothing.
RULE_ACTIONS = ("remove", "warn", "off")
NO_INTERACTION_DATA = "no interaction data for this drug: interactions cannot be ruled out"


@dataclass(frozen=True)
class SafetyPolicy:
    """How strict the filter is: interactions removed from ``block_at`` up (weaker ones warn);
    contraindications and therapeutic duplicates ``remove``d, ``warn``ed about or ``off``."""

    block_at: str = "minor"
    #: Warn by default: SIDER lists a side effect for hundreds of drugs each (sinusitis 300,
    #: hypertension 439), so removing them all would drop 45% of the drugs clinicians start.
    contraindications: str = "warn"
    #: Warn by default: a second drug of a class is sometimes meant (a switch in progress, a
    #: long-acting opioid with a short-acting one), and the prescriber knows which.
    duplicates: str = "warn"

    def __post_init__(self) -> None:
        if self.block_at not in SEVERITIES:
            raise KGError(f"block_at must be one of {', '.join(SEVERITIES)}, got {self.block_at!r}")
        for name in ("contraindications", "duplicates"):
            if getattr(self, name) not in RULE_ACTIONS:
                raise KGError(f"{name} must be one of {', '.join(RULE_ACTIONS)}, "
                              f"got {getattr(self, name)!r}")


@dataclass(frozen=True)
class Exclusion:
    """A candidate the filter removed, and why."""

    drug_id: str
    reason: str  # "already taken" | "interaction" | "allergy" | "contraindication" | "duplication"
    because_of: str  # the current drug, the allergen, the class or the condition behind the reason
    detail: str = ""

    def text(self, names: Mapping[str, str] | None = None) -> str:
        """One sentence; with ``names`` drugs read as ``Acetaminophen (drug:DB00316)``."""
        def label(node_id: str) -> str:
            name = (names or {}).get(node_id)
            return f"{name} ({node_id})" if name else node_id

        drug, cause = label(self.drug_id), label(self.because_of)
        return {"already taken": f"{drug} is already taken",
                "interaction": f"{drug} interacts with current drug {cause}{self.detail}",
                "allergy": f"{drug} matches recorded allergy {cause}{self.detail}",
                "contraindication": f"{drug} is contraindicated in {cause}{self.detail}",
                "duplication": f"{drug} duplicates current drug {cause}{self.detail}"}[self.reason]


@dataclass
class SafetyFilter:
    """Known interactions, drug classes, combinations and contraindications, checked against a patient.

    Build with :meth:`from_graph`; ``filter`` keeps the safe candidates in order.

    >>> safety = SafetyFilter.from_graph(graph)                                  # doctest: +SKIP
    >>> kept, removed = safety.filter(["drug:DB00945"], safety.context(graph, "patient:mimic3:10006"))  # doctest: +SKIP
    """

    interactions: dict[str, frozenset[str]] = field(default_factory=dict)
    classes: DrugClasses = field(default_factory=DrugClasses)
    combinations: Combinations = field(default_factory=Combinations)
    contraindications: Contraindications = field(default_factory=Contraindications)
    severity: dict[frozenset[str], str] = field(default_factory=dict)  # pair -> known severity
    policy: SafetyPolicy = field(default_factory=SafetyPolicy)
    names: dict[str, str] = field(default_factory=dict, repr=False)  # for readable warnings
    #: The patients' records of the graph the filter was built from (None: built by hand).
    records: PatientRecords | None = field(default=None, repr=False, compare=False)
    duplicates: TherapeuticDuplicates = field(default_factory=TherapeuticDuplicates)
    _risk_index: "_RiskIndex | None" = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def from_graph(cls, graph: KnowledgeGraph, class_level: int = 3, policy: SafetyPolicy | None = None,
                   names: dict[str, str] | None = None) -> "SafetyFilter":
        """Everything the filter knows, read from ``graph`` (``names``: node names, when already at hand)."""
        if class_level not in ATC_LEVELS:
            raise KGError(f"allergy class level must be one of {sorted(ATC_LEVELS)}, got {class_level}")
        pairs: dict[str, set[str]] = defaultdict(set)
        severity: dict[frozenset[str], str] = {}
        edges = graph.edges.get(INTERACTS)
        if edges is not None:
            levels = edges["severity"] if "severity" in edges.columns else pd.Series(None, index=edges.index)
            for a, b, level in zip(edges["src"].to_numpy(dtype=object), edges["dst"].to_numpy(dtype=object),
                                   levels.to_numpy(dtype=object)):
                pairs[a].add(b)
                pairs[b].add(a)  # an interaction is symmetric whichever way a source stores it
                if isinstance(level, str) and level.strip():
                    level = level.strip().lower()
                    if level not in SEVERITIES:
                        raise KGError(f"interaction {a} -- {b}: severity {level!r} is not one of "
                                      f"{', '.join(SEVERITIES)}")
                    key = frozenset((a, b))  # two sources disagreeing: the graver one holds
                    severity[key] = max(level, severity.get(key, level), key=SEVERITIES.index)
        names = names if names is not None else _node_names(graph)
        return cls({d: frozenset(p) for d, p in pairs.items()}, DrugClasses.from_graph(graph, class_level, names),
                   Combinations.from_graph(graph), Contraindications.from_graph(graph, names), severity,
                   policy or SafetyPolicy(), names, PatientRecords(graph), TherapeuticDuplicates.from_graph(graph))

    def with_policy(self, policy: SafetyPolicy) -> "SafetyFilter":
        """The same knowledge under another policy (nothing is rebuilt)."""
        judged = replace(self, policy=policy)
        judged._risk_index = self._risk_index  # the same knowledge: its index is shared
        return judged

    # ---------------------------------------------------------------- context
    @staticmethod
    def context(graph: KnowledgeGraph, patient_id: str,
                current_window_days: float | None = None, allow_current: bool = False) -> PatientContext:
        """A patient's current drugs, allergies and conditions from the graph (see
        :meth:`PatientRecords.context`). Many patients of one graph: index it once with
        ``PatientRecords(graph)``, or use :meth:`patient_context` on a filter built from it."""
        return PatientRecords(graph).context(patient_id, current_window_days, allow_current)

    def patient_context(self, patient_id: str, current_window_days: float | None = None,
                        allow_current: bool = False) -> PatientContext:
        """:meth:`context` for the graph this filter was built from, its records indexed once."""
        if self.records is None:
            raise KGError("this safety filter was not built from a graph; use SafetyFilter.context(graph, ...)")
        return self.records.context(patient_id, current_window_days, allow_current)

    # ---------------------------------------------------------------- checks
    def assess(self, drug_id: str, context: PatientContext) -> tuple[list[Exclusion], list[str]]:
        """Every reason ``drug_id`` is unsafe for ``context``, and the warnings it passes with."""
        warnings: list[str] = []
        return self._check(drug_id, context, warnings), warnings

    def reasons(self, drug_id: str, context: PatientContext) -> list[Exclusion]:
        """Every reason ``drug_id`` is unsafe for ``context`` (empty when it is safe)."""
        return self._check(drug_id, context, None)  # masks over every drug need no warning text

    def review(self, context: PatientContext) -> list[Exclusion]:
        """What is unsafe in the patient's current drugs themselves, by the rules a candidate is
        checked by: a current drug matching a recorded allergy or contraindicated in a condition,
        and two current drugs that interact (each interacting pair of ingredients once, however
        many of the patient's products hold them), and two running drugs of one duplicate-therapy
        class unless the policy turns that check off. A recommender cannot remove these, but the
        prescriber should see them beside its list. Allergies and contraindications come first, then
        duplicates, then interactions."""
        allergies: list[Exclusion] = []
        # (reached through a product, ingredient, problem), per kind of pair problem
        met: dict[str, list[tuple[bool, str, Exclusion]]] = {"duplication": [], "interaction": []}
        for drug in sorted(context.current_drugs):
            rest = replace(context, current_drugs=context.current_drugs - {drug})  # the patient without it
            for ingredient in self.combinations.ingredients(drug):
                via = self._via(drug, ingredient)
                self._allergies(drug, ingredient, via, rest, allergies)
                self._contraindications(drug, ingredient, via, rest, allergies, None)
                found: list[Exclusion] = []
                self._interactions(drug, ingredient, via, rest, found, None)
                met["interaction"].extend((ingredient != drug, ingredient, problem) for problem in found)
            if self.policy.duplicates != "off" and drug in context.concurrent:  # warned or removed: listed
                found = []  # each running drug as itself: its product's other ingredients are records of their own
                self._duplicates(drug, (drug,), rest, found, None, "remove")
                met["duplication"].extend((False, drug, problem) for problem in found)
        pairs: dict[str, list[Exclusion]] = {}
        for reason, problems in met.items():
            seen: set[frozenset[str]] = set()
            pairs[reason] = []
            for _, ingredient, problem in sorted(problems, key=lambda m: m[0]):  # as taken before via a product
                pair = frozenset((ingredient, problem.because_of))
                if pair not in seen:
                    seen.add(pair)
                    pairs[reason].append(problem)
        return sorted(allergies, key=lambda p: p.reason) + pairs["duplication"] + pairs["interaction"]

    def _via(self, drug_id: str, ingredient: str) -> str:
        """How a reason reached ``drug_id``: through ``ingredient``, another drug of its product."""
        return "" if ingredient == drug_id else f"; through {self._label(ingredient)}, given with it in one product"

    def _check(self, drug_id: str, context: PatientContext, warnings: list[str] | None) -> list[Exclusion]:
        out: list[Exclusion] = []
        if drug_id in context.current_drugs and not context.allow_current:
            out.append(Exclusion(drug_id, "already taken", drug_id))
        ingredients = self.combinations.ingredients(drug_id)
        for ingredient in ingredients:
            via = self._via(drug_id, ingredient)
            self._interactions(drug_id, ingredient, via, context, out, warnings)
            self._allergies(drug_id, ingredient, via, context, out)
            self._contraindications(drug_id, ingredient, via, context, out, warnings)
        self._duplicates(drug_id, self.combinations.given_as(drug_id), context, out, warnings, self.policy.duplicates)
        if warnings is not None and not any(self.interactions.get(i) for i in ingredients):
            warnings.append(NO_INTERACTION_DATA)
        return out

    def _interactions(self, drug_id: str, ingredient: str, via: str, context: PatientContext,
                      out: list[Exclusion], warnings: list[str] | None) -> None:
        for current in sorted(self.interactions.get(ingredient, frozenset()) & context.current_drugs):
            level = self.severity.get(frozenset((ingredient, current)))
            if level is None or SEVERITIES.index(level) >= SEVERITIES.index(self.policy.block_at):
                out.append(Exclusion(drug_id, "interaction", current,
                                     (f" (severity {level})" if level else " (severity not recorded)") + via))
            elif warnings is not None:
                warnings.append(f"{level} interaction with current drug {self._label(current)}{via}")

    def _allergies(self, drug_id: str, ingredient: str, via: str, context: PatientContext,
                   out: list[Exclusion]) -> None:
        classes = self.classes.of(ingredient)
        for allergen in sorted(context.allergies):
            if allergen == ingredient:
                out.append(Exclusion(drug_id, "allergy", allergen, " (same ingredient" + via + ")"))
            elif allergen.startswith(ATC_PREFIX):
                for klass, source in sorted(classes.items()):
                    if klass.startswith(allergen) or allergen.startswith(klass):
                        out.append(Exclusion(drug_id, "allergy", allergen, f" (class {klass[len(ATC_PREFIX):]}, "
                                             f"{_provenance(ingredient, source)}{via})"))
                        break
            else:
                theirs = self.classes.of(allergen)
                shared = sorted(set(classes) & set(theirs))
                if shared:
                    klass = shared[0]
                    sources = {_provenance(ingredient, classes[klass]), _provenance(allergen, theirs[klass])}
                    out.append(Exclusion(drug_id, "allergy", allergen, f" (same class {klass[len(ATC_PREFIX):]}: "
                                         f"{'; '.join(sorted(sources))}{via})"))

    def _contraindications(self, drug_id: str, ingredient: str, via: str, context: PatientContext,
                           out: list[Exclusion], warnings: list[str] | None) -> None:
        if self.policy.contraindications == "off" or not context.conditions:
            return
        for found in self.contraindications.of(ingredient, context.conditions):
            action = found.action or self.policy.contraindications
            if action == "remove":
                out.append(Exclusion(drug_id, "contraindication", found.disease_id, f" ({found.evidence}{via})"))
            elif action == "warn" and warnings is not None:
                warnings.append(f"possible contraindication in {self._label(found.disease_id)}: {found.evidence}{via}")

    def _duplicates(self, drug_id: str, ingredients: Sequence[str], context: PatientContext,
                    out: list[Exclusion], warnings: list[str] | None, action: str) -> None:
        """Each running drug that ``drug_id``, given as ``ingredients``, duplicates, once (``action``:
        "remove" adds exclusions, "warn" warnings). Against the drugs taken together now: a statin
        stopped last year is no duplicate; nor are two ingredients of one product (a progestin and
        an oestrogen of one pill)."""
        if action == "off":
            return
        reported: set[str] = set()
        for ingredient in ingredients:
            for current, family in self.duplicates.shared(ingredient, context.concurrent - {drug_id}):
                if current in reported or self.duplicates.co_formulated(ingredient, current):
                    continue
                reported.add(current)
                evidence = self.duplicates.evidence(ingredient, current, family) + self._via(drug_id, ingredient)
                if action == "remove":
                    out.append(Exclusion(drug_id, "duplication", current, evidence))
                elif warnings is not None:
                    warnings.append(f"therapeutic duplication with current drug {self._label(current)}{evidence}")

    def _label(self, node_id: str) -> str:
        name = self.names.get(node_id)
        return f"{name} ({node_id})" if name else node_id

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
        """Boolean mask over ``drug_ids``: True where the drug must not be recommended.

        Only the drugs something in ``context`` could rule out are checked (:meth:`at_risk`);
        every other drug is safe without a look, which makes a mask over 1,500 drugs cheap.
        """
        at_risk = self.at_risk(context)
        return np.fromiter((d in at_risk and bool(self.reasons(d, context)) for d in drug_ids), dtype=bool,
                           count=len(drug_ids))

    def at_risk(self, context: PatientContext) -> set[str]:
        """Every drug a rule could remove for ``context``: a superset of the unsafe ones.

        The current drugs, their interaction partners (and, where duplicates are removed, the
        other members of their duplicate-therapy classes), the allergens and their classes'
        members, the drugs contraindicated in the conditions, and every drug given together
        with one of those in a combination product.
        """
        index = self._index()
        ingredients = set(context.current_drugs)
        for current in context.current_drugs:
            ingredients |= index.interacting.get(current, set())
            if self.policy.duplicates == "remove":
                for family in self.duplicates.of(current):
                    ingredients |= index.family_members.get(family, set())
        for allergen in context.allergies:
            ingredients.add(allergen)
            related = ([k for k in index.members if k.startswith(allergen) or allergen.startswith(k)]
                       if allergen.startswith(ATC_PREFIX) else self.classes.of(allergen))
            for klass in related:
                ingredients |= index.members.get(klass, set())
        if self.policy.contraindications != "off":
            for condition in context.conditions:
                ingredients |= self.contraindications.by_disease.get(condition, {}).keys()
        out = set(ingredients)
        for ingredient in ingredients:
            out |= index.products_with.get(ingredient, set())
        return out

    def _index(self) -> "_RiskIndex":
        if self._risk_index is None:
            self._risk_index = _RiskIndex.of(self.interactions, self.classes, self.combinations, self.duplicates)
        return self._risk_index


@dataclass(frozen=True)
class _RiskIndex:
    """Inverse look-ups for :meth:`SafetyFilter.at_risk`: drug -> the drugs listing it as an
    interaction (a filter built by hand may list a pair one way only), class -> member
    drugs, duplicate-therapy family -> member drugs, and ingredient -> the combination-only
    drugs given with it."""

    interacting: dict[str, set[str]]
    members: dict[str, set[str]]
    products_with: dict[str, set[str]]
    family_members: dict[str, set[str]]

    @classmethod
    def of(cls, interactions: Mapping[str, frozenset[str]], classes: DrugClasses,
           combinations: Combinations, duplicates: TherapeuticDuplicates) -> "_RiskIndex":
        interacting: dict[str, set[str]] = defaultdict(set)
        for drug, partners in interactions.items():
            for partner in partners:
                interacting[partner].add(drug)
        members: dict[str, set[str]] = defaultdict(set)
        for drug, found in classes.classes.items():
            for klass in found:
                members[klass].add(drug)
        products_with: dict[str, set[str]] = defaultdict(set)
        for drug, partners in combinations.partners.items():
            for partner in partners:
                products_with[partner].add(drug)
        return cls(dict(interacting), dict(members), dict(products_with), duplicates.members())


def _node_names(graph: KnowledgeGraph) -> dict[str, str]:
    ids, names = graph.nodes["id"].to_numpy(dtype=object), graph.nodes["name"].to_numpy(dtype=object)
    return {i: n for i, n in zip(ids, names) if isinstance(n, str) and n}


def _provenance(drug_id: str, source: str) -> str:
    return f"{drug_id} by {source}"
