"""Fitting the people GNN on prescriptions, and scoring people with it.

Training is denoising, as in Mult-DAE (Liang et al. 2018): each step hides a random 20% of every
person's drugs, embeds the person from the rest, and maximises the multinomial likelihood of the
hidden drugs over every drug somebody uses in training, the kept ones excluded. The graph encoder
runs once per step: full-batch (2.07 million edges with their reverses on the shipped graph), or
in ``sampled`` mode on a fresh sampled neighbourhood of those drugs
(:func:`recsys.link.gnn.sampling.sample_hops`). It runs a fixed number of epochs, chosen on
validation (:class:`PeopleGNNConfig`). The fitted model is exported to plain arrays for scoring
and for the bundle (:mod:`recsys.people.scorer`), always from the whole graph.

Under ``torchrun`` (:mod:`pipelines.people_distributed`) every rank draws the same batches and
masks, takes its share of each batch's people, encodes its own sampled neighbourhood (or the
whole graph) and one all-reduce averages the gradients, so all ranks keep the same weights.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from kg.graph import KnowledgeGraph
from recsys.cf.interactions import Interactions
from recsys.link.adjacency import MetaEdge, relation_matrices
from recsys.link.gnn.determinism import deterministic_kernels
from recsys.link.gnn.encoders import adjacency_of
from recsys.link.gnn.graph import atc_features
from recsys.link.gnn.parallel import all_reduce_gradients, rank_and_world
from recsys.link.gnn.sampling import in_neighbours, sample_hops
from recsys.link.training import TrainingLog
from recsys.people.config import PeopleGNNConfig
from recsys.people.model import PeopleGNN
from recsys.people.scorer import PeopleScorer, activity, row_normalised, specialties_of, specialty_codes

__all__ = ["FittedPeopleGNN", "fit_people_gnn", "KnowledgeInputs"]

#: Node types whose relations say what someone did, not what a drug is: never in the message graph.
PEOPLE = ("doctor", "patient")
#: Node types the model reads from the encoder: its last layer computes only messages into them.
READ = ("drug",)
#: Fewest optimiser steps an epoch takes (smaller batches on small data).
MIN_STEPS = 8


@dataclass
class KnowledgeInputs:
    """The knowledge graph without people, as the encoder reads it. Every relation is kept: on the
    drug cold-start validation (seeds 1 and 2) leaving out the protein-protein and anatomy edges
    cost 0.02 Recall@5 and 0.02 reverse AUROC for the same training time."""

    id_maps: dict[str, list[str]]
    edge_index: dict[MetaEdge, torch.Tensor]
    adjacency: dict[MetaEdge, torch.Tensor]
    features: dict[str, torch.Tensor]

    @classmethod
    def from_graph(cls, graph: KnowledgeGraph) -> "KnowledgeInputs":
        types = sorted(set(graph.nodes["type"].astype(str)) - set(PEOPLE))
        id_maps = {t: sorted(graph.nodes_of_type(t)["id"].astype(str)) for t in types}
        edge_index = {}
        for e, m in sorted(relation_matrices(graph, id_maps).items()):
            coo = m.tocoo()
            edge_index[e] = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
        num_nodes = {t: len(ids) for t, ids in id_maps.items()}
        return cls(id_maps, edge_index, adjacency_of(edge_index, num_nodes),
                   {"drug": atc_features(graph, id_maps["drug"])})

    @property
    def last_layer(self) -> dict[MetaEdge, torch.Tensor]:
        """The relations into the node types the model reads (:data:`READ`)."""
        return {e: a for e, a in self.adjacency.items() if e.dst in READ}

    @property
    def num_nodes(self) -> dict[str, int]:
        return {t: len(ids) for t, ids in self.id_maps.items()}

    @property
    def drug_ids(self) -> pd.Index:
        return pd.Index(self.id_maps["drug"])


class FittedPeopleGNN:
    """A trained :class:`PeopleGNN` with its graph inputs; :meth:`export` gives the arrays that
    score people (:class:`~recsys.people.scorer.PeopleScorer`)."""

    def __init__(self, model: PeopleGNN, inputs: KnowledgeInputs, specialties: pd.Index,
                 config: PeopleGNNConfig, log: TrainingLog | None = None) -> None:
        self.model, self.inputs, self.specialties, self.config = model, inputs, specialties, config
        self.log = log or TrainingLog()

    @property
    def drug_ids(self) -> pd.Index:
        return self.inputs.drug_ids

    def export(self) -> PeopleScorer:
        """The fixed parts: every drug's representation and bias, and the people tower's weights."""
        self.model.eval()
        with torch.no_grad():
            drugs, bias = self.model.drug_vectors(self.inputs.adjacency, self.inputs.features, self.inputs.last_layer)
        as_array = lambda t: t.detach().numpy().astype(np.float64)  # noqa: E731
        return PeopleScorer(self.drug_ids, as_array(drugs), as_array(bias), as_array(self.model.from_drugs.weight),
                            self.specialties, as_array(self.model.specialty.weight),
                            as_array(self.model.activity.weight)[0], float(self.model.activity.bias.item()),
                            person_norm=(None if self.model.log_person_norm is None
                                         else float(self.model.log_person_norm.exp().item())))


def fit_people_gnn(graph: KnowledgeGraph, claims: Interactions, config: PeopleGNNConfig | None = None,
                   progress: bool = False, inputs: KnowledgeInputs | None = None) -> FittedPeopleGNN:
    """Train on ``claims`` (people x drugs, with a ``specialty`` attribute or none); ``graph``
    gives the drugs' neighbourhoods, and its people relations are never read. ``.export()`` the
    result to score people."""
    cfg = config or PeopleGNNConfig()
    inputs = inputs or KnowledgeInputs.from_graph(graph)
    specialty = specialties_of(claims)
    specialties = pd.Index(sorted({s for s in specialty if isinstance(s, str) and s}))
    with deterministic_kernels():
        torch.manual_seed(cfg.seed)
        fitted = FittedPeopleGNN(_model(inputs, len(specialties), cfg), inputs, specialties, cfg)
        _train(fitted, claims, specialty, progress)
    return fitted


def _model(inputs: KnowledgeInputs, num_specialties: int, cfg: PeopleGNNConfig) -> PeopleGNN:
    return PeopleGNN(inputs.num_nodes, sorted(inputs.adjacency), inputs.features["drug"].shape[1],
                     num_specialties, cfg.dim, cfg.encoder, cfg.num_layers, cfg.dropout, cfg.normalise_people)


def _train(fitted: FittedPeopleGNN, claims: Interactions, specialty: np.ndarray, progress: bool) -> None:
    cfg, model = fitted.config, fitted.model
    matrix = sp.csr_matrix(claims.matrix, dtype=np.float64)
    columns = fitted.drug_ids.get_indexer([str(i) for i in claims.item_ids])
    used = np.flatnonzero((np.diff(sp.csc_matrix(matrix).indptr) > 0) & (columns >= 0))
    pool = _DrugPool(fitted, columns[used])  # the drugs a step ranks: somebody uses them in training
    people = np.flatnonzero(np.diff(matrix.indptr) >= 2)  # one drug to hide and one to keep, at least
    codes = torch.from_numpy(specialty_codes(fitted.specialties, specialty, len(specialty)))
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    rng = np.random.default_rng(cfg.seed)  # the same on every rank: same batches, same masks
    rank, world = rank_and_world()
    # At least MIN_STEPS steps an epoch: a small graph takes as many optimiser steps as the
    # shipped one (9 batches of 2,048 prescribers) instead of one.
    steps = max(MIN_STEPS, -(-len(people) // cfg.batch_size))
    model.train()
    for epoch in _progress(cfg.epochs, progress and rank == 0):
        start, losses = time.perf_counter(), []
        for step, batch in enumerate(np.array_split(rng.permutation(people), steps)):
            rows = matrix[batch][:, used]
            hidden = rng.random(rows.nnz) < cfg.mask_share
            mine = np.array_split(np.arange(len(batch)), world)[rank]  # this rank's share of the batch
            kept, target = _masked(rows, ~hidden)[mine], _masked(rows, hidden)[mine]
            optimizer.zero_grad()
            loss = None
            if target.nnz:
                drugs, bias = pool.vectors(np.random.default_rng([cfg.seed, epoch, step, rank]))
                loss = _loss(model, drugs, bias, kept, target, codes[batch[mine]], cfg.reverse_weight)
                loss.backward()
                losses.append(float(loss.detach()))
            if world > 1:
                all_reduce_gradients(model, world)  # every rank joins, even with nothing to learn this step
            optimizer.step()
        fitted.log.loss.append(float(np.mean(losses)) if losses else float("nan"))
        fitted.log.epoch_seconds.append(time.perf_counter() - start)
        fitted.log.epochs = fitted.log.best_epoch = len(fitted.log.loss)
    model.eval()


class _DrugPool:
    """The representations of the drugs a step ranks, from the whole graph or a sampled neighbourhood."""

    def __init__(self, fitted: FittedPeopleGNN, drugs: np.ndarray) -> None:
        self.model, self.inputs, self.config = fitted.model, fitted.inputs, fitted.config
        self.drugs = drugs
        self.seeds = np.unique(drugs)
        self.neighbours = (in_neighbours(self.inputs.edge_index, self.inputs.num_nodes)
                           if self.config.mode == "sampled" else None)

    def vectors(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(len(drugs), dim) representations and (len(drugs),) biases; ``rng`` draws the sample."""
        inputs = self.inputs
        if self.neighbours is None:
            drugs, bias = self.model.drug_vectors(inputs.adjacency, inputs.features, inputs.last_layer)
            index = torch.from_numpy(self.drugs)
        else:
            node_ids, edges = sample_hops(self.neighbours, {"drug": self.seeds}, self.config.fanout, rng,
                                          inputs.num_nodes)
            adjacency = adjacency_of(edges, {t: len(ids) for t, ids in node_ids.items()})
            drugs, bias = self.model.drug_vectors(adjacency, inputs.features,
                                                  {e: a for e, a in adjacency.items() if e.dst in READ},
                                                  node_ids={t: torch.from_numpy(ids) for t, ids in node_ids.items()})
            index = torch.from_numpy(np.searchsorted(node_ids["drug"], self.drugs))
        return drugs[index], bias[index]


def _loss(model: PeopleGNN, drugs: torch.Tensor, bias: torch.Tensor, kept: sp.csr_matrix, target: sp.csr_matrix,
          codes: torch.Tensor, reverse_weight: float) -> torch.Tensor:
    """Minus the multinomial log-likelihood of each person's hidden drugs over the pool (kept ones
    excluded), plus ``reverse_weight`` x the reverse loss (:func:`_reverse_loss`)."""
    person = model.people_vectors(drugs, _tensor(row_normalised(kept)), codes)
    logits = person @ drugs.T + bias[None, :] + model.people_bias(_tensor(activity(kept)))[:, None]
    logits = logits.masked_fill(torch.from_numpy(kept.toarray() > 0), float("-inf"))
    goal = _tensor(row_normalised(target))
    has_goal = goal.sum(dim=1) > 0
    loss = -(goal * torch.log_softmax(logits, dim=1).clamp(min=-1e4)).sum(dim=1)[has_goal].mean()
    return loss + reverse_weight * _reverse_loss(logits, target) if reverse_weight > 0 else loss


def _reverse_loss(logits: torch.Tensor, target: sp.csr_matrix) -> torch.Tensor:
    """Mean over drugs hidden from someone of the step: minus the log-likelihood of the people
    who use it among the step's people (those who already have it visible excluded)."""
    goal = torch.from_numpy(target.toarray() > 0).to(torch.float32).T  # drugs x people
    has_goal = goal.sum(dim=1) > 0
    goal = goal / goal.sum(dim=1, keepdim=True).clamp(min=1.0)
    return -(goal * torch.log_softmax(logits.T, dim=1).clamp(min=-1e4)).sum(dim=1)[has_goal].mean()


def _masked(rows: sp.csr_matrix, keep: np.ndarray) -> sp.csr_matrix:
    out = sp.csr_matrix((np.where(keep, rows.data, 0.0), rows.indices.copy(), rows.indptr.copy()), shape=rows.shape)
    out.eliminate_zeros()
    return out


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array).to(torch.float32)


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(range(total), disable=not enabled, desc="people GNN", unit="epoch", leave=False)

