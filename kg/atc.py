"""ATC classes of the graph's drugs: the therapeutic areas models and profiles group drugs by.

An ATC code such as ``A10BA02`` (metformin) nests five levels; rxkg uses the first
three: anatomical main group (``A``), therapeutic subgroup (``A10``) and
pharmacological subgroup (``A10B``). DrugBank lists several codes for some drugs; a
drug belongs to every area any of its codes falls in.
"""

from __future__ import annotations

import re

import pandas as pd

from kg.graph import KnowledgeGraph

__all__ = ["ATC_LEVELS", "ATC_MAIN_GROUPS", "atc_areas", "drug_atc_codes"]

#: Code prefix length of ATC levels 1, 2 and 3.
ATC_LEVELS: dict[int, int] = {1: 1, 2: 3, 3: 4}

#: WHO names of the 14 anatomical main groups (level 1); deeper levels are shown by code.
ATC_MAIN_GROUPS: dict[str, str] = {
    "A": "Alimentary tract and metabolism",
    "B": "Blood and blood forming organs",
    "C": "Cardiovascular system",
    "D": "Dermatologicals",
    "G": "Genito-urinary system and sex hormones",
    "H": "Systemic hormonal preparations, excluding sex hormones and insulins",
    "J": "Antiinfectives for systemic use",
    "L": "Antineoplastic and immunomodulating agents",
    "M": "Musculo-skeletal system",
    "N": "Nervous system",
    "P": "Antiparasitic products, insecticides and repellents",
    "R": "Respiratory system",
    "S": "Sensory organs",
    "V": "Various",
}

_CODE = re.compile(r"^[A-Z]\d\d[A-Z]")


def drug_atc_codes(graph: KnowledgeGraph) -> dict[str, list[str]]:
    """Valid ATC codes of every drug that has any (from the ``atc_codes`` attribute, ``|``-joined)."""
    drugs = graph.nodes_of_type("drug")
    if "atc_codes" not in drugs.columns:
        return {}
    out: dict[str, list[str]] = {}
    for drug_id, value in zip(drugs["id"], drugs["atc_codes"]):
        if isinstance(value, str) and not pd.isna(value):
            codes = [code for code in value.split("|") if _CODE.match(code)]
            if codes:
                out[drug_id] = codes
    return out


def atc_areas(codes: list[str], levels: tuple[int, ...] = (1, 2, 3)) -> list[str]:
    """The distinct level-``levels`` areas the codes fall in, in first-seen order.

    >>> atc_areas(["A10BA02", "A10BD07"], levels=(1, 3))
    ['A', 'A10B']
    """
    seen: dict[str, None] = {}
    for code in codes:
        for level in levels:
            seen.setdefault(code[: ATC_LEVELS[level]], None)
    return list(seen)
