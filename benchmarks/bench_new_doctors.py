"""A new prescriber known by specialty alone: what ranks their drugs best before they prescribe any?

For ``recommend_for_new_doctor`` without prescriptions. Prescribers are left out of training
(10%, :func:`recsys.cf.split.new_user_split`; seed 2 is the draw ``rxkg train`` chooses the
``doctor_sparse`` weights on, seeds 3 and 4 two more), and every drug of theirs is to be found
from their specialty and state alone. Rows:

- ``overall popularity``: how many training prescribers prescribe each drug;
- ``within-specialty popularity``: the deployed doctor popularity component (smoothing 0.05);
- ``EASE folded in from specialty and state``: the doctors' CF model with the settings the bundle
  chose (its side-information columns are the only input);
- ``both, standardised and summed``.

Writes ``benchmarks/results/new_doctors.json`` and ``new_doctors.md``.

    python -m benchmarks.bench_new_doctors [--model build/model] [--seeds 2 3 4]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks._machine import publish, seed_table

GRAPH = Path("build/graph")
MODEL = Path("build/model")
ROWS = ("overall popularity", "within-specialty popularity", "EASE folded in from specialty and state",
        "both, standardised and summed")


def _standardised(scores: np.ndarray) -> np.ndarray:
    return (scores - scores.mean(axis=1, keepdims=True)) / (scores.std(axis=1, keepdims=True) + 1e-12)


def rows_for(claims, cf_params: dict, seed: int) -> list[dict]:
    """Recall@10 and NDCG@10 of each ranking of ``ROWS`` for ``seed``'s left-out prescribers."""
    import scipy.sparse as sp

    from recsys.cf import MODELS, GroupPopularityRecommender
    from recsys.cf.split import new_user_split
    from recsys.metrics import set_ranking_metrics

    split = new_user_split(claims, 0.1, seed)
    truth = sp.csr_matrix((split.history.matrix + split.test.matrix) > 0)  # every drug of theirs
    attributes = split.history.user_attributes
    who = [{"specialty": s, "state": t} for s, t in zip(attributes["specialty"], attributes["state"])]
    nothing = [{}] * truth.shape[0]
    used = np.asarray((split.train.matrix > 0).sum(axis=0), dtype=np.float64)
    specialty = GroupPopularityRecommender(smoothing=0.05).fit(split.train).score_new(nothing, attributes=who)
    ease = MODELS["ease"](**cf_params).fit(split.train).score_new(nothing, attributes=who)
    scores = dict(zip(ROWS, (np.repeat(used, truth.shape[0], axis=0), specialty, ease,
                             _standardised(specialty) + _standardised(ease))))
    out = []
    for name, score in scores.items():
        metrics = set_ranking_metrics(score, truth, k=10)
        out.append({"seed": seed, "ranking": name, "prescribers": int(truth.shape[0]),
                    "recall@10": round(float(metrics["recall"].mean()), 4),
                    "ndcg@10": round(float(metrics["ndcg"].mean()), 4)})
    return out


def markdown(result: dict) -> str:
    lines = ["# New prescribers known by specialty alone", "",
             "Prescribers left out of training (10% per seed), every drug of theirs to find from their specialty "
             f"and state. EASE settings: `{result['cf_params']}`. Recall@10 / NDCG@10:", "",
             *seed_table("ranking", ROWS, result["rows"], "ranking",
                         lambda r: f"{r['recall@10']:.3f} / {r['ndcg@10']:.3f}")]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", type=Path, default=GRAPH)
    parser.add_argument("--model", type=Path, default=MODEL, help="a bundle whose doctor CF settings to use")
    parser.add_argument("--seeds", type=int, nargs="+", default=[2, 3, 4])
    args = parser.parse_args(argv)
    from kg.build import build_graph
    from kg.io import read_graph
    from pipelines.cfchoice import QUICK_SEARCH
    from pipelines.config import default_config
    from recsys.cf import doctor_drug_interactions

    start = time.perf_counter()
    manifest = args.model / "manifest.json"
    if manifest.exists():
        cf_params = json.loads(manifest.read_text())["selection"]["doctor_cf"]["params"]
    else:  # no bundle: the quick search's first settings
        cf_params = {key: values[0] for stage in QUICK_SEARCH["ease"] for key, values in stage.items()}
    graph = read_graph(args.graph) if args.graph.exists() else build_graph(default_config().build.sources).graph
    claims = doctor_drug_interactions(graph)
    rows = [r for seed in args.seeds for r in rows_for(claims, cf_params, seed)]
    result = {"seeds": args.seeds, "cf_params": cf_params, "total_s": round(time.perf_counter() - start, 1),
              "rows": rows}
    publish("new_doctors", result, markdown(result))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
