"""The two-step kernel ridge: a disease with no known drug gets the drugs of the diseases like it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kg.graph import KnowledgeGraph
from kg.schema import EdgeType
from recsys.link.kernel import FeatureKernels, TwoStepRidge, fuse_kernel
from recsys.link.metapath import KERNEL_WEIGHTS, MetapathModel



def _alike_graph() -> KnowledgeGraph:
    """Disease "new" has no indication; it localizes to the anatomy and is associated with the
    genes of disease "known" (treated by drugs k1, k2 of class X), unlike disease "other"
    (treated by o1, o2 of class Y). Drug k3 is in class X and treats nothing; decoys d0-d5 are in
    no class and bind genes of their own."""
    drugs = ["k1", "k2", "k3", "o1", "o2"] + [f"d{i}" for i in range(6)]
    nodes = ([{"id": f"drug:{d}", "type": "drug", "name": d} for d in drugs]
             + [{"id": f"disease:{d}", "type": "disease", "name": d} for d in ("known", "new", "other")]
             + [{"id": f"target:{g}", "type": "target", "name": g} for g in range(14)]
             + [{"id": f"anatomy:{a}", "type": "anatomy", "name": a} for a in ("heart", "skin")]
             + [{"id": f"pharmacologic_class:{c}", "type": "pharmacologic_class", "name": c} for c in "XY"])

    def frame(pairs):
        return pd.DataFrame([(s, d) for s, d in pairs], columns=["src", "dst"])

    edges = {
        EdgeType("drug", "treats", "disease"): frame([("drug:k1", "disease:known"), ("drug:k2", "disease:known"),
                                                      ("drug:o1", "disease:other"), ("drug:o2", "disease:other")]),
        EdgeType("disease", "associates", "target"): frame(
            [(f"disease:{d}", f"target:{g}") for d in ("known", "new") for g in range(4)]
            + [("disease:other", f"target:{g}") for g in range(4, 8)]),
        EdgeType("disease", "localizes", "anatomy"): frame([("disease:known", "anatomy:heart"),
                                                            ("disease:new", "anatomy:heart"),
                                                            ("disease:other", "anatomy:skin")]),
        EdgeType("pharmacologic_class", "includes", "drug"): frame(
            [("pharmacologic_class:X", f"drug:{d}") for d in ("k1", "k2", "k3")]
            + [("pharmacologic_class:Y", f"drug:{d}") for d in ("o1", "o2")]),
        EdgeType("drug", "binds", "target"): frame([(f"drug:d{i}", f"target:{8 + i}") for i in range(6)]),
    }
    return KnowledgeGraph(pd.DataFrame(nodes), edges)


def test_a_disease_with_no_known_drug_gets_the_drugs_of_the_disease_like_it():
    graph = _alike_graph()
    id_maps = {t: sorted(graph.nodes_of_type(t)["id"]) for t in ("drug", "disease")}
    kernels = FeatureKernels.of(graph, id_maps)
    assert kernels.drug_blocks == ("pharmacologic_class includes", "binds")
    assert kernels.disease_blocks == ("localizes", "associates")
    drug, disease = ({d: i for i, d in enumerate(id_maps[t])} for t in ("drug", "disease"))
    positives = np.array([[drug["drug:k1"], disease["disease:known"]], [drug["drug:k2"], disease["disease:known"]],
                          [drug["drug:o1"], disease["disease:other"]], [drug["drug:o2"], disease["disease:other"]]])
    scores = TwoStepRidge(kernels).scores(positives, np.array([disease["disease:new"]]))[0]
    ranked = [id_maps["drug"][i] for i in np.argsort(-scores, kind="stable")]
    # The known disease's drugs, then their classmate that treats nothing yet, then the rest.
    assert set(ranked[:2]) == {"drug:k1", "drug:k2"} and ranked[2] == "drug:k3"
    assert scores[drug["drug:k3"]] > 0 and scores[drug["drug:o1"]] == 0  # "other" is nothing like "new"
    # Without any indication there is nothing to transfer.
    assert not TwoStepRidge(kernels).scores(positives[:0], np.array([0])).any()


def test_fusing_keeps_each_diseases_ranking_at_weight_zero_and_ignores_a_flat_ridge_row():
    rng = np.random.default_rng(0)
    linear, ridge = rng.normal(size=(3, 20)), rng.normal(size=(3, 20))
    np.testing.assert_array_equal(fuse_kernel(linear, ridge, 0.0), linear)
    ridge[1] = 2.0  # a disease like no known one: a constant row
    fused = fuse_kernel(linear, ridge, 0.5)
    np.testing.assert_array_equal(fused[1], linear[1])
    assert not np.allclose(fused[0], linear[0])


def _cluster_task():
    from recsys.link.split import split_links
    from recsys.link.task import LinkTask

    from linkgraph import cluster_graph

    return LinkTask.from_split(split_links(cluster_graph(), "random", seed=0))


def test_the_metapath_model_chooses_the_kernel_weight_on_its_folds_and_refits_with_it():
    task = _cluster_task()
    model = MetapathModel(folds=3).fit(task)
    assert model.kernel_weight in KERNEL_WEIGHTS
    assert set(model.chosen["kernel_folds_mrr"]) == {f"{w:g}" for w in KERNEL_WEIGHTS}
    best = max(model.chosen["kernel_folds_mrr"].values())
    assert model.chosen["kernel_folds_mrr"][f"{model.kernel_weight:g}"] == best
    # The deployment refit keeps the weight without choosing again.
    settings = model.chosen_settings()
    assert settings["kernel_weights"] == (model.kernel_weight,)
    again = MetapathModel(**settings).fit(task)
    assert again.kernel_weight == model.kernel_weight
    assert again.chosen.get("kernel_folds_mrr", {}).keys() <= {f"{model.kernel_weight:g}"}
    # A view without no indication is the model's own scores.
    every = np.arange(task.num_dst)
    np.testing.assert_allclose(model.scores_without(task.train_pairs[:0]), model.score_matrix(every),
                               rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="kernel_weights"):
        MetapathModel(kernel_weights=(-1.0,))


def test_the_folds_share_one_walk_of_the_features_their_graphs_have_in_common():
    """Choosing the kernel weight sums each fold's features on its own graph; those that never walk the
    target relation come from one walk for every fold, each disease weighted by its fold's refit."""
    task = _cluster_task()
    model = MetapathModel(folds=3).fit(task)
    target = model._target_columns()
    assert target.any() and not target.all()
    rng = np.random.default_rng(0)
    dsts = [np.array([0, 2, 3]), np.array([1, 2]), np.array([4])]  # a disease in two folds, as pair folds give
    weights = [rng.normal(size=len(target)) for _ in dsts]
    fixed = model._fold_fixed_parts(task, dsts, weights)
    fold_graph = model._graphs.replacing(model._without(task.train_pairs[::3], task), model.damping)
    for dst, w, part in zip(dsts, weights, fixed):
        assert part.shape == (len(dst), task.num_src)
        whole = model._linear_part(fold_graph, task, None, dst, weights=w)
        np.testing.assert_allclose(part + model._linear_part(fold_graph, task, target, dst, weights=w), whole,
                                   rtol=1e-12, atol=1e-12)


def test_a_kernel_weight_adds_the_ridge_and_the_patients_candidate_reads_the_logistic_scores_alone():
    task = _cluster_task()
    logistic = MetapathModel(folds=3, combine="average", kernel_weights=(0.0,)).fit(task)
    fused = MetapathModel(folds=3, combine="average", kernel_weights=(1.0,)).fit(task)
    every = np.arange(task.num_dst)
    assert fused.kernel_weight == 1.0 and not np.allclose(fused.score_matrix(every), logistic.score_matrix(every))
    # Its logistic part alone (the families benchmark's ablation) is the model fitted without the ridge.
    np.testing.assert_allclose(fused.logistic_scores(every), logistic.score_matrix(every), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(fused.preferred.score_matrix(every), logistic.preferred.score_matrix(every))
    assert fused.preferred.kernel_weight == 0.0 and logistic.kernel_weight == 0.0
    # A view without some indications fuses the ridge fitted without them (not the model's own ridge).
    pairs = task.train_pairs[::4]
    view = fused.scores_without(pairs)
    kept = task.train_pairs[~np.isin(np.arange(len(task.train_pairs)), np.arange(len(task.train_pairs))[::4])]
    ridge = fused._ridge.scores(kept, every)
    linear = logistic.scores_without(pairs).astype(np.float64)
    np.testing.assert_allclose(view, fuse_kernel(linear, ridge, 1.0), rtol=1e-5, atol=1e-5)


def test_the_ridge_score_is_the_sum_of_its_known_indications_parts():
    graph = _alike_graph()
    id_maps = {t: sorted(graph.nodes_of_type(t)["id"]) for t in ("drug", "disease")}
    ridge = TwoStepRidge(FeatureKernels.of(graph, id_maps))
    drug, disease = ({d: i for i, d in enumerate(id_maps[t])} for t in ("drug", "disease"))
    listed = (("k1", "known"), ("k2", "known"), ("o1", "other"), ("o2", "other"), ("k1", "known"))
    positives = np.array([[drug[f"drug:{d}"], disease[f"disease:{s}"]] for d, s in listed])
    scores = ridge.scores(positives, np.arange(3))
    for s in range(3):
        for d in range(len(id_maps["drug"])):
            pairs, parts = ridge.pair_terms(positives, s, d)
            assert len(pairs) == 4  # a pair listed twice is one indication
            assert parts.sum() == pytest.approx(scores[s, d], abs=1e-12)


def _recommender(graph: KnowledgeGraph, weight: float):
    from recsys import Recommender
    from recsys.recommender.kernel_reasons import KernelReasons

    drugs, diseases = sorted(graph.nodes_of_type("drug")["id"]), sorted(graph.nodes_of_type("disease")["id"])
    reasons = KernelReasons(graph, drugs, diseases)
    scores = reasons.ridge.scores(reasons.positives, np.arange(len(diseases)))  # the ridge as the disease scorer
    selection = {"disease_metapath": {"chosen": {"kernel_weight": weight}}}
    return Recommender(graph, {"metapath": scores}, diseases, drugs, selection=selection,
                       weights={"disease": {"metapath": 1.0, "popularity": 0.0}})


def test_an_explanation_names_the_known_indications_the_kernel_ridge_rests_on_and_what_each_pair_shares():
    from recsys.recommender.kernel_reasons import KernelReasons

    graph = _alike_graph()
    drugs, diseases = sorted(graph.nodes_of_type("drug")["id"]), sorted(graph.nodes_of_type("disease")["id"])
    reasons = KernelReasons(graph, drugs, diseases)
    terms = reasons.terms("disease:new", "drug:k3")
    assert {t.drug for t in terms} == {"drug:k1", "drug:k2"} and {t.disease for t in terms} == {"disease:known"}
    assert all(t.drug_shares == (("pharmacologic_class includes", "pharmacologic_class:X"),) for t in terms)
    assert {b for t in terms for b, _ in t.disease_shares} <= {"localizes", "associates"}
    assert len(terms[0].disease_shares) == 2
    assert reasons.raised("disease:new", "drug:k3") and not reasons.raised("disease:new", "drug:d0")
    assert reasons.reasons("disease:new", "drug:d0") == []  # the ridge did not raise it

    recommender = _recommender(graph, 0.5)
    found = {r.drug_id: r for r in recommender.recommend_for_disease("disease:new", k=3)}
    assert set(found) == {"drug:k1", "drug:k2", "drug:k3"}
    text = found["drug:k3"].explanation
    assert "Drugs like it treat diseases like new (kernel ridge, weight 0.5): k" in text
    assert "(like it: X) treats known (like new: " in text
    assert "it treats known" in found["drug:k1"].explanation  # its own indication of a disease like new
    # Programs get the same terms as data (rxkg explain --json).
    why = recommender.explain("disease:new", "drug:k3")
    assert [(t["drug"], t["disease"]) for t in why["kernel_terms"]] == [(t.drug, "disease:known") for t in terms]
    assert why["kernel_terms"][0]["drug_shares"] == [["pharmacologic_class includes", "pharmacologic_class:X"]]
    assert recommender.explain("disease:new", "drug:d0")["kernel_terms"] == []
    # A model without the kernel ridge (a bundle from before it, or weight 0) says nothing of it.
    assert all("kernel ridge" not in r.explanation
               for r in _recommender(graph, 0.0).recommend_for_disease("disease:new", k=3))
