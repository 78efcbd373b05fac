"""Drug and condition codes in a user's CSV, mapped to graph ids through the code vocabulary.

A column of an edge file may hold drug names, RxNorm or NDC codes (mapped to
DrugBank drugs) or condition names, ICD-9, ICD-10 or SNOMED CT codes (mapped to
Disease Ontology diseases), the same way the CMS, Synthea and MIMIC loaders map
theirs. A combination product maps to each of its ingredients and a condition
to each slim disease it rolls up to, so one row can stand for several edges.
A value that maps to nothing is set aside as out of scope, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kg.mapping import DiseaseMatch, DrugMatch, MappingTally, load_mappers

__all__ = ["CODE_MAPS", "CodeMapping", "map_column", "ndc11"]

#: ``source_map`` / ``target_map`` value -> (node type it yields, code system, what the values are).
CODE_MAPS: dict[str, tuple[str, str, str]] = {
    "drug_name": ("drug", "name", "drug name"),
    "rxnorm": ("drug", "RXNORM", "RxNorm code"),
    "ndc": ("drug", "NDC", "NDC"),
    "disease_name": ("disease", "name", "condition name"),
    "icd9": ("disease", "ICD9", "ICD-9 code"),
    "icd10": ("disease", "ICD10", "ICD-10 code"),
    "snomed": ("disease", "SNOMEDCT", "SNOMED CT code"),
}


@dataclass(frozen=True)
class CodeMapping:
    """The graph ids each row's value maps to, and the tallies for the build report."""

    ids: list[tuple[str, ...]]
    matches: list[DrugMatch | DiseaseMatch]
    tally: MappingTally
    node_type: str

    @property
    def mapped(self) -> np.ndarray:
        return np.fromiter((bool(i) for i in self.ids), dtype=bool, count=len(self.ids))

    def reason(self, value: str, kind: str) -> str:
        target = "DrugBank drug" if self.node_type == "drug" else "Disease Ontology disease in the graph"
        return f"{CODE_MAPS[kind][2]} {value!r} maps to no {target}"


def map_column(values: pd.Series, kind: str, vocabulary: Path) -> CodeMapping:
    """Map every non-missing value of ``values`` (``kind`` is a key of :data:`CODE_MAPS`)."""
    node_type, system, what = CODE_MAPS[kind]
    drugs, diseases = load_mappers(vocabulary)
    cache: dict[str, DrugMatch | DiseaseMatch] = {}
    matches: list[DrugMatch | DiseaseMatch] = []
    for value in values.astype(object):
        text = value.strip() if isinstance(value, str) else None
        key = text or ""
        if key not in cache:
            cache[key] = _map_one(text, node_type, system, drugs, diseases)
        matches.append(cache[key])
    if node_type == "drug":
        ids = [tuple("drug:" + i for i in m.drugbank_ids) for m in matches]  # type: ignore[union-attr]
        target = "DrugBank"
    else:
        ids = [tuple("disease:" + d for d in m.graph_doids) for m in matches]  # type: ignore[union-attr]
        target = "Disease Ontology"
    tally = MappingTally(what, target)
    present = values.notna().to_numpy()
    tally.add(values[present].astype(str), (bool(i) for i, p in zip(ids, present) if p),
              (m.method for m, p in zip(matches, present) if p))
    return CodeMapping(ids, matches, tally, node_type)


def _map_one(text: str | None, node_type: str, system: str, drugs, diseases) -> DrugMatch | DiseaseMatch:
    if node_type == "drug":
        if system == "RXNORM":
            return drugs.map_rxnorm(text)
        if system == "NDC":
            return drugs.map_ndc(ndc11(text) if text else text)
        return drugs.map_name(text)
    if system == "name":
        return diseases.map_name(text)
    return diseases.map_code(system, text)


def ndc11(text: str) -> str:
    """An NDC in the 11-digit 5-4-2 form: hyphenated 4-4-2, 5-3-2 and 5-4-1 codes are padded
    segment by segment (padding the whole string would shift digits between segments)."""
    parts = text.split("-")
    if len(parts) == 3:
        return parts[0].zfill(5) + parts[1].zfill(4) + parts[2].zfill(2)
    return text.zfill(11)
