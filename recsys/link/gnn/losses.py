"""The GNN's training losses: 1-N cross-entropy on the target relation, sampled softmax on the rest.

Both read the model's decoder (one relation vector per decoded metaedge, a drug bias,
the prior's weight) and are plain functions of it, so the training loop stays a loop.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from recsys.link.adjacency import MetaEdge
from recsys.link.gnn.config import GNNConfig
from recsys.link.gnn.model import LinkGNN

__all__ = ["KnownPairs", "target_loss", "aux_loss"]


class LocalEdges(Protocol):
    """A sampled subgraph's view of the edges of one relation (local indices)."""

    def local_edges(self, metaedge: MetaEdge) -> Tensor: ...


class KnownPairs:
    """Known training pairs as a dense boolean matrix, for filtering 1-N scores."""

    def __init__(self, pairs: np.ndarray, num_src: int, num_dst: int) -> None:
        self.matrix = torch.zeros((num_src, num_dst), dtype=torch.bool)
        self.matrix[torch.from_numpy(pairs[:, 0]), torch.from_numpy(pairs[:, 1])] = True

    def mask_drugs(self, dst: Tensor, true_src: Tensor, pool: Tensor) -> Tensor:
        """Per supervised pair, the pool's other known drugs of its disease (to be filtered)."""
        mask = self.matrix[:, dst].T[:, pool].clone()
        mask[pool[None, :] == true_src[:, None]] = False
        return mask

    def mask_diseases(self, src: Tensor, true_dst: Tensor, pool: Tensor) -> Tensor:
        """Per supervised pair, the pool's other known diseases of its drug (to be filtered)."""
        mask = self.matrix[src][:, pool].clone()
        mask[pool[None, :] == true_dst[:, None]] = False
        return mask


def target_loss(model: LinkGNN, target: MetaEdge, z: dict[str, Tensor], pairs: Tensor, known: KnownPairs,
                pool: dict[str, Tensor] | None = None, to_global: dict[str, Tensor] | None = None,
                offset: Tensor | None = None) -> Tensor:
    """1-N cross-entropy of each supervised pair against every drug and every disease.

    On a sampled subgraph ``z`` and ``pairs`` are local, the candidates are the
    ``pool`` of seed nodes and ``to_global`` maps local indices to the known-pair filter's.
    ``offset`` is the prior's (num_diseases, num_drugs) score matrix for this epoch.
    """
    t = target
    src, dst = pairs
    if len(src) == 0:
        return z[t.src].sum() * 0.0
    r = model.relation[0]
    hs_all, hd_all = z[t.src], z[t.dst]
    drug_pool = pool[t.src] if pool else torch.arange(hs_all.shape[0])
    disease_pool = pool[t.dst] if pool else torch.arange(hd_all.shape[0])

    def glob(node_type: str, index: Tensor) -> Tensor:
        return to_global[node_type][index] if to_global else index

    bias = model.bias(hs_all[drug_pool]).squeeze(-1)
    by_drug = (hd_all[dst] * r) @ hs_all[drug_pool].T + bias[None, :]
    by_disease = (hs_all[src] * r) @ hd_all[disease_pool].T
    if offset is not None:
        weight = model.prior_weight
        by_drug = by_drug + weight * offset[glob(t.dst, dst)][:, glob(t.src, drug_pool)]
        by_disease = by_disease + weight * offset[glob(t.dst, disease_pool)][:, glob(t.src, src)].T
    drug_mask = known.mask_drugs(glob(t.dst, dst), glob(t.src, src), glob(t.src, drug_pool))
    disease_mask = known.mask_diseases(glob(t.src, src), glob(t.dst, dst), glob(t.dst, disease_pool))
    by_drug = by_drug.masked_fill(drug_mask, float("-inf"))
    by_disease = by_disease.masked_fill(disease_mask, float("-inf"))
    drug_target = _position(drug_pool, src)
    disease_target = _position(disease_pool, dst)
    return (torch.nn.functional.cross_entropy(by_drug, drug_target)
            + torch.nn.functional.cross_entropy(by_disease, disease_target)) / 2


def aux_loss(model: LinkGNN, decoded: list[MetaEdge], edge_index: dict[MetaEdge, Tensor], config: GNNConfig,
             z: dict[str, Tensor], generator: torch.Generator, rank: int, world: int,
             restrict: LocalEdges | None = None) -> Tensor:
    """Sampled-softmax reconstruction of the other relations, negatives of the right type.

    ``decoded[0]`` is the target relation (left out here); ``restrict`` reads a sampled
    subgraph's local edges instead of ``edge_index``.
    """
    relations = decoded[1:]
    if not relations or config.aux_edges <= 0 or config.aux_weight == 0:
        return z[decoded[0].src].sum() * 0.0
    losses = []
    per_relation = max(1, config.aux_edges // len(relations) // world)
    for e in relations:
        index = edge_index[e] if restrict is None else restrict.local_edges(e)
        if index.shape[1] == 0:
            continue
        pick = torch.randint(0, index.shape[1], (per_relation * world,), generator=generator)[rank::world]
        src, dst = index[:, pick]
        n_dst = z[e.dst].shape[0]
        negatives = torch.randint(0, n_dst, (len(src), config.aux_negatives), generator=generator)
        r = model.relation[decoded.index(e)]
        hs = z[e.src][src] * r
        positive = (hs * z[e.dst][dst]).sum(-1, keepdim=True)
        negative = torch.einsum("nd,nkd->nk", hs, z[e.dst][negatives])
        logits = torch.cat([positive, negative], dim=1)
        losses.append(torch.nn.functional.cross_entropy(logits, torch.zeros(len(src), dtype=torch.long)))
    return torch.stack(losses).mean()


def _position(pool: Tensor, values: Tensor) -> Tensor:
    """Index of each value within ``pool`` (every value is in it)."""
    order = torch.argsort(pool)
    return order[torch.searchsorted(pool[order], values)]
