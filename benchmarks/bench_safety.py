"""What each safety rule flags: among the drugs clinicians actually started, and among the drugs
the shipped patients already take.

- **Started drugs.** The patient protocol's time split (seed 0, the evaluation's shares): each
  test patient's records up to their cutoff are what the filter knows, and the new drugs started
  after it are the drugs a recommender should have found. For each rule, the share of those
  started drugs it flags (removes, or warns about under the default policy). A rule flagging
  many drugs clinicians chose on purpose is too blunt to remove by default.
- **Current drugs.** :meth:`SafetyFilter.review` on every patient of the shipped graph (every
  recorded drug counted as current; duplicates among the drugs still running): the problems a
  prescriber is shown beside a list, by kind, and the duplicates by class.

Writes ``benchmarks/results/safety.json`` and ``safety.md``.

    python -m benchmarks.bench_safety
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from benchmarks._machine import publish

GRAPH = Path("build/graph")
RULES = ("interaction", "allergy", "contraindication", "duplication")


def started_drugs(graph, seed: int) -> dict:
    """Per rule, the share of the test patients' new drugs (started after the cutoff) it flags."""
    from pipelines.evaluation.config import EvaluateConfig
    from pipelines.temporal import time_split
    from recsys.recommender.safety import SafetyFilter, SafetyPolicy

    config = EvaluateConfig()
    split = time_split(graph, config.patient_history_share, config.patient_val_share, seed=seed)
    started = split.targets("test", new_only=True)
    # Every rule removing: what each flags, whether the default policy removes it or warns
    strict = SafetyFilter.from_graph(split.graph, policy=SafetyPolicy(contraindications="remove", duplicates="remove"))
    default = strict.with_policy(SafetyPolicy())
    flagged, families, removed, pairs = Counter(), Counter(), 0, 0
    for patient, group in started.groupby("patient", sort=True):
        context = strict.patient_context(patient)
        for drug in group["drug"].astype(str):
            pairs += 1
            reasons = strict.reasons(drug, context)
            flagged.update({e.reason for e in reasons})
            families.update({_family(e) for e in reasons if e.reason == "duplication"})
            removed += bool(default.reasons(drug, context))
    return {"seed": seed, "patients": int(started["patient"].nunique()), "started": pairs,
            "flagged": {rule: round(flagged[rule] / max(pairs, 1), 4) for rule in RULES},
            "removed_by_default": round(removed / max(pairs, 1), 4),
            "duplicates_by_class": dict(families.most_common())}


def _family(problem) -> str:
    """The class of a duplication, from its evidence `` (both statins: ATC ...)``."""
    return problem.detail.split(":")[0].removeprefix(" (both ")


def current_drugs(graph) -> dict:
    """The review of every patient's own drugs: problems by kind, and the duplicates by class."""
    from recsys.recommender.safety import SafetyFilter

    safety = SafetyFilter.from_graph(graph)
    patients = graph.nodes_of_type("patient")["id"].astype(str).tolist()
    kinds, families, affected = Counter(), Counter(), Counter()
    for patient in patients:
        problems = safety.review(safety.patient_context(patient))
        kinds.update(p.reason for p in problems)
        affected.update({p.reason for p in problems})
        families.update(_family(p) for p in problems if p.reason == "duplication")
    return {"patients": len(patients), "problems": {rule: kinds[rule] for rule in RULES},
            "patients_with": {rule: affected[rule] for rule in RULES},
            "duplicates_by_class": dict(families.most_common())}


def markdown(result: dict) -> str:
    started, current = result["started"], result["current"]
    lines = ["# What each safety rule flags", "",
             f"Drugs clinicians started: the time split's {started['started']} new drugs of its "
             f"{started['patients']} test patients (seed {started['seed']}), each checked against the "
             "patient's records up to the cutoff. Share flagged by each rule:", "",
             "| rule | share of started drugs flagged | default policy |", "|---|---|---|"]
    action = {"interaction": "removes", "allergy": "removes", "contraindication": "warns (curated pairs: their own)",
              "duplication": "warns"}
    for rule in RULES:
        lines.append(f"| {rule} | {started['flagged'][rule]:.3f} | {action[rule]} |")
    lines += ["", f"The default policy removes {started['removed_by_default']:.3f} of them. The started drugs "
              "flagged as duplicates, by class: " + _classes(started["duplicates_by_class"]) + ".", "",
              f"The shipped patients' own drugs ({current['patients']} patients, every record counted as "
              "current; duplicates among the drugs still running):", "",
              "| problem | pairs or drugs | patients with one |", "|---|---|---|"]
    for rule in RULES:
        lines.append(f"| {rule} | {current['problems'][rule]} | {current['patients_with'][rule]} |")
    lines += ["", "Duplicates by class: " + _classes(current["duplicates_by_class"]) + "."]
    return "\n".join(lines) + "\n"


def _classes(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counts.items()) or "none"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", type=Path, default=GRAPH)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from kg.build import build_graph
    from kg.io import read_graph
    from pipelines.config import default_config

    start = time.perf_counter()
    graph = read_graph(args.graph) if args.graph.exists() else build_graph(default_config().build.sources).graph
    result = {"started": started_drugs(graph, args.seed), "current": current_drugs(graph)}
    result["total_s"] = round(time.perf_counter() - start, 1)
    publish("safety", result, markdown(result))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
