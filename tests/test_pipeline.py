"""The whole pipeline on the tiny graph through the command line, and the stage cache."""

from __future__ import annotations

import json

from pipelines.cli import main

from conftest import TINY

CONFIG = f'''
[build]
out = "graph"

[[build.sources]]
kind = "csv"
name = "tiny"
mapping = "{TINY / 'mapping.toml'}"

[train]
gnn = {{ encoder = "rgcn", prior = "metapath", epochs = 2 }}

[evaluate]
bootstrap = 20
'''


def test_every_command_on_the_tiny_graph(tmp_path, capsys):
    config = tmp_path / "rxkg.toml"
    config.write_text(CONFIG)
    graph, model, report = tmp_path / "g", tmp_path / "m", tmp_path / "r"

    assert main(["build", "--config", str(config), "--out", str(graph)]) == 0
    assert "rxkg build: built 11 nodes" in capsys.readouterr().out
    assert main(["info", str(graph), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["manifest"]["nodes"]["drug"] == 4
    assert main(["train", "--config", str(config), "--graph", str(graph), "--out", str(model), "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["out"] == str(model) and trained["gnn_epochs"] == 2
    assert main(["evaluate", "--config", str(config), "--graph", str(graph), "--quick", "--out", str(report)]) == 0
    assert "rxkg evaluate:" in capsys.readouterr().out and (report / "report.md").exists()
    assert main(["recommend", "--model", str(model), "--patient", "patient:demo:p1", "--k", "2", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["entity"].startswith("patient:anon:") and len(shown["recommendations"]) == 2
    assert main(["export", str(graph), "--format", "html", "--around", "patient:demo:p1", "--model", str(model),
                 "--out", str(tmp_path / "p1.html")]) == 0
    assert "patient:demo:p1" not in (tmp_path / "p1.html").read_text()


def test_demo_runs_the_chain_then_reuses_every_stage(tmp_path, capsys):
    config = tmp_path / "rxkg.toml"
    config.write_text(CONFIG)
    out = tmp_path / "demo"
    assert main(["demo", "--config", str(config), "--out", str(out)]) == 0
    first = capsys.readouterr().out
    assert "Top 10 for disease" in first and "Top 10 for prescriber" in first and "Top 10 for patient" in first
    assert "patient:demo:p1" not in first  # the patient is shown pseudonymised
    assert "Deployed (chosen on validation):" in first and "doctor_cf" in first  # the bundle's choices
    for path in ["graph/manifest.json", "model/manifest.json", "report/report.md", "exports/disease.graphml",
                 "exports/patient.html", "exports/prescriber.html", "exports/disease_neo4j"]:
        assert (out / path).exists(), path
    assert main(["demo", "--config", str(config), "--out", str(out)]) == 0
    second = capsys.readouterr().out
    assert "graph: unchanged sources and settings" in second
    assert "model: unchanged graph and settings" in second and "report: unchanged" in second
    # A changed setting reruns the stages it feeds, not the build.
    config.write_text(CONFIG.replace("epochs = 2", "epochs = 1"))
    assert main(["demo", "--config", str(config), "--out", str(out)]) == 0
    third = capsys.readouterr().out
    assert "graph: unchanged" in third and "model: unchanged" not in third
