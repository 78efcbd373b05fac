"""Speed of the deployed Recommender on the shipped model: load, single calls, batches, explanations.

Trains the bundle first when ``build/model`` is missing (``rxkg train``). Writes
``benchmarks/results/api.json``.

    python -m benchmarks.bench_api [--model build/model]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks._machine import write_result


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _p50_ms(fn, items) -> float:
    times = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        times.append(time.perf_counter() - start)
    return round(1000 * float(np.median(times)), 3)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("build/model"))
    parser.add_argument("--graph", default="build/graph")
    args = parser.parse_args(argv)
    from recsys.recommender.api import Recommender

    if not (args.model / "manifest.json").exists():
        from pipelines.cli import main as rxkg

        rxkg(["train", "--graph", args.graph, "--out", str(args.model)])
    rss_before = _rss_mb()
    start = time.perf_counter()
    rec = Recommender.load(args.model)
    load_s = time.perf_counter() - start
    rss_loaded = _rss_mb()
    graph = rec.graph
    patients = list(graph.nodes_of_type("patient")["id"])
    doctors = list(rec.doctor_cf.train.user_ids) if rec.doctor_cf else []
    diseases = list(rec.disease_ids)

    rec.recommend_for_patient(patients[0])  # first call warms caches (safety context tables)
    result = {
        "bundle_load_s": round(load_s, 3),
        "rss_after_load_mb": round(rss_loaded), "rss_before_load_mb": round(rss_before),
        "recommend_for_patient_ms_p50": _p50_ms(lambda p: rec.recommend_for_patient(p, k=10), patients),
        "recommend_for_doctor_ms_p50": _p50_ms(lambda d: rec.recommend_for_doctor(d, k=10), doctors[:300]),
        "recommend_for_disease_ms_p50": _p50_ms(lambda d: rec.recommend_for_disease(d, k=10), diseases),
    }
    batch = doctors[:10_000]
    batch_times = []
    for _ in range(6):  # the first batches pay for allocating their buffers; report the median of the last five
        start = time.perf_counter()
        scores = rec.scores(batch)
        top = np.argpartition(-scores, 10, axis=1)[:, :10]
        batch_times.append(time.perf_counter() - start)
    assert top.shape == (len(batch), 10)
    result["batch_doctors"] = len(batch)
    result["batch_top10_first_s"] = round(batch_times[0], 3)
    result["batch_top10_entities_per_s"] = round(len(batch) / float(np.median(batch_times[1:])))
    many_times = []
    for _ in range(3):
        start = time.perf_counter()
        rec.recommend_many(batch, k=10)  # top-10 without the doctor's own drugs
        many_times.append(time.perf_counter() - start)
    result["recommend_many_entities_per_s"] = round(len(batch) / float(np.median(many_times)))
    rec.explainer  # builds (or reads) the explainer's adjacency once
    pairs = [(d, r.drug_id) for d in diseases[:50] for r in rec.recommend_for_disease(d, k=1)]
    pairs += [(p, r.drug_id) for p in patients[:50] for r in rec.recommend_for_patient(p, k=1)]
    pairs += [(d, r.drug_id) for d in doctors[:50] for r in rec.recommend_for_doctor(d, k=1)]
    result["explain_ms_p50"] = _p50_ms(lambda pair: rec.explain(*pair), pairs)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(result)
    write_result("api", result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
