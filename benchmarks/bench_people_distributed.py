"""The people GNN full-batch, neighbour-sampled, and sampled under 2-process ``torchrun``.

Each run is ``python -m pipelines.people_distributed`` (under ``torch.distributed.run``) on the
shipped graph: the drug cold-start split of the given seed (every prescription of 20% of the
drugs hidden), the deployed settings for a fixed 12 epochs, then both cold-start questions
with 95% bootstrap intervals (the cold drugs ranked for each prescriber of one: Recall@5,
NDCG@10; every prescriber ranked for each cold drug: AUROC, Precision@100). Times are ratios
against the one-process full-batch run of the same seed (the machine is shared and noisy).
Seeds 1 and 2 by default: seed 0 is the one ``rxkg evaluate`` reports.

Two verdicts on "2 processes against 1, both sampled": is the 2-process mean inside the
1-process run's 95% bootstrap interval (which holds the test prescribers' noise only), and is
it inside the range of 1-process runs that differ only in their training seed (the same split
trained again: how far training's own randomness, which two processes change anyway by
drawing different batches and neighbourhoods, moves the same numbers)?

Writes ``benchmarks/results/people_distributed.json`` and ``.md``.

    python -m benchmarks.bench_people_distributed [--seeds 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._machine import publish

GRAPH = Path("build/graph")
#: (label, processes, mode)
RUNS = (("full-batch, 1 process", 1, "full"), ("sampled, 1 process", 1, "sampled"),
        ("sampled, 2 processes (torchrun)", 2, "sampled"))
METRICS = (("among", "recall@5"), ("among", "ndcg@10"), ("reverse", "auroc"), ("reverse", "precision@100"))


#: Further training seeds of the 1-process sampled run, offsets from the split's seed.
RETRAINS = (100, 200, 300)


def one_run(graph: Path, seed: int, processes: int, mode: str, out: Path, train_seed: int | None = None) -> dict:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               "-m", "pipelines.people_distributed", "--graph", str(graph), "--seed", str(seed), "--mode", mode,
               "--out", str(out), *(["--train-seed", str(train_seed)] if train_seed is not None else [])]
    start = time.perf_counter()
    # Two cores in all: one thread per process with two processes, both for one.
    subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": str(max(1, 2 // processes))})
    wall = time.perf_counter() - start
    metrics = json.loads((out / "metrics.json").read_text())
    return {"wall_s": round(wall, 1), "train_s": metrics["train_s"],
            "epoch_s_median": round(sorted(metrics["epoch_seconds"])[len(metrics["epoch_seconds"]) // 2], 2),
            **{f"{part}: {name}": metrics[part][name] for part, name in METRICS}}


def report(result: dict) -> str:
    lines = ["# People GNN: full-batch, sampled, sampled under torchrun", "",
             f"{result['what']}.", "",
             "| seed | run | train s | x full-batch | median epoch s | among: Recall@5 | among: NDCG@10 | "
             "reverse: AUROC | reverse: Precision@100 |", "|---|---|---|---|---|---|---|---|---|"]
    for seed, runs in result["seeds"].items():
        reference = runs[RUNS[0][0]]["train_s"]
        for label, run in runs.items():
            cells = [f"{run[f'{p}: {n}']['mean']:.3f} [{run[f'{p}: {n}']['ci95'][0]:.3f}, "
                     f"{run[f'{p}: {n}']['ci95'][1]:.3f}]" for p, n in METRICS]
            lines.append(f"| {seed} | {label} | {run['train_s']:.1f} | {run['train_s'] / reference:.2f} | "
                         f"{run['epoch_s_median']:.2f} | " + " | ".join(cells) + " |")
    lines += ["", "2 processes against 1, both sampled: is the 2-process mean inside the 1-process 95% interval?", "",
              "| seed | " + " | ".join(f"{p}: {n}" for p, n in METRICS) + " |", "|---|" + "---|" * len(METRICS)]
    for seed, verdict in result["within_interval"].items():
        lines.append(f"| {seed} | " + " | ".join("yes" if verdict[f"{p}: {n}"] else "no" for p, n in METRICS) + " |")
    lines += ["", "The same 1-process sampled run trained again with other training seeds (same split): the range of "
              "its means, then the 2-process mean and where it falls (inside the range, above it or below it).", "",
              "| seed | training seeds | " + " | ".join(f"{p}: {n}" for p, n in METRICS) + " |",
              "|---|---|" + "---|" * len(METRICS)]
    for seed, spread in result.get("training_spread", {}).items():
        cells = [f"{spread[f'{p}: {n}']['min']:.4f}-{spread[f'{p}: {n}']['max']:.4f}: "
                 f"{spread[f'{p}: {n}']['two_processes']:.4f} {spread[f'{p}: {n}']['verdict']}" for p, n in METRICS]
        lines.append(f"| {seed} | {', '.join(map(str, spread['train_seeds']))} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def training_spread(runs: dict[str, dict], retrains: list[dict], train_seeds: list[int]) -> dict:
    """The 1-process sampled means over its training seeds (its own run and ``retrains``), and
    whether the 2-process mean lies within their range."""
    one, two = runs[RUNS[1][0]], runs[RUNS[2][0]]
    spread: dict = {"train_seeds": train_seeds}
    for key in (f"{p}: {n}" for p, n in METRICS):
        means = [one[key]["mean"], *(r[key]["mean"] for r in retrains)]
        value = two[key]["mean"]
        spread[key] = {"min": min(means), "max": max(means), "two_processes": value,
                       "verdict": "inside" if min(means) <= value <= max(means) else
                       ("above" if value > max(means) else "below")}
    return spread


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", type=Path, default=GRAPH)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    if not args.graph.exists():
        raise SystemExit(f"{args.graph} not found: run `rxkg build --out {args.graph}` first")
    seeds: dict[str, dict[str, dict]] = {}
    within: dict[str, dict[str, bool]] = {}
    spreads: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            runs = {label: one_run(args.graph, seed, processes, mode, Path(tmp) / f"{seed}-{processes}-{mode}")
                    for label, processes, mode in RUNS}
            seeds[str(seed)] = runs
            one, two = runs[RUNS[1][0]], runs[RUNS[2][0]]
            within[str(seed)] = {key: bool(one[key]["ci95"][0] <= two[key]["mean"] <= one[key]["ci95"][1])
                                 for key in (f"{p}: {n}" for p, n in METRICS)}
            train_seeds = [seed + offset for offset in RETRAINS]
            retrains = [one_run(args.graph, seed, 1, "sampled", Path(tmp) / f"{seed}-retrain-{s}", train_seed=s)
                        for s in train_seeds]
            spreads[str(seed)] = training_spread(runs, retrains, [seed, *train_seeds])
    result = {"what": "the people GNN's deployed settings, 12 epochs, on the drug cold-start split of each seed; "
                      "2 CPU cores in all (gloo between processes)", "seeds": seeds, "within_interval": within,
              "training_spread": spreads}
    publish("people_distributed", result, report(result))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
