"""Training the link predictor: full-batch or neighbour-sampled, one process or many.

One epoch:

1. the training indications are shuffled; a share of them (``supervision_fraction``)
   is *supervised* this epoch and hidden from message passing, the rest carry
   messages, so the model never sees the edge it is asked to predict (as at test
   time) yet every indication informs its neighbours on most epochs;
2. supervised pairs are scored against every drug and every disease (1-N scoring:
   the negatives are all nodes of the right type, known indications filtered out);
3. an auxiliary loss reconstructs a sample of every other relation with
   type-aware negatives (random nodes of the relation's destination type), so the
   embeddings of genes, anatomy and people are trained too;
4. validation MRR decides early stopping; the best state is kept.

With a metapath prior (``prior="metapath"``) the target score adds a learned
multiple of the metapath model's logit, so the GNN learns a correction to the
strongest known model rather than starting from nothing. The prior must not
see the pairs it is asked about either: the training indications are cut into
fixed groups once, each group's prior scores come from the training graph
without that group (:meth:`MetapathModel.scores_without`), and each epoch
supervises one group (cycling in a seeded order) with those scores, exactly
as a held-out pair is scored by the graph without it.

Under ``torchrun`` each rank takes its share of the supervised pairs and
auxiliary edges; DistributedDataParallel averages gradients in full-batch mode (gloo
on CPU, NCCL on GPUs), and in sampled mode one all-reduce per batch does (each rank
samples the neighbourhood of its own share of the batch). Every rank evaluates the same
validation set with the same weights, so they stop together.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from kg.errors import KGError
from kg.schema import EdgeType
from recsys.link.adjacency import MetaEdge
from recsys.link.bundle import load_bundle, save_bundle
from recsys.link.gnn.config import GNNConfig
from recsys.link.gnn.determinism import deterministic_kernels
from recsys.link.gnn.encoders import adjacency_of
from recsys.link.gnn.graph import MessageGraph
from recsys.link.gnn.losses import KnownPairs, aux_loss, target_loss
from recsys.link.gnn.model import LinkGNN
from recsys.link.gnn.parallel import all_reduce_gradients, rank_and_world
from recsys.link.gnn.sampling import NeighbourSampler, SampledSubgraph
from recsys.link.evaluate import evaluate_scores
from recsys.link.task import LinkTask
from recsys.link.scorer import LinkScorer
from recsys.link.training import EarlyStopping, TrainingLog

__all__ = ["GNNConfig", "GNNScorer"]  # GNNConfig re-exported: configured and trained together

class GNNScorer(LinkScorer):
    """Disease -> drug scorer backed by :class:`LinkGNN`; see the module docstring for training."""

    def __init__(self, config: GNNConfig | None = None, progress: bool = False,
                 prior: LinkScorer | None = None) -> None:
        """``prior``: a metapath model already fitted on the task this GNN will be fitted
        on, for ``config.prior == "metapath"`` (fitted here when not given)."""
        super().__init__()
        self.config = config or GNNConfig()
        if prior is not None and self.config.prior is None:
            raise ValueError("a prior model was given but config.prior is None")
        self.progress = progress
        self.prior = prior
        self.name = f"GNN ({self.config.encoder})" + (f" + {self.config.prior}" if self.config.prior else "")
        self.log = TrainingLog()
        #: Prior scores of every (disease, drug) pair on the whole training graph.
        self._prior_scores: Tensor | None = None
        #: Per training pair, its group; per group, the prior scores without that group.
        self._groups: Tensor | None = None
        self._n_groups = 0
        self._group_priors: dict[int, Tensor] = {}

    # --------------------------------------------------------------- set-up
    def _build(self, task: LinkTask) -> None:
        cfg = self.config
        self.graph = MessageGraph.from_graph(task.train_graph, task.id_maps, task.relation)
        target = self.graph.target
        self.decoded = [target] + [e for e in sorted(self.graph.edge_index) if not e.is_reverse]
        self.zero_shot = task.split.mode == "zero_shot" if cfg.zero_shot is None else cfg.zero_shot
        self.model = LinkGNN(self.graph.num_nodes, self.graph.metaedges, self.decoded,
                             {t: f.shape[1] for t, f in self.graph.features.items()},
                             dim=cfg.dim, encoder=cfg.encoder, num_layers=cfg.num_layers,
                             dropout=cfg.dropout, num_bases=cfg.num_bases,
                             inductive_types=(target.dst,) if self.zero_shot else (),
                             prior=cfg.prior is not None)
        self._fixed_adjacency = adjacency_of(self.graph.edge_index, self.graph.num_nodes)

    def _adjacency(self, target_index: Tensor) -> dict[MetaEdge, Tensor]:
        extra = adjacency_of(self.graph.target_edges(target_index), self.graph.num_nodes)
        return {**self._fixed_adjacency, **extra}

    # ------------------------------------------------------------- training
    def _fit(self, task: LinkTask) -> None:
        with deterministic_kernels():
            self._train(task)

    def _train(self, task: LinkTask) -> None:
        cfg = self.config
        torch.manual_seed(cfg.seed)
        self._build(task)
        if cfg.prior is not None:
            self._prepare_prior(task)
        rank, world = rank_and_world()
        model: torch.nn.Module = self.model
        if world > 1 and cfg.mode == "full":
            model = torch.nn.parallel.DistributedDataParallel(self.model)
        # Sampled mode averages gradients itself (all_reduce_gradients): a sampled
        # neighbourhood leaves some parameters unused, and the loss reads the decoder's
        # parameters outside the module's forward, which DDP's unused-parameter search
        # would count twice.
        optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        train = torch.from_numpy(task.train_pairs.T.copy())
        known = KnownPairs(task.train_pairs, task.num_src, task.num_dst)
        sampler = NeighbourSampler(self.graph, cfg.fanout) if cfg.mode == "sampled" else None
        stopping = EarlyStopping(self.model, cfg.patience, self.log)
        # Without validation pairs (a deployment refit on every edge) training runs exactly
        # ``epochs`` epochs, a number chosen on a real split beforehand, and keeps the last state.
        validating = len(task.val_pairs) > 0
        bar = _progress(cfg.epochs, self.progress and rank == 0, self.name)
        for epoch in range(cfg.epochs):
            start = time.perf_counter()
            generator = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
            model.train()
            group = self._group_of_epoch(epoch)
            if sampler is None:
                loss = self._full_batch_step(model, optimizer, train, known, generator, rank, world, group)
            else:
                loss = self._sampled_epoch(model, optimizer, sampler, train, known, generator, rank, world, group)
            if validating:
                val_mrr = self._validation_mrr(task)
                stop = stopping.record(val_mrr, loss, time.perf_counter() - start)
            else:
                val_mrr, stop = float("nan"), False
                stopping.record_without_validation(loss, time.perf_counter() - start)
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}", **({"val_mrr": f"{val_mrr:.3f}"} if validating else {}))
            if stop:
                bar.total = epoch + 1  # early stopping: the bar ends full, at the epochs actually run
                bar.refresh()
                break
        bar.close()
        if validating:
            stopping.restore_best()
        self._z = self._embeddings()

    # ---------------------------------------------------------------- prior
    def _prepare_prior(self, task: LinkTask) -> None:
        """Fit the metapath prior if needed, cut the training pairs into groups and score
        each group's pairs on the training graph without them."""
        from recsys.link.metapath import MetapathModel

        cfg = self.config
        if self.prior is None:
            self.prior = MetapathModel(seed=cfg.seed).fit(task)
        elif self.prior.task is not task:
            raise ValueError("the prior model must be fitted on the same task as the GNN")
        every = np.arange(task.num_dst)
        self._prior_scores = torch.from_numpy(np.asarray(self.prior.score_matrix(every), dtype=np.float32))
        n_groups = max(2, int(round(1.0 / cfg.supervision_fraction)))
        rng = np.random.default_rng(cfg.seed)
        pairs = task.train_pairs
        if self.zero_shot:       # whole diseases, as a new disease arrives with none of its indications
            diseases = np.unique(pairs[:, 1])
            group_of_disease = dict(zip(diseases.tolist(), rng.permutation(len(diseases)) % n_groups))
            groups = np.array([group_of_disease[d] for d in pairs[:, 1].tolist()], dtype=np.int64)
        else:
            groups = rng.permutation(len(pairs)) % n_groups
        self._groups, self._n_groups = torch.from_numpy(groups), n_groups
        self._group_priors = {}  # filled on first use: a short run never scores the groups it skips

    def _group_prior(self, group: int) -> Tensor:
        """Prior scores of every pair on the training graph without ``group``'s indications."""
        if group not in self._group_priors:
            pairs = self.task.train_pairs[self._groups.numpy() == group]
            self._group_priors[group] = torch.from_numpy(np.asarray(self.prior.scores_without(pairs),
                                                                    dtype=np.float32))
        return self._group_priors[group]

    def _group_of_epoch(self, epoch: int) -> int | None:
        """The group supervised at ``epoch`` (every group once per cycle, seeded order)."""
        if self._groups is None:
            return None
        n = self._n_groups
        order = np.random.default_rng(self.config.seed * 7919 + epoch // n).permutation(n)
        return int(order[epoch % n])

    def _prior_rows(self, dst: Tensor) -> Tensor | None:
        return None if self._prior_scores is None else self._prior_scores[dst]

    # ------------------------------------------------------------ one epoch
    def _full_batch_step(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, train: Tensor,
                         known: KnownPairs, generator: torch.Generator, rank: int, world: int,
                         group: int | None = None) -> float:
        if group is None:
            supervise, offset = self._supervised_mask(train, generator), None
        else:
            supervise, offset = self._groups == group, self._group_prior(group)
        supervised, messages = train[:, supervise], train[:, ~supervise]
        mine = supervised[:, rank::world]
        optimizer.zero_grad()
        z = model(self._adjacency(messages), self.graph.features)
        loss = self._loss(z, mine, known, offset, generator, rank, world)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    def _loss(self, z: dict[str, Tensor], pairs: Tensor, known: KnownPairs, offset: Tensor | None,
              generator: torch.Generator, rank: int, world: int, sub: SampledSubgraph | None = None) -> Tensor:
        """The supervised ``pairs``' target loss plus the weighted auxiliary loss (on ``sub``
        when the epoch is sampled: local indices, its seeds as candidates)."""
        pool, to_global = (sub.candidates, sub.node_ids) if sub is not None else (None, None)
        loss = target_loss(self.model, self.graph.target, z, pairs, known, pool=pool, to_global=to_global,
                           offset=offset)
        return loss + self.config.aux_weight * aux_loss(self.model, self.decoded, self.graph.edge_index,
                                                        self.config, z, generator, rank, world, restrict=sub)

    def _supervised_mask(self, train: Tensor, generator: torch.Generator) -> Tensor:
        """Which training pairs are supervised (and hidden from messages) this epoch.

        Random pairs, or, when training for new diseases, every pair of random diseases.
        """
        share = self.config.supervision_fraction
        if self.zero_shot:
            diseases = torch.unique(train[1])
            order = torch.randperm(len(diseases), generator=generator)
            chosen = diseases[order[:max(1, int(round(share * len(diseases))))]]
            return torch.isin(train[1], chosen)
        order = torch.randperm(train.shape[1], generator=generator)
        mask = torch.zeros(train.shape[1], dtype=torch.bool)
        mask[order[:max(1, int(round(share * train.shape[1])))]] = True
        return mask

    def _sampled_epoch(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                       sampler: NeighbourSampler, train: Tensor, known: KnownPairs,
                       generator: torch.Generator, rank: int, world: int, group: int | None = None) -> float:
        """Mini-batches of supervised pairs, each encoded on its sampled neighbourhood.

        Without a prior every training pair is supervised once, hidden from messages in
        its own batch; with one, the epoch's group is, hidden from messages all epoch.
        """
        cfg = self.config
        if group is None:
            order, offset = torch.randperm(train.shape[1], generator=generator), None
        else:
            members = torch.nonzero(self._groups == group).ravel()
            order = members[torch.randperm(len(members), generator=generator)]
            offset = self._group_prior(group)
        losses = []
        batches = order.split(cfg.batch_size * world)
        group_carries = None if group is None else self._groups != group
        for batch in batches:
            supervised = train[:, batch]
            if group_carries is None:
                carries = torch.ones(train.shape[1], dtype=torch.bool)
                carries[batch] = False
            else:
                carries = group_carries
            mine = supervised[:, rank::world]
            sub = sampler.sample(mine, train[:, carries], generator)
            optimizer.zero_grad()
            z = model(adjacency_of(sub.edge_index, sub.num_nodes), self.graph.features, sub.node_ids)
            loss = self._loss(z, sub.seeds, known, offset, generator, rank, world, sub)
            loss.backward()
            if world > 1:
                all_reduce_gradients(self.model, world)
            optimizer.step()
            losses.append(float(loss.detach()))
        return float(np.mean(losses))

    # ------------------------------------------------------------ inference
    @torch.no_grad()
    def _embeddings(self) -> dict[str, Tensor]:
        self.model.eval()
        return self.model.encode(self._adjacency(self.graph.target_index), self.graph.features)

    @torch.no_grad()
    def _validation_mrr(self, task: LinkTask) -> float:
        dst = np.unique(task.val_pairs[:, 1])
        if len(dst) == 0:
            return 0.0
        z = self._embeddings()
        dst_index = torch.from_numpy(dst)
        scores = self.model.score_all(z, self.graph.target, dst_index, self._prior_rows(dst_index)).numpy()
        return evaluate_scores(scores, dst, task, "val").mrr

    @torch.no_grad()
    def score_matrix(self, dst_index: np.ndarray) -> np.ndarray:
        self._fitted()
        dst = torch.as_tensor(np.asarray(dst_index, dtype=np.int64))
        return self.model.score_all(self._z, self.decoded[0], dst, self._prior_rows(dst)).numpy()

    def embeddings(self) -> dict[str, np.ndarray]:
        """Final node embeddings per type (index order of the task's id maps)."""
        self._fitted()
        return {t: v.numpy() for t, v in self._z.items()}

    # ----------------------------------------------------------- persistence
    def save(self, path: str | Path) -> Path:
        """Write the model bundle (weights, final embeddings, config, id maps, versions)."""
        rel = self._fitted()
        return save_bundle({
            "kind": "gnn",
            "config": {**asdict(self.config), "fanout": list(self.config.fanout)},
            "relation": list(rel),
            "id_maps": self.id_maps,
            "seen_pairs": torch.from_numpy(self.seen_pairs.copy()),
            "num_nodes": self.graph.num_nodes,
            "metaedges": [list(e) for e in self.graph.metaedges],
            "decoded": [list(e) for e in self.decoded],
            "feature_dims": {t: int(f.shape[1]) for t, f in self.graph.features.items()},
            "inductive_types": list(self.model.inductive_types),
            "state_dict": self.model.state_dict(),
            "embeddings": self._z,
            # The prior is part of the score: its scores travel with the bundle.
            **({"prior_scores": self._prior_scores} if self._prior_scores is not None else {}),
            "log": {"epochs": self.log.epochs, "best_epoch": self.log.best_epoch,
                    "best_val_mrr": self.log.best_val_mrr},
        }, path)

    @classmethod
    def load(cls, path: str | Path) -> "GNNScorer":
        """A scorer from a bundle: scores and recommendations without the graph."""
        payload = load_bundle(path)
        if payload.get("kind") != "gnn":
            raise KGError(f"{path}: bundle holds a {payload.get('kind')!r} model, not a GNN")
        config = dict(payload["config"])
        config["fanout"] = tuple(config["fanout"])
        scorer = cls(GNNConfig(**config))
        scorer.relation = EdgeType(*payload["relation"])
        scorer.id_maps = payload["id_maps"]
        scorer.seen_pairs = payload["seen_pairs"].numpy()
        decoded = [MetaEdge(*e) for e in payload["decoded"]]
        scorer.decoded = decoded
        scorer.model = LinkGNN(payload["num_nodes"], [MetaEdge(*e) for e in payload["metaedges"]], decoded,
                               payload["feature_dims"], dim=scorer.config.dim, encoder=scorer.config.encoder,
                               num_layers=scorer.config.num_layers, dropout=scorer.config.dropout,
                               num_bases=scorer.config.num_bases,
                               inductive_types=tuple(payload["inductive_types"]),
                               prior=scorer.config.prior is not None)
        if scorer.config.prior is not None and "prior_scores" not in payload:
            raise KGError(f"{path}: the bundle's GNN adds a {scorer.config.prior} prior but holds no prior scores")
        scorer._prior_scores = payload.get("prior_scores")
        scorer.model.load_state_dict(payload["state_dict"])
        scorer.model.eval()
        scorer._z = payload["embeddings"]
        return scorer


def _progress(total: int, enabled: bool, label: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=label, unit="epoch", leave=False)
