"""A link-prediction task in index space: the split, id maps and held-out pairs as arrays.

Every disease -> drug model is fitted on one :class:`LinkTask` and scored by the
same evaluator, so a comparison between models is one call. Indices are positions
in ``id_maps[type]`` of :func:`kg.views.to_hetero_data`, which depend only on the
node table: the full graph and its training graph share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from kg.errors import KGError
from kg.graph import KnowledgeGraph
from kg.schema import EdgeType
from recsys.link.split import LinkSplit

__all__ = ["LinkTask", "id_maps_of"]


def id_maps_of(graph: KnowledgeGraph) -> dict[str, list[str]]:
    """Node type -> ids in the order :func:`kg.views.to_hetero_data` indexes them."""
    return {str(t): frame["id"].astype(str).tolist()
            for t, frame in graph.nodes.groupby("type", sort=False)}


@dataclass
class LinkTask:
    """The split of one relation, in index space.

    ``*_pairs`` arrays have shape (n, 2): column 0 indexes ``relation.src`` nodes
    (drugs), column 1 ``relation.dst`` nodes (diseases).
    """

    split: LinkSplit
    id_maps: dict[str, list[str]]
    train_pairs: np.ndarray
    val_pairs: np.ndarray
    test_pairs: np.ndarray

    @classmethod
    def from_split(cls, split: LinkSplit) -> "LinkTask":
        id_maps = id_maps_of(split.train)
        rel = split.relation
        for t in (rel.src, rel.dst):
            if t not in id_maps:
                raise KGError(f"the graph has no {t!r} nodes for {rel.key}")
        src_index = pd.Index(id_maps[rel.src])
        dst_index = pd.Index(id_maps[rel.dst])

        def encode(frame: pd.DataFrame) -> np.ndarray:
            s = src_index.get_indexer(frame["src"].astype(str))
            d = dst_index.get_indexer(frame["dst"].astype(str))
            if (s < 0).any() or (d < 0).any():
                raise KGError(f"{rel.key} pairs refer to nodes missing from the graph")
            return np.stack([s, d], axis=1).astype(np.int64)

        return cls(split, id_maps, encode(split.train_edges), encode(split.val), encode(split.test))

    @classmethod
    def for_deployment(cls, graph: KnowledgeGraph, relation: EdgeType | None = None) -> "LinkTask":
        """Every known pair in training, nothing held out: the final refit of a deployed model.

        Models that select on validation need their choices fixed beforehand (e.g. the
        metapath model's penalty chosen on a real split); nothing here can validate.
        """
        from recsys.link.split import TREATS

        empty = pd.DataFrame({"src": pd.Series(dtype=object), "dst": pd.Series(dtype=object)})
        split = LinkSplit(graph, empty, empty.copy(), relation or TREATS, "deployment", 0)
        return cls.from_split(split)

    # ----------------------------------------------------------------- facts
    @property
    def relation(self) -> EdgeType:
        return self.split.relation

    @property
    def train_graph(self) -> KnowledgeGraph:
        return self.split.train

    @property
    def num_src(self) -> int:
        return len(self.id_maps[self.relation.src])

    @property
    def num_dst(self) -> int:
        return len(self.id_maps[self.relation.dst])

    def pairs(self, part: str) -> np.ndarray:
        if part not in ("train", "val", "test"):
            raise KGError(f"unknown part {part!r}; choose train, val or test")
        return {"train": self.train_pairs, "val": self.val_pairs, "test": self.test_pairs}[part]

    @cached_property
    def known_pairs(self) -> np.ndarray:
        """Every true pair of the relation (train, val and test): the filter of filtered ranking."""
        return np.concatenate([self.train_pairs, self.val_pairs, self.test_pairs])

    def summary(self) -> str:
        return self.split.summary()
