"""Shallow knowledge-graph embeddings (TransE, DistMult, ComplEx, RotatE) as baselines.

The models are PyG's (:mod:`torch_geometric.nn.kge`); rxkg gives them the same
contract and training budget as the GNN so the comparison is fair: every relation
of the training graph is a triple set, the target relation makes up
``target_share`` of each epoch's triples (the rest is a fresh sample of the other
relations), negatives are nodes of the right type (a corrupted disease is a disease),
the loss is a sampled softmax over one positive and ``negatives`` corruptions, and
validation MRR stops training early.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from recsys.link.adjacency import relation_matrices
from recsys.link.evaluate import evaluate_scores
from recsys.link.task import LinkTask
from recsys.link.scorer import LinkScorer
from recsys.link.training import EarlyStopping, TrainingLog

__all__ = ["KGEConfig", "KGEScorer", "KGE_MODELS"]

KGE_MODELS: tuple[str, ...] = ("TransE", "DistMult", "ComplEx", "RotatE")


@dataclass(frozen=True)
class KGEConfig:
    model: str = "DistMult"
    dim: int = 64
    lr: float = 0.01
    epochs: int = 15
    patience: int = 3
    triples_per_epoch: int = 50_000
    target_share: float = 0.2
    negatives: int = 32
    batch_size: int = 4096
    seed: int = 0

    def __post_init__(self) -> None:
        if self.model not in KGE_MODELS:
            raise ValueError(f"unknown KGE model {self.model!r}; choose one of {list(KGE_MODELS)}")


class KGEScorer(LinkScorer):
    """A PyG KGE model trained on the training graph's triples."""

    def __init__(self, config: KGEConfig | None = None) -> None:
        super().__init__()
        self.config = config or KGEConfig()
        self.name = self.config.model
        self.log = TrainingLog()

    def _fit(self, task: LinkTask) -> None:
        import torch_geometric.nn.kge as kge

        cfg = self.config
        torch.manual_seed(cfg.seed)
        generator = torch.Generator().manual_seed(cfg.seed)
        types = sorted(task.id_maps)
        self.offset = dict(zip(types, np.cumsum([0] + [len(task.id_maps[t]) for t in types[:-1]])))
        self.type_range = {t: (int(self.offset[t]), len(task.id_maps[t])) for t in types}
        heads, rels, tails, head_type, tail_type = [], [], [], [], []
        matrices = relation_matrices(task.train_graph, task.id_maps)
        relations = sorted(e for e in matrices if not e.is_reverse)
        target = next(i for i, e in enumerate(relations) if e.base == task.relation)
        self.target_relation = target
        for i, e in enumerate(relations):
            coo = matrices[e].tocoo()
            heads.append(coo.row + self.offset[e.src])
            tails.append(coo.col + self.offset[e.dst])
            rels.append(np.full(len(coo.row), i))
            head_type.append(np.full(len(coo.row), types.index(e.src)))
            tail_type.append(np.full(len(coo.row), types.index(e.dst)))
        triples = torch.from_numpy(np.vstack([np.concatenate(heads), np.concatenate(rels),
                                              np.concatenate(tails)]).astype(np.int64))
        ranges = torch.tensor([self.type_range[t] for t in types], dtype=torch.int64)
        ends = torch.from_numpy(np.vstack([np.concatenate(head_type), np.concatenate(tail_type)]).astype(np.int64))
        is_target = triples[1] == target

        num_nodes = sum(len(v) for v in task.id_maps.values())
        self.model = getattr(kge, cfg.model)(num_nodes, len(relations), cfg.dim)
        optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        target_ids = torch.nonzero(is_target).ravel()
        other_ids = torch.nonzero(~is_target).ravel()
        n_target = int(cfg.target_share * cfg.triples_per_epoch)
        stopping = EarlyStopping(self.model, cfg.patience, self.log)
        for _ in range(cfg.epochs):
            start_time = time.perf_counter()
            self.model.train()
            losses = []
            pick_target = target_ids[torch.randint(0, len(target_ids), (n_target,), generator=generator)]
            pick_other = other_ids[torch.randint(0, len(other_ids), (cfg.triples_per_epoch - n_target,),
                                                 generator=generator)]
            epoch_ids = torch.cat([pick_target, pick_other])
            epoch_ids = epoch_ids[torch.randperm(len(epoch_ids), generator=generator)]
            for batch in epoch_ids.split(cfg.batch_size):
                h, r, t = triples[:, batch]
                corrupt_tail = torch.rand(len(batch), generator=generator) < 0.5
                kind = torch.where(corrupt_tail, ends[1, batch], ends[0, batch])
                start, size = ranges[kind, 0], ranges[kind, 1]
                noise = (torch.rand(len(batch), cfg.negatives, generator=generator) * size[:, None]).long()
                negatives = start[:, None] + noise
                neg_h = torch.where(corrupt_tail[:, None], h[:, None], negatives)
                neg_t = torch.where(corrupt_tail[:, None], negatives, t[:, None])
                positive = self.model(h, r, t)[:, None]
                negative = self.model(neg_h.reshape(-1), r.repeat_interleave(cfg.negatives),
                                      neg_t.reshape(-1)).view(len(batch), cfg.negatives)
                loss = torch.nn.functional.cross_entropy(torch.cat([positive, negative], 1),
                                                         torch.zeros(len(batch), dtype=torch.long))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(float(loss.detach()))
            if stopping.record(self._val_mrr(task), float(np.mean(losses)), time.perf_counter() - start_time):
                break
        stopping.restore_best()

    def _val_mrr(self, task: LinkTask) -> float:
        dst = np.unique(task.val_pairs[:, 1])
        return evaluate_scores(self.score_matrix(dst), dst, task, "val").mrr if len(dst) else 0.0

    @torch.no_grad()
    def score_matrix(self, dst_index: np.ndarray) -> np.ndarray:
        rel = self._fitted()
        self.model.eval()
        drugs = torch.arange(self.type_range[rel.src][1]) + self.type_range[rel.src][0]
        rows = []
        for d in np.asarray(dst_index, dtype=np.int64):
            tail = torch.full_like(drugs, int(d) + self.type_range[rel.dst][0])
            relation = torch.full_like(drugs, self.target_relation)
            rows.append(self.model(drugs, relation, tail).numpy())
        return np.stack(rows) if rows else np.zeros((0, len(drugs)), dtype=np.float32)
