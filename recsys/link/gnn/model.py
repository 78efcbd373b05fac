"""Link predictor: per-type embeddings (+ drug ATC features) -> encoder -> DistMult decoder.

Shapes:
    - ``encode(adjacency)``: {node type: (num_nodes, dim)}
    - ``score_all(z, metaedge, dst)``: (len(dst), num_nodes[metaedge.src])
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from recsys.link.adjacency import MetaEdge
from recsys.link.gnn.encoders import ENCODERS

__all__ = ["LinkGNN"]


class LinkGNN(nn.Module):
    """Learnable embeddings, a heterogeneous encoder and a DistMult decoder per relation.

    The decoder adds a source-node bias read from its embedding, so the model can
    learn a drug's prior popularity (the degree baseline) and then go beyond it.
    With ``prior=True`` the target relation's score also adds a learned multiple of a
    given prior score (the metapath model's logit): the GNN then learns what the
    prior misses instead of relearning what it already knows.
    """

    def __init__(self, num_nodes: dict[str, int], metaedges: list[MetaEdge],
                 decoded: list[MetaEdge], feature_dims: dict[str, int], dim: int = 64,
                 encoder: str = "rgcn", num_layers: int = 2, dropout: float = 0.2,
                 num_bases: int = 8, inductive_types: tuple[str, ...] = (), prior: bool = False) -> None:
        super().__init__()
        if encoder not in ENCODERS:
            raise ValueError(f"unknown encoder {encoder!r}; choose one of {sorted(ENCODERS)}")
        self.node_types = sorted(num_nodes)
        # An inductive type has one shared input vector instead of one per node: its
        # representations come from the neighbourhood alone, so a node never seen
        # in training (a held-out disease) is embedded like every other.
        self.inductive_types = tuple(inductive_types)
        self.embedding = nn.ModuleDict({t: nn.Embedding(1 if t in self.inductive_types else n, dim)
                                        for t, n in num_nodes.items()})
        self.num_nodes = dict(num_nodes)
        self.feature_projection = nn.ModuleDict(
            {t: nn.Linear(d, dim, bias=False) for t, d in feature_dims.items() if d > 0})
        kwargs = {"num_bases": num_bases} if encoder == "rgcn" else {}
        self.encoder = ENCODERS[encoder](metaedges, self.node_types, dim, num_layers=num_layers,
                                         dropout=dropout, **kwargs)
        self.decoded = list(decoded)
        self.relation = nn.Parameter(torch.empty(len(self.decoded), dim))
        self.bias = nn.Linear(dim, 1)
        self.prior_weight = nn.Parameter(torch.ones(())) if prior else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for emb in self.embedding.values():
            nn.init.normal_(emb.weight, std=0.1)
        nn.init.ones_(self.relation)
        self.bias.reset_parameters()

    def inputs(self, features: dict[str, Tensor], node_ids: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
        """Input embeddings of every node (or of ``node_ids[t]`` for a sampled subgraph)."""
        x = {}
        for t, emb in self.embedding.items():
            ids = None if node_ids is None else node_ids[t]
            if t in self.inductive_types:
                n = self.num_nodes[t] if ids is None else len(ids)
                h = emb.weight.expand(n, -1)
            else:
                h = emb.weight if ids is None else emb(ids)
            if t in self.feature_projection:
                f = features[t] if ids is None else features[t][ids]
                h = h + self.feature_projection[t](f)
            x[t] = h
        return x

    def forward(self, adjacency: dict[MetaEdge, Tensor], features: dict[str, Tensor],
                node_ids: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
        """Node embeddings; what DistributedDataParallel wraps."""
        return self.encode(adjacency, features, node_ids)

    def encode(self, adjacency: dict[MetaEdge, Tensor], features: dict[str, Tensor],
               node_ids: dict[str, Tensor] | None = None,
               last: dict[MetaEdge, Tensor] | None = None) -> dict[str, Tensor]:
        """``last``: the last layer's adjacency, for a caller that reads only some node types."""
        return self.encoder(self.inputs(features, node_ids), adjacency, last)

    def score_all(self, z: dict[str, Tensor], metaedge: MetaEdge, dst: Tensor,
                  prior_rows: Tensor | None = None) -> Tensor:
        """(len(dst), num_src) scores of every source node for each destination node.

        ``prior_rows`` (same shape) is the prior's score of those pairs, required when
        the model was built with a prior.
        """
        r = self.relation[self.decoded.index(metaedge)]
        hs = z[metaedge.src]
        scores = (z[metaedge.dst][dst] * r) @ hs.T + self.bias(hs).squeeze(-1)[None, :]
        if self.prior_weight is not None:
            if prior_rows is None:
                raise ValueError("this model adds a prior score: pass prior_rows")
            scores = scores + self.prior_weight * prior_rows
        return scores
