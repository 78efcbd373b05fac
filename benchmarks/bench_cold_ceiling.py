"""How far can any content route go on the doctors' drug cold start? Ceilings that read the answers.

The ``doctor/cold`` protocol ranks the cold drugs (20% of the prescribed drugs, every claim of
them hidden) for each prescriber of one. A model sees only the knowledge graph and the warm
claims. This benchmark scores rankers that are allowed to read the hidden claims themselves,
on the same splits, users and tie-breaking shuffles as the protocol, to show what the
protocol's targets ask for:

- ``random``: no information (ties broken by the protocol's seeded shuffle);
- ``cold drugs' true popularity``: how many prescribers actually prescribe each cold drug;
- ``each specialty's true rate, other half``: the share of the prescriber's specialty who
  prescribe each cold drug, counted on the other half of the prescribers (so no prescriber's
  own claims count), which is the most a route predicting "how much does this specialty use
  this drug" could reach.

Writes ``benchmarks/results/cold_ceiling.json`` and ``cold_ceiling.md``.

    python -m benchmarks.bench_cold_ceiling [--seeds 0 1 2 3 4]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks._machine import publish, seed_table

GRAPH = Path("build/graph")
ROWS = ("random", "cold drugs' true popularity", "each specialty's true rate, other half")


def ceilings(graph, seed: int) -> list[dict]:
    """Recall@5 and NDCG@10 among the cold drugs of ``seed``'s split for each ceiling of ``ROWS``."""
    from pipelines.coldsplit import cold_split
    from pipelines.evaluation.coldstart import seeded_shuffles
    from recsys.cf import doctor_drug_interactions
    from recsys.metrics import set_ranking_metrics
    from recsys.recommender.drugclasses import Combinations

    claims = doctor_drug_interactions(graph)
    split = cold_split(claims, Combinations.from_graph(graph).partners, seed)
    shuffle_cols, _ = seeded_shuffles(split, seed)
    used = (split.truth > 0).astype(np.float64).toarray()
    specialty = pd.Series(claims.attribute("specialty")).fillna("").astype(str).to_numpy()
    half = np.random.default_rng(seed).random(len(used)) < 0.5
    rates = np.zeros_like(used)
    for value in np.unique(specialty):
        for side in (True, False):
            counted, scored = (specialty == value) & (half == side), (specialty == value) & (half != side)
            rates[scored] = used[counted].mean(axis=0) if counted.any() else used[half == side].mean(axis=0)
    scores = {ROWS[0]: np.zeros_like(used), ROWS[1]: np.broadcast_to(used.sum(axis=0), used.shape), ROWS[2]: rates}
    rows = []
    for name, score in scores.items():
        block, relevant = score[split.users][:, shuffle_cols], split.truth[split.users][:, shuffle_cols]
        rows.append({"seed": seed, "ceiling": name, "cold_drugs": len(split.cold), "prescribers": int(len(split.users)),
                     "recall@5": round(float(set_ranking_metrics(block, relevant, k=5)["recall"].mean()), 4),
                     "ndcg@10": round(float(set_ranking_metrics(block, relevant, k=10)["ndcg"].mean()), 4)})
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["# Drug cold start (doctors): ceilings that read the hidden claims", "",
             "Among-cold Recall@5 / NDCG@10 on `doctor/cold`'s split of each seed (same prescribers, same",
             "tie-breaking). The protocol's targets are Recall@5 0.50 and NDCG@10 0.65.", "",
             *seed_table("ceiling", ROWS, rows, "ceiling", lambda r: f"{r['recall@5']:.3f} / {r['ndcg@10']:.3f}")]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", type=Path, default=GRAPH)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args(argv)
    from kg.build import build_graph
    from kg.io import read_graph
    from pipelines.config import default_config

    start = time.perf_counter()
    graph = read_graph(args.graph) if args.graph.exists() else build_graph(default_config().build.sources).graph
    rows = [r for seed in args.seeds for r in ceilings(graph, seed)]
    result = {"seeds": args.seeds, "total_s": round(time.perf_counter() - start, 1), "rows": rows}
    publish("cold_ceiling", result, markdown(rows))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
