"""Synthetic cohort generation (``rxkg synth``): wall time and peak memory by cohort size.

Each size runs in a fresh process so peak RSS is its own. Target: 10^6 patients in
under 2 minutes and 8 GiB on 2 cores.

    python -m benchmarks.bench_synth [--sizes 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

from benchmarks._machine import write_result

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from kg.mapping import load_mappers
from kg.synth import SynthConfig, generate_cohort
from pipelines.config import VOCABULARY, default_data_dir
from pipelines.synth import reference_graph
t0 = time.perf_counter()
graph = reference_graph()
drugs, diseases = load_mappers(default_data_dir() / VOCABULARY)
t1 = time.perf_counter()
n = int(sys.argv[2])
result = generate_cohort(graph, drugs, diseases, Path(sys.argv[1]) / "cohort",
                         SynthConfig(patients=n, doctors=max(1, n // 100), seed=0))
t2 = time.perf_counter()
print(json.dumps({"patients": n, "doctors": max(1, n // 100), "reference_graph_s": t1 - t0,
                  "generate_and_write_s": t2 - t1, "rows": result.rows,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(sizes: list[int]) -> dict:
    runs = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run([sys.executable, "-c", _CHILD, tmp, str(n)], capture_output=True, text=True,
                                  check=True)
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"  {n:>9,} patients: {runs[-1]['generate_and_write_s']:.1f}s, "
                  f"peak {runs[-1]['peak_rss_mb']:.0f} MB", file=sys.stderr)
    return {"what": "rxkg synth: synthetic cohort (Synthea CSV layout), doctors = patients / 100",
            "targets": {"patients": 1_000_000, "seconds": 120, "peak_rss_mb": 8192}, "runs": runs}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args(argv)
    result = run(args.sizes)
    path = write_result("synth", result)
    print(f"bench_synth: {len(result['runs'])} sizes -> {path}")


if __name__ == "__main__":
    main()
