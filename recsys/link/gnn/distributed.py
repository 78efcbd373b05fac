"""Train the GNN on several processes: ``torchrun --nproc_per_node N -m recsys.link.gnn.distributed``.

Each rank reads the graph, makes the same split (same seed) and trains its share of
every epoch's supervised pairs; DistributedDataParallel averages the gradients
(gloo on CPU, NCCL when each rank has a GPU). Rank 0 writes the model bundle and a
metrics file. Run with one process it is plain training, so results are comparable.

Example (two CPU processes on one machine)::

    torchrun --standalone --nproc_per_node 2 -m recsys.link.gnn.distributed \\
        --graph build/graph --split random --out build/gnn.pt
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path


from kg.io import read_graph
from recsys.link.gnn.parallel import join_process_group, leave_process_group
from recsys.link.gnn.train import GNNConfig, GNNScorer
from recsys.link.evaluate import evaluate_scorer
from recsys.link.task import LinkTask
from recsys.link.split import SPLIT_MODES, split_links

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m recsys.link.gnn.distributed`` (the docs test checks its flags)."""
    parser = argparse.ArgumentParser(prog="python -m recsys.link.gnn.distributed", description=__doc__.splitlines()[0])
    parser.add_argument("--graph", required=True, help="graph directory written by `rxkg build`")
    parser.add_argument("--split", choices=SPLIT_MODES, default="random")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--encoder", default="rgcn")
    parser.add_argument("--mode", choices=("full", "sampled"), default="full")
    parser.add_argument("--dim", type=int, default=GNNConfig.dim)
    parser.add_argument("--epochs", type=int, default=GNNConfig.epochs)
    parser.add_argument("--patience", type=int, default=GNNConfig.patience)
    parser.add_argument("--aux-edges", type=int, default=GNNConfig.aux_edges)
    parser.add_argument("--out", required=True, help="model bundle to write (rank 0)")
    parser.add_argument("--metrics", help="JSON file for validation/test metrics (rank 0)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    rank, world = join_process_group()
    try:
        start = time.perf_counter()
        task = LinkTask.from_split(split_links(read_graph(args.graph), args.split, seed=args.seed))
        config = GNNConfig(encoder=args.encoder, mode=args.mode, dim=args.dim, epochs=args.epochs,
                           patience=args.patience, aux_edges=args.aux_edges, seed=args.seed)
        scorer = GNNScorer(config, progress=rank == 0).fit(task)
        if rank == 0:
            scorer.save(args.out)
            metrics = {
                "world_size": world, "config": asdict(config), "seconds": time.perf_counter() - start,
                "epochs": scorer.log.epochs, "best_epoch": scorer.log.best_epoch,
                "epoch_seconds": scorer.log.epoch_seconds,
                "val": evaluate_scorer(scorer, task, "val").as_dict(),
                "test": evaluate_scorer(scorer, task, "test").as_dict(),
            }
            if args.metrics:
                Path(args.metrics).write_text(json.dumps(metrics, indent=2))
            print(f"recsys.link.gnn.distributed: {world} process(es), {scorer.log.epochs} epochs, "
                  f"val MRR {metrics['val']['mrr']:.3f} -> {args.out}")
    finally:
        leave_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
