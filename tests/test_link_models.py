"""Disease -> drug models on the cluster graph: the contract, planted links, seeds, bundles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from kg.errors import KGError
from kg.io import write_graph
from recsys.link.gnn import GNNConfig, GNNScorer
from recsys.link.kge import KGEConfig, KGEScorer
from recsys.link.evaluate import evaluate_scorer
from recsys.link.task import LinkTask
from recsys.link.metapath import MetapathModel
from recsys.link.priors import DegreePrior
from recsys.link.split import split_links
from recsys.link.stacking import StackedScorer
from linkgraph import cluster_graph

REPO = Path(__file__).resolve().parents[1]
SMALL_GNN = dict(dim=16, epochs=30, patience=30, aux_edges=256)


@pytest.fixture(scope="module")
def task() -> LinkTask:
    return LinkTask.from_split(split_links(cluster_graph(), "random", seed=0))


@pytest.fixture(scope="module")
def gnn(task) -> GNNScorer:
    return GNNScorer(GNNConfig(**SMALL_GNN)).fit(task)


def test_planted_links_ranked_first_by_gnn(gnn, task):
    metrics = evaluate_scorer(gnn, task, "test")
    assert metrics.hits_at_1 == 1.0 and metrics.mrr == 1.0


def test_degree_prior_cannot_separate_equal_degree_drugs(task):
    # Every drug has the same number of indications: the prior is near chance, which is
    # what makes the planted-link test above a test of the GNN and not of popularity.
    assert evaluate_scorer(DegreePrior().fit(task), task, "test").mrr < 0.5


@pytest.mark.parametrize("mode", ["full", "sampled"])
def test_same_seed_same_scores(task, mode):
    config = GNNConfig(**{**SMALL_GNN, "epochs": 5, "patience": 5}, mode=mode, fanout=(4, 4))
    a = GNNScorer(config).fit(task).score_matrix(np.arange(task.num_dst))
    b = GNNScorer(config).fit(task).score_matrix(np.arange(task.num_dst))
    np.testing.assert_array_equal(a, b)
    c = GNNScorer(GNNConfig(**{**SMALL_GNN, "epochs": 5, "patience": 5, "seed": 1}, mode=mode,
                            fanout=(4, 4))).fit(task).score_matrix(np.arange(task.num_dst))
    assert not np.array_equal(a, c)


def test_sampled_training_learns_planted_links(task):
    model = GNNScorer(GNNConfig(**{**SMALL_GNN, "epochs": 20, "patience": 20}, mode="sampled",
                                fanout=(4, 4))).fit(task)
    assert evaluate_scorer(model, task, "test").mrr > 0.8


def test_save_load_gives_identical_scores(gnn, task, tmp_path):
    path = gnn.save(tmp_path / "gnn.pt")
    loaded = GNNScorer.load(path)
    everything = np.arange(task.num_dst)
    np.testing.assert_array_equal(gnn.score_matrix(everything), loaded.score_matrix(everything))
    disease = task.id_maps["disease"][int(task.test_pairs[0, 1])]
    ids, scores = loaded.recommend([disease], k=3)
    assert ids.shape == (1, 3) and np.all(np.diff(scores[0]) <= 0)
    drug_ids = list(ids[0])
    np.testing.assert_allclose(loaded.score_ids(drug_ids, [disease] * 3), scores[0], rtol=1e-6)
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write left nothing behind


def test_bundle_errors_name_the_file(tmp_path):
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"not a bundle")
    with pytest.raises(KGError, match="bogus.pt"):
        GNNScorer.load(bogus)
    with pytest.raises(KGError, match="no model bundle"):
        GNNScorer.load(tmp_path / "missing.pt")


def test_recommend_errors(gnn):
    with pytest.raises(KGError, match="k must be positive"):
        gnn.recommend(["disease:DOID:1000"], k=0)
    with pytest.raises(KGError, match="unknown disease id"):
        gnn.recommend(["disease:DOID:424242"])
    with pytest.raises(KGError, match="not fitted"):
        DegreePrior().recommend(["disease:DOID:1000"])


@pytest.mark.parametrize("model", [
    DegreePrior(),
    MetapathModel(folds=3),
    KGEScorer(KGEConfig(model="DistMult", epochs=2, triples_per_epoch=2000)),
    KGEScorer(KGEConfig(model="RotatE", epochs=1, triples_per_epoch=1000)),
], ids=lambda m: m.name)
def test_every_model_follows_the_contract(model, task):
    model.fit(task)
    scores = model.score_matrix(np.array([0, 1]))
    assert scores.shape == (2, task.num_src) and np.isfinite(scores).all()
    ids, top = model.recommend([task.id_maps["disease"][0]], k=5)
    seen = {task.id_maps["drug"][d] for d, s in task.train_pairs if s == 0}
    assert ids.shape == (1, 5) and not seen & set(ids[0])


def test_metapath_model_ranks_planted_links_first(task):
    assert evaluate_scorer(MetapathModel(folds=3).fit(task), task, "test").mrr == 1.0


def test_blend_reads_validation_not_test(gnn, task):
    # Same components, same validation pairs, different test pairs: the fitted blend
    # must not change, so the test split cannot have informed it.
    import dataclasses

    prior = DegreePrior().fit(task)
    shuffled = dataclasses.replace(task, test_pairs=task.test_pairs[::-1, :][:1])
    a = StackedScorer([gnn, prior]).fit(task).blend_weights()
    b = StackedScorer([gnn, prior]).fit(shuffled).blend_weights()
    assert a == b


@pytest.mark.parametrize("mode", ["full", "sampled"])
def test_two_process_torchrun(tmp_path, mode):
    # Sampled batches leave some parameters unused on a rank: DDP must still agree (it hung up once).
    write_graph(cluster_graph(), tmp_path / "graph")
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "recsys.link.gnn.distributed", "--graph", str(tmp_path / "graph"), "--out", str(tmp_path / "gnn.pt"),
           "--metrics", str(tmp_path / "metrics.json"), "--dim", "16", "--epochs", "20", "--aux-edges", "256",
           "--mode", mode]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["val"]["mrr"] > 0.5
    assert GNNScorer.load(tmp_path / "gnn.pt").score_matrix(np.array([0])).shape[1] == 16


def test_deployment_refit_runs_the_fixed_epochs_on_every_edge():
    deployment = LinkTask.for_deployment(cluster_graph())
    assert len(deployment.val_pairs) == len(deployment.test_pairs) == 0
    model = GNNScorer(GNNConfig(**{**SMALL_GNN, "epochs": 12, "patience": 2})).fit(deployment)
    assert model.log.epochs == 12 and model.log.best_epoch == 12, "no validation: no early stop"
    ids, _ = model.recommend(["disease:DOID:1000"], k=4, exclude_seen=False)
    assert all(d.startswith("drug:DB100") for d in ids[0]), "cluster 0's drugs treat cluster 0's diseases"


# ---------------------------------------------------------------- GNN on a metapath prior
@pytest.fixture(scope="module")
def metapath(task) -> MetapathModel:
    return MetapathModel(folds=3).fit(task)


@pytest.fixture(scope="module")
def stacked(task, metapath) -> GNNScorer:
    return GNNScorer(GNNConfig(**SMALL_GNN, prior="metapath"), prior=metapath).fit(task)


def test_stacked_gnn_ranks_planted_links_first_and_scores_like_its_parts(stacked, metapath, task):
    assert stacked.name == "GNN (rgcn) + metapath"
    assert evaluate_scorer(stacked, task, "test").mrr == 1.0
    # The score is the GNN's plus a learned multiple of the metapath logit, nothing else.
    every = np.arange(task.num_dst)
    z = stacked._embeddings()
    with torch.no_grad():
        alone = stacked.model.score_all(z, stacked.decoded[0], torch.from_numpy(every),
                                        torch.zeros(task.num_dst, task.num_src)).numpy()
    weight = float(stacked.model.prior_weight.detach())
    np.testing.assert_allclose(stacked.score_matrix(every), alone + weight * metapath.score_matrix(every),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["random", "zero_shot"])
def test_stacked_gnn_never_trains_on_a_prior_that_saw_the_pair(mode, monkeypatch):
    # Each epoch supervises one group of training pairs; the prior scores it trains on
    # must come from the training graph without exactly that group (whole diseases in
    # zero-shot mode), and the groups must cover every training pair once.
    task = LinkTask.from_split(split_links(cluster_graph(), mode, seed=0))
    prior = MetapathModel(folds=3).fit(task)
    hidden: list[set] = []
    original = MetapathModel.scores_without

    def spy(self, pairs):
        hidden.append({tuple(p) for p in np.asarray(pairs).tolist()})
        return original(self, pairs)

    monkeypatch.setattr(MetapathModel, "scores_without", spy)
    model = GNNScorer(GNNConfig(**{**SMALL_GNN, "epochs": 8, "patience": 8}, prior="metapath"), prior=prior)
    supervised: list[set] = []
    step = GNNScorer._full_batch_step

    def record(self, model_, optimizer, train, known, generator, rank, world, group=None):
        supervised.append({tuple(p) for p in train[:, self._groups == group].T.tolist()})
        return step(self, model_, optimizer, train, known, generator, rank, world, group)

    monkeypatch.setattr(GNNScorer, "_full_batch_step", record)
    model.fit(task)
    train = {tuple(p) for p in task.train_pairs.tolist()}
    assert set().union(*hidden) == train and sum(map(len, hidden)) == len(train)
    assert all(group in hidden for group in supervised) and len(supervised) == 8
    if mode == "zero_shot":
        diseases = [{d for _, d in group} for group in hidden]
        assert all(not a & b for i, a in enumerate(diseases) for b in diseases[i + 1:])
    # The test pairs are in no training view at all.
    assert not {tuple(p) for p in task.test_pairs.tolist()} & set().union(*supervised)


@pytest.mark.parametrize("mode", ["full", "sampled"])
def test_stacked_gnn_same_seed_same_scores_and_bundle_round_trip(task, metapath, mode, tmp_path):
    config = GNNConfig(**{**SMALL_GNN, "epochs": 4, "patience": 4}, mode=mode, fanout=(4, 4), prior="metapath")
    a = GNNScorer(config, prior=metapath).fit(task)
    b = GNNScorer(config, prior=metapath).fit(task)
    every = np.arange(task.num_dst)
    np.testing.assert_array_equal(a.score_matrix(every), b.score_matrix(every))
    loaded = GNNScorer.load(a.save(tmp_path / "stacked.pt"))
    np.testing.assert_array_equal(a.score_matrix(every), loaded.score_matrix(every))


def test_stacked_gnn_fits_its_own_prior_and_checks_the_one_given(task):
    config = GNNConfig(**{**SMALL_GNN, "epochs": 2, "patience": 2}, prior="metapath")
    assert isinstance(GNNScorer(config).fit(task).prior, MetapathModel)
    other = MetapathModel(folds=3).fit(LinkTask.from_split(split_links(cluster_graph(), "random", seed=1)))
    with pytest.raises(ValueError, match="same task"):
        GNNScorer(config, prior=other).fit(task)
    with pytest.raises(ValueError, match="config.prior is None"):
        GNNScorer(GNNConfig(), prior=other)
    with pytest.raises(ValueError, match="prior must be one of"):
        GNNConfig(prior="degree")


def test_metapath_scores_without_pairs_match_a_full_recomputation(task, metapath):
    # scores_without reuses the part of the score that never walks `treats`, and every other
    # relation's weighted matrix; it must equal scoring every feature again on the graph without
    # the pairs, all of its matrices weighted anew.
    from recsys.link.dwpc import DWPCGraphs

    pairs = task.train_pairs[::3]
    graphs = DWPCGraphs.of({**metapath._base, **metapath._without(pairs, task)}, metapath.damping)
    np.testing.assert_allclose(metapath.scores_without(pairs), metapath._all_scores(graphs, task), rtol=1e-6,
                               atol=1e-6)
    np.testing.assert_allclose(metapath.scores_without(pairs[:0]), metapath.score_matrix(np.arange(task.num_dst)),
                               rtol=1e-6, atol=1e-6)
    assert not np.allclose(metapath.scores_without(pairs), metapath.score_matrix(np.arange(task.num_dst)))


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_dwpc_walked_in_threads_equals_one_walk(task, workers):
    """Threads share the metapaths in consecutive runs; every DWPC is the same product, and an
    error in a worker reaches the caller."""
    from recsys.link.adjacency import relation_matrices
    from recsys.link.dwpc import DWPCGraphs, enumerate_metapaths

    base = relation_matrices(task.train_graph, task.id_maps)
    paths = sorted(enumerate_metapaths(base, "drug", "disease", 3, reversals=True), key=lambda p: tuple(reversed(p)))
    graphs = DWPCGraphs.of(base, 0.4)
    columns = np.arange(task.num_dst)
    expected = {path: dense for path, dense in graphs.dwpc_many(paths, columns)}
    got, seen_by = {}, {}

    def keep(worker, path, dense):
        got[path], seen_by[path] = dense, worker

    graphs.for_each(paths, columns, keep, workers=workers)
    assert got.keys() == expected.keys() and all(np.array_equal(got[p], expected[p]) for p in paths)
    assert len(set(seen_by.values())) == min(workers, len(paths)) and len(paths) > 3

    def fail(worker, path, dense):
        raise ValueError(f"worker {worker} failed")

    with pytest.raises(ValueError, match="failed"):
        graphs.for_each(paths, columns, fail, workers=workers)


def test_dwpc_is_the_dense_product_of_its_weighted_matrices_bit_for_bit(task):
    """The walk keeps its products sparse; each DWPC must equal the textbook dense chain of
    degree-weighted matrices, to the last bit (the dense sums only add exact zeros)."""
    from recsys.link.adjacency import relation_matrices
    from recsys.link.dwpc import DWPCGraphs, enumerate_metapaths

    base = relation_matrices(task.train_graph, task.id_maps)
    paths = sorted(enumerate_metapaths(base, "drug", "disease", 3, reversals=True), key=lambda p: tuple(reversed(p)))
    graphs = DWPCGraphs.of(base, 0.4)
    columns = np.arange(task.num_dst)[::2]
    for path, dwpc in graphs.dwpc_many(paths, columns):
        dense = graphs.weighted[path[-1]][:, columns].toarray()
        for edge in reversed(path[:-1]):
            dense = graphs.weighted[edge] @ dense
        assert isinstance(dwpc, np.ndarray) and np.array_equal(dwpc, dense), path
    assert len(paths) > 3


def test_sparse_product_gradient_is_torchs_own_bit_for_bit_and_its_transpose_is_built_once():
    """Its forward and backward are ``torch.sparse.mm``'s sums, bit for bit."""
    from recsys.link.gnn.graph import mean_adjacency, sparse_product

    generator = torch.Generator().manual_seed(0)
    edges = torch.randint(0, 50, (2, 400), generator=generator)
    adjacency = mean_adjacency(edges, 50, 50)  # (destinations, sources), CSR, mean weights
    x = torch.randn(50, 8, generator=generator, requires_grad=True)
    upstream = torch.randn(50, 8, generator=generator)
    (torch.sparse.mm(adjacency, x) * upstream).sum().backward()
    expected, x.grad = x.grad.clone(), None
    ours = sparse_product(adjacency, x)
    (ours * upstream).sum().backward()
    assert torch.equal(ours, torch.sparse.mm(adjacency, x.detach()))
    assert torch.equal(x.grad, expected)
    transpose = adjacency._rxkg_transpose
    sparse_product(adjacency, x)
    assert adjacency._rxkg_transpose is transpose  # kept, not rebuilt
    assert not sparse_product(adjacency, x.detach()).requires_grad
    fresh = mean_adjacency(edges, 50, 50)
    with torch.no_grad():  # scoring: the plain product, no transpose built for a backward that never runs
        assert torch.equal(sparse_product(fresh, x), ours.detach())
    assert not hasattr(fresh, "_rxkg_transpose")
    # Destinations without in-edges get exact zeros: the product never reads its uninitialised output.
    wider = mean_adjacency(edges, 50, 4000)
    for _ in range(3):
        garbage = torch.full((4000, 8), float("nan"))
        del garbage
        product = sparse_product(wider, x.detach())
        assert torch.equal(product[:50], ours.detach()) and not product[50:].any()


def _chain_graph(generator: torch.Generator):
    """Node types a (many) <-> b -> c (few) -> drug, b -> drug -> b, and c -> side, which no layer reads."""
    from recsys.link.adjacency import MetaEdge
    from recsys.link.gnn.encoders import adjacency_of

    sizes = {"a": 60, "b": 30, "c": 5, "drug": 20, "side": 40}
    pairs = [("a", "b"), ("b", "a"), ("b", "c"), ("c", "drug"), ("b", "drug"), ("c", "side"), ("drug", "b")]
    edges = {MetaEdge(s, f"{s}_{d}", d): torch.stack([torch.randint(0, sizes[s], (90,), generator=generator),
                                                      torch.randint(0, sizes[d], (90,), generator=generator)])
             for s, d in pairs}
    return sizes, adjacency_of(edges, sizes)


@pytest.mark.parametrize("encoder", ["rgcn", "hetero_sage"])
def test_an_encoder_reading_some_types_skips_the_rest_with_the_same_values_and_gradients(encoder):
    from recsys.link.gnn.encoders import ENCODERS, layer_adjacency

    generator = torch.Generator().manual_seed(0)
    sizes, adjacency = _chain_graph(generator)
    last = {e: a for e, a in adjacency.items() if e.dst == "drug"}
    # Three layers: the first needs messages into the types the second reads, which needs those the last reads.
    assert {e.dst for e in layer_adjacency(adjacency, last, 1, 3)} == {"b", "c", "drug"}
    assert {e.dst for e in layer_adjacency(adjacency, last, 0, 3)} == {"a", "b", "c", "drug"}
    assert layer_adjacency(adjacency, last, 2, 3) is last and layer_adjacency(adjacency, None, 0, 3) is adjacency
    torch.manual_seed(0)
    model = ENCODERS[encoder](sorted(adjacency), sorted(sizes), 8, num_layers=3, dropout=0.3)
    x = {t: torch.randn(n, 8, generator=generator) for t, n in sizes.items()}
    upstream = torch.randn(sizes["drug"], 8, generator=generator)
    results = []
    for reads in (None, last):
        torch.manual_seed(1)  # the same dropout masks, drawn in training mode
        model.zero_grad()
        drugs = model(x, adjacency, reads)["drug"]
        (drugs * upstream).sum().backward()
        results.append((drugs.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}))
    (everything, grads_all), (pruned, grads_pruned) = results
    assert torch.equal(everything, pruned)
    assert grads_all.keys() == grads_pruned.keys() and all(torch.equal(grads_all[n], grads_pruned[n]) for n in grads_all)
    # No relation into the read type (drugs without edges): each type still has its own state.
    assert model(x, adjacency, {})["drug"].shape == (sizes["drug"], 8)


def test_an_rgcn_layer_has_the_textbook_layers_values_and_gradients_bit_for_bit():
    from recsys.link.gnn.encoders import RGCNLayer
    from recsys.link.gnn.graph import sparse_product

    generator = torch.Generator().manual_seed(0)
    sizes, adjacency = _chain_graph(generator)
    torch.manual_seed(0)
    layer = RGCNLayer(sorted(adjacency), sorted(sizes), 8, 8, num_bases=3)
    x = {t: torch.randn(n, 8, generator=generator, requires_grad=True) for t, n in sizes.items()}
    upstream = {t: torch.randn(n, 8, generator=generator) for t, n in sizes.items()}

    def textbook() -> dict[str, torch.Tensor]:  # the stack of relation weights indexed per relation
        weights = torch.einsum("rb,bio->rio", layer.coefficients, layer.bases)
        out = {t: layer.root[t](h) for t, h in x.items()}
        for i, e in enumerate(layer.metaedges):
            a = adjacency[e]
            out[e.dst] = out[e.dst] + (sparse_product(a, x[e.src] @ weights[i]) if a.shape[1] < a.shape[0]
                                       else sparse_product(a, x[e.src]) @ weights[i])
        return out

    results = []
    for forward in (textbook, lambda: layer(x, adjacency)):
        layer.zero_grad()
        for h in x.values():
            h.grad = None
        out = forward()
        sum((out[t] * upstream[t]).sum() for t in out).backward()
        grads = [p.grad.clone() for p in layer.parameters()] + [h.grad.clone() for h in x.values()]
        results.append(([out[t].detach() for t in sorted(out)], grads))
    (expected, expected_grads), (got, got_grads) = results
    assert all(torch.equal(a, b) for a, b in zip(expected, got))
    assert all(torch.equal(a, b) for a, b in zip(expected_grads, got_grads))


def test_an_rgcn_layer_mixes_each_relation_on_its_smaller_side_with_the_same_result():
    from recsys.link.gnn.encoders import RGCNLayer

    generator = torch.Generator().manual_seed(0)
    sizes, adjacency = _chain_graph(generator)
    assert any(a.shape[1] < a.shape[0] for a in adjacency.values())  # c (5) -> side (40): mixed first
    assert any(a.shape[1] > a.shape[0] for a in adjacency.values())
    torch.manual_seed(0)
    layer = RGCNLayer(sorted(adjacency), sorted(sizes), 8, 6, num_bases=3)
    x = {t: torch.randn(n, 8, generator=generator) for t, n in sizes.items()}
    weights = torch.einsum("rb,bio->rio", layer.coefficients, layer.bases)
    expected = {t: layer.root[t](h) for t, h in x.items()}
    for i, e in enumerate(layer.metaedges):  # the textbook order: aggregate, then mix
        expected[e.dst] = expected[e.dst] + (adjacency[e].to_dense() @ x[e.src]) @ weights[i]
    got = layer(x, adjacency)
    assert all(torch.allclose(got[t], expected[t], atol=1e-5) for t in sizes)
