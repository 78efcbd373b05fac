"""What a user waits for, each stage in a fresh process, beside references timed in the same run.

The machine is shared and its speed drifts by a third between hours, so every stage is
also reported as a ratio against a reference measured in the same run:

| stage | command | reference |
|---|---|---|
| build | ``rxkg build`` (the whole command: imports, build, writing the graph) | pandas parsing the same input files (``read_csv``, nothing else) |
| build inside the process | the build's own wall time (``build_report.json``: loading, mapping, merging, validating) | the same parse |
| train | ``rxkg train`` | ``implicit`` ALS (64 factors, 15 iterations) fitted on the CMS claims |
| quick evaluation | ``rxkg evaluate --quick`` | the same ALS fit |
| recommend | ``rxkg recommend --disease ... --k 3`` | ``python -c "import numpy"`` |
| first explanation | the first explanation text after loading a bundle | one ``recommend_for_disease`` call |

    python -m benchmarks.bench_endtoend [--repeats 3] [--skip-evaluate]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._machine import publish

DISEASE = "disease:DOID:9352"  # type 2 diabetes mellitus
TARGETS = {"build_inside_process_s": 3.0, "build_inside_process_ratio": 8.0, "recommend_s": 1.0,
           "first_explanation_ms": 100.0}

_RAW_PARSE = r"""
import json, sys, time
from pathlib import Path
import pandas as pd
report = json.loads((Path(sys.argv[1]) / "build_report.json").read_text())
files = sorted({f for s in report["sources"].values() for f in s["files"]
                if any(x in Path(f).suffixes for x in (".csv", ".tsv", ".sif"))})
start = time.perf_counter()
for f in files:
    pd.read_csv(f, sep="\t" if any(x in Path(f).suffixes for x in (".tsv", ".sif")) else ",", dtype=str,
                on_bad_lines="skip")
print(json.dumps({"seconds": time.perf_counter() - start, "files": len(files)}))
"""

_ALS = r"""
import json, sys, time
from kg.io import read_graph
from recsys.cf import doctor_drug_interactions
from implicit.als import AlternatingLeastSquares
claims = doctor_drug_interactions(read_graph(sys.argv[1])).matrix.tocsr().astype("float32")
model = AlternatingLeastSquares(factors=64, iterations=15, random_state=0)
start = time.perf_counter()
model.fit(claims, show_progress=False)
print(json.dumps({"seconds": time.perf_counter() - start, "shape": list(claims.shape)}))
"""

_EXPLANATION = r"""
import json, sys, time
from recsys.recommender.api import Recommender
rec = Recommender.load(sys.argv[1])
start = time.perf_counter()
top = rec.recommend_for_disease(sys.argv[2], k=3)
ranked = time.perf_counter()
text = top[0].explanation
explained = time.perf_counter()
assert text
print(json.dumps({"recommend_ms": 1000 * (ranked - start), "first_explanation_ms": 1000 * (explained - ranked)}))
"""


def _wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, text=True)
    return time.perf_counter() - start


def _child(code: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def run(repeats: int, evaluate: bool) -> dict:
    rxkg = [sys.executable, "-m", "pipelines.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        graph, model, report = (str(Path(tmp) / name) for name in ("graph", "model", "report"))
        build, inside = [], []
        for _ in range(repeats):
            build.append(_wall([*rxkg, "build", "--out", graph, "--force"]))
            inside.append(json.loads((Path(graph) / "build_report.json").read_text())["wall_time_s"])
        parse = [_child(_RAW_PARSE, graph)["seconds"] for _ in range(repeats)]
        als = [_child(_ALS, graph)["seconds"] for _ in range(repeats)]
        train = _wall([*rxkg, "train", "--graph", graph, "--out", model])
        quick = _wall([*rxkg, "evaluate", "--quick", "--graph", graph, "--out", report]) if evaluate else None
        recommend = [_wall([*rxkg, "recommend", "--model", model, "--disease", DISEASE, "--k", "3"])
                     for _ in range(repeats)]
        python = [_wall([sys.executable, "-c", "import numpy"]) for _ in range(repeats)]
        explain = [_child(_EXPLANATION, model, DISEASE) for _ in range(repeats)]
    stages = {
        "build": {"seconds": _median(build), "reference": "raw pandas parse", "reference_s": _median(parse)},
        "build inside the process": {"seconds": _median(inside), "reference": "raw pandas parse",
                                     "reference_s": _median(parse)},
        "train": {"seconds": round(train, 2), "reference": "implicit ALS fit on CMS", "reference_s": _median(als)},
        "recommend": {"seconds": _median(recommend), "reference": "python -c 'import numpy'",
                      "reference_s": _median(python)},
        "first explanation": {"seconds": _median([e["first_explanation_ms"] / 1000 for e in explain]),
                              "reference": "one recommend_for_disease call",
                              "reference_s": _median([e["recommend_ms"] / 1000 for e in explain])},
    }
    if quick is not None:
        stages["quick evaluation"] = {"seconds": round(quick, 2), "reference": "implicit ALS fit on CMS",
                                      "reference_s": _median(als)}
    for stage in stages.values():
        stage["ratio"] = round(stage["seconds"] / stage["reference_s"], 1)
    return {"what": "fresh-process timings of the shipped data's stages, each beside a reference of the same run",
            "repeats": repeats, "stages": stages, "targets": TARGETS}


def markdown(result: dict) -> str:
    lines = ["# End to end, fresh processes", "",
             f"Medians of {result['repeats']} runs (train and quick evaluation: one run each). "
             "Ratio: the stage's time over its reference's, both measured in this run.", "",
             "| stage | seconds | reference | reference s | ratio |", "|---|---|---|---|---|"]
    for name, s in result["stages"].items():
        lines.append(f"| {name} | {s['seconds']} | {s['reference']} | {s['reference_s']} | {s['ratio']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-evaluate", action="store_true", help="leave the quick evaluation out")
    args = parser.parse_args(argv)
    result = run(args.repeats, not args.skip_evaluate)
    publish("endtoend", result, markdown(result))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
