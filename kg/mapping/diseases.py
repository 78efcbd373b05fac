"""Map clinical condition codes (SNOMED CT, ICD-9) and their titles to Disease Ontology terms.

A code first finds the specific DO term that cross-references it; failing that,
the code's title (an ICD-9 ``LONG_TITLE``, a SNOMED description) is matched to DO
names and synonyms (see :func:`~kg.mapping.names.disease_name_candidates`); an
ICD-9 code still unmatched falls back to its three-character category.

The specific term is then *rolled up* to the Hetionet diseases (the 137 DO slim
terms) it belongs to. The shipped ontology has no is-a hierarchy, but
``xrefs-prop-slim`` lists, for each slim disease, the cross-references of all its
descendants: a specific term whose own cross-references appear there is a
subtype of that slim disease.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kg.errors import KGValidationError, Problem
from kg.mapping.names import disease_name_candidates, normalise
from kg.mapping.vocabulary import Vocabulary

__all__ = ["DiseaseMatch", "DiseaseMapper", "NO_DISEASE", "icd9_dotted"]

#: Source code systems -> the resource name Disease Ontology uses in its cross-references.
SYSTEMS = {"SNOMEDCT": "SNOMEDCT", "SNOMED-CT": "SNOMEDCT", "SNOMED": "SNOMEDCT", "ICD9": "ICD9",
           "ICD9CM": "ICD9", "ICD10": "ICD10", "UMLS": "UMLS", "MSH": "MSH"}


@dataclass(frozen=True)
class DiseaseMatch:
    """The specific DO term (when known), the slim diseases it rolls up to, and the route."""

    doid: str | None
    slim: tuple[str, ...]
    method: str

    def __bool__(self) -> bool:
        return self.doid is not None or bool(self.slim)

    @property
    def graph_doids(self) -> tuple[str, ...]:
        """The disease node(s) a condition edge points to: the slim diseases, else the term itself."""
        if self.slim:
            return self.slim
        return (self.doid,) if self.doid else ()


NO_DISEASE = DiseaseMatch(None, (), "unmapped")


def icd9_dotted(code: str) -> str:
    """MIMIC writes ICD-9 codes without the dot; Disease Ontology with it.

    >>> icd9_dotted("99591"), icd9_dotted("E8790"), icd9_dotted("V4581"), icd9_dotted("250")
    ('995.91', 'E879.0', 'V45.81', '250')
    """
    code = code.strip().upper()
    if "." in code:
        return code
    head = 4 if code.startswith("E") else 3
    return code if len(code) <= head else f"{code[:head]}.{code[head:]}"


class DiseaseMapper:
    """Code and name lookups over the Disease Ontology tables of a vocabulary."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        slim = vocabulary["do_slim_terms"]
        self.slim_names: dict[str, str] = dict(zip(slim["doid"], slim["name"]))
        self._to_slim: dict[str, set[str]] = {}
        prop = vocabulary["do_xrefs_slim"]
        for doid, res, rid in zip(prop["doid_code"], prop["resource"], prop["resource_id"]):
            self._to_slim.setdefault(f"{res}:{rid}", set()).add(doid)
        self._to_term: dict[str, set[str]] = {}
        self._term_xrefs: dict[str, list[str]] = {}
        xrefs = vocabulary["do_xrefs"]
        for doid, res, rid in zip(xrefs["doid_code"], xrefs["resource"], xrefs["resource_id"]):
            key = f"{res}:{rid}"
            self._to_term.setdefault(key, set()).add(doid)
            self._term_xrefs.setdefault(doid, []).append(key)
        names = vocabulary["do_term_names"]
        self.term_names: dict[str, str] = {}
        self._by_name: dict[str, set[str]] = {}
        for doid, name, kind in zip(names["doid"], names["name"], names["type"]):
            if not isinstance(name, str):
                continue
            if kind == "name":
                self.term_names.setdefault(doid, name)
            if kind in ("name", "exact-synonym"):
                self._by_name.setdefault(normalise(name), set()).add(doid)
        self.term_names.update(self.slim_names)
        self._curated = self._load_curated(vocabulary)
        self._cache: dict[tuple[str, str, str | None], DiseaseMatch] = {}

    def _load_curated(self, vocabulary: Vocabulary) -> dict[str, str]:
        table = vocabulary["disease_synonyms"]
        path = str(vocabulary.files["disease_synonyms"])
        problems = [Problem(path, f"{doid!r} is not a Disease Ontology term in do_term_names", line=int(line))
                    for line, doid in zip(table.index, table["doid"]) if doid not in self.term_names]
        if problems:
            raise KGValidationError(problems)
        return {normalise(n): d for n, d in zip(table["name"], table["doid"])}

    # ------------------------------------------------------------- lookups
    def roll_up(self, doid: str) -> tuple[str, ...]:
        """The slim diseases ``doid`` is (a subtype of), through propagated cross-references."""
        if doid in self.slim_names:
            return (doid,)
        found: set[str] = set()
        for key in self._term_xrefs.get(doid, ()):
            found |= self._to_slim.get(key, set())
        return tuple(sorted(found))

    def _match_term(self, doids: set[str], method: str, extra_slim: set[str] = frozenset()) -> DiseaseMatch:
        # Several terms can share a code; prefer one that rolls up, then the lowest id (stable).
        ranked = sorted(doids, key=lambda d: (not self.roll_up(d), int(d.split(":")[1])))
        doid = ranked[0]
        return DiseaseMatch(doid, tuple(sorted(set(self.roll_up(doid)) | extra_slim)), method)

    def map_name(self, text: str | None) -> DiseaseMatch:
        """Match a condition name or title to DO names, synonyms and the curated table."""
        if not isinstance(text, str) or not text.strip():
            return NO_DISEASE
        for candidate in disease_name_candidates(text):
            if candidate in self._curated:
                return self._match_term({self._curated[candidate]}, "curated")
            if candidate in self._by_name:
                return self._match_term(self._by_name[candidate], "name")
        return NO_DISEASE

    def map_code(self, system: str, code: str | None, title: str | None = None) -> DiseaseMatch:
        """Map one code (and its title) of ``system`` (SNOMEDCT, ICD9, ...)."""
        if not isinstance(code, str) or not code.strip():
            return self.map_name(title)
        key = (system, code, title)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._map_code(system, code.strip(), title)
        return cached

    def _map_xref(self, key: str, method: str, slim_method: str) -> DiseaseMatch:
        """A cross-referenced code: its DO term (rolled up), else only the slim diseases listing it."""
        slim = self._to_slim.get(key, set())
        if key in self._to_term:
            return self._match_term(self._to_term[key], method, slim)
        if slim:
            return DiseaseMatch(None, tuple(sorted(slim)), slim_method)
        return NO_DISEASE

    def _map_code(self, system: str, code: str, title: str | None) -> DiseaseMatch:
        resource = SYSTEMS.get(system.upper().replace(" ", ""), system)
        if resource == "ICD9":
            code = icd9_dotted(code)
        by_xref = self._map_xref(f"{resource}:{code}", "xref", "xref-slim")
        if by_xref:
            return by_xref
        by_name = self.map_name(title)
        if by_name:
            return by_name
        if resource == "ICD9" and re.match(r"^[0-9V]\d\d\.", code):
            return self._map_xref(f"ICD9:{code[:3]}", "icd9-category", "icd9-category")
        return NO_DISEASE
