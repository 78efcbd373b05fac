"""The self-contained HTML inspection page, rendered by headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kg.errors import KGError
from kg.export import export_graph
from kg.export.html import inspection_page
from kg.io import write_graph
from pipelines.cli import main
from tests.test_api import tiny_recommender


def _install_chromium() -> str | None:
    """Debian's chromium, installed with apt when missing and allowed; the reason when not."""
    if os.environ.get("RXKG_NO_BROWSER_INSTALL"):
        return "RXKG_NO_BROWSER_INSTALL is set"
    if shutil.which("apt-get") is None:
        return "no apt-get on this machine"
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return "installing it with apt-get needs root"
    for command in (["apt-get", "install", "-y", "-q", "chromium"],
                    ["sh", "-c", "apt-get update -q && apt-get install -y -q chromium"]):
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=600,
                                  env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        except (OSError, subprocess.TimeoutExpired) as err:
            return f"apt-get failed: {err}"
        if done.returncode == 0 and shutil.which("chromium"):
            return None
    return f"apt-get install chromium failed: {done.stderr.strip().splitlines()[-1:]}"


@pytest.fixture(scope="session")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    why = _install_chromium()
    if why is not None:
        pytest.skip(f"headless Chromium is not installed and could not be installed ({why})")
    return shutil.which("chromium")


def _rendered_dom(chromium: str, page: Path) -> str:
    """The DOM after the page's scripts ran (the drawing is done by the page's own script)."""
    done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                           "--dump-dom", page.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _node_classes(dom: str) -> list[str]:
    return re.findall(r'<circle class="(node[^"]*)"', dom)


def test_page_is_self_contained_and_escapes_names(tiny_graph):
    nodes = tiny_graph.nodes.copy()
    nodes.loc[nodes["id"] == "drug:DB01076", "name"] = "</script><script>alert(1)</script>"
    graph = type(tiny_graph)(nodes, tiny_graph.edges, tiny_graph.tables)
    page = inspection_page(graph, focus="drug:DB01076")
    assert "<script src" not in page and "<link" not in page and "@import" not in page
    assert re.findall(r"https?://[^\s\"']+", page) == ["http://www.w3.org/2000/svg"]  # an XML namespace only
    assert page.count("</script>") == 2  # the data block and the drawing code; the name is escaped
    data = json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S)
                      .group(1).replace("<\\/", "</"))
    assert len(data["nodes"]) == graph.num_nodes and data["focus"] == "drug:DB01076"
    with pytest.raises(KGError, match="not in the exported graph"):
        inspection_page(graph, focus="drug:nope")


def test_chromium_renders_every_node(chromium, tiny_graph, tmp_path):
    out = export_graph(tiny_graph, tmp_path / "tiny.html", privacy="clear",
                       options={"focus": "disease:DOID:1287"})
    dom = _rendered_dom(chromium, out)
    classes = _node_classes(dom)
    assert len(classes) == tiny_graph.num_nodes
    assert classes.count("node focus") == 1
    assert dom.count('class="edge"') == tiny_graph.num_edges
    assert f"{tiny_graph.num_nodes} nodes" in dom


def test_chromium_highlights_explanation_paths_of_recommendations(chromium, tiny_graph, tmp_path, capsys):
    write_graph(tiny_graph, tmp_path / "graph")
    tiny_recommender(tiny_graph).save(tmp_path / "model")
    page = tmp_path / "page.html"
    code = main(["export", str(tmp_path / "graph"), "--format", "html", "--around", "disease:DOID:1287",
                 "--model", str(tmp_path / "model"), "--k", "3", "--out", str(page)])
    assert code == 0, capsys.readouterr().err
    dom = _rendered_dom(chromium, page)
    classes = _node_classes(dom)
    assert classes and any(c.endswith(" on") for c in classes), "the first recommendation's path is lit"
    assert 'class="edge on"' in dom
    assert dom.count('class="rec') == 3
    lit = {c for c in re.findall(r'data-id="([^"]+)"[^>]*class="node[^"]* on"', dom)} | {
        c for c in re.findall(r'class="node[^"]* on"[^>]*data-id="([^"]+)"', dom)}
    names = dict(zip(tiny_graph.nodes["id"], tiny_graph.nodes["name"].fillna("")))
    labels = re.findall(r'<text class="label on"[^>]*>([^<]*)</text>', dom)
    assert lit and sorted(labels) == sorted((names[i] or i) for i in lit), "every node on the lit path is labelled"


def test_a_large_neighbourhood_is_capped_with_a_note_keeping_focus_and_paths():
    from tests.linkgraph import cluster_graph

    graph = cluster_graph()
    drugs = graph.nodes_of_type("drug")["id"].tolist()
    focus, far = graph.nodes_of_type("disease")["id"].iloc[0], drugs[-1]
    recommendation = {"drug_id": far, "name": "far", "score": 1.0, "paths": [[focus, far]]}
    page = inspection_page(graph, focus=focus, recommendations=[recommendation], drawn_nodes=10)
    data = json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S)
                      .group(1).replace("\\u003c", "<").replace("\\u003e", ">"))
    ids = [n["id"] for n in data["nodes"]]
    assert len(ids) == 10 and focus in ids and far in ids
    assert data["note"].startswith(f"Showing 10 of {graph.num_nodes:,} nodes")
    uncapped = inspection_page(graph, focus=focus, drawn_nodes=graph.num_nodes)
    assert '"note": ""' in uncapped and uncapped.count('"type": ') >= graph.num_nodes


def test_patients_on_the_page_are_pseudonymised(tiny_graph, tmp_path):
    patient = tiny_graph.nodes_of_type("patient")["id"].iloc[0]
    out = export_graph(tiny_graph, tmp_path / "p.html", options={"focus": patient})
    text = out.read_text()
    assert patient not in text and "patient:anon:" in text
