"""GNN training under ``torchrun`` with 1 and 2 processes: throughput and validation quality.

Each run trains the R-GCN with neighbour sampling (``--mode sampled``) on a random split
of ``treats`` of the shipped graph for a fixed number of epochs (no early stop, so the
runs do the same work); with 2 processes DistributedDataParallel splits every epoch's
supervised pairs between the ranks (gloo on CPU). Recorded: wall time, median epoch
time, supervised pairs per second, and validation MRR with a 95% bootstrap interval
over validation diseases. Writes ``benchmarks/results/distributed.json`` and ``.md``.

    python -m benchmarks.bench_distributed [--epochs 20] [--procs 1 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._machine import write_markdown, write_result

GRAPH = Path("build/graph")


def one_run(procs: int, epochs: int, graph: Path, tmp: Path) -> dict:
    from recsys.link.gnn import GNNScorer
    from recsys.link.evaluate import per_disease_metrics
    from recsys.link.task import LinkTask
    from recsys.metrics import bootstrap_interval
    from recsys.link.split import split_links
    from kg.io import read_graph

    bundle, metrics = tmp / f"gnn{procs}.pt", tmp / f"gnn{procs}.json"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}",
               "-m", "recsys.link.gnn.distributed", "--graph", str(graph), "--mode", "sampled", "--epochs", str(epochs),
               "--patience", str(epochs + 1), "--out", str(bundle), "--metrics", str(metrics)]
    start = time.perf_counter()
    subprocess.run(command, check=True, env={**__import__("os").environ, "OMP_NUM_THREADS": str(max(1, 2 // procs))})
    wall = time.perf_counter() - start
    result = json.loads(metrics.read_text())
    task = LinkTask.from_split(split_links(read_graph(graph), "random", seed=0))
    model = GNNScorer.load(bundle)
    diseases = np.unique(task.val_pairs[:, 1])
    per = per_disease_metrics(model.score_matrix(diseases), diseases, task, "val")
    pairs_per_epoch = len(task.train_pairs)
    epoch_s = float(np.median(result["epoch_seconds"]))
    return {"processes": procs, "wall_s": round(wall, 1), "train_s": round(result["seconds"], 1),
            "epochs": result["epochs"], "epoch_s_median": round(epoch_s, 2),
            "supervised_pairs_per_s": round(pairs_per_epoch / epoch_s, 1),
            "val_mrr": round(float(per["mrr"].mean()), 4),
            "val_mrr_ci95": [round(v, 4) for v in bootstrap_interval(per["mrr"], 1000, seed=0)],
            "test_mrr": round(result["test"]["mrr"], 4)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", type=Path, default=GRAPH)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    if not args.graph.exists():
        raise SystemExit(f"{args.graph} not found: run `rxkg build --out {args.graph}` first")
    with tempfile.TemporaryDirectory() as tmp:
        runs = [one_run(p, args.epochs, args.graph, Path(tmp)) for p in args.procs]
    base = runs[0]
    for r in runs:
        lo, hi = base["val_mrr_ci95"]
        r["val_mrr_within_single_process_interval"] = bool(lo <= r["val_mrr"] <= hi)
    result = {"what": "R-GCN, neighbour-sampled mini-batches, DDP over gloo on CPU, fixed epochs", "runs": runs}
    write_result("distributed", result)
    lines = ["| processes | wall s | median epoch s | supervised pairs/s | val MRR [95% CI] | test MRR |",
             "|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r['processes']} | {r['wall_s']} | {r['epoch_s_median']} | {r['supervised_pairs_per_s']} | "
                     f"{r['val_mrr']:.3f} [{r['val_mrr_ci95'][0]:.3f}, {r['val_mrr_ci95'][1]:.3f}] | "
                     f"{r['test_mrr']:.3f} |")
    write_markdown("distributed", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
