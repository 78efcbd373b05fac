"""Find node ids by name, and suggest the id a user probably meant.

``rxkg search "type 2 diabetes"`` and every "unknown id" error go through
:class:`NameIndex`: names and Disease Ontology synonyms are normalised (case,
punctuation), then matched exactly, by every query word, and by similarity.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from kg.graph import KnowledgeGraph
from kg.mapping.names import normalise

__all__ = ["NameIndex", "LazyNameIndex", "Match"]


@dataclass(frozen=True)
class Match:
    """One search hit: the node, its name and type, and how well it matched (1 is exact)."""

    node_id: str
    name: str
    node_type: str
    score: float

    def text(self) -> str:
        return f"{self.node_id} {self.name}" if self.name and self.name != self.node_id else self.node_id


class NameIndex:
    """Normalised names (and synonyms) of a graph's nodes, by type."""

    def __init__(self, ids: list[str], names: list[str], types: list[str],
                 synonyms: dict[str, list[str]] | None = None) -> None:
        self.name_of = dict(zip(ids, names))
        self.type_of = dict(zip(ids, types))
        self._entries: list[tuple[str, str]] = []  # (normalised text, node id)
        for node_id, name in zip(ids, names):
            self._entries.append((normalise(name or node_id), node_id))
        for node_id, others in (synonyms or {}).items():
            if node_id in self.type_of:
                self._entries += [(normalise(s), node_id) for s in others if s]
        # An id typed without its type prefix ('DOID:1612', 'NPI:1003000126') or without its
        # namespace too (a bare NPI): the id it is the end of.
        self._by_local: dict[str, list[str]] = {}
        for node_id in ids:
            parts = node_id.split(":")
            for start in range(1, len(parts)):
                self._by_local.setdefault(":".join(parts[start:]), []).append(node_id)

    @classmethod
    def from_graph(cls, graph: KnowledgeGraph, exclude_types: tuple[str, ...] = ("patient",)) -> "NameIndex":
        """Every node but those of ``exclude_types``: patient ids never appear in a suggestion
        or a search result, so no error message can print one in clear text."""
        nodes = graph.nodes[~graph.nodes["type"].isin(exclude_types)]
        names = [n if isinstance(n, str) and n else "" for n in nodes["name"]] if "name" in nodes.columns \
            else [""] * len(nodes)
        synonyms: dict[str, list[str]] = {}
        table = graph.tables.get("synonyms")
        if table is not None:
            for node_id, name in zip(table["node_id"], table["name"]):
                if isinstance(name, str):
                    synonyms.setdefault(node_id, []).append(name)
        return cls(nodes["id"].astype(str).tolist(), names, nodes["type"].astype(str).tolist(), synonyms)

    def search(self, query: str, node_type: str | None = None, k: int = 10) -> list[Match]:
        """The ``k`` best nodes for ``query`` (a name, part of one, or an id)."""
        wanted = normalise(query)
        words = wanted.split()
        best: dict[str, float] = {}
        for text, node_id in self._entries:
            if node_type is not None and self.type_of[node_id] != node_type:
                continue
            if text == wanted or normalise(node_id) == wanted:
                score = 1.0
            elif words and all(w in text.split() for w in words):
                score = 0.9 - 0.001 * (len(text) - len(wanted))  # the shorter name is the closer one
            elif wanted and wanted in text:
                score = 0.8 - 0.001 * (len(text) - len(wanted))
            else:
                continue
            best[node_id] = max(score, best.get(node_id, 0.0))
        for node_id in self._by_local.get(query.strip(), ()):
            if node_type is None or self.type_of[node_id] == node_type:
                best[node_id] = max(0.95, best.get(node_id, 0.0))
        if len(best) < k:  # spelling mistakes: similar names, then similar ids
            pool = [(t, i) for t, i in self._entries if node_type is None or self.type_of[i] == node_type]
            texts = {t: i for t, i in pool}
            for text in difflib.get_close_matches(wanted, list(texts), n=k, cutoff=0.75):
                node_id = texts[text]
                best.setdefault(node_id, 0.7 * difflib.SequenceMatcher(None, wanted, text).ratio())
            for node_id, similarity in _close_ids(query, {i for _, i in pool}, k):
                best.setdefault(node_id, 0.6 * similarity)
        ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))[:k]
        return [Match(i, self.name_of.get(i, ""), self.type_of[i], round(s, 3)) for i, s in ranked]

    def suggest(self, wrong: str, node_type: str | None = None, k: int = 3) -> str:
        """`` did you mean ...?`` for an unknown id or name (empty when nothing is close)."""
        hits = self.search(wrong, node_type, k)
        if not hits:
            return ""
        return "; did you mean " + " or ".join(h.text() for h in hits) + "?"


def _close_ids(query: str, ids: set[str], k: int, cutoff: float = 0.8) -> list[tuple[str, float]]:
    """Ids most like ``query`` (a mistyped id): similarity, then the longest shared prefix."""
    def shared_prefix(node_id: str) -> int:
        n = 0
        for a, b in zip(query, node_id):
            if a != b:
                break
            n += 1
        return n
    matcher = difflib.SequenceMatcher(b=query)
    scored = []
    for node_id in ids:
        matcher.set_seq1(node_id)
        if matcher.real_quick_ratio() >= cutoff and matcher.quick_ratio() >= cutoff:
            ratio = matcher.ratio()
            if ratio >= cutoff:
                scored.append((ratio, shared_prefix(node_id), node_id))
    scored.sort(key=lambda item: (-item[0], -item[1], item[2]))
    return [(node_id, ratio) for ratio, _, node_id in scored[:k]]


class LazyNameIndex:
    """A :class:`NameIndex` built on first use: only an error or a search pays for it (0.1-0.2 s)."""

    def __init__(self, graph: KnowledgeGraph) -> None:
        self._graph: KnowledgeGraph | None = graph
        self._index: NameIndex | None = None

    def index(self) -> NameIndex:
        if self._index is None:
            assert self._graph is not None
            self._index, self._graph = NameIndex.from_graph(self._graph), None
        return self._index

    def suggest(self, wrong: str, node_type: str | None = None, k: int = 3) -> str:
        return self.index().suggest(wrong, node_type, k)
