"""Therapeutic duplication: two drugs of one class at once (a second statin, a second proton pump
inhibitor, an ACE inhibitor beside an angiotensin receptor blocker), which a pharmacist checks
beside interactions, allergies and contraindications.

Classes are curated families of ATC codes (:data:`DUPLICATE_THERAPY`), not every shared ATC
subgroup, for two reasons measured on the shipped patients' current drugs:

- DrugBank gives many drugs codes of products they only appear in: calcium holds 29 codes
  (B01AC08 carbasalate calcium, N02BA15, V08AC10, ...), morphine holds G04BE07 and S01XA06.
  Counting every recorded drug as current, any shared level-4 subgroup (ATC's 5-character codes)
  flags 908 pairs among 125 of the 270 patients, led by electrolyte solutions (magnesium sulfate
  with potassium chloride, B05XA) and such product codes (alteplase with morphine, S01XA).
- Some classes are given two at a time on purpose: insulins (basal with bolus), antiplatelets
  (aspirin with clopidogrel after a stent), beta-2 agonists (a long-acting one with a rescue
  inhaler), anticonvulsants, vasopressors, electrolytes and infusion solutions. They are left out.

The families hold systemic drug classes where a second member adds the same effect: the
acid suppressants, oral antidiabetics, anticoagulants (a vitamin K antagonist, a heparin and a
direct oral anticoagulant are one family), diuretics of one site, beta blockers,
dihydropyridines, renin-angiotensin blockers, statins, systemic glucocorticoids, antibacterial
classes, NSAIDs, opioids, benzodiazepines with the Z-drugs, antipsychotics, SSRIs, tricyclics,
bisphosphonates, triptans, urological alpha blockers and 5-alpha reductase inhibitors, hormonal
contraceptives. A drug without an ATC code is in no family; the codes are the graph's with
:data:`~recsys.recommender.drugclasses.SAFETY_ATC_FIXES` applied (heparin's B01AB01, lisinopril's
C09AA03, ...).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from typing import Iterable

from kg.graph import KnowledgeGraph
from recsys.recommender.drugclasses import safety_atc_codes

__all__ = ["DUPLICATE_THERAPY", "TherapeuticDuplicates"]

#: Families of drugs of which a patient should take one at a time, by ATC code prefix.
DUPLICATE_THERAPY: dict[str, tuple[str, ...]] = {
    "proton pump inhibitors": ("A02BC",),
    "H2-receptor antagonists": ("A02BA",),
    "sulfonylureas": ("A10BB",),
    "thiazolidinediones": ("A10BG",),
    "DPP-4 inhibitors": ("A10BH",),
    "anticoagulants": ("B01AA", "B01AB", "B01AE", "B01AF"),
    "thiazide diuretics": ("C03AA", "C03BA"),
    "loop diuretics": ("C03CA",),
    "beta blockers": ("C07AA", "C07AB", "C07AG"),
    "dihydropyridine calcium channel blockers": ("C08CA",),
    "renin-angiotensin system blockers": ("C09AA", "C09CA", "C09XA"),
    "statins": ("C10AA",),
    "systemic glucocorticoids": ("H02AB",),
    "penicillins": ("J01CA", "J01CE", "J01CF"),
    "cephalosporins": ("J01DB", "J01DC", "J01DD", "J01DE", "J01DI"),
    "carbapenems": ("J01DH",),
    "tetracyclines": ("J01AA",),
    "macrolides": ("J01FA",),
    "fluoroquinolones": ("J01MA",),
    "NSAIDs": ("M01AA", "M01AB", "M01AC", "M01AE", "M01AG", "M01AH"),
    "bisphosphonates": ("M05BA",),
    "opioids": ("N02AA", "N02AB", "N02AC", "N02AD", "N02AE", "N02AF", "N02AX"),
    "triptans": ("N02CC",),
    "benzodiazepines and Z-drugs": ("N03AE", "N05BA", "N05CD", "N05CF"),
    "antipsychotics": ("N05AA", "N05AB", "N05AC", "N05AD", "N05AE", "N05AF", "N05AG", "N05AH", "N05AL", "N05AX"),
    "SSRIs": ("N06AB",),
    "tricyclic antidepressants": ("N06AA",),
    "urological alpha blockers": ("G04CA",),
    "5-alpha reductase inhibitors": ("G04CB",),
    "hormonal contraceptives": ("G03AA", "G03AB", "G03AC"),
}


@dataclass
class TherapeuticDuplicates:
    """Each drug's duplicate-therapy families, with the ATC code that puts it in each."""

    #: drug -> {family: the first of its codes in that family}
    families: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Pairs of drugs some product holds both of (the graph's ``products`` table): never duplicates.
    together: frozenset[frozenset[str]] = frozenset()

    @classmethod
    def from_graph(cls, graph: KnowledgeGraph) -> "TherapeuticDuplicates":
        families: dict[str, dict[str, str]] = defaultdict(dict)
        for drug, codes in safety_atc_codes(graph).items():
            for code in codes:
                for family, prefixes in DUPLICATE_THERAPY.items():
                    if code.startswith(prefixes):
                        families[drug].setdefault(family, code)
        together: set[frozenset[str]] = set()
        products = graph.tables.get("products")
        if products is not None and not products.empty:
            for ingredients in products["ingredients"].astype(str).unique():
                parts = sorted(set(ingredients.split("|")) & families.keys())  # only members can pair up
                together.update(frozenset(pair) for pair in combinations(parts, 2))
        return cls(dict(families), frozenset(together))

    def of(self, drug_id: str) -> dict[str, str]:
        """``{family: ATC code}`` of one drug (empty when it is in none)."""
        return self.families.get(drug_id, {})

    def co_formulated(self, first: str, second: str) -> bool:
        """Whether some product holds both drugs."""
        return frozenset((first, second)) in self.together

    def shared(self, drug_id: str, others: Iterable[str]) -> list[tuple[str, str]]:
        """``(other drug, family)`` for every one of ``others`` (``drug_id`` itself aside) in a
        family with ``drug_id`` (the first family by name where they share several), in id order."""
        mine = self.of(drug_id)
        if not mine:
            return []
        shared = ((other, sorted(mine.keys() & self.of(other).keys())) for other in sorted(set(others) - {drug_id}))
        return [(other, families[0]) for other, families in shared if families]

    def members(self) -> dict[str, set[str]]:
        """family -> its drugs: the drugs a current drug's families could flag."""
        out: dict[str, set[str]] = defaultdict(set)
        for drug, found in self.families.items():
            for family in found:
                out[family].add(drug)
        return dict(out)

    def evidence(self, drug_id: str, other: str, family: str) -> str:
        """`` (both statins: ATC C10AA05 and C10AA03)``: why two drugs duplicate."""
        return f" (both {family}: ATC {self.of(drug_id)[family]} and {self.of(other)[family]})"
