"""Drug classes for allergy checks, and combination products, from every source the graph has.

Cross-reactivity is judged by curated families where allergy cross-reactivity is established
(:data:`CROSS_REACTIVE`: penicillins, cephalosporins, NSAIDs with the salicylates, ...), and
otherwise at the ATC pharmacological subgroup (level 3). A drug in a family is classed by its
family alone: its other level-3 subgroups group drugs by use, not by chemistry (aspirin's
B01A antithrombotics hold warfarin and clopidogrel, its A01A stomatologicals epinephrine and
doxycycline), and aspirin's NSAID family reaches ibuprofen, which shares no ATC subgroup with it.

A drug without an ATC code (clavulanate) would escape that check, so its class is inferred
from the graph's other class sources: a Hetionet pharmacologic class or a DrugBank category
counts when it is as narrow as one class (enough of its members have ATC codes and
nearly all of those share one class, :data:`_NARROW`). "beta Lactamase Inhibitors"
(sulbactam J01CG01, tazobactam J01CG02) puts clavulanate in J01C; "Anti-Bacterial
Agents" spans a dozen subgroups and says nothing. Every class carries the source it
came from, so an exclusion can say why.

Combination products come from the graph's ``products`` table (written by the
clinical loaders): a drug that is never recorded alone, only inside products with
other ingredients, is given as that product, so safety checks every ingredient.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Mapping

from kg.atc import ATC_LEVELS, drug_atc_codes
from kg.graph import KnowledgeGraph
from kg.schema import EdgeType

__all__ = ["DrugClasses", "Combinations", "ATC_PREFIX", "CROSS_REACTIVE", "SAFETY_ATC_FIXES", "safety_atc_codes"]

ATC_PREFIX = "atc:"
CLASS_MEMBERSHIP = EdgeType("pharmacologic_class", "includes", "drug")
#: (members with ATC codes, share of them in one subgroup) a class needs before it says anything:
#: curated pharmacologic classes are narrow by design; DrugBank categories mix levels
#: ("Antidiabetic Agents" holds insulins and oral drugs) and must agree completely.
_NARROW = {"pharmacologic class": (2, 0.8), "DrugBank category": (3, 1.0)}
#: Families of drugs an allergy to one member rules out, by ATC code prefix: chemical families
#: whose members cross-react (a beta-lactam ring class, the sulfonamide antibacterials) and the
#: NSAIDs, which share the COX-1 mechanism of NSAID hypersensitivity (aspirin is N02BA01,
#: ibuprofen M01AE01). Monobactams and carbapenems are apart from the penicillins and
#: cephalosporins. A drug with a code here is classed by its families only.
CROSS_REACTIVE: dict[str, tuple[str, ...]] = {
    "penicillins": ("J01C",),
    "cephalosporins": ("J01DB", "J01DC", "J01DD", "J01DE", "J01DI"),
    "monobactams": ("J01DF",),
    "carbapenems": ("J01DH",),
    "sulfonamide antibacterials": ("J01E",),
    "tetracyclines": ("J01AA",),
    "macrolides": ("J01FA",),
    "aminoglycosides": ("J01GB",),
    "fluoroquinolones": ("J01MA",),
    "NSAIDs and salicylates": ("M01A", "M02AA", "N02BA", "S01BC"),
    "ACE inhibitors": ("C09A", "C09B"),
    "heparins": ("B01AB",),
    "aromatic anticonvulsants": ("N03AA", "N03AB", "N03AF"),
    "amide local anaesthetics": ("N01BB",),
    "ester local anaesthetics": ("N01BA",),
    "iodinated contrast media": ("V08A",),
}

#: ATC codes (WHO ATC index) the shipped DrugBank 4.2 records lack or hold in error, applied for the
#: safety checks only (the models read the graph's codes as they are): drug -> (codes added, codes
#: withdrawn). Heparin is listed under its topical codes alone (C05BA01, S01XA09), so no heparin
#: allergy reached enoxaparin and no anticoagulant duplicate reached heparin; lisinopril's C09AA03
#: sits on loratadine's record, which left lisinopril in no class and loratadine among the ACE
#: inhibitors; 19 more drugs that the shipped patients or prescribers take have no code at all (of
#: the 23 such drugs in no class, carbidopa, butalbital and clavulanate have no code of their own).
SAFETY_ATC_FIXES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "drug:DB01109": (("B01AB01",), ()),  # heparin
    "drug:DB00722": (("C09AA03",), ()),  # lisinopril
    "drug:DB00455": ((), ("C09AA03",)),  # loratadine: lisinopril's code
    "drug:DB01225": (("B01AB05",), ()),  # enoxaparin
    "drug:DB00316": (("N02BE01",), ()),  # acetaminophen (paracetamol)
    "drug:DB00959": (("H02AB04",), ()),  # methylprednisolone
    "drug:DB00047": (("A10AE04",), ()),  # insulin glargine
    "drug:DB01306": (("A10AB05",), ()),  # insulin aspart
    "drug:DB01307": (("A10AE05",), ()),  # insulin detemir
    "drug:DB08914": (("A10AC01",), ()),  # insulin isophane
    "drug:DB01611": (("P01BA02",), ()),  # hydroxychloroquine
    "drug:DB00158": (("B03BB01",), ()),  # folic acid
    "drug:DB00165": (("A11HA02",), ()),  # pyridoxine
    "drug:DB06151": (("R05CB01", "V03AB23"), ()),  # acetylcysteine
    "drug:DB06723": (("A02AB01",), ()),  # aluminium hydroxide
    "drug:DB06724": (("A12AA04",), ()),  # calcium carbonate
    "drug:DB09020": (("A06AB02",), ()),  # bisacodyl
    "drug:DB01344": (("V03AE01",), ()),  # polystyrene sulfonate
    "drug:DB01914": (("B05CX01",), ()),  # glucose
    "drug:DB00062": (("B05AA01",), ()),  # human serum albumin
    "drug:DB05276": (("J06BB04",), ()),  # hepatitis B immunoglobulin
    "drug:DB08866": (("G03AB08",), ()),  # estradiol valerate and dienogest
}


def safety_atc_codes(graph: KnowledgeGraph) -> dict[str, list[str]]:
    """The graph's ATC codes per drug with :data:`SAFETY_ATC_FIXES` applied to the drugs it holds."""
    codes = {drug: list(found) for drug, found in drug_atc_codes(graph).items()}
    present = set(graph.nodes_of_type("drug")["id"].astype(str))
    for drug, (added, withdrawn) in SAFETY_ATC_FIXES.items():
        if drug not in present:
            continue
        kept = [c for c in codes.get(drug, []) if c not in withdrawn]
        fixed = kept + [c for c in added if c not in kept]
        if fixed:
            codes[drug] = fixed
        else:
            codes.pop(drug, None)
    return codes


@dataclass
class DrugClasses:
    """Each drug's ATC subgroups (``atc:J01C``) and, per subgroup, where it came from."""

    classes: dict[str, dict[str, str]] = field(default_factory=dict)
    level: int = 3

    @classmethod
    def from_graph(cls, graph: KnowledgeGraph, level: int = 3,
                   names: Mapping[str, str] | None = None) -> "DrugClasses":
        """Classes of every drug; ``names`` (node names) label the pharmacologic classes."""
        width = ATC_LEVELS[level]
        classes: dict[str, dict[str, str]] = defaultdict(dict)
        coded: dict[str, set[str]] = {}  # every coded drug's subgroups, families aside: what inference votes on
        for drug, codes in safety_atc_codes(graph).items():
            coded[drug] = {code[:width] for code in codes}
            families = sorted({family for code in codes for family, prefixes in CROSS_REACTIVE.items()
                               if code.startswith(prefixes)})
            for family in families:  # every prefix of the family: a member shares them all
                for prefix in CROSS_REACTIVE[family]:
                    classes[drug].setdefault(ATC_PREFIX + prefix, f"ATC, {family}")
            if not families:
                for subgroup in sorted(coded[drug]):
                    classes[drug].setdefault(ATC_PREFIX + subgroup, "ATC")
        for (kind, name), members in sorted(_class_sources(graph, names or {}).items()):
            subgroup = _narrow_subgroup(members, coded, *_NARROW[kind])
            if subgroup is None:
                continue
            for drug in sorted(members - coded.keys()):  # inference only fills drugs without ATC codes
                for klass in _with_families(subgroup):
                    classes[drug].setdefault(ATC_PREFIX + klass, f"inferred from {kind} {name}")
        return cls({d: dict(c) for d, c in classes.items() if c}, level)

    def of(self, drug_id: str) -> dict[str, str]:
        """``{class: provenance}`` for one drug (empty when no source classifies it)."""
        return self.classes.get(drug_id, {})


def _class_sources(graph: KnowledgeGraph, names: Mapping[str, str]) -> dict[tuple[str, str], set[str]]:
    """Members of every Hetionet pharmacologic class and DrugBank category, keyed by (kind, name)."""
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    edges = graph.edges.get(CLASS_MEMBERSHIP)
    if edges is not None:
        for klass, drug in zip(edges["src"], edges["dst"]):
            out["pharmacologic class", str(names.get(klass) or klass)].add(drug)
    drugs = graph.nodes_of_type("drug")
    if "categories" in drugs.columns:
        for drug, value in zip(drugs["id"], drugs["categories"]):
            if isinstance(value, str):
                for category in filter(None, value.split("|")):
                    out["DrugBank category", category].add(drug)
    return out


def _with_families(subgroup: str) -> list[str]:
    """An inferred ``subgroup`` and every family it overlaps, whole: which family of N01B (amide or
    ester local anaesthetics) a drug without an ATC code belongs to is unknown, so it is in both,
    as in the subgroup before (the safe side of an allergy check)."""
    touched = [family for family, prefixes in CROSS_REACTIVE.items()
               if any(p.startswith(subgroup) or subgroup.startswith(p) for p in prefixes)]
    return [subgroup] + [p for family in touched for p in CROSS_REACTIVE[family] if p != subgroup]


def _narrow_subgroup(members: set[str], coded: dict[str, set[str]], min_members: int,
                     agreement: float) -> str | None:
    """The ATC subgroup a class stands for, or ``None`` when its coded members are too few or disagree."""
    groups = [coded[d] for d in members if d in coded]
    if len(groups) < min_members:
        return None
    votes = Counter(group for found in groups for group in found)
    group, count = min(votes.items(), key=lambda item: (-item[1], item[0]))
    return group if count >= agreement * len(groups) else None


@dataclass
class Combinations:
    """Drugs only ever recorded inside combination products, with their partners and product name."""

    partners: dict[str, frozenset[str]] = field(default_factory=dict)
    products: dict[str, tuple[str, ...]] = field(default_factory=dict)  # drug -> main product's ingredients

    @classmethod
    def from_graph(cls, graph: KnowledgeGraph) -> "Combinations":
        table = graph.tables.get("products")
        if table is None or table.empty:
            return cls()
        alone: set[str] = set()
        partners: dict[str, set[str]] = defaultdict(set)
        main: dict[str, tuple[int, tuple[str, ...]]] = {}
        grouped = table.groupby("ingredients", sort=True)["records"].sum()
        for ingredients, records in grouped.items():
            parts = tuple(str(ingredients).split("|"))
            if len(parts) == 1:
                alone.add(parts[0])
                continue
            for drug in parts:
                partners[drug].update(p for p in parts if p != drug)
                if drug not in main or int(records) > main[drug][0]:
                    main[drug] = (int(records), parts)
        only = {d for d in partners if d not in alone}
        return cls({d: frozenset(partners[d]) for d in only}, {d: main[d][1] for d in only})

    def ingredients(self, drug_id: str) -> tuple[str, ...]:
        """What recommending ``drug_id`` gives the patient: itself, plus partners when it is never given alone."""
        return (drug_id, *sorted(self.partners.get(drug_id, ())))

    def given_as(self, drug_id: str) -> tuple[str, ...]:
        """The ingredients of what recommending ``drug_id`` gives: itself, plus its main product's
        other ingredients when it is never given alone."""
        return (drug_id, *(p for p in self.products.get(drug_id, ()) if p != drug_id))

    def product_name(self, drug_id: str, names: dict[str, str]) -> str | None:
        """``Amoxicillin / Clavulanate`` for a combination-only drug; ``None`` for any other."""
        parts = self.products.get(drug_id)
        if parts is None:
            return None
        return " / ".join(names.get(p) or p for p in parts)

