"""Disease -> drug link prediction on the shipped graph: every model, both splits.

For the random and the zero-shot split of ``treats`` it fits the degree prior, the
shallow KGE models, the GNNs alone, the metapath model and the GNN stacked on it on the
training split (model selection and early stopping on validation), then the deployed
scorer (what ``rxkg train`` deploys: the stacked GNN, the metapath model or their blend,
whichever has the best validation MRR), and scores the test split once. Writes
``benchmarks/results/links.json`` and ``links.md`` with metrics, train time, epoch time
and peak memory.

``--splits rephetio_random rephetio_zero_shot`` adds split R and split Z, Rephetio's
published protocols (:func:`recsys.link.split.split_links`). Models are fitted on the
task without its test pairs, as ``rxkg train`` fits them.

One split holds few test diseases (45 random, 12 zero-shot), so ``--seeds`` repeats
everything on differently seeded splits and adds a table of means over seeds and of
how many seeds the deployed scorer beats the metapath model on. ``--models core``
leaves the shallow KGE models out (they take two thirds of the time).

    python -m benchmarks.bench_links [--quick] [--splits random zero_shot] [--seeds 0 1 2] [--models core]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks._machine import publish

GRAPH = Path("build/graph")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _models(quick: bool, seed: int, core: bool = False, metapath_settings: dict | None = None):
    from recsys.link.gnn import GNNConfig, GNNScorer
    from recsys.link.kge import KGE_MODELS, KGEConfig, KGEScorer
    from recsys.link.metapath import MetapathModel
    from recsys.link.priors import DegreePrior
    from pipelines.train import DEPLOYED_GNN

    kge_epochs = 2 if quick else 15
    gnn_epochs = 3 if quick else 100
    yield DegreePrior()
    for name in () if core else KGE_MODELS:
        yield KGEScorer(KGEConfig(model=name, epochs=kge_epochs, seed=seed))
    yield GNNScorer(GNNConfig(encoder="rgcn", epochs=gnn_epochs, seed=seed))
    if not core:
        yield GNNScorer(GNNConfig(encoder="hetero_sage", epochs=gnn_epochs, seed=seed))
    metapath = MetapathModel(seed=seed, **(metapath_settings or {}))
    yield metapath
    yield GNNScorer(GNNConfig(**{**DEPLOYED_GNN, "epochs": gnn_epochs, "seed": seed}), prior=metapath)


def run_split(graph, mode: str, quick: bool, seed: int, core: bool = False,
              metapath_settings: dict | None = None) -> list[dict]:
    from recsys.link.evaluate import evaluate_scorer
    from recsys.link.task import LinkTask
    from recsys.link.split import split_links
    from pipelines.evaluation.config import EvaluateConfig
    from pipelines.evaluation.disease import blind_task, deployed_blend

    task = LinkTask.from_split(split_links(graph, mode, seed=seed))
    print(task.summary(), flush=True)
    blind = blind_task(task)  # fitted as rxkg train fits: the test pairs are unknown to fitting
    rows, fitted = [], {}
    for model in _models(quick, seed, core, metapath_settings):
        model.fit(blind)
        fitted[model.name] = model
        rows.append(_row(model, task, evaluate_scorer, mode))
        print(f"  {rows[-1]['model']:<28} val MRR {rows[-1]['val']['mrr']:.3f}  test MRR {rows[-1]['test']['mrr']:.3f}"
              f"  AUROC {rows[-1]['test']['auroc']:.3f}  {rows[-1]['train_s']:.1f}s", flush=True)
    gnn, metapath = model, fitted["metapath (DWPC)"]      # the stacked GNN comes last
    start = time.perf_counter()
    recommender, choice = deployed_blend(blind, gnn, metapath, EvaluateConfig(seed=seed))
    deployed = _Scores(recommender.scores(task.id_maps["disease"]),
                       time.perf_counter() - start + gnn.fit_seconds + metapath.fit_seconds)
    row = _row(deployed, task, evaluate_scorer, mode)
    row["model"] = f"deployed ({choice['chosen']})"
    row["blend_weights"] = dict(recommender.weights["disease"])
    row["val_mrr_of_candidates"] = choice["val_mrr"]
    row["deployment_note"] = choice.get("note", "")
    row["metapath_choice"] = metapath.chosen
    rows.append(row)
    print(f"  {row['model']:<28} test MRR {row['test']['mrr']:.3f} AUROC {row['test']['auroc']:.3f}", flush=True)
    return rows


class _Scores:
    """A fixed (disease, drug) score matrix behind the scorer interface evaluate_scorer reads."""

    def __init__(self, scores: np.ndarray, seconds: float) -> None:
        self.scores, self.name, self.fit_seconds = np.asarray(scores), "deployed", seconds

    def score_matrix(self, dst_index: np.ndarray) -> np.ndarray:
        return self.scores[np.asarray(dst_index, dtype=np.int64)]


def _row(model, task, evaluate_scorer, mode: str) -> dict:
    row = {"split": mode, "seed": task.split.seed, "model": model.name, "train_s": round(model.fit_seconds, 2),
           "val": evaluate_scorer(model, task, "val").as_dict(),
           "test": evaluate_scorer(model, task, "test").as_dict(), "peak_rss_mb": round(_peak_mb())}
    log = getattr(model, "log", None)  # trained models; the prior and metapath model fit in one go
    if log is not None:
        row.update(epochs=log.epochs, best_epoch=log.best_epoch,
                   epoch_s_median=round(float(np.median(log.epoch_seconds)), 3))
    return row


def markdown(rows: list[dict]) -> str:
    seeds = list(dict.fromkeys(r["seed"] for r in rows))
    lines = [] if len(seeds) == 1 else _over_seeds(rows, seeds)
    for mode, seed in dict.fromkeys((r["split"], r["seed"]) for r in rows):
        lines += [f"**{mode} split, seed {seed}** (test, macro-averaged over held-out diseases, filtered ranking over all drugs)", "",
                  "| model | MRR | Hits@1 | Hits@10 | Hits@50 | AUROC | val MRR | train s |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in rows:
            if (r["split"], r["seed"]) == (mode, seed):
                t = r["test"]
                lines.append(f"| {r['model']} | {t['mrr']:.3f} | {t['hits_at_1']:.3f} | {t['hits_at_10']:.3f} | "
                             f"{t['hits_at_50']:.3f} | {t['auroc']:.3f} | {r['val']['mrr']:.3f} | {r['train_s']:.1f} |")
        lines.append("")
    return "\n".join(lines)


def _over_seeds(rows: list[dict], seeds: list) -> list[str]:
    """Means over seeds per split and model, and per-seed wins of the deployed scorer."""
    lines = []
    for mode in dict.fromkeys(r["split"] for r in rows):
        mine = [r for r in rows if r["split"] == mode]
        by_model: dict[str, list[dict]] = {}
        for r in mine:
            by_model.setdefault("deployed" if r["model"].startswith("deployed") else r["model"], []).append(r)
        lines += [f"**{mode} split, mean over {len(seeds)} seeds {seeds}** (test; min-max over seeds)", "",
                  "| model | MRR | AUROC | AUPRC | val MRR | test diseases |", "|---|---|---|---|---|---|"]
        for name, group in by_model.items():
            cell = {m: [g["test"][m] for g in group] for m in ("mrr", "auroc", "auprc")}
            lines.append(f"| {name} | " + " | ".join(f"{np.mean(v):.3f} ({min(v):.3f}-{max(v):.3f})"
                                                   for v in cell.values())
                         + f" | {np.mean([g['val']['mrr'] for g in group]):.3f}"
                           f" | {sum(g['test']['diseases'] for g in group)} |")
        metapath = {r["seed"]: r["test"] for r in by_model.get("metapath (DWPC)", [])}
        deployed = {r["seed"]: r["test"] for r in by_model.get("deployed", [])}
        both = [s for s in seeds if s in metapath and s in deployed]
        wins = {m: sum(deployed[s][m] > metapath[s][m] for s in both) for m in ("mrr", "auroc")}
        lines += ["", f"Deployed scorer above the metapath model: MRR in {wins['mrr']} of {len(both)} seeds, "
                      f"AUROC in {wins['auroc']} of {len(both)}."]
        weights = [r.get("metapath_choice", {}).get("kernel_weight") for r in by_model.get("deployed", [])]
        if any(w is not None for w in weights):  # rows from before the kernel ridge have none
            lines.append("The metapath model's kernel ridge weight, chosen on its training folds, seed by seed: "
                         + ", ".join("-" if w is None else f"{w:g}" for w in weights) + ".")
        lines.append("")
    return lines


def main(argv: list[str] | None = None) -> dict:
    from pipelines.train import TrainConfig

    deployed = TrainConfig()  # the metapath model rxkg train deploys
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", type=Path, default=GRAPH)
    parser.add_argument("--splits", nargs="+", default=["random", "zero_shot"],
                        choices=["random", "zero_shot", "rephetio_random", "rephetio_zero_shot"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--models", choices=["all", "core"], default="all",
                        help="core: the degree prior, the R-GCN alone, the metapath model, the stacked GNN")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--metapath-combine", choices=["validation", "folds", "average"], default=deployed.metapath_combine,
                        help="how the metapath model turns its candidates into one (recsys.link.search); anything "
                             "but rxkg train's rule writes links_seeds_<rule>")
    parser.add_argument("--metapath-fold-by", choices=["auto", "pair", "disease"], default=deployed.metapath_fold_by,
                        help="how its cross-fitting folds group the indications (auto: as each split holds out); "
                             "anything but rxkg train's grouping adds _<grouping> to the file name")
    args = parser.parse_args(argv)
    import torch

    from kg.build import build_graph
    from kg.io import read_graph
    from pipelines.config import default_config

    start = time.perf_counter()
    graph = read_graph(args.graph) if args.graph.exists() else build_graph(default_config().build.sources).graph
    settings = {"combine": args.metapath_combine, "fold_by": args.metapath_fold_by}
    rows = [r for seed in args.seeds for mode in args.splits
            for r in run_split(graph, mode, args.quick, seed, core=args.models == "core", metapath_settings=settings)]
    result = {"seeds": args.seeds, "models": args.models, "quick": args.quick, "threads": torch.get_num_threads(),
              "metapath": settings,
              "total_s": round(time.perf_counter() - start, 1), "rows": rows}
    name = ("links" + ("_seeds" if len(args.seeds) > 1 or args.models == "core" else "") + ("_quick" if args.quick else "")
            + ("" if args.metapath_combine == deployed.metapath_combine else f"_{args.metapath_combine}")
            + ("" if args.metapath_fold_by == deployed.metapath_fold_by else f"_{args.metapath_fold_by}"))
    publish(name, result, markdown(rows))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
