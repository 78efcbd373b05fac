"""``rxkg train``: fit every component for deployment and write the recommender bundle.

A flat chain of stages:
1. disease -> drug: the metapath model, then the GNN stacked on it (its score adds the
   metapath logit; see :mod:`recsys.link.gnn.train`), on a random split of ``treats``
   (penalty and number of epochs chosen on its validation pairs), then both refitted on
   every known indication with those choices;
2. doctors: CF model and blend chosen on 80% of each prescriber's drugs, then refitted on
   all (:mod:`pipelines.doctors`); patients: CF chosen the same way, and the people GNN
   trained on their records (once on the validation split's training side, once on all);
3. blend weights per entity kind, fitted on the validation pairs of each split by a
   recommender assembled from the training side only (its graph lacks the held-out
   edges, so no component and no popularity count has seen them); patients are validated
   on a time split (:mod:`pipelines.temporal`, what ``rxkg evaluate`` measures): the drugs
   taken after each patient's cutoff (``patient`` weights) and the new ones among them
   (``patient_new``), from everything recorded before it (:mod:`pipelines.patients`);
4. the deployed recommender (full graph, refitted components, those weights), saved.
The test parts of the splits are never read: evaluation is ``rxkg evaluate``'s job.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from kg.errors import KGError
from kg.graph import KnowledgeGraph
from kg.outputs import check_output_folder
from kg.schema import SCHEMA, EdgeType
from pipelines.patients import fit_patient_blends, interaction_pairs, patient_time_split
from pipelines.seeds import seed_problem

__all__ = ["TrainConfig", "TrainResult", "run_train", "fit_metapath", "check_trainable", "DEPLOYED_GNN",
           "TRAINING_RELATIONS", "people_gnn_config", "train_patient_gnn", "without_pairs"]

TAKES = EdgeType("patient", "takes", "drug")
#: The GNN rxkg deploys, chosen on validation of both disease splits (the evaluation uses it too).
DEPLOYED_GNN = {"encoder": "rgcn", "prior": "metapath"}
PRESCRIBES = EdgeType("doctor", "prescribes", "drug")


def _has(graph: KnowledgeGraph, relation: EdgeType) -> bool:
    edges = graph.edges.get(relation)
    return edges is not None and len(edges) > 0


#: What each relation gives a trained model: the first is required, the others enable an entity kind.
TRAINING_RELATIONS: tuple[tuple[EdgeType, str], ...] = (
    (EdgeType("drug", "treats", "disease"), "the disease -> drug scorers learn from it (required)"),
    (PRESCRIBES, "recommendations for doctors (collaborative filtering on claims)"),
    (TAKES, "recommendations for patients (with has_condition, allergic_to and interacts_with for safety)"),
)


def check_trainable(graph: KnowledgeGraph, log: Callable[[str], None] = lambda message: None) -> None:
    """Refuse a graph the disease scorers cannot learn from, naming what is missing and how to add
    it; log which entity kinds the missing optional relations leave without recommendations."""
    (required, why), *optional = TRAINING_RELATIONS
    count = len(graph.edges[required]) if _has(graph, required) else 0
    name = f"({required.src}, {required.rel}, {required.dst})"
    if count == 0:
        raise KGError(f"the graph has no {name} edges; training needs them: {why}. Add an indications "
                      f"source (the shipped 'indications' kind, or a CSV edge file with relation = \"treats\")")
    if count < 50:  # the validation split then holds a handful of pairs: choices are close to guesses
        log(f"  only {count} {name} edges: the disease model's choices on validation rest on very few pairs")
    for relation, enables in optional:
        if not _has(graph, relation):
            log(f"  no ({relation.src}, {relation.rel}, {relation.dst}) edges: no {enables}")


def people_gnn_config(config: TrainConfig, key: str = "people_gnn"):
    """The settings ``config`` asks for of the doctors' people GNN (``key`` "people_gnn"; None: the
    graph component is the profiles alone) or the patients' (``"patient_gnn"``; None: none)."""
    from recsys.people import PeopleGNNConfig

    settings = getattr(config, key)
    if settings is None:
        return None
    try:
        return PeopleGNNConfig(**{"seed": config.seed, **settings})
    except TypeError as err:  # an unknown key
        raise ValueError(f"{key}: {err}") from None


@dataclass(frozen=True)
class TrainConfig:
    """Settings of ``rxkg train`` (the CF settings are the ones validation chose in bench_cf)."""

    seed: int = 0
    val_fraction: float = 0.15
    #: How widely the doctor and patient CF models (EASE or ALS, :func:`pipelines.cfchoice.choose_cf`)
    #: are searched on the training side's validation splits: "quick" (the quick evaluation's
    #: settings) or "full" (the full evaluation's grids).
    cf_search: str = "quick"
    doctor_smoothing: float = 0.05
    #: GNN settings (``GNNConfig`` fields); ``None`` leaves the GNN out of the deployed blend.
    #: With ``prior = "metapath"`` the GNN is stacked on the metapath model fitted here.
    gnn: dict | None = field(default_factory=lambda: dict(DEPLOYED_GNN))
    #: L2 penalties the metapath model chooses from on validation.
    metapath_penalties: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1)
    #: Metapath feature families tried, in order of preference (see :class:`MetapathModel`).
    metapath_families: tuple[str, ...] = ("with people", "without people")  # recsys.link.metapath.FAMILIES
    #: How the metapath model's candidates become the disease scorer (``MetapathModel(combine=...)``):
    #: "average" (their mean: better disease rankings on five seeds of every split, docs/evaluation.md),
    #: "validation" or "folds" (one chosen). Unless "validation", the patients' graph component gets a
    #: model chosen on validation beside it (:data:`~recsys.recommender.patient_side.PATIENT_METAPATH`): the
    #: averaged model keeps it among its own fits (``MetapathModel.preferred``), "folds" fits it apart.
    metapath_combine: str = "average"
    #: How its cross-fitting folds group the training indications (``MetapathModel(fold_by=...)``):
    #: "auto" groups them as the validation pairs are held out (by pair on a random split, as here).
    metapath_fold_by: str = "auto"
    #: People GNN settings (``PeopleGNNConfig`` fields, the seed added) for the doctors' graph
    #: component (:mod:`recsys.recommender.people_graph`); ``None`` leaves it to the drug profiles.
    people_gnn: dict | None = field(default_factory=dict)
    #: People GNN settings for the patients' ``people_gnn`` component, trained on their records
    #: (:mod:`recsys.recommender.patient_side`); ``None`` leaves it out.
    patient_gnn: dict | None = field(default_factory=dict)
    #: Also fit the patient blends' ablations (:data:`pipelines.patients.ABLATIONS`; the evaluation's
    #: rows, not deployed).
    ablations: bool = False
    #: Train the doctors' components (their CF, graph component and blends) where the graph has
    #: prescriptions. False leaves them out: the patient protocols train without them, since no
    #: patient score reads them (about half of each training there).
    doctors: bool = True

    def __post_init__(self) -> None:
        if seed_problem(self.seed):
            raise ValueError(seed_problem(self.seed))
        if self.cf_search not in ("quick", "full"):
            raise ValueError(f"cf_search must be 'quick' or 'full', got {self.cf_search!r}")
        from recsys.link.crossval import FOLD_GROUPINGS
        from recsys.link.metapath import COMBINE

        for name, allowed in (("metapath_combine", COMBINE), ("metapath_fold_by", FOLD_GROUPINGS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {list(allowed)}, got {getattr(self, name)!r}")
        for key in ("people_gnn", "patient_gnn"):
            people_gnn_config(self, key)  # unknown or invalid settings fail here, naming the setting


@dataclass
class TrainResult:
    out: Path | None
    weights: dict[str, dict[str, float]]
    seconds: dict[str, float]
    #: The metapath model's choice (examples, family, penalty) and its validation MRR.
    metapath: dict[str, object]
    gnn_epochs: int | None = None
    selection: dict[str, dict] = field(default_factory=dict)
    #: Per patient blend (``patient``, ``patient_new``): the weights chosen on the same validation
    #: pairs with components left out (:data:`pipelines.patients.ABLATIONS`), for the evaluation's
    #: ablation rows.
    ablations: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    def summary(self) -> str:
        total = sum(self.seconds.values())
        parts = ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items())
        return f"trained in {total:.1f}s ({parts})" + (f" -> {self.out}" if self.out else "")


def run_train(graph: KnowledgeGraph, config: TrainConfig = TrainConfig(), out: str | Path | None = None,
              log: Callable[[str], None] = lambda message: None, force: bool = False):
    """Train the deployed recommender on ``graph``; save it to ``out`` when given (checked
    before training: new, empty or an earlier rxkg output; ``force`` writes beside a user's files).

    Returns ``(recommender, result)``.
    """
    from pipelines.cfchoice import PATIENT_QUICK_SEARCH, choose_cf, unvalidated_choice
    from pipelines.doctors import fit_doctors
    from recsys.recommender.api import Recommender

    check_trainable(graph, log)
    if out is not None:
        check_output_folder(Path(out), force)
    from recsys.cf import MODELS, doctor_drug_interactions, holdout_split, patient_drug_interactions
    from recsys.link.gnn import GNNConfig, GNNScorer
    from recsys.link.terms import MetapathTerms
    from recsys.people.train import KnowledgeInputs
    from recsys.recommender.doctor_side import SPECIALTY_ONLY, SPECIALTY_ONLY_WEIGHTS
    from recsys.recommender.patient_side import CONDITIONS_ONLY, CONDITIONS_ONLY_WEIGHTS, PATIENT_METAPATH
    from recsys.recommender.people_graph import DoctorGraphRecipe
    from recsys.recommender.drugprofiles import DrugProfiles

    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def stage(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = now - clock
        clock = now
        log(f"  {name}: {seconds[name]:.1f}s")

    # 1. disease -> drug, selected on a split, then refitted on everything
    task, selected, deployed_task, deployed_metapath = fit_metapath(graph, config)
    diseases, all_diseases = np.arange(task.num_dst), np.arange(deployed_task.num_dst)
    val_disease_scores = {"metapath": selected.score_matrix(diseases)}
    disease_scores = {"metapath": deployed_metapath.score_matrix(all_diseases)}
    patient_terms, patient_metapath = None, {}
    # The patients' own, chosen on validation, unless the disease scorer already is (or had one candidate):
    # an averaged model keeps it among its fits; other rules fit it apart.
    if config.metapath_combine != "validation" and len(selected.candidates) > 1 and _has(graph, TAKES):
        if selected.preferred is not None and deployed_metapath.preferred is not None:
            for_patients, deployed_for_patients = selected.preferred, deployed_metapath.preferred
        else:
            _, for_patients, _, deployed_for_patients = fit_metapath(graph, config, combine="validation")
        val_disease_scores[PATIENT_METAPATH] = for_patients.score_matrix(diseases)
        disease_scores[PATIENT_METAPATH] = deployed_for_patients.score_matrix(all_diseases)
        patient_terms = MetapathTerms.of(deployed_for_patients)
        patient_metapath = {PATIENT_METAPATH: {"chosen": for_patients.chosen}}
    stage("metapath model")
    gnn_epochs = None
    if config.gnn is not None:
        settings = {"seed": config.seed, **config.gnn}
        stacked = settings.get("prior") is not None
        gnn = GNNScorer(GNNConfig(**settings), progress=True, prior=selected if stacked else None).fit(task)
        gnn_epochs = max(gnn.log.best_epoch, 1)
        val_disease_scores["gnn"] = gnn.score_matrix(diseases)
        deployed = GNNScorer(GNNConfig(**{**settings, "epochs": gnn_epochs}), progress=True,
                             prior=deployed_metapath if stacked else None).fit(deployed_task)
        disease_scores["gnn"] = deployed.score_matrix(all_diseases)
        stage("GNN")

    # 2. CF on the training side of per-user holdouts, and on everything (where the graph has people)
    cf_val: dict[str, object] = {"patient_cf": None}  # the validation recommender weighs patients only
    cf_all: dict[str, object] = {"doctor_cf": None, "doctor_popularity": None, "patient_cf": None}
    patient_split = patient_time = doctor_side = recipe = None
    choices: dict[str, dict] = {}
    if config.doctors and _has(graph, PRESCRIBES):  # CF model and blend chosen together (as the evaluation's hybrid is)
        claims = doctor_drug_interactions(graph)
        recipe = DoctorGraphRecipe(graph, DrugProfiles.from_graph(graph, [str(i) for i in claims.item_ids]),
                                   people_gnn_config(config), progress=True)  # the people GNN never reads test pairs
        doctor_side = fit_doctors(claims, config.seed, config.cf_search == "quick",
                                  config.doctor_smoothing, recipe=recipe)
        choices["doctor_cf"] = doctor_side.choice.as_dict()
        log(f"  doctor CF chosen on validation: {doctor_side.choice.model} {doctor_side.choice.params}")
        cf_all["doctor_cf"], cf_all["doctor_popularity"] = doctor_side.cf, doctor_side.popularity
        cf_all["people_gnn"] = doctor_side.graph.gnn if doctor_side.graph is not None else None
    if _has(graph, TAKES):
        patients = patient_drug_interactions(graph)
        patient_split = holdout_split(patients, 0.2, seed=config.seed)
        if patient_split.test.nnz:
            choice = choose_cf(patient_split, config.seed, quick=config.cf_search == "quick",
                               quick_search=PATIENT_QUICK_SEARCH)
        else:
            choice = unvalidated_choice("als", PATIENT_QUICK_SEARCH, config.seed)
        choices["patient_cf"] = choice.as_dict()
        log(f"  patient CF chosen on validation: {choice.model} {choice.params}")
        patient_time = patient_time_split(task.train_graph, config.seed, log)
        cf_val["patient_cf"] = MODELS[choice.model](**choice.params).fit(
            patient_split.train if patient_time is None else patient_drug_interactions(patient_time.graph))
        cf_all["patient_cf"] = MODELS[choice.model](**choice.params).fit(patients)
    stage("collaborative filtering")
    patient_gnn = people_gnn_config(config, "patient_gnn")
    if patient_split is not None and patient_gnn is not None:  # validation's never reads its pairs
        # No people relations: the same inputs for every people GNN fit, so the doctors' (with the
        # adjacency transposes their first fit built) serve the patients' too.
        inputs = recipe.inputs if recipe is not None else KnowledgeInputs.from_graph(graph)
        records = patient_split.train if patient_time is None else patient_drug_interactions(patient_time.graph)
        cf_val["patient_gnn"] = train_patient_gnn(graph, records, patient_gnn, inputs)
        cf_all["patient_gnn"] = train_patient_gnn(graph, patients, patient_gnn, inputs)
        stage("people GNN (patients)")

    # 3. blend weights from validation pairs, on a graph without them
    train_graph = task.train_graph
    if patient_split is not None:
        train_graph = (patient_time.graph if patient_time is not None
                       else without_pairs(train_graph, TAKES, interaction_pairs(patient_split.test)))
    validation = Recommender(train_graph, val_disease_scores, task.id_maps["disease"],
                             task.id_maps["drug"], **cf_val)
    drug_ids, disease_ids = task.id_maps["drug"], task.id_maps["disease"]
    if len(task.val_pairs):
        validation.fit_weights("disease", [(disease_ids[d], drug_ids[s]) for s, d in task.val_pairs],
                               known=[(disease_ids[d], drug_ids[s]) for s, d in task.train_pairs], seed=config.seed)
    else:
        log("  disease: too few indications for validation pairs; the blend keeps default weights")
    if doctor_side is not None and doctor_side.selection:
        validation.weights["doctor"], validation.selection["doctor"] = doctor_side.weights, doctor_side.selection
        validation.weights["doctor_sparse"] = doctor_side.sparse_weights  # at most three known drugs
        validation.selection["doctor_sparse"] = doctor_side.sparse_selection
        validation.weights["doctor_all"], validation.selection["doctor_all"] = _doctors_all(
            graph, claims, recipe, doctor_side, config)
    elif config.doctors:
        log("  doctor: no doctors with enough drugs in the graph; their blend keeps default weights")
    ablations = fit_patient_blends(validation, patient_time, patient_split, config.seed, config.ablations, log)
    if doctor_side is not None:  # no drug to read: what the specialty prescribes (doctor_side)
        validation.weights[SPECIALTY_ONLY] = dict(SPECIALTY_ONLY_WEIGHTS)
        validation.selection[SPECIALTY_ONLY] = {"chosen": "popularity",
                                                "note": "fixed: what prescribers of their specialty prescribe"}
    if patient_split is not None:  # no drug to read: the conditions' disease scores (patient_side)
        validation.weights[CONDITIONS_ONLY] = {c: CONDITIONS_ONLY_WEIGHTS.get(c, 0.0)
                                               for c in validation.components[CONDITIONS_ONLY]}
        validation.selection[CONDITIONS_ONLY] = {"chosen": "graph", "note": "fixed: what treats their conditions"}
    stage("blend weights")

    # 4. the deployed recommender
    selection = {**validation.selection, **choices,
                 "disease_metapath": {"chosen": selected.chosen, "candidates": selected.candidates}, **patient_metapath}
    recommender = Recommender(graph, disease_scores, deployed_task.id_maps["disease"],
                              deployed_task.id_maps["drug"], weights=validation.weights, selection=selection,
                              graph_terms=MetapathTerms.of(deployed_metapath), patient_graph_terms=patient_terms,
                              **cf_all)
    if out is not None:
        recommender.save(out, force=force)
        stage("save")
    return recommender, TrainResult(Path(out) if out else None, validation.weights, seconds,
                                    dict(selected.chosen), gnn_epochs, selection, ablations)


def fit_metapath(graph: KnowledgeGraph, config: TrainConfig = TrainConfig(), combine: str | None = None):
    """The deployed disease scorer's first stage: the metapath model chosen (or, ``combine`` being
    "average", averaged; default: ``config.metapath_combine``) on a random split of ``treats`` (its test
    pairs never read), then refitted on every indication with those choices.

    Returns ``(selection task, selected model, deployment task, deployed model)``.
    """
    from recsys.link.metapath import MetapathModel
    from recsys.link.split import split_links
    from recsys.link.task import LinkTask

    task = LinkTask.from_split(split_links(graph, "random", val_fraction=config.val_fraction,
                                           test_fraction=config.val_fraction, seed=config.seed))
    # Selection must not even filter by the test pairs: to it they are unknown pairs.
    task.test_pairs = np.empty((0, 2), dtype=np.int64)
    deployed_task = LinkTask.for_deployment(graph)
    selected = MetapathModel(penalties=tuple(config.metapath_penalties), families=tuple(config.metapath_families),
                             combine=combine or config.metapath_combine, fold_by=config.metapath_fold_by,
                             seed=config.seed, progress=True).fit(task)
    deployed = MetapathModel(**selected.chosen_settings(), progress=True).fit(deployed_task)
    return task, selected, deployed_task, deployed


def train_patient_gnn(graph: KnowledgeGraph, records, config, inputs=None):
    """The people GNN trained on patients' ``records`` (whether each drug was taken; ``graph``'s
    people relations never read), exported, or None when no patient has the two drugs a training
    step needs (one to hide, one to keep)."""
    from recsys.people.train import fit_people_gnn

    binary = records.with_matrix((records.matrix > 0).astype(np.float64))
    if not (np.diff(binary.matrix.indptr) >= 2).any():
        return None
    return fit_people_gnn(graph, binary, config, progress=True, inputs=inputs).export()


def _doctors_all(graph: KnowledgeGraph, claims, recipe, doctor_side, config: TrainConfig
                 ) -> tuple[dict[str, float], dict]:
    """The ``doctor_all`` weights (every drug of the graph ranked for a prescriber), chosen on a
    mixed drug cold-start split of the claims (:func:`pipelines.doctors.fit_doctors_all`)."""
    from pipelines.doctors import fit_doctors_all
    from recsys.recommender.drugclasses import Combinations

    return fit_doctors_all(claims, recipe, Combinations.from_graph(graph).partners, doctor_side.choice, config.seed,
                           config.doctor_smoothing)


def without_pairs(graph: KnowledgeGraph, relation: EdgeType, pairs: list[tuple[str, str]]) -> KnowledgeGraph:
    """A copy of ``graph`` without the ``relation`` edges joining ``pairs``: every record of them,
    in the relation's episode table too (what the history components count)."""
    edges = graph.edges.get(relation)
    if edges is None or not pairs:
        return graph
    held = pd.MultiIndex.from_tuples(pairs)
    keep = ~pd.MultiIndex.from_arrays([edges["src"], edges["dst"]]).isin(held)
    tables = dict(graph.tables)
    name = SCHEMA.spec(relation).episodes if relation in SCHEMA.relations else None
    if name in tables:
        table = tables[name]
        records = pd.MultiIndex.from_arrays([table["patient"].astype(str), table["drug"].astype(str)])
        tables[name] = table[~records.isin(held)].reset_index(drop=True)
    return KnowledgeGraph(graph.nodes, {**graph.edges, relation: edges[keep].reset_index(drop=True)}, tables)
