"""The rxkg command line on the tiny graph: build, info, export, and failures."""

import json
import subprocess
import sys

from kg.build import BuildReport
from pipelines.cli import main

from conftest import TINY


def _config(tmp_path, policy="strict", mapping=TINY / "mapping.toml"):
    path = tmp_path / "build.toml"
    path.write_text(f'[build]\npolicy = "{policy}"\nout = "graph"\n\n'
                    f'[[build.sources]]\nkind = "csv"\nname = "tiny"\nmapping = "{mapping}"\n')
    return path


def test_build_info_export(tmp_path, capsys):
    assert main(["build", "--config", str(_config(tmp_path)), "--out", str(tmp_path / "g")]) == 0
    out = capsys.readouterr().out
    assert "rxkg build: built 11 nodes, 14 edges from 1 sources" in out
    report = json.loads((tmp_path / "g" / "build_report.json").read_text())
    assert report["nodes"]["drug"] == 4 and report["edges"]["drug__treats__disease"] == 2
    assert report["sources"]["tiny"]["rows_read"] == 25 and report["rejected"] == []
    assert "wall_time_s" in report

    assert main(["info", str(tmp_path / "g")]) == 0
    assert "rxkg info: 11 nodes, 14 edges" in capsys.readouterr().out

    assert main(["export", str(tmp_path / "g"), "--out", str(tmp_path / "m.gexf"),
                 "--around", "drug:DB00945", "--hops", "1", "--relations", "binds,interacts_with"]) == 0
    assert "3 nodes, 2 edges as gexf" in capsys.readouterr().out
    assert (tmp_path / "m.gexf").exists()


def test_a_row_with_several_problems_is_one_rejected_record_and_both_counts_are_given(tmp_path, capsys):
    # an edge row with three problems (no such relation, a negative weight, a date that is none) is one
    # record; the summary counts records, as the report does, and the problems apart
    (tmp_path / "edges.csv").write_text("s,d,w,t\ndrug:DB1,disease:DOID:1,-3,someday\n")
    (tmp_path / "m.toml").write_text('[[nodes]]\nfile="nodes.csv"\nid="id"\ntype="type"\n[[edges]]\n'
                                     'file="edges.csv"\nsource="s"\ntarget="d"\nrelation="interacts_with"\n'
                                     'weight="w"\ntime="t"\n')
    (tmp_path / "nodes.csv").write_text("id,type\ndrug:DB1,drug\ndisease:DOID:1,disease\nx:1,chemical\n")
    assert main(["build", "--config", str(_config(tmp_path, mapping=tmp_path / "m.toml"))]) == 1
    assert "failed, 4 problem(s) in 2 invalid record(s) listed above" in capsys.readouterr().err
    out = tmp_path / "kept"
    assert main(["build", "--config", str(_config(tmp_path, mapping=tmp_path / "m.toml")), "--policy",
                 "quarantine", "--out", str(out)]) == 0
    assert "built 2 nodes, 0 edges from 1 sources" in capsys.readouterr().out
    report = json.loads((out / "build_report.json").read_text())
    (source,) = report["sources"].values()
    assert source["rejected"] == 2 and len(report["rejected"]) == 4
    assert "2 rejected (4 problems)" in BuildReport(**report).summary()


def test_build_with_bad_data_fails_listing_every_problem(tmp_path, capsys):
    (tmp_path / "nodes.csv").write_text("id,type\ndrug:DB1,drug\nx:1,chemical\n")
    (tmp_path / "edges.csv").write_text("s,d\ndrug:DB1,disease:DOID:1\n")
    (tmp_path / "m.toml").write_text('[[nodes]]\nfile="nodes.csv"\nid="id"\ntype="type"\n'
                                     '[[edges]]\nfile="edges.csv"\nsource="s"\ntarget="d"\nrelation="treats"\n')
    assert main(["build", "--config", str(_config(tmp_path, mapping=tmp_path / "m.toml"))]) == 1
    err = capsys.readouterr().err
    assert "nodes.csv:3: unknown node type 'chemical'" in err
    assert "edges.csv:2: edge (drug, treats, disease): endpoint 'disease:DOID:1' does not exist" in err
    assert "2 invalid record(s)" in err
    assert not (tmp_path / "graph").exists()

    assert main(["build", "--config", str(_config(tmp_path, mapping=tmp_path / "m.toml")),
                 "--policy", "quarantine"]) == 0
    report = json.loads((tmp_path / "graph" / "build_report.json").read_text())
    assert [(r["line"], r["reason"][:20]) for r in report["rejected"]] == [
        (3, "unknown node type 'c"), (2, "edge (drug, treats, ")]


def test_unknown_entity_and_missing_graph_are_clear_errors(tmp_path, capsys):
    main(["build", "--config", str(_config(tmp_path)), "--out", str(tmp_path / "g")])
    capsys.readouterr()
    assert main(["export", str(tmp_path / "g"), "--out", str(tmp_path / "x.json"), "--around", "drug:NOPE"]) == 1
    assert "no node 'drug:NOPE' in the graph" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "g"), "--out", str(tmp_path / "x.json"), "--around", "DB00945"]) == 1
    assert "--around: no node 'DB00945' in the graph; did you mean drug:DB00945" in capsys.readouterr().err
    assert main(["info", str(tmp_path / "missing")]) == 1
    assert "not an rxkg graph directory" in capsys.readouterr().err


def test_console_script_entry_point_runs():
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("rxkg ")


def test_search_finds_ids_by_name_and_wrong_ids_get_suggestions(tiny_graph, tmp_path, capsys):
    from kg.io import write_graph
    from kg.search import NameIndex

    index = NameIndex.from_graph(tiny_graph)
    drug = tiny_graph.nodes[tiny_graph.nodes["type"] == "drug"].iloc[0]
    hits = index.search(drug["name"].lower())
    assert hits[0].node_id == drug["id"] and hits[0].score == 1.0
    assert index.search(drug["name"][:-1] + "x", "drug")[0].node_id == drug["id"]  # a typo still finds it
    assert drug["id"] in index.suggest(drug["id"][:-1] + "9")
    assert not any(h.node_type == "patient" for h in index.search("patient", k=50))
    for node_type in ("disease", "doctor"):  # an id typed without its type prefix, or without its namespace
        node_id = tiny_graph.nodes[tiny_graph.nodes["type"] == node_type]["id"].iloc[0]
        for typed in (node_id.split(":", 1)[1], node_id.rsplit(":", 1)[1]):
            assert index.search(typed, node_type)[0].node_id == node_id
            assert f"did you mean {node_id}" in index.suggest(typed)
    patient = tiny_graph.nodes[tiny_graph.nodes["type"] == "patient"]["id"].iloc[0]
    assert patient not in index.suggest(patient.split(":", 1)[1])  # patient ids are never suggested
    write_graph(tiny_graph, tmp_path / "g")
    assert main(["search", drug["name"], "--graph", str(tmp_path / "g"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["id"] == drug["id"]


def test_a_reader_closing_the_pipe_early_ends_quietly(tiny_graph, tmp_path):
    # ``rxkg search ... | head -1``: head exits after one line. rxkg then stops with the shell's
    # status for a closed pipe, with no error message and no traceback.
    from kg.io import write_graph

    write_graph(tiny_graph, tmp_path / "g")
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "search", "a", "--graph", str(tmp_path / "g")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before rxkg writes its first line
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and stderr == ""
