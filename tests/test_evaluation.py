"""rxkg evaluate: leakage-safe protocols, the report, and an end-to-end quick run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from kg.errors import KGError
from kg.graph import KnowledgeGraph
from kg.schema import EdgeType
from linkgraph import people_graph
from pipelines.evaluation import EvaluateConfig, evaluate

TREATS = EdgeType("drug", "treats", "disease")
PALLIATES = EdgeType("drug", "palliates", "disease")
TAKES = EdgeType("patient", "takes", "drug")
HAS_CONDITION = EdgeType("patient", "has_condition", "disease")
QUICK = EvaluateConfig(quick=True, bootstrap=50)


def _pairs(frame: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(frame["src"].astype(str), frame["dst"].astype(str)))


def _with(graph: KnowledgeGraph, et: EdgeType, rows: pd.DataFrame) -> KnowledgeGraph:
    edges = dict(graph.edges)
    edges[et] = pd.concat([edges[et], rows], ignore_index=True) if et in edges else rows
    return KnowledgeGraph(graph.nodes, edges, graph.tables)


@pytest.fixture(scope="module")
def people() -> KnowledgeGraph:
    return people_graph()


@pytest.fixture(scope="module")
def quick_run(people, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    return evaluate(QUICK, graph=people, sources=(), out=out, log=lambda m: None), out


# ------------------------------------------------------------ planted leaks
@pytest.mark.parametrize("mode", ["random", "zero_shot"])
def test_disease_protocol_trains_without_test_edges_twins_or_reverses(people, monkeypatch, mode):
    """Every treats pair planted as a palliates twin too: no model sees a test pair in any form."""
    from pipelines.evaluation import disease
    from recsys.link.gnn.graph import MessageGraph
    from recsys.link.priors import DegreePrior

    graph = _with(people, PALLIATES, people.edges[TREATS][["src", "dst"]].copy())
    seen = []

    class Spy(DegreePrior):
        def fit(self, task):
            seen.append(task)
            return super().fit(task)

    real = [(role, m) for role, m in disease._models(QUICK)
            if m.name in ("GNN (rgcn)", "metapath (DWPC)", "GNN (rgcn) + metapath")]
    monkeypatch.setattr(disease, "_models", lambda config: iter([("baseline", Spy()), *real]))
    result = disease.disease_protocol(graph, mode, QUICK, log=lambda m: None)
    assert [m.role for m in result.models] == ["baseline", "model", "baseline", "model", "hybrid"]
    (task,) = seen
    # Fitting never sees the test pairs, not even as a filter: they are unknown pairs to it.
    assert len(task.test_pairs) == 0 and task.split.test.empty and len(task.val_pairs)
    from recsys.link.split import split_links

    split = split_links(graph, mode, val_fraction=QUICK.disease_holdout, test_fraction=QUICK.disease_holdout,
                        seed=QUICK.seed)
    test = set(zip(split.test["src"], split.test["dst"]))
    drug_ids, disease_ids = task.id_maps["drug"], task.id_maps["disease"]
    known = {(drug_ids[s], disease_ids[d]) for s, d in task.known_pairs}
    assert test
    assert not test & known
    held = {(drug_ids[s], disease_ids[d]) for s, d in task.val_pairs} | test
    train = task.train_graph
    assert not held & _pairs(train.edges[TREATS])
    assert not held & _pairs(train.edges[PALLIATES])
    # The message graph adds reverse edges: none of them joins a held-out pair either.
    message = MessageGraph.from_graph(train, task.id_maps, TREATS)
    index = {d: i for i, d in enumerate(drug_ids)}, {d: i for i, d in enumerate(disease_ids)}
    held_index = {(index[0][s], index[1][d]) for s, d in held}
    for e, index in message.with_target(message.target_index).items():
        if {e.src, e.dst} == {"drug", "disease"}:
            pairs = {(int(s), int(d)) if e.src == "drug" else (int(d), int(s)) for s, d in index.T}
            assert not pairs & held_index, e


@pytest.mark.parametrize("mode", ["holdout", "unseen"])
def test_doctor_protocol_never_fits_on_a_test_prescription(people, monkeypatch, mode):
    from recsys.cf import doctor_drug_interactions
    from recsys.cf.models import MODELS
    from pipelines.evaluation.doctor import cf_splits, doctor_protocol

    inter = doctor_drug_interactions(people)
    split, validation = cf_splits(inter, mode, seed=0)
    held = {(u, i) for u, i in _entries(split.test)}
    assert held
    fitted: list[set] = []
    for name, cls in list(MODELS.items()):
        spy = type(f"Spy{cls.__name__}", (cls,), {"fit": lambda self, data, _cls=cls: (
            fitted.append(set(_entries(data))), _cls.fit(self, data))[1]})
        monkeypatch.setitem(MODELS, name, spy)
    produced = doctor_protocol(inter, mode, QUICK, log=lambda m: None)
    result = produced[0] if mode == "unseen" else produced
    assert not result.skipped and fitted
    if mode == "unseen":  # the sparse prescribers' protocol: the same new prescribers, the same models
        sparse = produced[1]
        assert sparse.name == "doctor/sparse" and not sparse.skipped
        assert {m.role for m in sparse.models} >= {"hybrid", "baseline"}
        assert set(sparse.info["known_drugs"]) == {"1", "2", "3"} and sum(sparse.info["known_drugs"].values()) == \
            sparse.info["evaluated_prescribers"]
    for entries in fitted:
        assert not held & entries
    if mode == "unseen":  # held-out prescribers are unknown to training altogether
        assert not set(split.test.user_ids) & set(split.train.user_ids)
    assert not set(_entries(validation.test)) & set(_entries(validation.train))


def _entries(inter):
    coo = inter.matrix.tocoo()
    return zip(inter.user_ids[coo.row], inter.item_ids[coo.col])


def test_patient_protocol_trains_on_the_past_only(people, monkeypatch):
    """A prescription and a diagnosis planted after a patient's cutoff reach no model."""
    import pipelines.train
    from pipelines.evaluation.patient import patient_protocols
    from pipelines.temporal import time_split

    patient, late = "patient:synth:0-0", pd.Timestamp("2021-06-01")
    graph = _with(people, TAKES, pd.DataFrame({"src": [patient], "dst": ["drug:DB10500"], "weight": [1.0],
                                               "time": [late], "end_time": [late]}))
    graph = _with(graph, HAS_CONDITION, pd.DataFrame({"src": [patient], "dst": ["disease:DOID:1500"],
                                                      "time": [late]}))
    split = time_split(graph, seed=0)
    assert split.cutoffs[patient] < late
    assert (patient, "drug:DB10500") in set(zip(split.future["patient"], split.future["drug"]))
    trained_on = []
    real = pipelines.train.run_train

    def spy(train_graph, *args, **kwargs):
        trained_on.append(train_graph)
        return real(train_graph, *args, **kwargs)

    monkeypatch.setattr(pipelines.train, "run_train", spy)
    results = patient_protocols(graph, QUICK, log=lambda m: None)
    assert all(not r.skipped for r in results)
    train, sparse = trained_on  # the variants' recommender, then the sparse patients'
    assert (patient, "drug:DB10500") not in _pairs(train.edges[TAKES])
    # The sparse patients' recommender has no record of a pair to find, even one started before the
    # cutoff and still running there (a target the history graph keeps as a running drug).
    from kg.episodes import medication_episodes
    targets = set(split.targets("test").itertuples(index=False, name=None))
    assert targets & _pairs(train.edges[TAKES]), "the test would be empty: no running drug is a target"
    assert not targets & _pairs(sparse.edges[TAKES])
    assert not targets & set(zip(*(medication_episodes(sparse)[c] for c in ("patient", "drug"))))
    assert (patient, "disease:DOID:1500") not in _pairs(train.edges[HAS_CONDITION])
    # Nothing after any cutoff survives, and stops after the cutoff are unknown there.
    takes = train.edges[TAKES]
    cutoff = takes["src"].astype(str).map(split.cutoffs)
    assert not (pd.to_datetime(takes["time"]) > cutoff).any()
    assert not (pd.to_datetime(takes["end_time"]) > cutoff).any()
    assert graph.edges[TAKES].shape[0] == people.edges[TAKES].shape[0] + 1  # input unchanged


def test_the_evaluated_patient_hybrid_is_the_bundle_rxkg_train_writes(people, quick_run, tmp_path):
    """What users get is what the report measures: ``rxkg train`` on the protocol's history graph
    writes a bundle whose patient weights are the evaluated hybrids' (all drugs; new drugs only)."""
    from pipelines.temporal import time_split
    from pipelines.train import run_train
    from recsys.recommender.api import Recommender
    from recsys.recommender.continuation import ADDED

    report, _ = quick_run
    config = QUICK.effective()
    split = time_split(people, config.patient_history_share, config.patient_val_share, seed=config.seed)
    run_train(split.graph, config.train_config(), out=tmp_path / "bundle")
    bundle = Recommender.load(tmp_path / "bundle")
    for variant, kind in (("all", "patient"), ("new", "patient_new")):
        (hybrid,) = [m for m in report.protocol(f"patient/{variant}").models if m.role == "hybrid"]
        deployed = {c: round(w, 4) for c, w in bundle.weights[kind].items()}
        assert hybrid.params["weights"] == deployed, variant
        metric = bundle.selection[kind]["metric"]  # patients' blends are chosen on NDCG@10
        assert metric == "ndcg@10" and hybrid.params[f"val_{metric}_of_candidates"] == {
            c: round(v, 4) for c, v in bundle.selection[kind][f"val_{metric}"].items()}, variant
        merged = kind == "patient" and ADDED in bundle.weights  # new drugs ranked by the new-drugs blend
        assert hybrid.model == f"hybrid (deployed: {bundle.selection[kind]['chosen']}" + (
            " + new-drugs blend)" if merged else ")")
        if merged:
            assert hybrid.params["new_drugs"] == {c: round(w, 4) for c, w in bundle.weights[ADDED].items()}
            assert hybrid.params["new_drugs_choice"] == bundle.selection[kind]["new_drugs"]
    # The two tasks are chosen apart: continuation is weighed only where it may be recommended.
    assert bundle.weights["patient"]["running"] > 0 or bundle.weights["patient"]["history"] > 0
    assert bundle.weights["patient_new"]["running"] == bundle.weights["patient_new"]["history"] == 0


def test_the_evaluated_doctor_hybrid_is_the_bundle_rxkg_train_writes(people, quick_run, tmp_path):
    """``rxkg train`` on the seen-prescriber protocol's training claims deploys the evaluated
    hybrid: the same CF model and parameters, the same blend weights."""
    from recsys.cf import doctor_drug_interactions
    from pipelines.evaluation.doctor import cf_splits
    from pipelines.train import run_train
    from recsys.recommender.api import Recommender

    report, _ = quick_run
    split, _ = cf_splits(doctor_drug_interactions(people), "holdout", seed=QUICK.seed)
    prescribes = EdgeType("doctor", "prescribes", "drug")
    edges = people.edges[prescribes]
    held = pd.MultiIndex.from_tuples(list(_entries(split.test)))
    kept = edges[~pd.MultiIndex.from_arrays([edges["src"], edges["dst"]]).isin(held)]
    training = KnowledgeGraph(people.nodes, {**people.edges, prescribes: kept.reset_index(drop=True)}, people.tables)
    assert doctor_drug_interactions(training).nnz == split.train.nnz
    run_train(training, QUICK.effective().train_config(), out=tmp_path / "bundle")
    bundle = Recommender.load(tmp_path / "bundle")
    (hybrid,) = [m for m in report.protocol("doctor/holdout").models if m.role == "hybrid"]
    assert hybrid.params["weights"] == {c: round(w, 4) for c, w in bundle.weights["doctor"].items()}
    # Chosen on the same validation pairs: every candidate's validation MRR is the same number.
    assert hybrid.params["val_mrr_of_candidates"] == {
        c: round(v, 4) for c, v in bundle.selection["doctor"]["val_mrr"].items()}
    assert {k: hybrid.params["cf_choice"][k] for k in ("model", "params")} == \
        {k: bundle.selection["doctor_cf"][k] for k in ("model", "params")}


def test_time_split_targets_and_errors(people):
    from pipelines.temporal import time_split

    split = time_split(people, history_share=0.75, val_share=0.3, seed=1)
    assert split.patients("val") and split.patients("test")
    assert not set(split.patients("val")) & set(split.patients("test"))
    new = split.targets("test", new_only=True)
    assert len(new) == split.future[(split.future["part"] == "test") & split.future["new"]].shape[0]
    assert split.future.equals(time_split(people, 0.75, 0.3, seed=1).future)  # same seed, same split
    with pytest.raises(KGError, match="part must be"):
        split.targets("train")
    no_times = _with(people, TAKES, people.edges[TAKES].iloc[:0])
    no_times.edges[TAKES] = people.edges[TAKES].drop(columns=["time"])
    with pytest.raises(KGError, match="start times"):
        time_split(no_times)


# ------------------------------------------------------------ end to end
def test_quick_evaluation_runs_every_protocol_end_to_end(quick_run):
    result, out = quick_run
    names = [p.name for p in result.protocols]
    assert names == ["disease/random", "disease/zero_shot", "doctor/holdout", "doctor/unseen", "doctor/sparse",
                     "doctor/cold", "doctor/cold_reverse", "doctor/cold_mixed", "patient/all", "patient/new",
                     "patient/sparse", "patient/cold", "patient/cold_reverse"]
    for protocol in result.protocols:
        assert not protocol.skipped, protocol.skipped
        roles = {m.role for m in protocol.models}
        # The patients' drug cold start claims nothing deployed: it compares the graph components.
        hybrid = set() if protocol.name.startswith("patient/cold") else {"hybrid"}
        assert roles - {"ablation"} == {"baseline", "model"} | hybrid, protocol.name
        if protocol.name in ("patient/all", "patient/new"):  # every ablation is a row or named as equal to the hybrid
            ablations = {m.model.removeprefix("hybrid ") for m in protocol.models if m.role == "ablation"}
            (deployed,) = [m.model for m in protocol.models if m.role == "hybrid"]
            merged = "with one blend for every drug"  # the deployed list without its new drugs' own blend
            assert (merged in ablations) == deployed.endswith("+ new-drugs blend)"), protocol.name
            assert ablations - {merged} | set(protocol.info["ablations_equal_to_the_hybrid"]) == {
                "without history", "without CF", "without graph"}, protocol.name
        for model in protocol.models:
            for metric in protocol.metrics:
                mean, (lo, hi) = model.means[metric], model.intervals[metric]
                if not np.isnan(mean):
                    assert lo - 1e-9 <= mean <= hi + 1e-9, (protocol.name, model.model, metric)
    disease = result.protocol("disease/random")
    names = {m.model for m in disease.models}  # quick mode: every baseline and the deployed family
    assert {"degree prior", "GNN (rgcn)", "metapath (DWPC)", "GNN (rgcn) + metapath"} <= names
    assert not names & {"TransE", "DistMult", "ComplEx", "RotatE", "GNN (hetero_sage)"}
    # The clusters make indications easy: the metapath model finds them.
    assert disease.model("metapath (DWPC)").means["mrr"] > 0.5
    assert result.protocol("doctor/holdout").model("within-specialty popularity").means["recall@10"] > 0.9
    sanity = result.protocol("patient/new").info["conditions_only"]
    assert sanity["diseases"] > 0 and set(sanity["share"]) == {
        "deployed (recommend_for_new_patient)", "graph component alone", "most popular given diagnosis", "popularity"}
    assert sanity["share"]["graph component alone"] > sanity["share"]["popularity"]  # the clusters' indications
    # Known from conditions alone, a new patient is ranked by what treats them: the conditions' disease scores.
    assert sanity["share"]["deployed (recommend_for_new_patient)"] == sanity["share"]["graph component alone"]
    rate = result.protocol("patient/new").info["interaction_rate"]
    assert rate["with_safety"]["drugs"] == 0.0


def test_report_files(quick_run):
    result, out = quick_run
    report = json.loads((out / "report.json").read_text())
    assert report["format"] == "rxkg-evaluation/1"
    assert report["config"]["quick"] is True and report["effective_settings"]["kge_epochs"] == 1
    assert {"versions", "machine", "data", "data_hash", "timings_s"} <= set(report["provenance"])
    first = report["protocols"][0]["models"][0]
    assert set(first["mrr"]) == {"mean", "ci95"}
    markdown = (out / "report.md").read_text()
    assert "| degree prior | baseline |" in markdown and "![disease_random.png]" in markdown
    assert "(50 resamples)" in markdown  # the number the run used, not the configured default
    assert "Conditions-only sanity: a new patient with one condition and no drugs" in markdown
    assert "Recall by how many drugs the prescriber already has" in markdown
    assert "Recall by how many drugs the patient already has" in markdown
    for name in ("doctor/holdout", "doctor/unseen", "patient/all"):
        bands = result.protocol(name).info["by_history"]
        evaluated = len(result.protocol(name).models[0].per_entity[result.protocol(name).metrics[0]])
        assert bands and sum(b["entities"] for b in bands) == evaluated, name  # every test entity in one band
    # every table says it is quick mode, and the rows whose epochs quick mode capped are marked
    tables = [t for t in markdown.split("\n### ")[1:] if "| model | role |" in t]
    assert tables and all(t.splitlines()[0].endswith("(quick mode)") for t in tables)
    assert "| GNN (rgcn) † | model |" in markdown and "| degree prior | baseline |" in markdown
    assert "† quick mode: trained for at most 3 GNN epochs" in markdown
    for png in ["disease_random.png", "disease_random_ranks.png", "doctor_unseen.png", "patient_new.png"]:
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*tmp*"))  # atomic writes leave nothing behind


def test_tiny_graph_evaluates_with_every_skip_explained(tiny_graph, tmp_path):
    result = evaluate(QUICK, graph=tiny_graph, sources=(), out=tmp_path, log=lambda m: None)
    assert result.protocols and all(p.skipped for p in result.protocols)
    markdown = (tmp_path / "report.md").read_text()
    assert markdown.count("Skipped:") == len(result.protocols)
    assert "treats edges" in result.protocol("disease/random").skipped


def test_evaluate_command_line(tiny_graph, tmp_path, capsys):
    from kg.io import write_graph
    from pipelines.cli import main

    write_graph(tiny_graph, tmp_path / "graph")
    code = main(["evaluate", "--graph", str(tmp_path / "graph"), "--quick", "--out", str(tmp_path / "r"),
                 "--protocols", "disease", "patient"])
    assert code == 0
    assert "rxkg evaluate:" in capsys.readouterr().out
    assert (tmp_path / "r" / "report.json").exists()


def test_config_section_and_errors(tmp_path):
    from pipelines.config import load_config

    path = tmp_path / "rxkg.toml"
    path.write_text('[evaluate]\nquick = true\nprotocols = ["doctor"]\nout = "rep"\n[train]\nseed = 3\n')
    config = load_config(path)
    assert config.evaluate.protocols == ("doctor",) and config.evaluate.quick
    assert config.evaluate.out == str(tmp_path / "rep") and config.train.seed == 3
    path.write_text('[evaluate]\nprotocol = ["doctor"]\n')
    with pytest.raises(KGError, match=r"rxkg.toml: \[evaluate\] has unknown key\(s\) \['protocol'\]"):
        load_config(path)
    path.write_text('[evaluate]\nprotocols = ["cats"]\n')
    with pytest.raises(KGError, match="unknown \\['cats'\\]"):
        load_config(path)
    path.write_text('[build]\nout = 5\n')
    with pytest.raises(KGError, match=r"rxkg.toml: \[build\] out must be a folder path \(text\), got 5"):
        load_config(path)


def test_config_paths_starting_with_a_tilde_are_in_the_home_folder(tmp_path, monkeypatch):
    from pipelines.config import load_config

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = tmp_path / "rxkg.toml"
    path.write_text('[build]\nout = "~/g"\n[[build.sources]]\nkind = "csv"\nname = "mine"\n'
                    'mapping = "~/mine/m.toml"\n[evaluate]\nout = "~/rep"\n')
    config = load_config(path)
    assert config.build.out == str(tmp_path / "home" / "g") and config.evaluate.out == str(tmp_path / "home" / "rep")
    assert config.build.sources[0].path("mapping") == tmp_path / "home" / "mine" / "m.toml"


def test_paired_differences_resample_the_same_entities():
    import numpy as np

    from pipelines.evaluation.results import ModelResult, ProtocolResult

    rng = np.random.default_rng(0)
    base = rng.random(300)
    noise = rng.normal(0, 0.3, 300)
    # The hybrid is the baseline plus 0.02 everywhere: separate intervals of the two means would
    # overlap widely, the paired difference is exactly 0.02 with a tight interval above zero.
    protocol = ProtocolResult("doctor/x", "x", ("recall@10", "ndcg@10"), models=[
        ModelResult("baseline", "baseline", {}, {}, 300,
                    per_entity={"recall@10": base + noise, "ndcg@10": base}),
        ModelResult("hybrid", "hybrid", {}, {}, 300,
                    per_entity={"recall@10": base + noise + 0.02, "ndcg@10": base - 0.01})])
    diffs = protocol.paired_differences(200, seed=0)
    assert set(diffs) == {"baseline"}
    recall = diffs["baseline"]["recall@10"]
    assert recall["mean"] == 0.02 and 0.0 < recall["ci95"][0] <= 0.02 <= recall["ci95"][1]
    assert diffs["baseline"]["ndcg@10"]["ci95"][1] < 0
    assert protocol.paired_differences(0) == {}


def test_by_history_bands_entities_by_what_they_already_have():
    from pipelines.evaluation.results import ModelResult, by_history

    model = ModelResult("m", "model", {}, {}, 5, per_entity={"recall@10": np.array([1.0, 0.0, 1.0, 0.0, 1.0])})
    bands = by_history([model], np.array([1, 2, 4, 40, 1]), (1, 5, 20), "recall@10")
    assert bands == [{"known": "1", "entities": 2, "m": 1.0}, {"known": "2-5", "entities": 2, "m": 0.5},
                     {"known": "21+", "entities": 1, "m": 0.0}]


@pytest.mark.parametrize("settings", [{"people_gnn_epochs": 0}, {"gnn_epochs": 0}, {"k": 0}, {"bootstrap": -1}])
def test_evaluate_settings_that_cannot_run_are_refused(settings):
    with pytest.raises(KGError, match="must be positive"):
        EvaluateConfig(**settings)
    assert EvaluateConfig(quick=True).effective().people_gnn_epochs == 3  # a quick run's people GNN


def test_sparse_patients_are_the_test_patients_known_from_their_first_drug(people, quick_run):
    from pipelines.evaluation.patient_sparse import _first_drugs
    from pipelines.temporal import time_split

    result, _ = quick_run
    sparse = result.protocol("patient/sparse")
    config = QUICK.effective()
    split = time_split(people, config.patient_history_share, config.patient_val_share, seed=config.seed)
    assert sparse.info["evaluated_patients"] == len(split.patients("test"))
    rows = {m.model: m for m in sparse.models}
    assert {"popularity", "most popular given diagnosis", "CF (fold-in of the one drug)", "graph: people GNN",
            "graph: conditions' disease scores"} <= set(rows)
    (hybrid,) = [m for m in sparse.models if m.role == "hybrid"]
    assert "patient_new weights" in hybrid.model
    # Each patient's first drug is their earliest start, and it is never a target.
    drugs = pd.Index(sorted(people.nodes_of_type("drug")["id"]))
    first = _first_drugs(split.graph, split.patients("test"), drugs)
    takes = split.graph.edges[TAKES]
    for patient, drug in first.items():
        mine = takes[takes["src"] == patient]
        assert pd.to_datetime(mine.loc[mine["dst"] == drug, "time"]).min() == pd.to_datetime(mine["time"]).min()
    assert sparse.info["targets"] == sum(
        1 for p, d in split.targets("test")[["patient", "drug"]].to_numpy() if first.get(p) != d)


def test_the_plain_ease_row_searches_only_the_closed_forms_own_settings():
    # The table's EASE row is the simple anchor: side information, per-user weights and the dropout
    # penalty belong to the deployed side, never to the row it is compared with.
    from pipelines.evaluation.doctor import baseline_stages

    for quick in (True, False):
        assert {key for stage in baseline_stages("ease", quick) for key in stage} == {"transform", "regularization"}


def test_the_report_names_how_the_metapath_model_was_made():
    from pipelines.evaluation.report import _how_made, _refitted_metapath, describe_metapath

    chosen = {"examples": "every drug", "family": "with people", "penalty": 0.001, "val_mrr": 0.3}
    assert f"{_how_made(chosen)}: {describe_metapath(chosen)}" == \
        "chosen on validation: every drug examples, with people, penalty 0.001"
    assert _how_made({**chosen, "folds_mrr": 0.2}) == "chosen on the training folds"
    assert _refitted_metapath({"metapath": chosen}).endswith(": every drug examples, with people, penalty 0.001")
    averaged = {"examples": "sampled+every drug", "family": "with people", "penalty": "0.1+0.01", "candidates": 4}
    assert f"{_how_made(averaged)}: {describe_metapath(averaged)}" == \
        "averaged: the mean of 4 fits (sampled, every drug examples; with people; penalties 0.1, 0.01)"
    # The kernel ridge's weight, and whether the folds chose it (a deployment refit is given one).
    folds = {"0": 0.2, "0.5": 0.25}
    assert describe_metapath({**averaged, "kernel_weight": 0.5, "kernel_folds_mrr": folds}).endswith(
        "penalties 0.1, 0.01), kernel ridge at weight 0.5 chosen on the training folds")
    assert describe_metapath({**chosen, "kernel_weight": 0.0, "kernel_folds_mrr": folds}).endswith(
        "penalty 0.001, no kernel ridge (weight 0 chosen on the training folds)")
    assert describe_metapath({**chosen, "kernel_weight": 0.25}).endswith("penalty 0.001, kernel ridge at weight 0.25")
