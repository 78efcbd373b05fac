"""Doctor -> drug collaborative filtering on the shipped CMS prescribers: quality and speed.

Two protocols, each with its own validation split carved from its training part:
- holdout: 20% of each prescriber's drugs held out (validation: 20% of the rest);
- unseen: every prescriber of a few states left out of training and folded in from
  80% of their drugs (validation: other states, drawn from the training states).
For each, global popularity, within-specialty popularity, ALS and BPR are tuned on
validation (staged grid, NDCG@10), refitted on the protocol's training part and
scored once on test, with 95% bootstrap intervals over prescribers. Then the timings
the deployed model needs: fit on all of CMS, top-10 for every prescriber, fold-in of
one new prescriber, an incremental update. Writes ``benchmarks/results/cf.json``
and ``cf.md``.

    python -m benchmarks.bench_cf [--quick] [--seed 0]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks._machine import publish
from pipelines.cfchoice import QUICK_SEARCH
from pipelines.evaluation.doctor import LABELS, MODEL_ORDER, baseline_stages
from pipelines.evaluation.doctor import cf_splits as splits_for

GRAPH = Path("build/graph")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_protocol(inter, mode: str, seed: int, quick: bool) -> tuple[list[dict], dict]:
    from recsys.cf import MODELS
    from recsys.cf.evaluate import evaluate_cf
    from recsys.cf.tuning import staged_search

    split, validation = splits_for(inter, mode, seed)
    print(split.summary(), flush=True)
    print(f"  validation: {validation.summary()}", flush=True)
    rows, per_user = [], {}
    for name in MODEL_ORDER:
        fixed = {"seed": seed} if name in ("als", "bpr") else {}
        search = staged_search(name, validation, stages=baseline_stages(name, quick), fixed=fixed)
        model = MODELS[name](**search.best_params).fit(split.train)
        result = evaluate_cf(model, split, k=10, n_resamples=1000, seed=seed)
        per_user[name] = result.per_user
        rows.append({**result.as_dict(), "protocol": mode, "model": LABELS[name], "key": name,
                     "val_ndcg@10": round(search.best_score, 4), "params": search.best_params,
                     "search_trials": len(search.trials), "search_s": round(search.seconds, 1),
                     "fit_s": round(model.fit_seconds, 3)})
        print(f"  {LABELS[name]:<28} {result.line()}  (val ndcg {search.best_score:.3f}, "
              f"{len(search.trials)} trials, {search.best_params})", flush=True)
    info = {"evaluated_users": int(split.test.shape[0]), "train_users": int(split.train.shape[0]),
            "held_out_entries": int(split.test.nnz), "held_out_states": list(split.held_out_groups),
            "validation_states": list(validation.held_out_groups)}
    if mode == "holdout":
        info["by_specialty"] = by_specialty(split, per_user)
    return rows, info


def by_specialty(split, per_user: dict, top: int = 10) -> list[dict]:
    """Recall@10 of within-specialty popularity and ALS for the most common specialties."""
    specialty = split.test.attribute("specialty")
    names, counts = np.unique(specialty[specialty != None], return_counts=True)  # noqa: E711
    out = []
    for name in names[np.argsort(-counts, kind="stable")][:top]:
        mask = specialty == name
        out.append({"specialty": str(name), "users": int(mask.sum()),
                    **{f"{model}_recall@10": round(float(per_user[model]["recall@10"][mask].mean()), 3)
                       for model in ("group_popularity", "als")}})
    return out


def timings(inter, params: dict, bpr_params: dict, repeats: int = 3, item_item: dict | None = None) -> dict:
    """Speed on all of CMS (median of ``repeats``): ALS in full, and each item-item model's fit
    and scoring of every prescriber beside ALS's in the same run (``item_item``: label -> (model
    name, params))."""
    from recsys.cf import MODELS, ALSRecommender, BPRRecommender, Interactions

    def median_time(fn) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return float(np.median(times))

    model = ALSRecommender(**params)
    fit_s = median_time(lambda: model.fit(inter))
    users = list(inter.user_ids)
    recommend_all_s = median_time(lambda: model.recommend(users, k=10))
    history = inter.items_of(users[0])
    fold = []
    for _ in range(100):
        start = time.perf_counter()
        model.recommend_new([history], k=10)
        fold.append(time.perf_counter() - start)
    rng = np.random.default_rng(0)
    doctors = rng.choice(inter.user_ids, size=50, replace=False)
    new = Interactions.from_triples(list(doctors) + ["doctor:NPI:new-prescriber"] * 5,
                                    list(rng.choice(inter.item_ids, size=50)) + list(inter.item_ids[:4])
                                    + ["drug:new-product"], np.full(55, 20.0))
    start = time.perf_counter()
    model.update(new)
    update_s = time.perf_counter() - start
    bpr = BPRRecommender(**bpr_params)
    bpr_fit_s = median_time(lambda: bpr.fit(inter)) if repeats else float("nan")
    others = {}
    for label, (name, other_params) in (item_item or {}).items():
        other = MODELS[name](**other_params)
        other_fit = median_time(lambda: other.fit(inter))
        other_all = median_time(lambda: other.recommend(users, k=10))
        others[label] = {"fit_s": round(other_fit, 3), "recommend_all_top10_s": round(other_all, 3),
                        "fit_vs_als": round(other_fit / fit_s, 3),
                        "recommend_all_vs_als": round(other_all / recommend_all_s, 3)}
    return {"prescribers": len(users), "drugs": int(inter.shape[1]), "entries": inter.nnz, "item_item": others,
            "als_fit_s": round(fit_s, 3), "recommend_all_top10_s": round(recommend_all_s, 3),
            "fold_in_one_prescriber_ms_p50": round(1000 * float(np.median(fold)), 2),
            "update_55_prescriptions_s": round(update_s, 3), "bpr_fit_s": round(bpr_fit_s, 3),
            "als_params": params, "bpr_params": bpr_params}


def markdown(rows: list[dict], infos: dict, speed: dict) -> str:
    lines = []
    titles = {"holdout": "Seen prescribers: 20% of each prescriber's drugs held out",
              "unseen": "Unseen prescribers: held-out states, folded in from 80% of their drugs"}
    for mode in dict.fromkeys(r["protocol"] for r in rows):
        info = infos[mode]
        extra = f", held-out states {', '.join(info['held_out_states'])}" if info["held_out_states"] else ""
        lines += [f"**{titles[mode]}** ({info['evaluated_users']:,} evaluated prescribers{extra}; "
                  "test, mean over prescribers, 95% bootstrap interval)", "",
                  "| model | Recall@10 | NDCG@10 | MRR | val NDCG@10 | fit s |", "|---|---|---|---|---|---|"]
        for r in rows:
            if r["protocol"] == mode:
                cells = [f"{r[m]:.3f} [{r[m + '_ci'][0]:.3f}, {r[m + '_ci'][1]:.3f}]"
                         for m in ("recall@10", "ndcg@10", "mrr")]
                lines.append(f"| {r['model']} | {' | '.join(cells)} | {r['val_ndcg@10']:.3f} | {r['fit_s']:.2f} |")
        lines.append("")
    if "holdout" in infos and infos["holdout"].get("by_specialty"):
        lines += ["**Recall@10 by specialty** (seen prescribers)", "",
                  "| specialty | prescribers | within-specialty popularity | ALS |", "|---|---|---|---|"]
        for s in infos["holdout"]["by_specialty"]:
            lines.append(f"| {s['specialty']} | {s['users']:,} | {s['group_popularity_recall@10']:.3f} | "
                         f"{s['als_recall@10']:.3f} |")
        lines.append("")
    lines += ["**Speed on all CMS prescribers** (2 CPU cores, median of 3)", "",
              "| ALS fit | top-10 for all prescribers | fold-in one new prescriber (p50) | "
              "update with 55 prescriptions | BPR fit |", "|---|---|---|---|---|",
              f"| {speed['als_fit_s']:.2f} s | {speed['recommend_all_top10_s']:.2f} s | "
              f"{speed['fold_in_one_prescriber_ms_p50']:.1f} ms | {speed['update_55_prescriptions_s']:.2f} s | "
              f"{speed['bpr_fit_s']:.2f} s |", ""]
    if speed.get("item_item"):
        lines += ["**Item-item models beside ALS in the same run** (ratios: the machine is shared and noisy)", "",
                  "| model | fit | fit / ALS fit | top-10 for all prescribers | / ALS |", "|---|---|---|---|---|"]
        for name, t in speed["item_item"].items():
            lines.append(f"| {name} | {t['fit_s']:.2f} s | {t['fit_vs_als']:.2f} | {t['recommend_all_top10_s']:.2f} s | "
                         f"{t['recommend_all_vs_als']:.2f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", type=Path, default=GRAPH)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--protocols", nargs="+", default=["holdout", "unseen"])
    parser.add_argument("--quick", action="store_true", help="one setting per model (a smoke run)")
    args = parser.parse_args(argv)

    from kg.build import build_graph
    from kg.io import read_graph
    from pipelines.config import default_config
    from recsys.cf import doctor_drug_interactions

    start = time.perf_counter()
    graph = read_graph(args.graph) if args.graph.exists() else build_graph(default_config().build.sources).graph
    t0 = time.perf_counter()
    inter = doctor_drug_interactions(graph)
    interactions_s = time.perf_counter() - t0
    print(f"{inter} in {interactions_s:.2f} s", flush=True)
    rows, infos = [], {}
    for mode in args.protocols:
        mode_rows, infos[mode] = run_protocol(inter, mode, args.seed, args.quick)
        rows += mode_rows
    best = {r["key"]: r["params"] for r in rows if r["protocol"] == args.protocols[0]}
    side = {key: values[0] for stage in QUICK_SEARCH["ease"] for key, values in stage.items()}
    pairs = max(v for stage in QUICK_SEARCH["ease"] for v in stage.get("pairs", [0]))
    combos = max(v for stage in QUICK_SEARCH["ease"] for v in stage.get("attribute_pairs", [0]))
    speed = timings(inter, best["als"], best["bpr"], repeats=1 if args.quick else 3,
                    item_item={**{name: (name, best[name]) for name in ("ease", "rp3beta") if name in best},
                               "ease with specialty and state": ("ease", side),
                               f"ease with specialty, state and {pairs:,} item pairs":
                                   ("ease", {**side, "pairs": pairs}),
                               f"ease with specialty, state, {pairs:,} item pairs and {combos:,} "
                               "(specialty or state, drug) combinations (deployed)":
                                   ("ease", {**side, "pairs": pairs, "attribute_pairs": combos})})
    speed["interactions_from_graph_s"] = round(interactions_s, 3)
    print(f"speed: {speed}", flush=True)
    result = {"seed": args.seed, "quick": args.quick, "total_s": round(time.perf_counter() - start, 1),
              "peak_rss_mb": round(_peak_mb()), "rows": rows, "protocols": infos, "speed": speed}
    name = "cf_quick" if args.quick else "cf"
    publish(name, result, markdown(rows, infos, speed))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
