"""Map clinical drug codes and names to DrugBank ids.

Routes, tried in this order for a product name (CMS column, RxNorm description,
MIMIC generic name):

1. the curated synonym table (brands, INN/USAN spellings, products matching misses);
2. DrugBank's own names, on the product name stripped of strength and dose form,
   then without salt words (``metoprolol succinate`` -> ``metoprolol``);
3. the product split into ingredients, each matched as above; a combination
   product maps to every ingredient. Names without separators (``HYDROCODONE.
   ACETAMINOPHEN``) are segmented into consecutive drug names.

Codes: an RxNorm *ingredient* CUI maps through FDA UNII tables (RxNorm -> UNII ->
DrugBank); an NDC maps to RxNorm first. Clinical-drug CUIs are not ingredients,
so sources pass the product description too and its ingredients are matched by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import pandas as pd

from kg.errors import KGValidationError, Problem
from kg.mapping.names import (is_salt_word, normalise, salt_free_forms, split_ingredients,
                              strip_drug_product)
from kg.mapping.vocabulary import Vocabulary

__all__ = ["DrugMatch", "DrugMapper", "NO_DRUG"]


@dataclass(frozen=True)
class DrugMatch:
    """DrugBank ids (several for a combination product) and the route that found them."""

    drugbank_ids: tuple[str, ...]
    method: str

    def __bool__(self) -> bool:
        return bool(self.drugbank_ids)


NO_DRUG = DrugMatch((), "unmapped")
_MAX_SEGMENT_WORDS = 4


class DrugMapper:
    """Name and code lookups over one :class:`~kg.mapping.vocabulary.Vocabulary`."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        drugbank = vocabulary["drugbank"]
        self.drugs = drugbank.set_index("drugbank_id")[["name", "atc_codes", "groups"]]
        self._by_name: dict[str, str] = {}
        for db_id, name in zip(drugbank["drugbank_id"], drugbank["name"]):
            if isinstance(name, str):
                self._by_name.setdefault(normalise(name), db_id)
        self._synonyms = self._curated(vocabulary)
        # DrugBank's UNII table gives some UNIIs (water's, for one) to dozens of drugs; such a
        # UNII identifies nothing, so only UNIIs held by exactly one DrugBank drug are used.
        du = vocabulary["drugbank_unii"]
        unique_unii = du.drop_duplicates("fdasrs_id", keep=False)
        unii_to_db = dict(zip(unique_unii["fdasrs_id"], unique_unii["drugbank_id"]))
        rx = vocabulary["rxnorm_unii"]
        self._rxnorm: dict[str, str] = {
            cui: unii_to_db[unii] for cui, unii in zip(rx["rxnorm_id"], rx["fdasrs_id"]) if unii in unii_to_db}
        ndc = vocabulary["ndc_rxnorm"]
        self._ndc: dict[str, str] = dict(zip(ndc["ndc"].str.zfill(11), ndc["rxnorm_id"]))
        self._cache: dict[str, DrugMatch] = {}

    def _curated(self, vocabulary: Vocabulary) -> dict[str, tuple[str, ...]]:
        table = vocabulary["drug_synonyms"]
        path = str(vocabulary.files["drug_synonyms"])
        out: dict[str, tuple[str, ...]] = {}
        problems = []
        for line, name, maps_to in zip(table.index, table["name"], table["maps_to"]):
            ids = []
            for target in str(maps_to).split("+"):
                db_id = self._by_name.get(normalise(target))
                if db_id is None:
                    problems.append(Problem(path, f"{target.strip()!r} is not a DrugBank drug name",
                                            line=int(line)))
                ids.append(db_id)
            out[normalise(str(name))] = tuple(i for i in ids if i)
        if problems:
            raise KGValidationError(problems)
        return out

    # ------------------------------------------------------------- lookups
    def rxnorm_ingredients(self) -> dict[str, str]:
        """DrugBank id -> an RxNorm ingredient CUI mapping to it (the smallest, for stability)."""
        out: dict[str, str] = {}
        for cui, db_id in sorted(self._rxnorm.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0):
            out.setdefault(db_id, cui)
        return out

    def name_of(self, drugbank_id: str) -> str | None:
        return self.drugs["name"].get(drugbank_id)

    def _lookup(self, name: str) -> tuple[tuple[str, ...], str] | None:
        if name in self._synonyms:
            return self._synonyms[name], "curated"
        for i, form in enumerate(salt_free_forms(name)):
            if form in self._synonyms:
                return self._synonyms[form], "curated"
            if form in self._by_name:
                return (self._by_name[form],), "name" if i == 0 else "name-without-salt"
        return None

    def _segment(self, words: list[str]) -> tuple[str, ...] | None:
        """Split a run of words into consecutive drug names (longest first), salt words allowed."""
        if not words:
            return ()
        for n in range(min(len(words), _MAX_SEGMENT_WORDS), 0, -1):
            found = self._lookup(" ".join(words[:n]))
            if found is None:
                continue
            rest = words[n:]
            while rest and is_salt_word(rest[0]):
                rest = rest[1:]  # a salt word between two ingredient names
            tail = self._segment(rest)
            if tail is not None:
                return found[0] + tail
        return None

    def map_name(self, text: str | None) -> DrugMatch:
        """Map a product or ingredient name; :data:`NO_DRUG` when nothing matches."""
        if not isinstance(text, str) or not text.strip():
            return NO_DRUG
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        match = self._map_name(text)
        self._cache[text] = match
        return match

    def _map_name(self, text: str) -> DrugMatch:
        whole = strip_drug_product(text)
        found = self._lookup(whole) if whole else None
        if found:
            return DrugMatch(_unique(found[0]), found[1])
        parts = split_ingredients(text)
        if len(parts) > 1:
            # A combination maps to every ingredient DrugBank knows; one it lacks (sodium
            # chloride in a dextrose-saline fluid) leaves a partial match, named as such.
            ids: list[str] = []
            missing = 0
            for part in parts:
                one = self._lookup(part)
                if one is None and (seg := self._segment(part.split())):
                    one = (seg, "segmented")
                if one is None:
                    missing += 1
                else:
                    ids += one[0]
            if ids:
                return DrugMatch(_unique(ids), "combination-partial" if missing else "combination")
        segmented = self._segment(whole.split())
        if segmented and len(segmented) > 1:
            return DrugMatch(_unique(segmented), "combination")
        brand = _bracketed(text)
        if brand:
            found = self._lookup(normalise(brand))
            if found:
                return DrugMatch(_unique(found[0]), "brand")
        return NO_DRUG

    def map_rxnorm(self, cui: str | None, description: str | None = None) -> DrugMatch:
        """An RxNorm ingredient CUI through UNII; otherwise the description's ingredients."""
        if isinstance(cui, str) and cui in self._rxnorm:
            return DrugMatch((self._rxnorm[cui],), "rxnorm-unii")
        return self.map_name(description)

    def map_ndc(self, ndc: str | None, name: str | None = None) -> DrugMatch:
        """An NDC through RxNorm (ingredient CUIs only), else the accompanying name."""
        if isinstance(ndc, str) and ndc.strip("0"):
            cui = self._ndc.get(ndc.zfill(11))
            if cui is not None and cui in self._rxnorm:
                return DrugMatch((self._rxnorm[cui],), "ndc-rxnorm-unii")
        return self.map_name(name)

    @staticmethod
    def drug_nodes(matches: Iterable[DrugMatch | None]) -> pd.DataFrame:
        """Implied node records for the DrugBank ids of ``matches``; names come from DrugBank's table.

        ``from_clinical`` marks drugs that only clinical records brought into the graph
        (DrugBank drugs that are not Hetionet compounds).
        """
        ids = sorted({i for m in matches if m for i in m.drugbank_ids})
        return pd.DataFrame({"id": pd.Series(["drug:" + i for i in ids], dtype=object), "type": "drug",
                             "from_clinical": True})


def _unique(ids: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(ids))


def _bracketed(text: str) -> str | None:
    start, end = text.rfind("["), text.rfind("]")
    return text[start + 1:end] if 0 <= start < end else None
