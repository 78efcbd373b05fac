"""Leakage-safe splits of a target relation (``drug treats disease`` by default).

A split never changes the graph it is given. It returns a training graph without the
held-out edges and without every other edge that would give them away, plus the
held-out ``(src, dst)`` pairs for validation and test. What counts as giving an edge
away: any edge, of any relation and in either direction, that joins the same two
nodes. For ``treats`` that is the ``palliates`` twin of a held-out indication and,
for a graph that stores them, reverse or duplicate edges of a symmetric relation.
Models add their own reverse relations from the training graph, so those cannot
leak either.

Two modes:

``random``
    held-out edges drawn uniformly from the target relation (transductive).
``zero_shot``
    held-out *destination nodes* (diseases): all of their edges of the target
    relation go to validation or test, and every indication-like edge of those
    nodes (``palliates`` for ``treats``) is removed from training too, so a
    held-out disease arrives with no known drug at all.

Two more reproduce published protocols exactly, so numbers compare with Rephetio-style
papers (the fractions are the protocol's; ``val_fraction``/``test_fraction`` are ignored):

``rephetio_random`` (split R)
    pairs sorted by (source, target), permuted with ``numpy.random.default_rng(seed)``;
    the first 20% (rounded) are test, the next 10% validation, the rest training.
``rephetio_zero_shot`` (split Z)
    diseases with indications sorted and permuted the same way; the first 20% are test
    diseases, 10% of the rest validation; all their indication-like edges held out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Literal

import numpy as np
import pandas as pd

from kg.errors import KGError
from kg.graph import KnowledgeGraph
from kg.schema import SCHEMA, EdgeType

__all__ = ["LinkSplit", "SplitMode", "TREATS", "split_links"]

SplitMode = Literal["random", "zero_shot", "rephetio_random", "rephetio_zero_shot"]
SPLIT_MODES: tuple[str, ...] = ("random", "zero_shot", "rephetio_random", "rephetio_zero_shot")
TREATS = EdgeType("drug", "treats", "disease")


@dataclass(frozen=True)
class LinkSplit:
    """Training graph and held-out pairs of one target relation.

    Unpacks as ``train, val, test = split``: ``train`` is a :class:`KnowledgeGraph`,
    ``val`` and ``test`` are frames of ``src``/``dst`` ids.
    """

    train: KnowledgeGraph
    val: pd.DataFrame
    test: pd.DataFrame
    relation: EdgeType
    mode: str
    seed: int
    #: Edges removed from training besides the held-out ones, per edge type key.
    removed: dict[str, int] = field(default_factory=dict)

    def __iter__(self) -> Iterator[object]:
        return iter((self.train, self.val, self.test))

    @property
    def train_edges(self) -> pd.DataFrame:
        """Training pairs of the target relation (``src``, ``dst``)."""
        frame = self.train.edges.get(self.relation)
        if frame is None:
            return pd.DataFrame({"src": pd.Series(dtype=object), "dst": pd.Series(dtype=object)})
        return _pairs(frame)

    def summary(self) -> str:
        leaks = sum(self.removed.values())
        return (f"{self.mode} split of {self.relation.key} (seed {self.seed}): "
                f"{len(self.train_edges):,} train / {len(self.val):,} val / {len(self.test):,} test pairs; "
                f"{leaks:,} linked edges removed from training")


def split_links(graph: KnowledgeGraph, mode: SplitMode = "random", *,
                relation: EdgeType = TREATS, val_fraction: float = 0.15,
                test_fraction: float = 0.15, seed: int = 0) -> LinkSplit:
    """Split ``relation`` into train / validation / test without leaks.

    Parameters
    ----------
    graph
        The full graph; it is not modified.
    mode
        ``"random"`` (edges held out) or ``"zero_shot"`` (destination nodes held
        out with all their edges of ``relation``).
    val_fraction, test_fraction
        Shares of the edges (random) or of the destination nodes that have at
        least one edge (zero-shot) held out for validation and test.
    seed
        The only source of randomness: same seed, same split.

    Examples
    --------
    >>> train, val, test = split_links(kg, "zero_shot", seed=0)     # doctest: +SKIP
    >>> set(val["dst"]) & set(train.edges[TREATS]["dst"])           # doctest: +SKIP
    set()
    """
    if mode not in SPLIT_MODES:
        raise KGError(f"unknown split mode {mode!r}; choose one of {list(SPLIT_MODES)}")
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 < value < 1.0:
            raise KGError(f"{name} must be between 0 and 1, got {value}")
    if val_fraction + test_fraction >= 1.0:
        raise KGError(f"val_fraction + test_fraction must leave edges to train on, "
                      f"got {val_fraction} + {test_fraction}")
    if relation not in graph.edges or graph.edges[relation].empty:
        raise KGError(f"the graph has no {relation.key} edges to split")

    pairs = _pairs(graph.edges[relation])
    if SCHEMA.relations[relation].symmetric:
        # (a, b) and (b, a) are one fact: hold out or keep both orientations together.
        low, high = np.minimum(pairs["src"], pairs["dst"]), np.maximum(pairs["src"], pairs["dst"])
        pairs = pd.DataFrame({"src": low, "dst": high})
    pairs = pairs.drop_duplicates(ignore_index=True)
    rng = np.random.default_rng(seed)
    held_nodes: set[str] = set()
    if mode.startswith("rephetio_"):
        pairs = pairs.sort_values(["src", "dst"], ignore_index=True)
        items = pairs if mode == "rephetio_random" else np.sort(pairs["dst"].unique())
        order = rng.permutation(len(items))
        n_test = round(0.2 * len(items))
        n_val = round(0.1 * (len(items) if mode == "rephetio_random" else len(items) - n_test))
        label = np.array(["train"] * len(items), dtype=object)
        label[order[:n_test]], label[order[n_test:n_test + n_val]] = "test", "val"
        if mode == "rephetio_random":
            part = label
        else:
            node_part = dict(zip(items, label))
            part = pairs["dst"].map(node_part).to_numpy()
            held_nodes = {n for n, p in node_part.items() if p != "train"}
    elif mode == "random":
        part = _assign(len(pairs), val_fraction, test_fraction, rng)
    else:
        nodes = np.sort(pairs["dst"].unique())
        node_part = dict(zip(nodes, _assign(len(nodes), val_fraction, test_fraction, rng)))
        part = pairs["dst"].map(node_part).to_numpy()
        held_nodes = {n for n, p in node_part.items() if p != "train"}
    val = pairs[part == "val"].reset_index(drop=True)
    test = pairs[part == "test"].reset_index(drop=True)
    held = pd.concat([val, test], ignore_index=True)

    train_graph, removed = _without(graph, relation, held, held_nodes)
    return LinkSplit(train_graph, val, test, relation, mode, seed, removed)


def _assign(n: int, val_fraction: float, test_fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Labels ``train``/``val``/``test`` for ``n`` items; at least one of each when n >= 3."""
    n_val = max(1, round(n * val_fraction)) if n >= 3 else 0
    n_test = max(1, round(n * test_fraction)) if n >= 3 else 0
    labels = np.array(["train"] * n, dtype=object)
    order = rng.permutation(n)
    labels[order[:n_val]] = "val"
    labels[order[n_val:n_val + n_test]] = "test"
    return labels


def _pairs(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"src": frame["src"].astype(str).to_numpy(),
                         "dst": frame["dst"].astype(str).to_numpy()})


def _without(graph: KnowledgeGraph, relation: EdgeType, held: pd.DataFrame,
             held_nodes: set[str]) -> tuple[KnowledgeGraph, dict[str, int]]:
    """Copy of ``graph`` without held-out pairs, any edge joining them, and (zero-shot)
    every edge between the relation's source type and a held-out destination node."""
    held_keys = set(zip(held["src"], held["dst"])) | set(zip(held["dst"], held["src"]))
    endpoint_types = {relation.src, relation.dst}
    edges: dict[EdgeType, pd.DataFrame] = {}
    removed: dict[str, int] = {}
    for et, frame in graph.edges.items():
        if {et.src, et.dst} != endpoint_types:
            edges[et] = frame  # cannot join a held-out pair: shared, never modified
            continue
        src = frame["src"].astype(str).to_numpy()
        dst = frame["dst"].astype(str).to_numpy()
        drop = np.fromiter(((s, d) in held_keys for s, d in zip(src, dst)), dtype=bool, count=len(frame))
        if held_nodes:
            # Zero-shot: a held-out disease keeps no drug edge of any indication-like relation.
            drop |= np.isin(src, list(held_nodes)) | np.isin(dst, list(held_nodes))
        extra = int(drop.sum()) - (len(held) if et == relation else 0)
        if extra:
            removed[et.key] = extra
        edges[et] = frame[~drop].reset_index(drop=True)
    return KnowledgeGraph(graph.nodes, edges, graph.tables), removed
