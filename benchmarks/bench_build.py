"""Full build of the shipped graph: wall time and peak resident memory.

Each repetition runs in a fresh process so that peak RSS is the build's own
(``ru_maxrss`` of the child), not what earlier runs left behind.

    python -m benchmarks.bench_build [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile

from benchmarks._machine import write_result

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
from kg.build import build_graph, write_build
from pipelines.config import default_config
t_import = time.perf_counter()
result = build_graph(default_config().build.sources)
t_build = time.perf_counter()
write_build(result, Path(sys.argv[1]) / "graph")
t_write = time.perf_counter()
# The reference, in the same process: pandas parsing the same input files, nothing else.
import pandas as pd
files = sorted({f for s in result.report.sources.values() for f in s["files"]
                if any(x in Path(f).suffixes for x in (".csv", ".tsv", ".sif"))})
t_parse0 = time.perf_counter()
for f in files:
    sep = "\t" if any(x in Path(f).suffixes for x in (".tsv", ".sif")) else ","
    pd.read_csv(f, sep=sep, dtype=str, comment=None, engine="c", on_bad_lines="skip",
                skiprows=lambda i: False)
t_parse = time.perf_counter() - t_parse0
print(json.dumps({
    "import_s": t_import - t0, "build_s": t_build - t_import, "write_s": t_write - t_build,
    "raw_parse_s": t_parse, "files_parsed": len(files), "build_over_raw_parse": (t_build - t_import) / t_parse,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "nodes": sum(result.report.nodes.values()), "edges": sum(result.report.edges.values()),
}))
"""


def run(repeats: int) -> dict:
    runs = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run([sys.executable, "-c", _CHILD, tmp], capture_output=True, text=True, check=True)
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    build = [r["build_s"] for r in runs]
    total = [r["build_s"] + r["write_s"] for r in runs]
    return {
        "what": "default build of the shipped data (Hetionet, indications, DrugBank, Disease Ontology, DDI, CMS, Synthea, MIMIC-III)",
        "repeats": repeats,
        "build_s_median": round(statistics.median(build), 3),
        "build_s_min": round(min(build), 3),
        "build_plus_write_s_median": round(statistics.median(total), 3),
        "raw_parse_s_median": round(statistics.median(r["raw_parse_s"] for r in runs), 3),
        "build_over_raw_parse_median": round(statistics.median(r["build_over_raw_parse"] for r in runs), 2),
        "peak_rss_mb_max": round(max(r["peak_rss_mb"] for r in runs), 1),
        "nodes": runs[0]["nodes"],
        "edges": runs[0]["edges"],
        "targets": {"build_s": 3.0, "build_over_raw_parse": 8.0, "peak_rss_mb": 3072},
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    result = run(args.repeats)
    path = write_result("build", result)
    print(f"build: median {result['build_s_median']}s (+write {result['build_plus_write_s_median']}s), "
          f"{result['build_over_raw_parse_median']}x the raw pandas parse ({result['raw_parse_s_median']}s), "
          f"peak RSS {result['peak_rss_mb_max']} MB over {args.repeats} runs -> {path}")


if __name__ == "__main__":
    main()
