"""Doctor -> drug: CMS prescribers, per-prescriber holdout and unseen prescribers (held-out states).

One :class:`~recsys.cf.split.CFSplit` per protocol is shared by every model, with a
validation split carved from its training part (validation states are drawn from the
training states, so tuning never sees a test state). Each CF model is tuned on
validation (staged grid, NDCG@10), refitted on the training part and scored once. The
hybrid is the doctor side ``rxkg train`` would deploy from the training part, fitted by the
same function (:func:`pipelines.doctors.fit_doctors`, with ``rxkg train``'s settings): the
CF model chosen on validation (EASE, which may take the prescribers' specialty and state as
inputs, or ALS) and within-specialty popularity, the logistic or tuned blend or a component
alone. Its validation is a per-prescriber holdout in both protocols, as deployed; the unseen
protocol measures how that bundle serves prescribers it never saw. The table's EASE row is the
plain closed form, and its "EASE + within-specialty popularity" row the simple anchor the
deployed side must beat (fitted the same way among plain EASE settings).
The doctors' graph component (:mod:`recsys.recommender.doctor_side`: what a drug shares with
the prescriber's drugs in the graph) competes in the deployed blend, weighed on the same
validation; "hybrid without graph" is a row when it carries weight, else named as equal to the
hybrid. Its main use, never-prescribed drugs, is measured by the mixed drug cold-start protocol
(:mod:`.coldmixed`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from tqdm.auto import tqdm

from pipelines.cfchoice import QUICK_SEARCH
from pipelines.doctors import blended_scores, doctor_validation, fit_doctors, split_parts
from recsys.blend import blend_components
from recsys.recommender.people_graph import DoctorGraphRecipe
from pipelines.evaluation.config import EvaluateConfig
from pipelines.evaluation.results import ModelResult, ProtocolResult, Stopwatch, by_history, split_result
from pipelines.evaluation.sparse import sparse_protocol

__all__ = ["doctor_protocol", "cf_splits", "by_specialty", "baseline_stages", "MODEL_ORDER", "LABELS", "QUICK_STAGES",
           "DOCTOR_METRICS"]

MODEL_ORDER = ["popularity", "group_popularity", "rp3beta", "ease", "als", "bpr"]
LABELS = {"popularity": "global popularity", "group_popularity": "within-specialty popularity",
          "rp3beta": "RP3beta", "ease": "EASE", "als": "ALS (implicit)", "bpr": "BPR (implicit)"}
ROLES = {"popularity": "baseline", "group_popularity": "baseline", "rp3beta": "baseline", "ease": "baseline",
         "als": "model", "bpr": "model"}
#: One setting per model: the full search's choices on the shipped data. The EASE row is the
#: plain closed form (the simple anchor); EASE with the prescribers' attributes as inputs is what
#: the deployed hybrid may choose (:data:`pipelines.cfchoice.QUICK_SEARCH`).
QUICK_STAGES = {"popularity": [], "group_popularity": [{"smoothing": [0.05]}],
                "rp3beta": [{"alpha": [1.0], "beta": [0.5]}],
                "bpr": [{"factors": [16], "iterations": [20]}], **QUICK_SEARCH,
                "ease": [{"transform": ["log1p"], "regularization": [2000.0]}]}
DOCTOR_METRICS = ("recall@{k}", "ndcg@{k}", "mrr")
TITLES = {"holdout": "Doctor -> drug, seen prescribers (20% of each prescriber's drugs held out)",
          "unseen": "Doctor -> drug, unseen prescribers (held-out states, folded in from 80% of their drugs)"}
#: Prescribers needed before a split means anything.
MIN_PRESCRIBERS = 20


def cf_splits(inter, mode: str, seed: int):
    """The protocol's split and the validation split carved from its training part."""
    from recsys.cf import holdout_split, unseen_user_split

    if mode == "holdout":
        split = holdout_split(inter, 0.2, seed=seed)
        return split, doctor_validation(split.train, seed)  # the deployed side's validation
    split = unseen_user_split(inter, by="state", user_fraction=0.1, test_fraction=0.2, seed=seed)
    return split, unseen_user_split(split.train, by="state", user_fraction=0.1, test_fraction=0.2, seed=seed + 1)


def doctor_protocol(inter, mode: str, config: EvaluateConfig, log: Callable[[str], None] = print,
                    recipe: DoctorGraphRecipe | None = None) -> ProtocolResult | list[ProtocolResult]:
    """Evaluate every doctor -> drug model on one split of ``inter`` (doctor x drug claims); with
    a ``recipe`` for the graph component the deployed side may weigh the graph, and the hybrid
    without it is a row (or named as equal to the hybrid). The unseen split also gives the sparse
    prescribers' protocol (:mod:`.sparse`): both are returned."""
    from recsys.cf import MODELS
    from recsys.cf.evaluate import score_split
    from recsys.cf.tuning import staged_search
    k = config.k
    metrics = tuple(m.format(k=k) for m in DOCTOR_METRICS)
    result = ProtocolResult(f"doctor/{mode}", TITLES[mode], metrics)
    if inter.shape[0] < MIN_PRESCRIBERS:
        result.skipped = f"{inter.shape[0]} prescribers; a split needs at least {MIN_PRESCRIBERS}"
        return result
    try:
        split, validation = cf_splits(inter, mode, config.seed)
    except Exception as err:  # e.g. too few states for an unseen-prescriber split
        result.skipped = f"no {mode} split possible: {err}"
        return result
    log(f"  {split.summary()}")
    log(f"  validation: {validation.summary()}")
    clock = Stopwatch()
    # The deployed doctor side, fitted as rxkg train fits it on this split's training part.
    train = config.train_config()
    sparse = mode == "unseen"  # only the sparse prescribers' protocol, drawn from this split, reads their blend
    deployed, deployed_seconds = clock.timed(lambda: fit_doctors(
        split.train, config.seed, train.cf_search == "quick", train.doctor_smoothing, k, recipe=recipe,
        choose_sparse=sparse))
    choice = deployed.choice
    log(f"  doctor CF chosen on validation: {choice.model} {choice.params}")
    # Its searches serve the table where they are the table's own (same validation, same grid).
    reused = {n: s for n, s in choice.searches.items() if n != "ease"} if mode == "holdout" and config.quick else {}
    fitted_models = {}
    for name in tqdm(MODEL_ORDER, desc=result.name, unit="model", leave=False):
        fixed = {"seed": config.seed} if name in ("als", "bpr") else {}
        search = reused.get(name) or staged_search(name, validation, stages=baseline_stages(name, config.quick),
                                                   fixed=fixed, k=k)
        model, seconds = clock.timed(lambda: MODELS[name](**search.best_params).fit(split.train))
        fitted_models[name] = model
        row = split_result(LABELS[name], ROLES[name], score_split(model, split), split, config,
                           seconds=seconds + search.seconds, val={f"ndcg@{k}": search.best_score},
                           params={**search.best_params, "search_trials": len(search.trials)})
        result.models.append(row)
        log(f"  {row.model:<28} " + "  ".join(f"{m} {row.means[m]:.3f}" for m in metrics))

    # The simple anchor the deployed side must beat: plain EASE and within-specialty popularity,
    # blended (or either alone) exactly as the deployed side chooses, on the same validation.
    anchor, anchor_seconds = clock.timed(lambda: fit_doctors(
        split.train, config.seed, True, train.doctor_smoothing, k, candidates=("ease",),
        quick_search={"ease": QUICK_STAGES["ease"]}, choose_sparse=sparse))
    row = split_result("EASE + within-specialty popularity", "baseline", blended_scores(anchor, split, anchor.weights),
                       split, config, seconds=anchor_seconds,
                       params={"weights": {c: round(w, 4) for c, w in anchor.weights.items()},
                               "chosen": anchor.selection.get("chosen", "default weights")})
    result.models.append(row)
    log(f"  {row.model:<28} " + "  ".join(f"{m} {row.means[m]:.3f}" for m in metrics))

    parts = split_parts(deployed.cf, deployed.popularity, split, deployed.graph)
    if "graph" in parts:  # what the knowledge graph alone says: where it could help, e.g. sparse prescribers
        result.models.append(split_result("graph component alone", "model", parts["graph"], split, config))
    blended = blend_components(parts, deployed.weights, False)[0]
    picked = deployed.selection.get("chosen", "default weights")
    candidates = deployed.selection.get("val_mrr", {})
    row = split_result(f"hybrid (deployed: {picked}, cf = {LABELS[choice.model]})", "hybrid", blended, split,
                       config, seconds=deployed_seconds, val={"selection mrr": candidates.get(picked, float("nan"))},
                       params={"weights": {c: round(w, 4) for c, w in deployed.weights.items()},
                               "val_mrr_of_candidates": {c: round(v, 4) for c, v in candidates.items()},
                               "cf_choice": choice.as_dict(),
                               **({"note": deployed.selection["note"]} if deployed.selection.get("note") else {})})
    result.models.append(row)
    log(f"  {row.model:<28} " + "  ".join(f"{m} {row.means[m]:.3f}" for m in metrics))
    same = []
    if recipe is not None and deployed.weights.get("graph", 0.0):
        without = blend_components(parts, {**deployed.weights, "graph": 0.0}, False)[0]
        result.models.append(split_result("hybrid without graph", "ablation", without, split, config))
    elif recipe is not None:
        same.append("without graph")  # the graph carries no weight: the same lists
    result.info = {"split": split.summary(), "validation": validation.summary(), "seed": config.seed,
                   "evaluated_prescribers": int(split.test.shape[0]), "train_prescribers": int(split.train.shape[0]),
                   "held_out_entries": int(split.test.nnz), "drugs_ranked": int(split.test.shape[1]),
                   "held_out_states": list(split.held_out_groups),
                   "validation_states": list(validation.held_out_groups), "ablations_equal_to_the_hybrid": same}
    if mode == "holdout":
        result.info["by_specialty"] = by_specialty(split, {m.model: m for m in result.models}, k)
    result.info["by_history"] = by_history(result.models, np.diff(split.history.matrix.indptr), (3, 10, 30),
                                           f"recall@{k}")
    if mode != "unseen":
        return result
    log("[doctor/sparse]")  # the same new prescribers, known from 1-3 drugs: the same fitted models
    return [result, sparse_protocol(split, deployed, anchor, fitted_models, LABELS, config, log)]


def baseline_stages(name: str, quick: bool) -> list[dict]:
    """The search of the table's ``name`` row: its quick setting, or its full grid without user
    attributes as inputs, the per-user weights, EDLAE's dropout penalty, item pairs or
    (attribute, item) combinations as inputs (the EASE row is plain EASE, the simple anchor)."""
    from recsys.cf.tuning import SEARCH_STAGES

    if quick:
        return QUICK_STAGES[name]
    extensions = ("side_weight", "user_weight", "dropout", "pairs", "attribute_pairs")
    plain = [{key: values for key, values in stage.items() if key not in extensions} for stage in SEARCH_STAGES[name]]
    return [stage for stage in plain if stage]


def by_specialty(split, models: dict[str, ModelResult], k: int, top: int = 10) -> list[dict]:
    """Recall@k of every model for the ``top`` most common specialties among evaluated prescribers."""
    specialty = split.test.attribute("specialty")
    present = np.array([s is not None and s == s for s in specialty])
    names, counts = np.unique(specialty[present].astype(str), return_counts=True)
    out = []
    for name in names[np.argsort(-counts, kind="stable")][:top]:
        mask = specialty == name
        out.append({"specialty": str(name), "prescribers": int(mask.sum()),
                    **{model: round(float(r.per_entity[f"recall@{k}"][mask].mean()), 4)
                       for model, r in models.items()}})
    return out
