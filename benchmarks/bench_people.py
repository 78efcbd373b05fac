"""The people GNN: what full-graph training costs on all of CMS, and what it adds on drug cold start.

1. **Cost**: the people GNN (:mod:`recsys.people`, the deployed settings) trained full-batch on
   every prescriber of the shipped claims over the whole knowledge graph, then every prescriber
   scored for every drug of the graph; timed against ``implicit``'s ALS fitted on the same claims
   in the same run (the ratio is what to compare across machines), with the peak memory.
2. **Drug cold start over seeds**: ``rxkg evaluate``'s drug cold-start protocols
   (:mod:`pipelines.evaluation.coldstart`) on the given seeds. Seeds 1 and 2 are the ones the
   people GNN's settings and the doctors' graph component were chosen on; the evaluated seed 0
   is in ``docs/evaluation.md``. Rows: the deployed graph component (profiles + people GNN),
   each half alone, and the content baselines.

Writes ``benchmarks/results/people.json`` and ``people.md``.

    python -m benchmarks.bench_people [--seeds 1 2] [--epochs 12]
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from benchmarks._machine import publish

GRAPH = Path("build/graph")
ROWS = ("among: recall@5", "among: ndcg@10", "reverse: auroc", "reverse: precision@100")


def cost(graph, epochs: int) -> dict:
    """Seconds to train the people GNN on every claim and score every prescriber, against ALS."""
    from recsys.cf import ALSRecommender, doctor_drug_interactions
    from recsys.people import PeopleGNNConfig
    from recsys.people.train import KnowledgeInputs, fit_people_gnn

    claims = doctor_drug_interactions(graph)
    start = time.perf_counter()
    inputs = KnowledgeInputs.from_graph(graph)
    built = time.perf_counter() - start
    start = time.perf_counter()
    fitted = fit_people_gnn(graph, claims, PeopleGNNConfig(epochs=epochs), progress=True, inputs=inputs)
    trained = time.perf_counter() - start
    start = time.perf_counter()
    scorer = fitted.export()
    scores = scorer.scores(claims.matrix, claims.item_ids, claims.attribute("specialty"))
    scored = time.perf_counter() - start
    start = time.perf_counter()
    ALSRecommender(factors=64, iterations=15, seed=0).fit(claims)
    als = time.perf_counter() - start
    edges = sum(int(a._nnz()) for a in inputs.adjacency.values())
    return {"prescribers": int(claims.shape[0]), "prescribed_drugs": int(claims.shape[1]),
            "graph_drugs": len(scorer.drug_ids), "message_edges": edges, "epochs": epochs,
            "inputs_s": round(built, 2), "train_s": round(trained, 1),
            "epoch_s_median": round(sorted(fitted.log.epoch_seconds)[len(fitted.log.epoch_seconds) // 2], 2),
            "score_all_s": round(scored, 2), "scores_shape": list(scores.shape), "als_fit_s": round(als, 2),
            "train_over_als": round(trained / als, 1),
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}


def cold_start(graph, seeds: list[int]) -> dict:
    """Every row of the drug cold-start protocols, per seed."""
    from pipelines.evaluation import EvaluateConfig
    from pipelines.evaluation.coldstart import cold_start_protocols

    out: dict[str, dict[str, dict[str, float]]] = {}
    for seed in seeds:
        among, reverse = cold_start_protocols(graph, EvaluateConfig(seed=seed, bootstrap=200), log=print)
        for a, r in zip(among.models, reverse.models):
            row = out.setdefault(a.model, {})
            row[str(seed)] = {"among: recall@5": a.means["recall@5"], "among: ndcg@10": a.means["ndcg@10"],
                              "reverse: auroc": r.means["auroc"], "reverse: precision@100": r.means["precision@100"]}
    return out


def report(result: dict) -> str:
    c = result["cost"]
    lines = ["# People GNN", "",
             f"Full-batch training on {c['prescribers']:,} prescribers x {c['prescribed_drugs']} prescribed drugs, "
             f"messages over {c['message_edges']:,} edges of the knowledge graph ({c['graph_drugs']:,} drugs), "
             f"{c['epochs']} epochs: {c['train_s']} s ({c['epoch_s_median']} s median epoch), "
             f"{c['train_over_als']}x implicit ALS (64 factors, 15 iterations: {c['als_fit_s']} s) in the same run; "
             f"graph inputs {c['inputs_s']} s; every prescriber scored for every drug in {c['score_all_s']} s; "
             f"peak memory {c['peak_rss_gb']} GB.", "",
             "## Drug cold start (seeds " + ", ".join(result["seeds"]) + ")", "",
             "| row | seed | " + " | ".join(ROWS) + " |", "|---|---|" + "---|" * len(ROWS)]
    for model, seeds in result["cold_start"].items():
        for seed, values in seeds.items():
            lines.append(f"| {model} | {seed} | " + " | ".join(f"{values[m]:.3f}" for m in ROWS) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    from kg.io import read_graph

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--epochs", type=int, default=12)
    args = parser.parse_args(argv)
    graph = read_graph(GRAPH)
    result = {"seeds": [str(s) for s in args.seeds], "cost": cost(graph, args.epochs),
              "cold_start": cold_start(graph, args.seeds)}
    publish("people", result, report(result))


if __name__ == "__main__":
    main()
