"""Train the people GNN on several processes: ``torchrun --nproc_per_node N -m pipelines.people_distributed``.

Every rank reads the graph and the CMS claims, makes the same split (same seed) and trains
on its share of every batch's prescribers (:mod:`recsys.people.train`); one all-reduce per
step averages the gradients (gloo on CPU, NCCL when each rank has a GPU). In ``sampled``
mode each rank encodes its own sampled neighbourhood of the drugs, so no process ever runs
the encoder on the whole graph while training. Rank 0 writes the output folder: the
trained scorer (``people_gnn.npz``, what a model bundle carries) and ``metrics.json``.
Run with one process it is plain training, so the two are comparable.

``--split cold`` (the default) trains on the drug cold-start split of ``rxkg evaluate``
(:func:`pipelines.coldsplit.cold_split`: every prescription of 20% of the drugs hidden)
and measures, with 95% bootstrap intervals, the cold drugs ranked for each prescriber of
one (Recall@5, NDCG@10) and every prescriber ranked for each cold drug (AUROC,
Precision@100); ``--split none`` trains on every claim, as ``rxkg train`` does.

Example (two CPU processes on one machine)::

    torchrun --standalone --nproc_per_node 2 -m pipelines.people_distributed \\
        --graph build/graph --mode sampled --out build/people-gnn
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

__all__ = ["main", "build_parser"]

SCORER_FILE = "people_gnn.npz"
METRICS_FILE = "metrics.json"


def build_parser() -> argparse.ArgumentParser:
    """The command line (the docs test checks the flags a documented ``torchrun`` line uses)."""
    from recsys.people.config import MODES, PeopleGNNConfig

    defaults = PeopleGNNConfig()
    parser = argparse.ArgumentParser(prog="python -m pipelines.people_distributed",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--graph", required=True, help="graph directory written by `rxkg build`")
    parser.add_argument("--split", choices=("cold", "none"), default="cold",
                        help="cold: train without 20%% of the drugs and measure them; none: every claim")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and of training")
    parser.add_argument("--train-seed", type=int, default=None,
                        help="seed of training alone (default: --seed): the same split trained again")
    parser.add_argument("--mode", choices=MODES, default=defaults.mode)
    parser.add_argument("--fanout", type=int, nargs="+", default=list(defaults.fanout),
                        help="sampled mode: in-edges drawn per node and relation, one number per layer")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--dim", type=int, default=defaults.dim)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples of the intervals")
    parser.add_argument("--out", required=True, help="output folder (rank 0): people_gnn.npz and metrics.json")
    parser.add_argument("--force", action="store_true", help="write beside files rxkg did not write in --out")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from kg.errors import KGError
    from kg.outputs import check_output_folder
    from recsys.people import PeopleGNNConfig

    try:
        config = PeopleGNNConfig(mode=args.mode, fanout=tuple(args.fanout), epochs=args.epochs, dim=args.dim,
                                 lr=args.lr, batch_size=args.batch_size,
                                 seed=args.seed if args.train_seed is None else args.train_seed)
        check_output_folder(Path(args.out), args.force)  # before minutes of training, not after
    except (ValueError, KGError) as err:
        print(f"people_distributed: {err}", file=sys.stderr)
        return 2 if isinstance(err, ValueError) else 1
    from recsys.link.gnn.parallel import join_process_group, leave_process_group

    rank, world = join_process_group()
    try:
        return _run(args, config, rank, world)
    except KGError as err:
        print(f"people_distributed: {err}", file=sys.stderr)
        return 1
    finally:
        leave_process_group()


def _run(args: argparse.Namespace, config, rank: int, world: int) -> int:
    from kg.io import read_graph
    from kg.outputs import atomic_directory
    from recsys.cf import doctor_drug_interactions
    from recsys.people.train import fit_people_gnn

    start = time.perf_counter()
    graph = read_graph(args.graph)
    claims = doctor_drug_interactions(graph)
    split = None
    if args.split == "cold":
        from pipelines.coldsplit import cold_split
        from recsys.recommender.drugclasses import Combinations

        split = cold_split(claims, Combinations.from_graph(graph).partners, args.seed)
        claims = split.warm_part(claims)
    training = time.perf_counter()
    fitted = fit_people_gnn(graph, claims, config, progress=rank == 0)
    trained = time.perf_counter() - training
    if rank != 0:
        return 0
    scorer = fitted.export()
    metrics = {"world_size": world, "config": asdict(config), "split": args.split, "seed": args.seed,
               "train_seed": config.seed,
               "train_s": round(trained, 2), "epoch_seconds": [round(s, 3) for s in fitted.log.epoch_seconds],
               "prescribers": int(claims.shape[0])}
    if split is not None:
        metrics.update(_cold_quality(split, scorer, claims, args))
    metrics["seconds"] = round(time.perf_counter() - start, 2)

    def fill(tmp: Path) -> None:
        scorer.save(tmp / SCORER_FILE)
        (tmp / METRICS_FILE).write_text(json.dumps(metrics, indent=2))

    atomic_directory(Path(args.out), fill, force=args.force)
    among = metrics.get("among", {}).get("recall@5", {}).get("mean")
    print(f"pipelines.people_distributed: {world} process(es), {config.mode} mode, {config.epochs} epochs in "
          f"{trained:.1f} s" + (f", cold Recall@5 {among:.3f}" if among is not None else "") + f" -> {args.out}")
    return 0


def _cold_quality(split, scorer, claims, args: argparse.Namespace) -> dict:
    """Both drug cold-start questions for the people GNN's scores, as ``rxkg evaluate`` measures them."""
    from pipelines.evaluation import EvaluateConfig
    from pipelines.evaluation.coldstart import TITLES, measure_cold, seeded_shuffles
    from pipelines.evaluation.results import ProtocolResult
    from recsys.people import specialties_of

    among, reverse = (ProtocolResult(name, title, metrics) for (name, title), metrics in
                      zip(TITLES.items(), (("recall@5", "ndcg@10"), ("auroc", "precision@100"))))
    scores = scorer.scores(split.history, split.items[split.warm], specialties_of(claims), split.cold)
    measure_cold(among, reverse, "people GNN", "model", scores, split.truth, split.users,
                 seeded_shuffles(split, args.seed), EvaluateConfig(seed=args.seed, bootstrap=args.bootstrap))
    row = lambda result: {k: v for k, v in result.models[0].as_dict().items() if k not in ("model", "role", "seconds")}  # noqa: E731
    return {"cold_drugs": len(split.cold), "among": row(among), "reverse": row(reverse)}


if __name__ == "__main__":
    raise SystemExit(main())
