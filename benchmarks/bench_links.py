"""Disease -> drug link prediction on the shipped graph: every model, both splits.

For the random and the zero-shot split of ``treats`` it fits the degree prior, the
shallow KGE models, the GNNs and the metapath model on the training split (model
selection and early stopping on validation), then the deployed scorer (GNN and
metapath model blended with weights fitted on validation), and scores the test
split once. Writes ``benchmarks/results/links.json`` and ``links.md`` with metrics,
train time, epoch time and peak memory.

    python -m benchmarks.bench_links [--quick] [--splits random zero_shot]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks._machine import RESULTS, write_result

GRAPH = Path("build/graph")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _models(quick: bool, seed: int):
    from recsys.gnn import GNNConfig, GNNScorer
    from recsys.kge import KGE_MODELS, KGEConfig, KGEScorer
    from recsys.metapath import MetapathModel
    from recsys.priors import DegreePrior

    kge_epochs = 2 if quick else 15
    gnn_epochs = 3 if quick else 100
    yield DegreePrior()
    for name in KGE_MODELS:
        yield KGEScorer(KGEConfig(model=name, epochs=kge_epochs, seed=seed))
    yield GNNScorer(GNNConfig(encoder="rgcn", epochs=gnn_epochs, seed=seed))
    yield GNNScorer(GNNConfig(encoder="hetero_sage", epochs=gnn_epochs, seed=seed))
    yield MetapathModel(seed=seed)


def run_split(graph, mode: str, quick: bool, seed: int) -> list[dict]:
    from recsys.linkeval import evaluate_scorer
    from recsys.linktask import LinkTask
    from recsys.split import split_links
    from recsys.stacking import StackedScorer

    task = LinkTask.from_split(split_links(graph, mode, seed=seed))
    print(task.summary(), flush=True)
    rows, fitted = [], {}
    for model in _models(quick, seed):
        model.fit(task)
        fitted[model.name] = model
        rows.append(_row(model, task, evaluate_scorer, mode))
        print(f"  {rows[-1]['model']:<28} val MRR {rows[-1]['val']['mrr']:.3f}  test MRR {rows[-1]['test']['mrr']:.3f}"
              f"  AUROC {rows[-1]['test']['auroc']:.3f}  {rows[-1]['train_s']:.1f}s", flush=True)
    gnns = [m for name, m in fitted.items() if name.startswith("GNN")]
    best_gnn = max(gnns, key=lambda m: evaluate_scorer(m, task, "val").mrr)  # chosen on validation
    deployed = StackedScorer([best_gnn, fitted["metapath (DWPC)"]]).fit(task)
    deployed.fit_seconds += best_gnn.fit_seconds + fitted["metapath (DWPC)"].fit_seconds
    row = _row(deployed, task, evaluate_scorer, mode)
    row["model"] = f"deployed: {best_gnn.name} + metapath"
    row["blend_weights"] = deployed.blend_weights()
    rows.append(row)
    print(f"  {row['model']:<28} test MRR {row['test']['mrr']:.3f} AUROC {row['test']['auroc']:.3f}", flush=True)
    return rows


def _row(model, task, evaluate_scorer, mode: str) -> dict:
    row = {"split": mode, "model": model.name, "train_s": round(model.fit_seconds, 2),
           "val": evaluate_scorer(model, task, "val").as_dict(),
           "test": evaluate_scorer(model, task, "test").as_dict(), "peak_rss_mb": round(_peak_mb())}
    log = getattr(model, "log", None)  # trained models; the prior and metapath model fit in one go
    if log is not None:
        row.update(epochs=log.epochs, best_epoch=log.best_epoch,
                   epoch_s_median=round(float(np.median(log.epoch_seconds)), 3))
    return row


def markdown(rows: list[dict]) -> str:
    lines = []
    for mode in dict.fromkeys(r["split"] for r in rows):
        lines += [f"**{mode} split** (test, macro-averaged over held-out diseases, filtered ranking over all drugs)", "",
                  "| model | MRR | Hits@1 | Hits@10 | Hits@50 | AUROC | val MRR | train s |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in rows:
            if r["split"] == mode:
                t = r["test"]
                lines.append(f"| {r['model']} | {t['mrr']:.3f} | {t['hits_at_1']:.3f} | {t['hits_at_10']:.3f} | "
                             f"{t['hits_at_50']:.3f} | {t['auroc']:.3f} | {r['val']['mrr']:.3f} | {r['train_s']:.1f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", type=Path, default=GRAPH)
    parser.add_argument("--splits", nargs="+", default=["random", "zero_shot"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    import torch

    from kg.build import build_graph
    from kg.io import read_graph
    from pipelines.config import default_config

    start = time.perf_counter()
    graph = read_graph(args.graph) if args.graph.exists() else build_graph(default_config().build.sources).graph
    rows = [r for mode in args.splits for r in run_split(graph, mode, args.quick, args.seed)]
    result = {"seed": args.seed, "quick": args.quick, "threads": torch.get_num_threads(),
              "total_s": round(time.perf_counter() - start, 1), "rows": rows}
    name = "links_quick" if args.quick else "links"
    write_result(name, result)
    (RESULTS / f"{name}.md").write_text(markdown(rows))
    print(markdown(rows))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
