"""How much the GNN adds to the metapath model, over seeds: a blend curve and a GNN sweep.

For each split and seed it fits the metapath model and the GNN stacked on it (the
deployed settings), then scores the fixed blend

    alpha * z(metapath) + (1 - alpha) * z(stacked GNN)

(``z``: row-standardised scores, as :mod:`recsys.blend` blends) for alpha from 0 to 1, on
validation and on test. The curve shows whether *any* mix of the two beats the metapath
model (alpha = 1) on both MRR and AUROC, which bounds what a validation-chosen blend can
reach; no alpha is chosen here. ``--variants`` also fits the GNN alone (no prior) with each
given set of :class:`GNNConfig` overrides, beside the degree prior, on the same splits.

Writes ``benchmarks/results/stacking.json`` and ``stacking.md`` (means over seeds).

    python -m benchmarks.bench_stacking [--seeds 0 1 2 3 4] [--splits random zero_shot]
        [--variants '{}' '{"dropout": 0.5}'] [--quick]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks._machine import publish

GRAPH = Path("build/graph")
ALPHAS = tuple(round(a, 1) for a in np.linspace(0.0, 1.0, 11))
PARTS = ("val", "test")


def _metrics(scores: np.ndarray, task, part: str) -> dict[str, float]:
    from recsys.link.evaluate import evaluate_scores

    diseases = np.unique(task.pairs(part)[:, 1])
    m = evaluate_scores(scores[diseases], diseases, task, part)
    return {"mrr": m.mrr, "auroc": m.auroc}


def run_seed(graph, mode: str, seed: int, variants: list[dict], epochs: int) -> dict:
    """The blend curve and the GNN-alone variants on one seeded split."""
    from pipelines.train import DEPLOYED_GNN
    from recsys.link.gnn import GNNConfig, GNNScorer
    from recsys.blend import standardise_rows
    from recsys.link.task import LinkTask
    from recsys.link.metapath import MetapathModel
    from recsys.link.priors import DegreePrior
    from recsys.link.split import split_links

    task = LinkTask.from_split(split_links(graph, mode, seed=seed))
    every = np.arange(task.num_dst)
    metapath = MetapathModel(seed=seed).fit(task)
    stacked = GNNScorer(GNNConfig(**{**DEPLOYED_GNN, "epochs": epochs, "seed": seed}), prior=metapath).fit(task)
    z_metapath = standardise_rows(metapath.score_matrix(every))
    z_stacked = standardise_rows(stacked.score_matrix(every))
    curve = [{"alpha": a, **{p: _metrics(a * z_metapath + (1 - a) * z_stacked, task, p) for p in PARTS}}
             for a in ALPHAS]
    alone = []
    for overrides in variants:
        start = time.perf_counter()
        gnn = GNNScorer(GNNConfig(**{"encoder": "rgcn", "epochs": epochs, "seed": seed, **overrides})).fit(task)
        alone.append({"variant": overrides, "train_s": round(time.perf_counter() - start, 1),
                      "best_epoch": gnn.log.best_epoch,
                      **{p: _metrics(gnn.score_matrix(every), task, p) for p in PARTS}})
    degree = DegreePrior().fit(task).score_matrix(every)
    print(f"{mode} seed {seed}: metapath val MRR {curve[-1]['val']['mrr']:.3f}, "
          f"stacked val MRR {curve[0]['val']['mrr']:.3f}", flush=True)
    return {"split": mode, "seed": seed, "curve": curve, "gnn_alone": alone,
            "degree_prior": {p: _metrics(degree, task, p) for p in PARTS}}


def _mean(rows: list[dict], pick) -> str:
    values = np.array([[pick(r)[p][m] for p in PARTS for m in ("mrr", "auroc")] for r in rows]).mean(axis=0)
    return " | ".join(f"{v:.3f}" for v in values)


def markdown(runs: list[dict]) -> str:
    lines = []
    for mode in dict.fromkeys(r["split"] for r in runs):
        mine = [r for r in runs if r["split"] == mode]
        seeds = [r["seed"] for r in mine]
        header = ["| {} | val MRR | val AUROC | test MRR | test AUROC |", "|---|---|---|---|---|"]
        lines += [f"**{mode} split, mean over seeds {seeds}**: alpha x metapath + (1 - alpha) x stacked GNN "
                  "(row-standardised scores; alpha = 1 is the metapath model alone)", "",
                  header[0].format("alpha"), header[1]]
        for i, alpha in enumerate(ALPHAS):
            lines.append(f"| {alpha:.1f} | " + _mean(mine, lambda r: r["curve"][i]) + " |")
        lines += ["", f"**{mode} split, GNN alone (no prior) beside the degree prior**, mean over seeds {seeds}", "",
                  header[0].format("model"), header[1],
                  "| degree prior | " + _mean(mine, lambda r: r["degree_prior"]) + " |"]
        for j, variant in enumerate(mine[0]["gnn_alone"]):
            lines.append(f"| R-GCN {json.dumps(variant['variant'])} | " + _mean(mine, lambda r: r["gnn_alone"][j]) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", type=Path, default=GRAPH)
    parser.add_argument("--splits", nargs="+", default=["random", "zero_shot"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--variants", nargs="*", default=[{}], type=json.loads,
                        help="GNNConfig overrides of the GNN alone, one JSON object each")
    parser.add_argument("--quick", action="store_true", help="3 GNN epochs (a smoke run, not a measurement)")
    args = parser.parse_args(argv)

    from kg.build import build_graph
    from kg.io import read_graph
    from pipelines.config import default_config

    start = time.perf_counter()
    graph = read_graph(args.graph) if args.graph.exists() else build_graph(default_config().build.sources).graph
    epochs = 3 if args.quick else 100
    runs = [run_seed(graph, mode, seed, args.variants, epochs) for mode in args.splits for seed in args.seeds]
    result = {"seeds": args.seeds, "quick": args.quick, "total_s": round(time.perf_counter() - start, 1),
              "runs": runs}
    name = "stacking" + ("_quick" if args.quick else "")
    publish(name, result, markdown(runs))
    return result


if __name__ == "__main__":
    main()
