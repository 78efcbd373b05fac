"""Drug cold start for prescribers: drugs nobody prescribes yet, where only the graph can speak.

20% of the prescribed drugs (seeded; stratified by how many prescribers each has; drugs given
together in one combination product, and drugs with exactly the same prescribers, go to the
cold side together) lose every prescription and medication record. Collaborative filtering
has no column for a cold drug and scores nothing here. Two measures:

- **among the cold drugs** (``doctor/cold``): for each prescriber who prescribes at least one
  cold drug and one other, the cold drugs ranked; Recall@5 and NDCG@10. Ranking cold drugs
  among all drugs is not measured: putting every cold drug first in random order already
  scores well there;
- **the reverse question** (``doctor/cold_reverse``): for each cold drug, every prescriber
  ranked; AUROC (ties at the average rank) and Precision@100.

Rows: the graph route ``recommend_doctors_for_drug`` takes for a drug without prescriptions
(the deployed row: the doctors' graph component, :class:`recsys.recommender.people_graph.DoctorGraph`,
fitted on the claims without the cold drugs); its two halves alone: a prescriber's log claims x
the cosine of the drugs' graph profiles (shared indications, classes, look-alikes and targets),
summed over their drugs (:func:`recsys.recommender.drugprofiles.neighbour_scores`), and the people
GNN (:mod:`recsys.people`); the route they replaced (the same sum
with raw claims over the cosine of predicted-indication profiles from the disease scorer, fitted
on the graph without the cold drugs' prescriptions as ``rxkg train`` fits it,
:func:`pipelines.train.fit_metapath`, so no path through a cold drug's prescribers feeds it);
and three content baselines: the claim share of the prescriber's drugs in the cold drug's ATC level-4
class, the share of the cold drug's known indications that the prescriber's drugs treat, and
the share of the prescriber's specialty who prescribe a drug of that class. Ties are broken by
a seeded shuffle, never by drug order. The mixed test (the same prescribers also lose warm
drugs, ranked among all drugs) is :mod:`pipelines.evaluation.coldmixed`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kg.atc import drug_atc_codes
from kg.graph import KnowledgeGraph
from kg.schema import EdgeType
from pipelines.coldsplit import cold_split, without_drugs
from pipelines.evaluation.config import EvaluateConfig
from pipelines.evaluation.results import ProtocolResult, Stopwatch, summarise
from recsys.metrics import set_ranking_metrics

__all__ = ["cold_start_protocols", "claim_share", "atc4_classes", "measure_cold", "seeded_shuffles", "skipped"]

TREATS = EdgeType("drug", "treats", "disease")
#: Prescribers and prescribed drugs a cold-start split needs before it means anything.
MIN_PRESCRIBERS, MIN_DRUGS = 20, 10
DEPLOYED = "graph component: profiles + people GNN (deployed route)"
PROFILES = "graph: drug profiles alone (shared indications, classes, targets)"
PEOPLE_GNN = "graph: people GNN alone"
PREDICTED = "graph: predicted-indication profile"
TITLES = {"doctor/cold": "Doctor -> drug, drug cold start: the cold drugs ranked for each prescriber of one",
          "doctor/cold_reverse": "Doctor -> drug, drug cold start: every prescriber ranked for each cold drug"}


def cold_start_protocols(graph: KnowledgeGraph, config: EvaluateConfig,
                         log: Callable[[str], None] = print) -> list[ProtocolResult]:
    """The drug cold-start protocols on ``graph`` (see the module doc)."""
    from pipelines.train import fit_metapath, people_gnn_config
    from recsys.blend import standardise_rows
    from recsys.cf import doctor_drug_interactions
    from recsys.people import specialties_of
    from recsys.recommender.people_graph import DoctorGraph, DoctorGraphRecipe
    from recsys.recommender.drugprofiles import DrugProfiles
    from recsys.recommender.drugclasses import Combinations
    from recsys.recommender.entities import profile_similarity

    results = [ProtocolResult(name, title, metrics) for (name, title), metrics in
               zip(TITLES.items(), (("recall@5", "ndcg@10"), ("auroc", "precision@100")))]
    claims = doctor_drug_interactions(graph)
    treats = graph.edges.get(TREATS)
    why = (f"{claims.shape[0]} prescribers; a cold-start split needs at least {MIN_PRESCRIBERS}"
           if claims.shape[0] < MIN_PRESCRIBERS else
           f"{claims.shape[1]} prescribed drugs; a cold-start split needs at least {MIN_DRUGS}"
           if claims.shape[1] < MIN_DRUGS else
           "no treats edges: no disease scorer to profile a cold drug with" if treats is None or treats.empty else None)
    if why:
        return skipped(results, why)
    split = cold_split(claims, Combinations.from_graph(graph).partners, config.seed)
    cold, items, warm, truth, history = split.cold, split.items, split.warm, split.truth, split.history
    cold_cols = items.get_indexer(cold)
    log(f"  {len(cold)} cold drugs of {len(items)} prescribed ({int(truth.nnz):,} prescriptions hidden); "
        f"{len(warm)} warm drugs stay")
    clock = Stopwatch()
    train = config.train_config()
    _, selected, task, metapath = fit_metapath(without_drugs(graph, cold), train)
    fitted = clock.lap()
    drugs = pd.Index(task.id_maps["drug"])
    disease_z = standardise_rows(metapath.score_matrix(np.arange(task.num_dst)))
    similarity = profile_similarity(disease_z, drugs.get_indexer(cold))[drugs.get_indexer(items[warm])]
    profiles = DrugProfiles.from_graph(graph, items)  # no prescribing in a profile: the full graph is safe
    warm_claims = split.warm_part(claims)
    component, gnn_seconds = clock.timed(lambda: DoctorGraphRecipe(graph, profiles, people_gnn_config(train))
                                         .fit(warm_claims))  # the people GNN never sees a cold drug's claims
    specialty = specialties_of(claims)
    classes = atc4_classes(graph, items)
    same_class = np.array([[bool(classes[w] & classes[c]) for c in cold_cols] for w in warm], dtype=np.float64)
    scorers: dict[str, Callable[[], np.ndarray]] = {
        DEPLOYED: lambda: component.scores(history, items[warm], cold, specialty),
        PROFILES: lambda: DoctorGraph(profiles).scores(history, items[warm], cold),
        PREDICTED: lambda: np.asarray(history @ similarity),
        **({PEOPLE_GNN: lambda: component.gnn.scores(history, items[warm], specialty, cold)}
           if component.gnn is not None else {}),
        "ATC class share of their claims": lambda: claim_share(history, same_class),
        "indication overlap with their drugs": lambda: _indication_overlap(graph, history, items, warm, cold),
        "class popularity within the specialty": lambda: _class_in_specialty(claims, history, same_class),
    }
    users, shuffles = split.users, seeded_shuffles(split, config.seed)
    among, reverse = results
    for name, score in scorers.items():
        scores, seconds = clock.timed(score)
        role = {DEPLOYED: "hybrid", PROFILES: "model", PEOPLE_GNN: "model", PREDICTED: "model"}.get(name, "baseline")
        extra = {PREDICTED: fitted, DEPLOYED: gnn_seconds, PEOPLE_GNN: gnn_seconds}.get(name, 0.0)
        measure_cold(among, reverse, name, role, scores, truth, users, shuffles, config, seconds=seconds + extra)
        log(f"  {name:<48} recall@5 {among.models[-1].means['recall@5']:.3f}  "
            f"auroc {reverse.models[-1].means['auroc']:.3f}")
    info = {"cold_drugs": len(cold), "prescribed_drugs": len(items), "hidden_prescriptions": int(truth.nnz),
            "seed": config.seed, "metapath": selected.chosen}
    among.info = {**info, "evaluated_prescribers": int(len(users))}
    reverse.info = {**info, "prescribers_ranked": int(truth.shape[0])}
    return results


def skipped(results: list[ProtocolResult], why: str) -> list[ProtocolResult]:
    for result in results:
        result.skipped = why
    return results


def seeded_shuffles(split, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The orders ties break in: of the cold drugs, of the people (:func:`measure_cold`)."""
    rng = np.random.default_rng(seed)
    return rng.permutation(len(split.cold)), rng.permutation(split.truth.shape[0])


def measure_cold(among: ProtocolResult, reverse: ProtocolResult, name: str, role: str, scores: np.ndarray,
                 truth: sp.csr_matrix, users: np.ndarray, shuffles: tuple[np.ndarray, np.ndarray],
                 config: EvaluateConfig, top: int = 100, **extra) -> None:
    """One row of both cold-start questions from ``scores`` (people x cold drugs): (a) each of
    ``users``' cold drugs among all cold drugs, Recall@5 and NDCG@10; (b) every person for each
    cold drug, AUROC and Precision@``top``. Ties break in the seeded ``shuffles`` (of the cold
    drugs, of the people), never by id order."""
    shuffle_cols, shuffle_rows = shuffles
    block, relevant = scores[users][:, shuffle_cols], truth[users][:, shuffle_cols]
    per_user = {"recall@5": set_ranking_metrics(block, relevant, k=5)["recall"],
                "ndcg@10": set_ranking_metrics(block, relevant, k=10)["ndcg"]}
    among.models.append(summarise(name, role, per_user, config.bootstrap, config.seed, **extra))
    dense = truth.toarray() > 0
    per_drug = {"auroc": np.array([_auroc(scores[:, c], dense[:, c]) for c in range(truth.shape[1])]),
                f"precision@{top}": np.array([dense[shuffle_rows[np.argsort(-scores[shuffle_rows, c],
                                                                          kind="stable")[:top]], c].mean()
                                              for c in range(truth.shape[1])])}
    reverse.models.append(summarise(name, role, per_drug, config.bootstrap, config.seed, **extra))


def claim_share(history: sp.csr_matrix, same_class: np.ndarray) -> np.ndarray:
    """Prescribers x cold drugs: the share of each prescriber's claims in the cold drug's class."""
    totals = np.asarray(history.sum(axis=1)).ravel()
    return np.asarray(history @ same_class) / np.maximum(totals, 1e-12)[:, None]


def atc4_classes(graph: KnowledgeGraph, items: pd.Index) -> list[set[str]]:
    codes = drug_atc_codes(graph)
    return [{c[:5] for c in codes.get(d, ())} for d in items]


def _indication_overlap(graph: KnowledgeGraph, history: sp.csr_matrix, items: pd.Index, warm: np.ndarray,
                        cold: list[str]) -> np.ndarray:
    """Prescribers x cold drugs: the share of each cold drug's known indications that a drug the
    prescriber prescribes also treats (0 for a cold drug without known indications)."""
    treats = graph.edges.get(TREATS, pd.DataFrame(columns=["src", "dst"]))
    diseases = pd.Index(pd.unique(treats["dst"].astype(str)))
    rows = items.get_indexer(treats["src"].astype(str))
    cols = diseases.get_indexer(treats["dst"].astype(str))
    keep = rows >= 0
    indications = sp.csr_matrix((np.ones(int(keep.sum())), (rows[keep], cols[keep])), shape=(len(items), len(diseases)))
    indications.data[:] = 1.0
    treated = ((history > 0).astype(np.float64) @ indications[warm]) > 0
    cold_ind = indications[items.get_indexer(cold)]
    counts = np.asarray(cold_ind.sum(axis=1)).ravel()
    return np.asarray((treated.astype(np.float64) @ cold_ind.T).todense()) / np.maximum(counts, 1.0)[None, :]


def _class_in_specialty(claims, history: sp.csr_matrix, same_class: np.ndarray) -> np.ndarray:
    """Prescribers x cold drugs: the share of the prescriber's specialty (all prescribers when it
    has none) who prescribe a drug of the cold drug's ATC level-4 class."""
    uses_class = (np.asarray((history > 0).astype(np.float64) @ same_class) > 0).astype(np.float64)
    specialty = pd.Series(claims.attribute("specialty")).fillna("").astype(str).to_numpy()
    out = np.broadcast_to(uses_class.mean(axis=0), uses_class.shape).copy()
    for value in np.unique(specialty[specialty != ""]):
        mine = specialty == value
        out[mine] = uses_class[mine].mean(axis=0)
    return out


def _auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve, ties at the average rank (NaN without both classes)."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if not n_pos or not n_neg:
        return float("nan")
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
