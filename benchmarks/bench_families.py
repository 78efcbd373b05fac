"""Which knowledge helps the disease -> drug metapath model: an ablation by feature family.

The metapath model is fitted, on the same splits and seeds, on three graphs that differ
only in which relations they keep:

- ``Hetionet``: Hetionet's own relations (indications, targets, side effects,
  pharmacologic classes, disease biology, genes, anatomy);
- ``+ DrugBank and interactions``: plus DrugBank targets, enzymes, carriers,
  transporters and the drug-drug interaction table;
- ``+ people``: plus prescribing (CMS), patients' drugs, conditions and allergies
  (the full graph rxkg trains on).

Each model is fitted as ``rxkg train`` fits the deployed one (its candidates averaged, the
kernel ridge's weight chosen on its training folds) and scored once on test (fitted without
the test pairs). The ridge is built from the same graph's relations (ATC codes, classes,
targets, side effects; disease anatomy, genes, expression, resemblance), so each row gives
the model's logistic part alone beside the whole model: what the ridge adds on each graph.
Writes ``benchmarks/results/families.json`` and ``families.md``.

    python -m benchmarks.bench_families [--splits random zero_shot] [--seeds 0 1 2 3 4]
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
    from pipelines.train import TrainConfig
    from recsys.link.evaluate import evaluate_scorer, evaluate_scores
    from recsys.link.metapath import MetapathModel
    from recsys.link.split import split_links
    from recsys.link.task import LinkTask

    deployed = TrainConfig()
    rows = []
    for family in FAMILIES:
        task = LinkTask.from_split(split_links(restricted(graph, family), split, seed=seed))
        start = time.perf_counter()
        model = MetapathModel(seed=seed, combine=deployed.metapath_combine, fold_by=deployed.metapath_fold_by,
                              penalties=deployed.metapath_penalties,
                              families=deployed.metapath_families).fit(blind_task(task))
        fit_s = round(time.perf_counter() - start, 1)
        test = evaluate_scorer(model, task, "test")
        held = np.unique(task.test_pairs[:, 1])
        logistic = evaluate_scores(model.logistic_scores(held), held, task, "test")
        rows.append({"split": split, "seed": seed, "family": family, "paths": len(model.paths),
                     "chosen": model.chosen, "fit_s": fit_s, "val_mrr": round(model.val_mrr, 4),
                     "test": test.as_dict(), "test_logistic": logistic.as_dict()})
        print(f"{split} seed {seed} {family:<28} test MRR {test.mrr:.3f} (logistic part {logistic.mrr:.3f}) "
              f"AUROC {test.auroc:.3f}, kernel weight {model.kernel_weight:g} ({len(model.paths)} paths, {fit_s}s)",
              flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["Metapath model by feature family, fitted as rxkg train fits it (test, macro over held-out diseases; "
             "mean over seeds, min-max in brackets). \"Logistic part\": the same fit's scores without the "
             "kernel ridge; \"kernel weight\": the one its training folds chose, seed by seed.", "",
             "| split | family | seeds | MRR | logistic part MRR | AUROC | kernel weight | metapaths | fit s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for split in dict.fromkeys(r["split"] for r in rows):
        for family in FAMILIES:
            mine = [r for r in rows if r["split"] == split and r["family"] == family]
            if not mine:
                continue
            cells = [_spread([r["test"]["mrr"] for r in mine]),
                     _spread([r["test_logistic"]["mrr"] for r in mine]) if all("test_logistic" in r for r in mine)
                     else "-",
                     _spread([r["test"]["auroc"] for r in mine]),
                     ", ".join(f"{r['chosen'].get('kernel_weight', 0):g}" for r in mine)]
            lines.append(f"| {split} | {family} | {len(mine)} | {' | '.join(cells)} | "
                         f"{int(np.mean([r['paths'] for r in mine]))} | {np.mean([r['fit_s'] for r in mine]):.1f} |")
    return "\n".join(lines) + "\n"


def _spread(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", type=Path, default=GRAPH)
    parser.add_argument("--splits", nargs="+", default=["random", "zero_shot", "rephetio_random",
                                                        "rephetio_zero_shot"],
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
