"""How rxkg's cost grows with the number of patients: synthetic cohorts on top of the full graph.

For each size (10^4, 10^5, 10^6 patients; doctors = patients / 100) a fresh process
runs the pipeline's stages and records wall time and peak resident memory after each:

1. ``synth``: generate the cohort (Synthea layout) from the reference graph;
2. ``build``: the full shipped build plus the cohort as one more Synthea source;
3. ``patient CF``: the patient x drug matrix (sparse) and an ALS fit on it;
4. ``GNN epoch``: one neighbour-sampled (mini-batch) R-GCN epoch on a random split of
   ``treats``, message passing over the whole graph, patients included;
5. ``recommend``: a recommender over the graph and the patient ALS, top-10 with the
   safety filter for 10,000 patients (``recommend_many``).

The synthetic cohort measures cost only, never quality. Writes
``benchmarks/results/growth.json``, ``growth.md`` and ``growth.png`` (cost against size).
Memory bound: 20 GiB at 10^6 patients.

    python -m benchmarks.bench_growth [--sizes 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

from benchmarks._machine import RESULTS, write_markdown, write_result

MEMORY_BOUND_MB = 20 * 1024

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path

out, n = Path(sys.argv[1]), int(sys.argv[2])
stages = []
clock = time.perf_counter()

def done(name, **extra):
    global clock
    now = time.perf_counter()
    stages.append({"stage": name, "seconds": round(now - clock, 2),
                   "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), **extra})
    print(json.dumps(stages[-1]), file=sys.stderr, flush=True)
    clock = time.perf_counter()

from kg.build import SourceSpec, build_graph
from kg.mapping import load_mappers
from kg.synth import SynthConfig, generate_cohort
from pipelines.config import VOCABULARY, default_config, default_data_dir
from pipelines.synth import reference_graph

reference = reference_graph()
drugs, diseases = load_mappers(default_data_dir() / VOCABULARY)
cohort = generate_cohort(reference, drugs, diseases, out / "cohort",
                         SynthConfig(patients=n, doctors=max(1, n // 100), seed=0))
del reference
done("synth", rows=cohort.rows)

sources = default_config().build.sources + (
    SourceSpec("synthea", {"dir": str(out / "cohort"), "vocabulary": str(default_data_dir() / VOCABULARY)},
               "synthetic"),)
graph = build_graph(sources).graph
done("build", nodes=graph.num_nodes, edges=graph.num_edges)

from recsys.cf import ALSRecommender, patient_drug_interactions
patients = patient_drug_interactions(graph)
als = ALSRecommender(factors=32, regularization=1.0, seed=0).fit(patients)
done("patient CF", patients=int(patients.shape[0]), entries=int(patients.nnz))

from recsys.link.gnn import GNNConfig, GNNScorer
from recsys.link.task import LinkTask
from recsys.link.split import split_links
task = LinkTask.from_split(split_links(graph, "random", seed=0))
gnn = GNNScorer(GNNConfig(encoder="rgcn", mode="sampled", epochs=1, seed=0)).fit(task)
done("GNN epoch (mini-batch)", epoch_s=round(float(gnn.log.epoch_seconds[0]), 2))

import numpy as np
from recsys.recommender.api import Recommender
every = np.arange(task.num_dst)
recommender = Recommender(graph, {"gnn": gnn.score_matrix(every)}, task.id_maps["disease"],
                          task.id_maps["drug"], patient_cf=als)
ids = list(patients.user_ids[:10_000])
start = time.perf_counter()
recommender.recommend_many(ids, k=10)
done("recommend", patients=len(ids), per_second=round(len(ids) / (time.perf_counter() - start)))
print(json.dumps({"patients": n, "doctors": max(1, n // 100), "stages": stages}))
"""


def run(sizes: list[int]) -> dict:
    runs = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"{n:,} patients", file=sys.stderr, flush=True)
            done = subprocess.run([sys.executable, "-c", _CHILD, tmp, str(n)], stdout=subprocess.PIPE, text=True,
                                  check=True)
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    peak = max(s["peak_rss_mb"] for r in runs for s in r["stages"])
    return {"what": "pipeline stages on synthetic cohorts on top of the full shipped graph (cost only)",
            "memory_bound_mb": MEMORY_BOUND_MB, "peak_rss_mb": peak, "within_bound": peak <= MEMORY_BOUND_MB,
            "runs": runs}


def markdown(result: dict) -> str:
    stages = [s["stage"] for s in result["runs"][0]["stages"]]
    lines = ["| patients | " + " | ".join(stages) + " | peak memory |", "|" + "---|" * (len(stages) + 2)]
    for r in result["runs"]:
        cells = [f"{s['seconds']:.1f} s" for s in r["stages"]]
        lines.append(f"| {r['patients']:,} | " + " | ".join(cells) +
                     f" | {max(s['peak_rss_mb'] for s in r['stages']) / 1024:.1f} GiB |")
    return "\n".join(lines) + "\n"


def plot(result: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["patients"] for r in result["runs"]]
    fig, (ax_time, ax_mem) = plt.subplots(1, 2, figsize=(10, 4))
    for stage in [s["stage"] for s in result["runs"][0]["stages"]]:
        ax_time.plot(sizes, [next(s["seconds"] for s in r["stages"] if s["stage"] == stage) for r in result["runs"]],
                     marker="o", label=stage)
    ax_mem.plot(sizes, [max(s["peak_rss_mb"] for s in r["stages"]) / 1024 for r in result["runs"]], marker="o")
    ax_mem.axhline(MEMORY_BOUND_MB / 1024, color="red", linestyle="--", label="20 GiB bound")
    for ax, label in ((ax_time, "seconds per stage"), (ax_mem, "peak memory (GiB)")):
        ax.set_xscale("log")
        ax.set_xlabel("patients (synthetic)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    ax_time.set_yscale("log")
    fig.suptitle("rxkg cost against cohort size (2 CPU cores)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args(argv)
    result = run(args.sizes)
    path = write_result("growth", result)
    write_markdown("growth", markdown(result))
    plot(result, RESULTS / "growth.png")
    print(markdown(result))
    print(f"bench_growth: {len(result['runs'])} sizes, peak {result['peak_rss_mb']:,} MB -> {path}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
