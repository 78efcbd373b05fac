"""Patient -> drug: MIMIC-III demo and Synthea histories split by time.

One :class:`~pipelines.temporal.TimeSplit` is shared by every model: the training graph
holds everything recorded before each evaluated patient's cutoff (and other patients
whole). The deployed recommender is trained on that graph exactly as ``rxkg train``
trains it (its own validation inside), and its components are scored beside the
baselines. Two variants:

- *all drugs*: every drug the patient takes after the cutoff (started after it, or
  still open there), ranked over all drugs: repeating the history is allowed and
  repeat-last is the baseline to beat;
- *new drugs only*: drugs started after the cutoff that the history lacks, ranked
  over the drugs the patient never took;
- *sparse patients* (:mod:`.patient_sparse`): the same test patients as new ones, known from their
  conditions and their first drug.

Drugs are ranked by each model's score; ties (and drugs a model cannot score) are
ordered by popularity among training patients, the same for every model. The hybrid is
the recommender ``rxkg train`` deploys from the history graph, scored as it is: its
``patient`` weights for all drugs and ``patient_new`` for new drugs, chosen by the training's
own time split of that graph (the evaluation's validation patients only report). The
interaction rate of the hybrid's top-k lists is measured with and without the safety
filter, beside the rate among the drugs clinicians actually started; each safety policy's
share of truly started drugs removed is shown beside the recall it leaves
(:mod:`pipelines.evaluation.safety_cost`).
"""

from __future__ import annotations

from dataclasses import replace

from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kg.graph import KnowledgeGraph
from kg.schema import EdgeType
from pipelines.evaluation.config import EvaluateConfig
from pipelines.evaluation.results import ProtocolResult, Stopwatch, by_history, summarise
from pipelines.evaluation.conditions_only import conditions_only_sanity
from pipelines.evaluation.patient_ranking import Truth, per_patient
from pipelines.evaluation.patient_sparse import skipped_sparse, sparse_patient_protocol
from pipelines.evaluation.safety_cost import policy_costs
from recsys.recommender.continuation import ADDED, merges
from recsys.recommender.patient_records import PatientRecords
from recsys.recommender.patient_side import PATIENT_METAPATH

__all__ = ["patient_protocols", "PATIENT_METRICS"]

PATIENT_METRICS = ("recall@{k}", "ndcg@{k}", "jaccard", "mrr")
TAKES = EdgeType("patient", "takes", "drug")
HAS_CONDITION = EdgeType("patient", "has_condition", "disease")
MODELS = (("popularity", "baseline"), ("most popular given diagnosis", "baseline"), ("repeat last", "baseline"),
          ("running, then last", "baseline"), ("most frequent, then last", "baseline"),
          ("what followed their drugs", "baseline"), ("CF", "model"),
          ("graph: metapath", "model"), ("graph: metapath for patients", "model"), ("graph: GNN", "model"),
          ("graph: deployed component", "model"),
          ("graph: people GNN", "model"))
#: Baselines that rank only the patient's own drugs (left out of the new-drugs variant).
OWN_HISTORY = ("repeat last", "running, then last", "most frequent, then last")
#: The deployed patient CF model's name in the tables (chosen on validation by rxkg train).
CF_LABELS = {"als": "ALS", "ease": "EASE"}
VARIANTS = {"all": "Patient -> drug, split by time: every drug taken after the cutoff",
            "new": "Patient -> drug, split by time: only drugs new to the patient"}


def patient_protocols(graph: KnowledgeGraph, config: EvaluateConfig,
                      log: Callable[[str], None] = print) -> list[ProtocolResult]:
    """Both variants of the time-split patient protocol (see the module doc)."""
    from kg.errors import KGError
    from pipelines.train import run_train, without_pairs
    from pipelines.temporal import time_split

    k = config.k
    metrics = tuple(m.format(k=k) for m in PATIENT_METRICS)
    results = {v: ProtocolResult(f"patient/{v}", VARIANTS[v], metrics) for v in VARIANTS}
    try:
        split = time_split(graph, config.patient_history_share, config.patient_val_share, seed=config.seed)
    except KGError as err:
        for r in results.values():
            r.skipped = str(err)
        return [*results.values(), skipped_sparse(config, str(err))]
    if not split.patients("test") or not split.patients("val"):
        for r in results.values():
            r.skipped = f"too few patients to split: {split.summary()}"
        return [*results.values(), skipped_sparse(config, f"too few patients to split: {split.summary()}")]
    log(f"  {split.summary()}")
    clock = Stopwatch()
    # rxkg train's settings without the doctors' components, which no patient score reads (their CF
    # search, people GNN and blends were most of each training here). The patient weights are the same.
    settings = replace(config.train_config(), people_gnn=None, doctors=False)
    (recommender, trained), train_s = clock.timed(lambda: run_train(split.graph, settings))
    log(f"  deployed recommender trained on the history: {trained.summary()}")
    drugs = pd.Index(recommender.drug_ids)
    scorer = _PatientModels(recommender, split.graph)
    for variant, result in results.items():
        new_only = variant == "new"
        val, test = (_truth(split, part, new_only, drugs) for part in ("val", "test"))
        if not test.patients or not val.patients:
            result.skipped = "no patient has such drugs after the cutoff"
            continue
        val_scores, val_parts = scorer.scores(val.patients)
        test_scores, test_parts = scorer.scores(test.patients)
        # Lower column wins a tie in the metrics; columns by popularity make every tie a popularity tie.
        order = np.argsort(-val_parts["popularity"][0], kind="stable")
        for name, role in MODELS:
            if name not in test_scores or (name in OWN_HISTORY and new_only):
                continue  # no GNN in the recommender; with the history excluded repeat-last is popularity
            cf_name = getattr(recommender.patient_cf, "name", "none")
            label = f"CF ({CF_LABELS.get(cf_name, cf_name)})" if name == "CF" else name
            result.models.append(_evaluated(label, role, test_scores[name], test, order, config,
                                            val=_val_metrics(val_scores[name], val, order, config)))
        # The hybrid is the recommender rxkg train deploys, its weights chosen inside run_train.
        kind = "patient_new" if new_only else "patient"
        blended = recommender.blend(kind, test.patients)[0]
        choice = recommender.selection.get(kind, {})
        metric = choice.get("metric", "mrr")  # what the blend was chosen on
        candidates = choice.get(f"val_{metric}", {})
        merged = kind == "patient" and merges(recommender.weights)  # new drugs ranked by the new-drugs blend
        deployed = choice.get("chosen", "default weights") + (" + new-drugs blend" if merged else "")
        hybrid = _evaluated(f"hybrid (deployed: {deployed})", "hybrid", blended, test,
                            order, config, seconds=train_s,
                            val={**_val_metrics(recommender.blend(kind, val.patients)[0], val, order, config),
                                 f"selection {metric}": candidates.get(choice.get("chosen"), float("nan"))},
                            params={"weights": {c: round(w, 4) for c, w in recommender.weights[kind].items()},
                                    **({"new_drugs": {c: round(w, 4) for c, w in recommender.weights[ADDED].items()},
                                        "new_drugs_choice": choice.get("new_drugs")} if merged else {}),
                                    f"val_{metric}_of_candidates": {c: round(v, 4) for c, v in candidates.items()},
                                    **({"note": choice["note"]} if choice.get("note") else {})})
        result.models.append(hybrid)
        same = _ablation_rows(result, recommender, trained.ablations.get(kind, {}), kind, test_parts, test, order,
                              config, trained.ablations.get(ADDED, {}))
        for row in result.models:
            log(f"  [{variant}] {row.model:<34} " + "  ".join(f"{m} {row.means[m]:.3f}" for m in metrics))
        result.info = {"split": split.summary(), "seed": config.seed, "test_patients": len(test.patients),
                       "val_patients": len(val.patients), "test_pairs": int(test.matrix.nnz),
                       "drugs_ranked": len(drugs), "by_source": _by_source(result, test.patients, k),
                       "by_history": by_history(result.models, test.history.sum(axis=1), (1, 5, 20), f"recall@{k}"),
                       "trained": {"seconds": {s: round(v, 1) for s, v in trained.seconds.items()},
                                   "selection": trained.selection},
                       "ablations_equal_to_the_hybrid": same}
        if new_only:
            result.info["conditions_only"] = conditions_only_sanity(recommender, k)
            result.info["interaction_rate"] = _interaction_rates(recommender, split.graph, blended, test, config.k)
            result.info["safety_cost"] = {"k": k, **policy_costs(
                recommender.safety, split.graph, test.patients, recommender.drug_ids, blended, test.matrix,
                lambda s: per_patient(s, test, order, k)[f"recall@{k}"].mean())}
    log("[patient/sparse]")  # the same test patients as new ones known from one drug
    order = np.argsort(-np.log1p(recommender.patient_share), kind="stable")  # the variants' popularity order
    # Trained again without any record of the pairs to find: a drug still running at the cutoff (or
    # restarted after it) is a target here, and its record before the cutoff must not be evidence.
    hidden = without_pairs(split.graph, TAKES, list(split.targets("test").itertuples(index=False, name=None)))
    # Its blends' ablations are the time split's rows above: not fitted again here.
    unseen, _ = run_train(hidden, replace(settings, ablations=False))  # the stopwatch's lap below counts it
    sparse = sparse_patient_protocol(unseen, split, config, order, log)
    total = clock.lap()  # the stopwatch started before training: this is training and scoring
    for r in (*results.values(), sparse):
        r.seconds = total  # one split serves every variant (and two trained recommenders)
    return [*results.values(), sparse]


def _truth(split, part: str, new_only: bool, drugs: pd.Index) -> Truth:
    targets = split.targets(part, new_only)
    columns = drugs.get_indexer(targets["drug"])
    targets = targets[columns >= 0]
    patients = sorted(targets["patient"].unique())
    row = pd.Index(patients).get_indexer(targets["patient"])
    matrix = sp.csr_matrix((np.ones(len(targets)), (row, drugs.get_indexer(targets["drug"]))),
                           shape=(len(patients), len(drugs)))
    takes = split.graph.edges.get(TAKES)
    history = np.zeros((len(patients), len(drugs)), dtype=bool)
    mine = takes[takes["src"].astype(str).isin(patients)]
    history[pd.Index(patients).get_indexer(mine["src"].astype(str)), drugs.get_indexer(mine["dst"].astype(str))] = True
    return Truth(patients, matrix, history, new_only)


class _PatientModels:
    """Every patient model's scores (patients x drugs, NaN: cannot score), the recommender's
    components computed once per call."""

    def __init__(self, recommender, graph: KnowledgeGraph) -> None:
        self.recommender = recommender

    def scores(self, ids: list[str]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """(scores by model name, the deployed recommender's components)."""
        rec = self.recommender
        parts = rec.component_scores("patient", ids)
        out = {"popularity": parts["popularity"], "most popular given diagnosis": parts["diagnosis"],
               "repeat last": _repeat_last(parts["history"]),
               "running, then last": _repeat_last(parts["running"]),
               "most frequent, then last": _repeat_last(_then(parts["frequency"], parts["history"])), "CF": parts["cf"],
               "what followed their drugs": parts["sequence"],
               "graph: metapath": rec.condition_scores(ids, ["metapath"]),
               "graph: deployed component": parts["graph"]}  # what the selection chose for their graph component
        if PATIENT_METAPATH in rec.disease_scores:  # the patients' own, chosen on validation beside an averaged one
            out["graph: metapath for patients"] = rec.condition_scores(ids, [PATIENT_METAPATH])
        if "gnn" in rec.disease_scores:
            out["graph: GNN"] = rec.condition_scores(ids, ["gnn"])
        if rec.patient_gnn is not None:  # the people GNN trained on the patients' records
            out["graph: people GNN"] = parts["people_gnn"]
        return out, parts


def _ablation_rows(result: ProtocolResult, recommender, ablations: dict[str, dict[str, float]], kind: str,
                   parts: dict[str, np.ndarray], truth: Truth, order: np.ndarray,
                   config: EvaluateConfig, added_ablations: dict[str, dict[str, float]]) -> list[str]:
    """One row per ablation of the deployed blend (its components left out, weights chosen again
    on the same validation pairs inside ``run_train``), scored on the same test patients from the
    deployed components' ``parts``; the ablations whose left-out components carry no weight
    equal the hybrid and are only named."""
    from pipelines.patients import ABLATIONS
    from recsys.blend import blend_components
    from recsys.recommender.continuation import merge_new_drugs

    merged = kind == "patient" and merges(recommender.weights)
    if merged:  # the deployed list ranks the drugs new to a patient by the new-drugs blend: without that
        one = blend_components(parts, recommender.weights[kind], False)[0]
        result.models.append(_evaluated("hybrid with one blend for every drug", "ablation", one, truth, order, config,
                                        params={"weights": {c: round(w, 4) for c, w in
                                                            recommender.weights[kind].items()}}))
    deployed = [recommender.weights[kind]] + ([recommender.weights[ADDED]] if merged else [])
    same = []
    for label, weights in ablations.items():
        if not any(w.get(c, 0.0) for w in deployed for c in ABLATIONS[label]):
            same.append(label)
            continue
        scores = blend_components(parts, weights, False)[0]
        added = added_ablations.get(label) if merged else None
        if added is not None:  # merged as the deployed list is
            scores = merge_new_drugs(parts, scores, added)[0]
        result.models.append(_evaluated(f"hybrid {label}", "ablation", scores, truth, order, config,
                                        params={"weights": {c: round(w, 4) for c, w in weights.items()},
                                                **({"new_drugs": {c: round(w, 4) for c, w in added.items()}}
                                                   if added is not None else {})}))
    return same


def _then(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``first``, ties broken by ``second`` (both >= 0; 0 where the patient never took the drug)."""
    return np.where(first > 0, first + 1e-3 * second / (second.max(axis=1, keepdims=True) + 1.0), 0.0)


def _repeat_last(history: np.ndarray) -> np.ndarray:
    """The recommender's history component alone: drugs taken, the most recent first; nothing else scored."""
    return np.where(history > 0, history, np.nan)


def _evaluated(name: str, role: str, scores: np.ndarray, truth: Truth, order: np.ndarray,
               config: EvaluateConfig, **extra):
    return summarise(name, role, per_patient(scores, truth, order, config.k), config.bootstrap, config.seed,
                     **extra)


def _val_metrics(scores: np.ndarray, truth: Truth, order: np.ndarray, config: EvaluateConfig) -> dict:
    """Validation MRR: what the hybrid's selection compares (fixed models report it for reference)."""
    return {"mrr": float(per_patient(scores, truth, order, config.k)["mrr"].mean())}


def _by_source(result: ProtocolResult, patients: list[str], k: int) -> dict[str, dict]:
    source = np.array([p.split(":")[1] for p in patients])
    out = {}
    for name in np.unique(source):
        mask = source == name
        out[str(name)] = {"patients": int(mask.sum()),
                          **{m.model: round(float(m.per_entity[f"recall@{k}"][mask].mean()), 4)
                             for m in result.models}}
    return out


def _interaction_rates(recommender, graph: KnowledgeGraph, blended: np.ndarray, truth: Truth, k: int) -> dict:
    """Share of recommended drugs (and of lists) interacting with a current drug, with and without safety."""
    safety = recommender.safety  # built from the history graph the recommender was trained on
    drugs = recommender.drug_ids
    records = PatientRecords(graph)  # indexed once for every patient
    drug_rate, list_rate, safe_drug_rate, safe_list_rate, actual = [], [], [], [], []
    for row, patient in enumerate(truth.patients):
        context = records.context(patient)
        clashing = np.fromiter((bool(safety.interactions.get(d, frozenset()) & context.current_drugs)
                                for d in drugs), dtype=bool, count=len(drugs))
        scores = np.where(truth.history[row], -np.inf, blended[row])
        top = np.argsort(-scores, kind="stable")[:k]
        drug_rate.append(clashing[top].mean())
        list_rate.append(float(clashing[top].any()))
        safe = np.where(safety.unsafe_mask(drugs, context), -np.inf, scores)
        safe_top = np.argsort(-safe, kind="stable")[:k]
        safe_top = safe_top[np.isfinite(safe[safe_top])]
        safe_drug_rate.append(clashing[safe_top].mean() if len(safe_top) else 0.0)
        safe_list_rate.append(float(clashing[safe_top].any()))
        actual.append(clashing[truth.matrix[row].indices].mean())
    return {"k": k, "patients": len(truth.patients),
            "without_safety": {"drugs": round(float(np.mean(drug_rate)), 4), "lists": round(float(np.mean(list_rate)), 4)},
            "with_safety": {"drugs": round(float(np.mean(safe_drug_rate)), 4),
                            "lists": round(float(np.mean(safe_list_rate)), 4)},
            "drugs_actually_started": round(float(np.mean(actual)), 4)}
