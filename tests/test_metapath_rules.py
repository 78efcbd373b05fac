"""The metapath model on graphs built to test one idea each: shared targets, outliers, gating."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kg.graph import KnowledgeGraph
from kg.schema import EdgeType
from recsys.blend import bootstrap_support, select_blend
from recsys.link.evaluate import evaluate_scorer
from recsys.link.metapath import MetapathModel
from recsys.link.split import LinkSplit
from recsys.link.task import LinkTask

TREATS = EdgeType("drug", "treats", "disease")
DISEASES = 12
DECOYS = 30


def shared_target_graph(extreme_patients: int = 0) -> tuple[KnowledgeGraph, list, list]:
    """Disease i is treated by drugs a_i, b_i, c_i, which alone bind gene g_i; decoy drugs bind
    genes nothing else binds. (c_i, disease i) is held out for i < 6: the only route from c_i
    to disease i is "binds a gene bound by a known treatment".

    With ``extreme_patients``, as many patients are allergic to decoy 0 and have disease 0 (a
    test disease), while in training one patient links each a_i to disease i: the people
    feature is positive in training and decoy 0's value for disease 0 is far beyond it.
    """
    drugs = [f"drug:DB{10000 + i}" for i in range(3 * DISEASES + DECOYS)]
    diseases = [f"disease:DOID:{100 + i}" for i in range(DISEASES)]
    genes = [f"target:{i}" for i in range(DISEASES + DECOYS)]
    binds, treats = [], []
    for i in range(DISEASES):
        for role in range(3):
            binds.append((drugs[3 * i + role], genes[i]))
            treats.append((drugs[3 * i + role], diseases[i]))
    for j in range(DECOYS):
        binds.append((drugs[3 * DISEASES + j], genes[DISEASES + j]))
    patients, allergic, conditions = [], [], []
    for i in range(DISEASES):
        patients.append(f"patient:t:{i}")
        allergic.append((patients[-1], drugs[3 * i]))
        conditions.append((patients[-1], diseases[i]))
    for k in range(extreme_patients):
        patients.append(f"patient:x:{k}")
        allergic.append((patients[-1], drugs[3 * DISEASES]))
        conditions.append((patients[-1], diseases[0]))
    nodes = pd.DataFrame([{"id": d, "type": "drug", "name": d} for d in drugs]
                         + [{"id": d, "type": "disease", "name": d} for d in diseases]
                         + [{"id": g, "type": "target", "name": g} for g in genes]
                         + [{"id": p, "type": "patient", "name": None} for p in patients])

    def frame(pairs):
        return pd.DataFrame(pairs, columns=["src", "dst"])

    edges = {EdgeType("drug", "binds", "target"): frame(binds), TREATS: frame(treats),
             EdgeType("patient", "allergic_to", "drug"): frame(allergic),
             EdgeType("patient", "has_condition", "disease"): frame(conditions)}
    held = [(drugs[3 * i + 2], diseases[i]) for i in range(6)]
    return KnowledgeGraph(nodes, edges), held[:3], held[3:]


def task_of(graph: KnowledgeGraph, test: list, val: list) -> LinkTask:
    held = set(test) | set(val)
    train_edges = {**graph.edges, TREATS: graph.edges[TREATS][[
        (s, d) not in held for s, d in zip(graph.edges[TREATS]["src"], graph.edges[TREATS]["dst"])]]}
    split = LinkSplit(KnowledgeGraph(graph.nodes, train_edges), pd.DataFrame(val, columns=["src", "dst"]),
                      pd.DataFrame(test, columns=["src", "dst"]), TREATS, "random", 0)
    return LinkTask.from_split(split)


SMALL = {"folds": 3, "negatives_per_positive": 20}


def test_a_drug_reached_only_through_a_shared_target_ranks_first():
    task = task_of(*shared_target_graph())
    model = MetapathModel(**SMALL).fit(task)
    assert evaluate_scorer(model, task, "test").mrr == 1.0
    assert any(" > ".join(e.rel for e in p) == "binds > rev_binds > treats" for p in model.paths)
    # Without walking back through the shared gene the model has no route to the held-out drugs.
    blind = MetapathModel(**SMALL, reversals=False).fit(task)
    assert evaluate_scorer(blind, task, "test").mrr < 0.5


def test_a_planted_extreme_feature_does_not_dominate_a_ranking():
    graph, test, val = shared_target_graph(extreme_patients=80)
    task = task_of(graph, test, val)
    decoy, disease_0 = task.id_maps["drug"].index("drug:DB10036"), task.id_maps["disease"].index("disease:DOID:100")
    treatment = task.id_maps["drug"].index(test[0][0])

    def margin(model: MetapathModel) -> float:
        scores = model.score_matrix(np.array([disease_0]))[0]
        return float(scores[treatment] - scores[decoy])

    # One candidate, so the test is about the cap alone, not about which setting a search picks.
    fixed = {**SMALL, "families": ("with people",), "examples": ("sampled",), "penalties": (1e-4,)}
    capped = MetapathModel(**fixed).fit(task)
    uncapped = MetapathModel(**fixed, cap_quantile=None).fit(task)
    assert margin(uncapped) < 0, "the plant must be extreme enough to win without the cap"
    assert margin(capped) > 0


def test_candidates_are_recorded_and_the_choice_refits_alone():
    task = task_of(*shared_target_graph())
    model = MetapathModel(**SMALL, combine="validation").fit(task)
    assert {(c["examples"], c["family"]) for c in model.candidates} >= {("sampled", "with people"),
                                                                        ("every drug", "with people")}
    again = MetapathModel(**model.chosen_settings()).fit(task)
    assert len(again.candidates) == 1 and again.chosen["penalty"] == model.chosen["penalty"]
    assert (again.chosen["examples"], again.chosen["family"]) == (model.chosen["examples"], model.chosen["family"])
    assert evaluate_scorer(again, task, "test").mrr == 1.0
    with pytest.raises(ValueError, match="examples must be"):
        MetapathModel(examples=("all",))


def test_a_stacked_model_replaces_its_reference_only_with_bootstrap_support():
    rng = np.random.default_rng(0)
    positives = np.zeros((40, 30), dtype=bool)
    positives[np.arange(40), rng.integers(0, 30, 40)] = True
    reference = rng.random((40, 30)) + positives * 0.8   # good
    reference[0, positives[0]] = 0.5                        # but not on entity 0
    lucky = reference.copy()
    lucky[0] += positives[0] * 5.0                          # better on entity 0 only
    clearly = reference + positives * 3.0                   # better on every entity
    kept = select_blend({"metapath": reference, "gnn": lucky}, positives, reference="metapath")
    assert kept.chosen == "metapath" and "not deployed" in kept.note
    # without a named reference the best component alone is the reference: a blend must beat it
    default = select_blend({"metapath": reference, "gnn": lucky}, positives)
    assert default.chosen == "gnn" and default.val_mrr["gnn"] > default.val_mrr["metapath"]
    better = select_blend({"metapath": reference, "gnn": clearly}, positives, reference="metapath")
    assert better.chosen in ("gnn", "blend") and "kept" in better.note
    rows = np.repeat(np.arange(10), 2)
    assert bootstrap_support(rows, np.ones(20), np.zeros(20)) == 1.0
    assert bootstrap_support(rows, np.zeros(20), np.ones(20)) == 0.0


def test_a_reference_is_kept_when_validation_has_too_few_entities_to_support_anything():
    # Split Z validates on 6 diseases: a challenger better on every one of them still does not
    # replace the reference, and the note says why; with 10 entities the same lead is enough.
    from recsys.blend import MIN_GATE_ENTITIES

    rng = np.random.default_rng(1)
    for entities, replaced in ((6, False), (MIN_GATE_ENTITIES, True)):
        positives = np.zeros((entities, 30), dtype=bool)
        positives[np.arange(entities), rng.integers(0, 30, entities)] = True
        reference = rng.random((entities, 30)) + positives * 0.3
        clearly = reference + positives * 3.0
        choice = select_blend({"metapath": reference, "gnn": clearly}, positives, reference="metapath")
        assert (choice.chosen != "metapath") == replaced
        if not replaced:
            assert f"validation holds {entities} entities, too few" in choice.note and choice.weights["gnn"] == 0.0
    # A caller may ask for fewer (a small graph of its own).
    assert select_blend({"metapath": reference[:6], "gnn": clearly[:6]}, positives[:6], reference="metapath",
                        min_entities=6).chosen != "metapath"
