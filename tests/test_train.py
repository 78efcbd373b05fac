"""``rxkg train`` and ``rxkg recommend``: weights from validation only, bundle, command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipelines.cli import main
from pipelines.train import TrainConfig, run_train
from recsys.link.task import LinkTask
from tests.linkgraph import cluster_graph
from tests.test_api import tiny_recommender


def test_training_never_reads_the_test_pairs(monkeypatch, tmp_path):
    graph = cluster_graph()
    config = TrainConfig(seed=0, gnn={"dim": 16, "epochs": 15, "patience": 15, "aux_edges": 256})
    rec_a, result_a = run_train(graph, config, out=tmp_path / "a")

    original = LinkTask.from_split.__func__

    def scrambled(cls, split):
        task = original(cls, split)
        task.test_pairs = np.random.default_rng(1).permutation(task.test_pairs[:, ::-1])  # nonsense
        return task

    monkeypatch.setattr(LinkTask, "from_split", classmethod(scrambled))
    rec_b, result_b = run_train(graph, config)
    assert result_a.weights == result_b.weights
    assert set(rec_a.disease_scores) == {"metapath", "gnn"}
    for name, scores in rec_a.disease_scores.items():
        np.testing.assert_array_equal(scores, rec_b.disease_scores[name])
    assert result_a.selection["disease"]["chosen"] in ("blend", "metapath", "gnn", "popularity")
    assert 1 <= result_a.gnn_epochs <= 15
    assert (tmp_path / "a" / "manifest.json").is_file()


def test_recommend_command_line(tiny_graph, tmp_path, capsys):
    tiny_recommender(tiny_graph).save(tmp_path / "model")
    assert main(["recommend", "--model", str(tmp_path / "model"), "--disease", "disease:DOID:1287", "--k", "2"]) == 0
    out = capsys.readouterr().out
    assert " 1. " in out and "rxkg recommend: 2 drugs for disease:DOID:1287" in out
    assert main(["recommend", "--model", str(tmp_path / "model"), "--doctor", "doctor:NPI:1003000126",
                 "--k", "1", "--json", "--candidates", "all"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["dropped_components"] == [] and len(payload["recommendations"]) == 1
    assert main(["recommend", "--model", str(tmp_path / "model"), "--patient", "patient:demo:p1", "--k", "1"]) == 0
    out = capsys.readouterr().out
    assert "patient:demo:p1" not in out and "patient:anon:" in out
    # the pseudonym printed is accepted back as input on the same machine (same key)
    pseudonym = out.split("drugs for ")[1].split()[0]
    assert main(["recommend", "--model", str(tmp_path / "model"), "--patient", pseudonym, "--k", "1"]) == 0
    assert f"drugs for {pseudonym}" in capsys.readouterr().out
    # New drugs only by default; --include-current lets what the patient takes come back.
    takes = tiny_graph.edges[("patient", "takes", "drug")]
    taken = set(takes.loc[takes["src"] == "patient:demo:p1", "dst"].astype(str))
    listed = {}
    for flags in ([], ["--include-current"]):
        assert main(["recommend", "--model", str(tmp_path / "model"), "--patient", "patient:demo:p1", "--k", "50",
                     "--no-safety", "--json", *flags]) == 0
        listed[bool(flags)] = {r["drug_id"] for r in json.loads(capsys.readouterr().out)["recommendations"]}
    assert taken and not taken & listed[False] and taken <= listed[True]
    assert main(["recommend", "--model", str(tmp_path / "model"), "--patient", "patient:anon:0000", "--k", "1"]) == 1
    assert "no patient of the model has the pseudonym" in capsys.readouterr().err
    assert main(["recommend", "--model", str(tmp_path / "model"), "--doctor", "disease:DOID:1287"]) == 1
    assert "is a disease, not a doctor" in capsys.readouterr().err
    assert main(["recommend", "--model", str(tmp_path / "nothing"), "--disease", "disease:DOID:1287"]) == 1
    assert "not a recommender bundle" in capsys.readouterr().err


@pytest.mark.slow
def test_train_command_on_the_shipped_graph(tmp_path, capsys):
    """About three minutes: the whole deployment training from the shipped data."""
    assert main(["build", "--out", str(tmp_path / "graph")]) == 0
    assert main(["train", "--graph", str(tmp_path / "graph"), "--out", str(tmp_path / "model")]) == 0
    out = capsys.readouterr().out
    assert "chosen on validation MRR" in out and "rxkg train: trained in" in out
    assert main(["recommend", "--model", str(tmp_path / "model"), "--disease", "disease:DOID:9352",
                 "--new-only", "--k", "3"]) == 0


def test_train_prints_every_choice_made_on_validation():
    from pipelines.cli import selection_lines

    lines = selection_lines({
        "disease": {"chosen": "metapath", "val_mrr": {"blend": 0.3, "metapath": 0.31},
                    "note": "gnn beat metapath in 60% of bootstrap resamples (needs 95%); not deployed"},
        "doctor_cf": {"model": "ease", "params": {"regularization": 2000.0}, "val_ndcg@10": {}},
        "disease_metapath": {"chosen": {"examples": "sampled", "family": "with people", "penalty": 0.01,
                                        "val_mrr": 0.3}, "candidates": []},
        "patient_graph": {"scorers": ["metapath"], "val_mrr": {"disease blend": 0.02, "metapath": 0.04}},
        "patient_new": {"chosen": "blend", "metric": "ndcg@10", "val_ndcg@10": {"blend": 0.25, "cf": 0.2},
                        "penalty": 0.003, "penalty_oof_ndcg@10": {"0.01": 0.31, "0.003": 0.33}},
        "patient_conditions": {"chosen": "graph", "note": "fixed: what treats their conditions"},
        "averaged_metapath": {"chosen": {"examples": "sampled+every drug", "family": "with people",
                                         "penalty": "0.1+0.01", "candidates": 4, "val_mrr": 0.25}}})
    assert lines[6] == ("  averaged_metapath: the mean of 4 fits (sampled+every drug examples; with people; penalties "
                        "0.1+0.01), validation MRR 0.25")
    lines = lines[:6]
    assert len(lines) == 6 and lines[5] == "  patient_conditions: graph (fixed: what treats their conditions)" and "patient_graph: metapath chosen on patients' validation MRR" in lines[3]
    assert ("patient_new: blend chosen on validation NDCG@10 (blend 0.250, cf 0.200); logistic penalty 0.003 chosen "
            "out of fold (0.01 0.310, 0.003 0.330)") in lines[4]
    assert "penalty" not in lines[0]  # the disease blend's penalty is fixed
    assert "metapath chosen on validation MRR (blend 0.300, metapath 0.310); gnn beat" in lines[0]
    assert "ease {'regularization': 2000.0}" in lines[1] and "penalty 0.01" in lines[2]
    (merged,) = selection_lines({"patient": {
        "chosen": "blend", "metric": "ndcg@10", "val_ndcg@10": {"blend": 0.86},
        "new_drugs": {"chosen": "new drugs by their blend", "val_ndcg@10": {"one blend": 0.8675,
                                                                            "new drugs by their blend": 0.8729}}}})
    assert merged.endswith("; new drugs: new drugs by their blend (one blend 0.868, new drugs by their blend 0.873)")


def test_every_recommender_entry_point_has_a_command(tiny_graph, tmp_path, capsys):
    tiny_recommender(tiny_graph).save(tmp_path / "model")
    model = ["--model", str(tmp_path / "model")]
    assert main(["recommend", *model, "--new-patient", "--conditions", "disease:DOID:9352",
                 "--drugs", "drug:DB00682", "--k", "2", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["entity"] == "the new patient" and payload["recommendations"]
    assert all(r["drug_id"] != "drug:DB00945" for r in payload["recommendations"])  # aspirin x warfarin
    assert payload["current_drug_problems"] == []
    # taking both: the prescriber is warned beside the list
    assert main(["recommend", *model, "--new-patient", "--drugs", "drug:DB00682", "drug:DB00945", "--k", "1"]) == 0
    shown = capsys.readouterr().out
    assert "warning: 1 problem(s) among the current drugs (1 interaction):" in shown
    assert "Warfarin (drug:DB00682) interacts with current drug" in shown and "Aspirin" in shown
    assert main(["recommend", *model, "--new-doctor", "--prescriptions", "drug:DB00331=40", "--k", "1",
                 "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["recommendations"]) == 1
    assert main(["recommend", *model, "--new-doctor", "--specialty", "Cardiology", "--k", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["recommendations"][0]["contributions"][0]["component"] == "popularity"
    assert main(["explain", "disease:DOID:1287", "drug:DB00331", *model, "--json"]) == 0
    explained = json.loads(capsys.readouterr().out)
    assert explained["drug_id"] == "drug:DB00331" and "components" in explained and explained["text"]
    assert main(["similar", "drug:DB00331", *model, "--k", "2", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    assert main(["profile", "doctor:NPI:1003000126", *model, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["doctor_id"] == "doctor:NPI:1003000126"
    assert main(["profile", "doctor:NPI:1003000126", *model]) == 0
    assert capsys.readouterr().out.startswith("doctor:NPI:1003000126")
    assert main(["score", "disease:DOID:1287", "drug:DB00331", "drug:DB01076", *model, "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert [s["drug_id"] for s in scored["scores"]] == ["drug:DB00331", "drug:DB01076"]
    # batch: one id per line; a doctor and a disease in one file is an error, an existing --out is kept
    (tmp_path / "ids.txt").write_text("disease:DOID:1287\ndisease:DOID:9352\n")
    assert main(["batch", str(tmp_path / "ids.txt"), *model, "--k", "2", "--out", str(tmp_path / "top.csv")]) == 0
    import pandas as pd

    table = pd.read_csv(tmp_path / "top.csv")
    assert list(table.columns) == ["entity", "rank", "drug_id", "name", "score", "probability", "note"]
    assert table["entity"].tolist() == ["disease:DOID:1287"] * 2 + ["disease:DOID:9352"] * 2
    assert main(["batch", str(tmp_path / "ids.txt"), *model, "--out", str(tmp_path / "top.csv")]) == 1
    assert "never overwrites" in capsys.readouterr().err
    (tmp_path / "mixed.txt").write_text("disease:DOID:1287\ndoctor:NPI:1003000126\n")
    assert main(["batch", str(tmp_path / "mixed.txt"), *model, "--json"]) == 1
    assert "ids of one type per batch" in capsys.readouterr().err
    # a Windows editor's file (byte-order mark, CRLF) reads as typed; every unknown id is named with its line
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbfdisease:DOID:1287\r\n\r\n# note\r\nDOID:9352\r\nno such id\r\n")
    assert main(["batch", str(tmp_path / "bom.txt"), *model, "--json"]) == 1
    err = capsys.readouterr().err
    assert "bom.txt:1" not in err and "bom.txt:4: unknown id 'DOID:9352'" in err and "disease:DOID:9352" in err
    assert "bom.txt:5: unknown id 'no such id'" in err and "2 invalid record(s)" in err
    (tmp_path / "latin1.txt").write_bytes(b"disease:DOID:1287\nM\xe9tformin\n")
    assert main(["batch", str(tmp_path / "latin1.txt"), *model]) == 1
    assert "latin1.txt:2: bad encoding: byte 0xe9 is not valid UTF-8" in capsys.readouterr().err
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbfdisease:DOID:1287\r\n")
    assert main(["batch", str(tmp_path / "bom.txt"), *model, "--k", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["entity"] == "disease:DOID:1287"
    # info reads a bundle too: the weights each audience ranks with, checksums verified
    assert main(["info", str(tmp_path / "model")]) == 0
    shown = capsys.readouterr().out
    assert "rxkg-recommender/1" in shown and "every checksum verified" in shown
    weights = json.loads((tmp_path / "model" / "manifest.json").read_text())["weights"]
    assert all(f"  {audience} " in shown for audience in weights)
    assert main(["info", str(tmp_path / "model"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["manifest"]["weights"] == weights
    for pair in ("drug:DB00331", "drug:DB00331=inf", "drug:DB00331=nan"):
        assert main(["recommend", *model, "--new-doctor", "--prescriptions", pair]) == 1
        err = capsys.readouterr().err
        assert f"--prescriptions '{pair}': expected DRUG=CLAIMS with a positive count" in err
        assert "Warning" not in err and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as usage:
        main(["recommend", *model, "--disease", "disease:DOID:1287", "--conditions", "disease:DOID:9352"])
    assert usage.value.code == 2
    # a changed file of the bundle: info says which
    with open(tmp_path / "model" / "doctor_cf.npz", "ab") as handle:
        handle.write(b"x")
    assert main(["info", str(tmp_path / "model")]) == 1
    assert "checksum does not match" in capsys.readouterr().err


def test_train_names_the_relations_a_graph_lacks(tiny_graph):
    from kg.errors import KGError
    from kg.graph import KnowledgeGraph
    from pipelines.train import check_trainable

    treats = ("drug", "treats", "disease")
    without = KnowledgeGraph(tiny_graph.nodes, {k: v for k, v in tiny_graph.edges.items() if tuple(k) != treats},
                             tiny_graph.tables)
    with pytest.raises(KGError, match=r"has no \(drug, treats, disease\) edges; training needs them.*"
                                      r"'indications' kind"):
        check_trainable(without)
    few: list[str] = []
    check_trainable(tiny_graph, few.append)
    assert "only 2 (drug, treats, disease) edges" in few[0]
    from tests.linkgraph import people_graph

    people = people_graph()
    logged: list[str] = []
    check_trainable(KnowledgeGraph(people.nodes, {k: v for k, v in people.edges.items() if k.rel != "takes"},
                                   people.tables), logged.append)
    assert logged == ["  no (patient, takes, drug) edges: no recommendations for patients (with has_condition, "
                      "allergic_to and interacts_with for safety)"]
