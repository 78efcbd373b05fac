"""Doctor -> drug: CMS prescribers, per-prescriber holdout and unseen prescribers (held-out states).

One :class:`~recsys.cf.split.CFSplit` per protocol is shared by every model, with a
validation split carved from its training part (validation states are drawn from the
training states, so tuning never sees a test state). Each CF model is tuned on
validation (staged grid, NDCG@10), refitted on the training part and scored once. The
hybrid is the deployed doctor blend: the CF model :func:`pipelines.cfchoice.choose_cf`
picks on validation (EASE or ALS, as ``rxkg train`` picks it) and within-specialty
popularity, the logistic blend or a component alone, whichever has the best validation
MRR. A graph component does not exist for doctors (they reach the graph only through what
they prescribe).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from tqdm.auto import tqdm

from pipelines.cfchoice import QUICK_SEARCH, choose_cf
from pipelines.evaluation.config import EvaluateConfig
from pipelines.evaluation.results import ModelResult, ProtocolResult, Stopwatch, summarise

__all__ = ["doctor_protocol", "cf_splits", "by_specialty", "MODEL_ORDER", "LABELS", "QUICK_STAGES",
           "DOCTOR_METRICS"]

MODEL_ORDER = ["popularity", "group_popularity", "rp3beta", "ease", "als", "bpr"]
LABELS = {"popularity": "global popularity", "group_popularity": "within-specialty popularity",
          "rp3beta": "RP3beta", "ease": "EASE", "als": "ALS (implicit)", "bpr": "BPR (implicit)"}
ROLES = {"popularity": "baseline", "group_popularity": "baseline", "rp3beta": "baseline", "ease": "baseline",
         "als": "model", "bpr": "model"}
#: One setting per model: the full search's choices on the shipped data.
QUICK_STAGES = {"popularity": [], "group_popularity": [{"smoothing": [0.05]}],
                "rp3beta": [{"alpha": [1.0], "beta": [0.5]}],
                "bpr": [{"factors": [16], "iterations": [20]}], **QUICK_SEARCH}
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
        return split, holdout_split(split.train, 0.2, seed=seed + 1)
    split = unseen_user_split(inter, by="state", user_fraction=0.1, test_fraction=0.2, seed=seed)
    return split, unseen_user_split(split.train, by="state", user_fraction=0.1, test_fraction=0.2, seed=seed + 1)


def doctor_protocol(inter, mode: str, config: EvaluateConfig,
                    log: Callable[[str], None] = print) -> ProtocolResult:
    """Evaluate every doctor -> drug model on one split of ``inter`` (doctor x drug claims)."""
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
    # The deployed CF component, chosen as rxkg train chooses it; its searches are reused below.
    choice, choice_seconds = clock.timed(lambda: choose_cf(validation, config.seed, config.quick, k))
    components = {"cf": choice.model, "popularity": "group_popularity"}
    log(f"  doctor CF chosen on validation: {choice.model} {choice.params}")
    val_models, test_models = {}, {}
    for name in tqdm(MODEL_ORDER, desc=result.name, unit="model", leave=False):
        fixed = {"seed": config.seed} if name in ("als", "bpr") else {}
        search = choice.searches.get(name) or staged_search(
            name, validation, stages=QUICK_STAGES[name] if config.quick else None, fixed=fixed, k=k)
        model, seconds = clock.timed(lambda: MODELS[name](**search.best_params).fit(split.train))
        test_models[name] = model
        if name in components.values():  # the blend's components, refitted for its validation
            val_models[name] = MODELS[name](**search.best_params).fit(validation.train)
        row = _evaluated(LABELS[name], ROLES[name], score_split(model, split), split, config,
                         seconds=seconds + search.seconds, val={f"ndcg@{k}": search.best_score},
                         params={**search.best_params, "search_trials": len(search.trials)})
        result.models.append(row)
        log(f"  {row.model:<28} " + "  ".join(f"{m} {row.means[m]:.3f}" for m in metrics))

    from recsys.blend import blend_scores

    blend, seconds = clock.timed(lambda: _select(validation, val_models, components, config))
    parts = [score_split(test_models[m], split) for m in components.values()]
    blended = blend_scores(parts, [blend.weights[c] for c in components])
    row = _evaluated(f"hybrid (deployed: {blend.chosen}, cf = {LABELS[choice.model]})", "hybrid", blended, split,
                     config, seconds=seconds + choice_seconds, val={"selection mrr": blend.val_mrr[blend.chosen]},
                     params={"weights": {c: round(w, 4) for c, w in blend.weights.items()},
                             "val_mrr_of_candidates": {c: round(v, 4) for c, v in blend.val_mrr.items()},
                             "cf_choice": choice.as_dict()})
    result.models.append(row)
    log(f"  {row.model:<28} " + "  ".join(f"{m} {row.means[m]:.3f}" for m in metrics))
    result.info = {"split": split.summary(), "validation": validation.summary(), "seed": config.seed,
                   "evaluated_prescribers": int(split.test.shape[0]), "train_prescribers": int(split.train.shape[0]),
                   "held_out_entries": int(split.test.nnz), "drugs_ranked": int(split.test.shape[1]),
                   "held_out_states": list(split.held_out_groups),
                   "validation_states": list(validation.held_out_groups)}
    if mode == "holdout":
        result.info["by_specialty"] = by_specialty(split, {m.model: m for m in result.models}, k)
    return result


def _evaluated(name: str, role: str, scores: np.ndarray, split, config: EvaluateConfig, **extra) -> ModelResult:
    from recsys.cf.evaluate import split_metrics

    return summarise(name, role, split_metrics(scores, split, config.k), config.bootstrap, config.seed, **extra)


def _select(validation, models: dict, components: dict[str, str], config: EvaluateConfig, max_users: int = 2000):
    """Blend weights on (a seeded sample of) the validation users, as ``Recommender.fit_weights`` does."""
    from recsys.cf.evaluate import score_split
    from recsys.blend import select_blend

    n = validation.test.shape[0]
    rows = np.sort(np.random.default_rng(config.seed).choice(n, min(n, max_users), replace=False))
    parts = {c: score_split(models[m], validation)[rows] for c, m in components.items()}
    positives = (validation.test.matrix[rows] > 0).toarray()
    usable = (validation.history.matrix[rows].toarray() == 0) | positives
    return select_blend(parts, positives, usable)


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
