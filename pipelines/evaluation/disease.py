"""Disease -> drug: held-out PharmacotherapyDB indications, every drug ranked per disease.

One :class:`~recsys.link.task.LinkTask` per split (random edges, or zero-shot whole
diseases) is shared by every model. Each model trains on its training graph, selects
(early stopping, penalty) on its validation pairs, and scores the test pairs once. The
GNNs are reported alone and, as deployed, stacked on the metapath model. The hybrid is
what ``rxkg train`` deploys: a recommender built on the training graph from the metapath
model and the deployed GNN, whose blend weights
(:meth:`~recsys.recommender.api.Recommender.fit_weights`) are chosen on the validation pairs.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Callable

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from kg.graph import KnowledgeGraph
from pipelines.evaluation.config import QUICK_METAPATH, EvaluateConfig
from pipelines.evaluation.results import ProtocolResult, Stopwatch, summarise

__all__ = ["disease_protocol", "deployed_blend", "blind_task", "DISEASE_METRICS", "MIN_INDICATIONS"]

DISEASE_METRICS = ("mrr", "hits_at_1", "hits_at_10", "hits_at_50", "auroc", "auprc", "hard_negative_above")
#: Fewer indications than this leave no meaningful split.
MIN_INDICATIONS = 20
TITLES = {"random": "Disease -> drug, random split of indications",
          "zero_shot": "Disease -> drug, zero-shot split (every indication of held-out diseases)",
          "rephetio_random": "Disease -> drug, split R: Rephetio's 70/10/20 random split of indications",
          "rephetio_zero_shot": "Disease -> drug, split Z: 20% of diseases held out whole (10% of the rest "
                                "for validation)"}


def _models(config: EvaluateConfig):
    """(role, unfitted model) in fitting order: the deployed GNN uses the metapath model fitted before it."""
    from recsys.link.gnn import GNNConfig, GNNScorer
    from recsys.link.kge import KGE_MODELS, KGEConfig, KGEScorer
    from recsys.link.metapath import MetapathModel
    from recsys.link.priors import DegreePrior

    yield "baseline", DegreePrior()
    # A quick run keeps every baseline and the deployed family; the alternative link models
    # (shallow KGE, HeteroConv), never chosen on validation, are left to the full run.
    for name in () if config.quick else KGE_MODELS:
        yield "model", KGEScorer(KGEConfig(model=name, epochs=config.kge_epochs, seed=config.seed,
                                            triples_per_epoch=config.kge_triples_per_epoch))
    for encoder in ("rgcn",) if config.quick else ("rgcn", "hetero_sage"):
        yield "model", GNNScorer(GNNConfig(encoder=encoder, epochs=config.gnn_epochs, seed=config.seed))
    train = config.train_config()  # the metapath model rxkg train deploys, its folds grouped as this split holds out
    metapath = MetapathModel(seed=config.seed, combine=train.metapath_combine, fold_by=train.metapath_fold_by,
                             **(QUICK_METAPATH if config.quick else {}))
    yield "baseline", metapath
    yield "model", _deployed_gnn(config, metapath)


def _deployed_gnn(config: EvaluateConfig, metapath):
    """The GNN ``rxkg train`` deploys, stacked on this split's fitted metapath model when it is."""
    from pipelines.train import DEPLOYED_GNN
    from recsys.link.gnn import GNNConfig, GNNScorer

    settings = GNNConfig(**{**DEPLOYED_GNN, "epochs": config.gnn_epochs, "seed": config.seed})
    return GNNScorer(settings, prior=metapath if settings.prior and metapath is not None else None)


def disease_protocol(graph: KnowledgeGraph, mode: str, config: EvaluateConfig,
                     log: Callable[[str], None] = print) -> ProtocolResult:
    """Evaluate every disease -> drug model on one split of ``treats``; see the module doc."""
    from recsys.link.task import LinkTask
    from recsys.link.split import TREATS, split_links

    result = ProtocolResult(f"disease/{mode}", TITLES[mode], DISEASE_METRICS)
    treats = graph.edges.get(TREATS)
    if treats is None or len(treats) < MIN_INDICATIONS:
        result.skipped = (f"the graph has {0 if treats is None else len(treats)} treats edges; "
                          f"a split needs at least {MIN_INDICATIONS}")
        return result
    clock = Stopwatch()
    task = LinkTask.from_split(split_links(graph, mode, val_fraction=config.disease_holdout,
                                           test_fraction=config.disease_holdout, seed=config.seed))
    if not len(task.val_pairs) or not len(task.test_pairs):
        result.skipped = f"the {mode} split left no validation or no test pairs ({task.summary()})"
        return result
    log(f"  {task.summary()}")
    hard = _hard_pairs(graph, task)
    test_diseases = np.unique(task.test_pairs[:, 1])
    blind = blind_task(task)
    fitted = {}
    models = list(_models(config))
    for role, model in tqdm(models, desc=result.name, unit="model", leave=False):
        _, seconds = clock.timed(lambda: model.fit(blind))
        fitted[model.name] = model
        row = _evaluated(model.name, role, model.score_matrix(test_diseases), test_diseases, task, hard,
                         config, seconds=seconds, val={"mrr": _val_mrr(model, blind)}, params=_params(model))
        result.models.append(row)
        log(f"  {row.model:<22} test MRR {row.means['mrr']:.3f}  AUROC {row.means['auroc']:.3f}  "
            f"AUPRC {row.means['auprc']:.3f}  ({seconds:.1f}s)")

    gnn, metapath = fitted[_deployed_gnn(config, None).name], fitted["metapath (DWPC)"]
    (hybrid, choice), seconds = clock.timed(lambda: deployed_blend(blind, gnn, metapath, config))
    rows = hybrid.scores([task.id_maps["disease"][d] for d in test_diseases])
    seconds += gnn.fit_seconds + metapath.fit_seconds
    row = _evaluated(f"hybrid (deployed: {choice['chosen']})", "hybrid", rows, test_diseases, task, hard, config,
                     seconds=seconds, val={"selection mrr": choice["val_mrr"][choice["chosen"]]},
                     params={"weights": {k: round(v, 4) for k, v in hybrid.weights["disease"].items()},
                             "val_mrr_of_candidates": {k: round(v, 4) for k, v in choice["val_mrr"].items()}})
    result.models.append(row)
    log(f"  {row.model:<22} test MRR {row.means['mrr']:.3f}  AUROC {row.means['auroc']:.3f}")
    result.info = {"split": task.summary(), "seed": config.seed, "drugs_ranked": int(task.num_src),
                   "test_diseases": int(len(test_diseases)), "test_pairs": int(len(task.test_pairs)),
                   "val_pairs": int(len(task.val_pairs)), "train_pairs": int(len(task.train_pairs)),
                   "hard_negative_pairs_in_test_diseases": int(np.isin(hard[:, 1], test_diseases).sum()),
                   "selection": {"metapath": metapath.chosen, "gnn_best_epoch": int(max(gnn.log.best_epoch, 1)),
                                 **({"deployed": choice["note"]} if choice.get("note") else {})},
                   "disease_weights": dict(hybrid.weights["disease"])}
    return result


def blind_task(task):
    """``task`` without its test pairs, for fitting exactly as ``rxkg train`` fits: to fitting and
    selection the test pairs are unknown pairs, never even a filter. Only scoring sees them."""
    blind = copy.copy(task)
    blind.split = replace(task.split, test=task.split.test.iloc[:0])
    blind.test_pairs = np.empty((0, 2), dtype=np.int64)
    return blind


def _evaluated(name: str, role: str, scores: np.ndarray, diseases: np.ndarray, task, hard: np.ndarray,
               config: EvaluateConfig, **extra):
    from recsys.link.evaluate import hard_negative_rates, per_disease_ranks, ranking_metrics

    rankings = per_disease_ranks(scores, diseases, task, "test")
    per = ranking_metrics(rankings)
    rates = hard_negative_rates(scores, diseases, task, hard, "test")
    per["hard_negative_above"] = np.array([rates.get(int(d), np.nan) for d in per.pop("disease")])
    ranks = np.concatenate([r.ranks for r in rankings.values()])
    return summarise(name, role, per, config.bootstrap, config.seed, ranks=ranks, **extra)


def _val_mrr(model, task) -> float:
    from recsys.link.evaluate import evaluate_scorer

    return evaluate_scorer(model, task, "val").mrr


def _params(model) -> dict:
    log = getattr(model, "log", None)
    out = {"epochs": int(log.epochs), "best_epoch": int(log.best_epoch)} if log is not None else {}
    if getattr(model, "chosen", None):
        out.update({k: v for k, v in model.chosen.items() if k != "val_mrr"})
    return out


def deployed_blend(task, gnn, metapath, config: EvaluateConfig):
    """The recommender ``rxkg train`` would deploy from this training graph, weights fitted on validation."""
    from recsys.recommender.api import Recommender

    every = np.arange(task.num_dst)
    recommender = Recommender(task.train_graph, {"metapath": metapath.score_matrix(every),
                                                 "gnn": gnn.score_matrix(every)},
                              task.id_maps["disease"], task.id_maps["drug"])
    disease_ids, drug_ids = task.id_maps["disease"], task.id_maps["drug"]
    recommender.fit_weights("disease", [(disease_ids[d], drug_ids[s]) for s, d in task.val_pairs],
                            known=[(disease_ids[d], drug_ids[s]) for s, d in task.train_pairs], seed=config.seed)
    return recommender, recommender.selection["disease"]


def _hard_pairs(graph: KnowledgeGraph, task) -> np.ndarray:
    """Curated non-indications as (drug, disease) index pairs of ``task`` (none when the graph has none)."""
    table = graph.tables.get("non_indications")
    if table is None or table.empty:
        return np.empty((0, 2), dtype=np.int64)
    drugs = pd.Index(task.id_maps["drug"]).get_indexer(table["drug_id"].astype(str))
    diseases = pd.Index(task.id_maps["disease"]).get_indexer(table["disease_id"].astype(str))
    inside = (drugs >= 0) & (diseases >= 0)
    return np.stack([drugs[inside], diseases[inside]], axis=1).astype(np.int64)
