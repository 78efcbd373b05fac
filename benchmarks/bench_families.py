"""Which knowledge helps the disease -> drug metapath model: an ablation by feature family.

The metapath model is fitted, on the same splits and seeds, on three graphs that differ
only in which relations they keep:

- ``Hetionet``: Hetionet's own relations (indications, targets, side effects,
  pharmacologic classes, disease biology, genes, anatomy);
- ``+ DrugBank and interactions``: plus DrugBank targets, enzymes, carriers,
  transporters and the drug-drug interaction table;
- ``+ people``: plus prescribing (CMS), patients' drugs, conditions and allergies
  (the full graph rxkg trains on).

Each model chooses its examples, feature families and penalty on validation and is
scored once on test (fitted without the test pairs). Writes
``benchmarks/results/families.json`` and ``families.md``.

    python -m benchmarks.bench_families [--splits random rephetio_random] [--seeds 0 1 2 3 4]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks._machine import publish

GRAPH = Path("build/graph")
DRUGBANK = frozenset({"has_target", "metabolized_by", "carried_by", "transported_by", "interacts_with"})
PEOPLE_TYPES = frozenset({"doctor", "patient"})
FAMILIES = ("Hetionet", "+ DrugBank and interactions", "+ people")


def restricted(graph, family: str):
    """The graph with only the relations of ``family`` (and the families before it)."""
    from kg.graph import KnowledgeGraph

    def keep(et) -> bool:
        people = et.src in PEOPLE_TYPES or et.dst in PEOPLE_TYPES
        if people:
            return family == "+ people"
        return family != "Hetionet" or et.rel not in DRUGBANK
    return KnowledgeGraph(graph.nodes, {et: f for et, f in graph.edges.items() if keep(et)}, graph.tables)


def run(graph, split: str, seed: int) -> list[dict]:
    from pipelines.evaluation.disease import blind_task
    from recsys.link.evaluate import evaluate_scorer
    from recsys.link.metapath import MetapathModel
    from recsys.link.split import split_links
    from recsys.link.task import LinkTask

    rows = []
    for family in FAMILIES:
        task = LinkTask.from_split(split_links(restricted(graph, family), split, seed=seed))
        start = time.perf_counter()
        model = MetapathModel(seed=seed).fit(blind_task(task))
        test = evaluate_scorer(model, task, "test")
        rows.append({"split": split, "seed": seed, "family": family, "paths": len(model.paths),
                     "chosen": model.chosen, "fit_s": round(time.perf_counter() - start, 1),
                     "val_mrr": round(model.val_mrr, 4), "test": test.as_dict()})
        print(f"{split} seed {seed} {family:<28} test MRR {test.mrr:.3f} AUROC {test.auroc:.3f} "
              f"({len(model.paths)} paths, {rows[-1]['fit_s']}s)", flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["Metapath model by feature family (test, macro over held-out diseases; mean over seeds, "
             "min-max in brackets):", "", "| split | family | seeds | MRR | AUROC | metapaths | fit s |",
             "|---|---|---|---|---|---|---|"]
    for split in dict.fromkeys(r["split"] for r in rows):
        for family in FAMILIES:
            mine = [r for r in rows if r["split"] == split and r["family"] == family]
            if not mine:
                continue
            mrr = [r["test"]["mrr"] for r in mine]
            auroc = [r["test"]["auroc"] for r in mine]
            lines.append(f"| {split} | {family} | {len(mine)} | {np.mean(mrr):.3f} ({min(mrr):.3f}-{max(mrr):.3f}) | "
                         f"{np.mean(auroc):.3f} ({min(auroc):.3f}-{max(auroc):.3f}) | "
                         f"{int(np.mean([r['paths'] for r in mine]))} | {np.mean([r['fit_s'] for r in mine]):.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", type=Path, default=GRAPH)
    parser.add_argument("--splits", nargs="+", default=["random", "rephetio_random"],
                        choices=["random", "zero_shot", "rephetio_random", "rephetio_zero_shot"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args(argv)
    from kg.build import build_graph
    from kg.io import read_graph
    from pipelines.config import default_config

    start = time.perf_counter()
    graph = read_graph(args.graph) if args.graph.exists() else build_graph(default_config().build.sources).graph
    rows = [r for seed in args.seeds for split in args.splits for r in run(graph, split, seed)]
    result = {"seeds": args.seeds, "splits": args.splits, "total_s": round(time.perf_counter() - start, 1),
              "rows": rows}
    publish("families", result, markdown(rows))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
