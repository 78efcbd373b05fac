"""Drug-disease contraindications: side effects that are the patient's condition, and curated rules.

A drug whose recorded side effects (Hetionet ``causes``, from SIDER) include a
condition the patient has is a contraindication candidate: acetaminophen causes
hepatitis, prednisone causes diabetes mellitus, heparin causes thrombocytopenia. A
side effect matches a disease node when it is the same UMLS concept (the disease's
Disease Ontology cross-references, the graph's ``xrefs`` table), has the same name
or a synonym's name (British and American spellings folded), or is a broader term
the disease name contains as whole words ("Hepatitis" in "hepatitis B"). A drug
with a known indication for the disease (``treats``/``palliates``) is exempt: its
label lists the condition it treats, not a harm.

Users add a curated table through the ``(drug, contraindicated_in, disease)``
relation (any CSV or RDF source) with an ``action`` attribute (``remove``,
``warn`` or ``allow``); a curated pair takes precedence over the derived rule.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Mapping

from kg.errors import KGError
from kg.graph import KnowledgeGraph
from kg.mapping.names import normalise
from kg.schema import EdgeType

__all__ = ["Contraindication", "Contraindications", "CURATED_ACTIONS", "CONTRAINDICATED_IN"]

CAUSES = EdgeType("drug", "causes", "side_effect")
CONTRAINDICATED_IN = EdgeType("drug", "contraindicated_in", "disease")
INDICATIONS = (EdgeType("drug", "treats", "disease"), EdgeType("drug", "palliates", "disease"))
CURATED_ACTIONS = ("remove", "warn", "allow")
_BROADER_MIN_CHARS = 8  # a one-word broader term shorter than this ("cancer", "pain") says too little
_SPELLING = [(re.compile(r"ae"), "e"), (re.compile(r"oe"), "e")]


@dataclass(frozen=True)
class Contraindication:
    """Why ``drug_id`` is contraindicated in ``disease_id``; ``action`` is set for curated pairs."""

    drug_id: str
    disease_id: str
    evidence: str
    action: str | None = None  # None: derived (the policy decides); else the curated action


@dataclass
class Contraindications:
    """Per disease, the drugs contraindicated in it and why."""

    by_disease: dict[str, dict[str, Contraindication]] = field(default_factory=dict)
    #: Per drug, the diseases it is contraindicated in (built on first use from ``by_disease``).
    _diseases_of: dict[str, frozenset[str]] | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def from_graph(cls, graph: KnowledgeGraph, names: Mapping[str, str]) -> "Contraindications":
        """Derived and curated contraindications of ``graph``; ``names`` are its nodes' names."""
        out: dict[str, dict[str, Contraindication]] = defaultdict(dict)
        exempt = set()
        for relation in INDICATIONS:
            edges = graph.edges.get(relation)
            if edges is not None:
                exempt.update(zip(edges["src"], edges["dst"]))
        matches = _side_effect_matches(graph)
        causes = graph.edges.get(CAUSES)
        if causes is not None and matches:
            by_effect: dict[str, list[str]] = defaultdict(list)
            for drug, effect in zip(causes["src"].to_numpy(dtype=object), causes["dst"].to_numpy(dtype=object)):
                by_effect[effect].append(drug)
            for disease, effects in matches.items():
                for effect, how in effects:
                    for drug in by_effect.get(effect, ()):
                        if (drug, disease) not in exempt and drug not in out[disease]:
                            out[disease][drug] = Contraindication(
                                drug, disease, f"causes side effect {names.get(effect, effect)} ({how})")
        curated = graph.edges.get(CONTRAINDICATED_IN)
        if curated is not None:
            actions = curated["action"] if "action" in curated.columns else None
            notes = curated["note"] if "note" in curated.columns else None
            for row, (drug, disease) in enumerate(zip(curated["src"], curated["dst"])):
                action = "remove" if actions is None or not isinstance(actions.iloc[row], str) \
                    else actions.iloc[row].strip().lower()
                if action not in CURATED_ACTIONS:
                    raise KGError(f"contraindication {drug} -> {disease}: action {action!r} is not one of "
                                  f"{', '.join(CURATED_ACTIONS)}")
                note = notes.iloc[row] if notes is not None and isinstance(notes.iloc[row], str) else ""
                out[disease][drug] = Contraindication(drug, disease, "curated" + (f": {note}" if note else ""),
                                                      action)
        return cls({d: dict(v) for d, v in out.items()})

    def of(self, drug_id: str, conditions: frozenset[str]) -> list[Contraindication]:
        """The contraindications of ``drug_id`` among the patient's ``conditions``, in disease order."""
        if self._diseases_of is None:
            by_drug: dict[str, set[str]] = defaultdict(set)
            for disease, drugs in self.by_disease.items():
                for drug in drugs:
                    by_drug[drug].add(disease)
            self._diseases_of = {drug: frozenset(found) for drug, found in by_drug.items()}
        diseases = self._diseases_of.get(drug_id)
        if not diseases:
            return []
        return [self.by_disease[disease][drug_id] for disease in sorted(diseases & conditions)]


def fold(text: str) -> str:
    """Normalised name with British spellings folded: ``Anaemia`` and ``anemia`` meet."""
    out = normalise(text)
    for pattern, replacement in _SPELLING:
        out = pattern.sub(replacement, out)
    return out


def _side_effect_matches(graph: KnowledgeGraph) -> dict[str, list[tuple[str, str]]]:
    """Disease id -> the side effects that are that disease (or a broader term of it), with how they matched."""
    effects = graph.nodes_of_type("side_effect")
    diseases = graph.nodes_of_type("disease")
    if effects.empty or diseases.empty:
        return {}
    by_name: dict[str, list[str]] = defaultdict(list)
    by_cui: dict[str, str] = {}
    for effect, name in zip(effects["id"], effects["name"]):
        if isinstance(name, str) and name.strip():
            by_name[fold(name)].append(effect)
        by_cui[effect.split(":", 1)[1]] = effect
    disease_names: dict[str, set[str]] = defaultdict(set)
    for disease, name in zip(diseases["id"], diseases["name"]):
        if isinstance(name, str) and name.strip():
            disease_names[disease].add(fold(name))
    synonyms = graph.tables.get("synonyms")
    if synonyms is not None:
        for disease, name in zip(synonyms["node_id"], synonyms["name"]):
            if isinstance(name, str) and name.strip():
                disease_names[disease].add(fold(name))
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    xrefs = graph.tables.get("xrefs")
    if xrefs is not None:
        umls = xrefs[xrefs["resource"] == "UMLS"]
        for disease, cui in zip(umls["node_id"], umls["resource_id"]):
            if cui in by_cui:
                out[disease].append((by_cui[cui], f"same UMLS concept {cui}"))
    for disease, names in disease_names.items():
        for name in sorted(names):
            words = name.split()
            for width in range(len(words), 0, -1):
                for start in range(len(words) - width + 1):
                    phrase = " ".join(words[start:start + width])
                    if width == len(words):
                        how = "same name"
                    elif width == 1 and len(phrase) < _BROADER_MIN_CHARS:
                        continue
                    else:
                        how = f"broader term of {name}"
                    out[disease].extend((effect, how) for effect in by_name.get(phrase, ()))
    return {d: list(dict.fromkeys(v)) for d, v in out.items()}
