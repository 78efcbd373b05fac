"""Exports open in the tools they target and reload into an equal graph."""

import json

import networkx as nx
import pytest

from kg.errors import KGError
from kg.export import export_graph
from kg.sources import load_csv_source, load_rdf_source

from conftest import build


def test_csv_export_round_trips(tiny_graph, tmp_path):
    export_graph(tiny_graph, tmp_path / "csv", "csv", privacy="clear")
    again = build(load_csv_source(tmp_path / "csv" / "mapping.toml")).graph
    assert again.differences(tiny_graph) == []


def test_turtle_export_round_trips(tiny_graph, tmp_path):
    export_graph(tiny_graph, tmp_path / "g.ttl", privacy="clear")
    text = (tmp_path / "g.ttl").read_text()
    assert "<https://go.drugbank.com/drugs/DB00945>" in text
    assert "<http://purl.obolibrary.org/obo/DOID_9352>" in text
    assert "<https://www.ncbi.nlm.nih.gov/gene/5742>" in text
    again = build(load_rdf_source(tmp_path / "g.ttl")).graph
    assert again.differences(tiny_graph) == []


def test_export_round_trip_keeps_tables_on_a_real_neighbourhood(shipped_graph, tmp_path):
    sub = shipped_graph.around("disease:DOID:9352", hops=1, relations=["treats", "binds", "associates"])
    export_graph(sub, tmp_path / "csv", "csv", privacy="clear")
    export_graph(sub, tmp_path / "sub.ttl", privacy="clear")
    assert build(load_csv_source(tmp_path / "csv" / "mapping.toml")).graph.differences(sub, False) == []
    assert build(load_rdf_source(tmp_path / "sub.ttl")).graph.differences(sub, False) == []


@pytest.mark.parametrize("name,reader", [("g.graphml", nx.read_graphml), ("g.gexf", nx.read_gexf)])
def test_graphml_and_gexf_open_in_networkx(tiny_graph, tmp_path, name, reader):
    export_graph(tiny_graph, tmp_path / name)
    g = reader(tmp_path / name)
    assert g.number_of_nodes() == 11 and g.number_of_edges() == 14
    relations = sorted(d["relation"] for _, _, d in g.edges(data=True))
    assert relations.count("binds") == 3
    weights = [d.get("weight") for u, v, d in g.edges(data=True) if d["relation"] == "prescribes"]
    assert sorted(float(w) for w in weights) == [7.5, 42.0]


def test_node_link_json_is_networkx_readable(tiny_graph, tmp_path):
    export_graph(tiny_graph, tmp_path / "g.json")
    data = json.loads((tmp_path / "g.json").read_text())
    g = nx.node_link_graph(data, edges="edges")
    assert g.number_of_nodes() == 11 and g.number_of_edges() == 14
    assert g.nodes["drug:DB00945"]["name"] == "Aspirin"


def test_neo4j_export_has_typed_headers_and_import_script(tiny_graph, tmp_path):
    export_graph(tiny_graph, tmp_path / "neo", "neo4j")
    drugs = (tmp_path / "neo" / "nodes_drug.csv").read_text().splitlines()
    assert drugs[0].startswith("id:ID,") and drugs[0].endswith(":LABEL") and len(drugs) == 5
    rel = (tmp_path / "neo" / "relationships_doctor__prescribes__drug.csv").read_text().splitlines()
    assert rel[0] == ":START_ID,:END_ID,weight:double,:TYPE"
    script = (tmp_path / "neo" / "import.sh").read_text()
    assert "neo4j-admin database import full" in script.replace(" \\\n  ", " ")
    assert "--relationships=relationships_drug__treats__disease.csv" in script
    assert drugs[0] == "id:ID,name:string,atc_codes:string[],:LABEL" and "'--array-delimiter=|'" in script


def test_neo4j_node_properties_are_typed_from_their_values():
    import pandas as pd

    from kg.export.tabular import _neo4j_property

    def kind(*values):
        return _neo4j_property("x", pd.Series(list(values), dtype=object))[0]

    assert kind("1", "0", None) == "boolean" and kind(True, False) == "boolean"
    assert list(_neo4j_property("x", pd.Series(["1", "0", None], dtype=object))[1].fillna("")) == ["true", "false", ""]
    assert kind("12", "2094") == "long" and kind("1.5", "2") == "double"
    assert kind("2020-03-01") == "date" and kind("B01AC06|N02BA01", "A10BA02") == "string[]"
    assert kind("MD", "1") == "string"
    assert _neo4j_property("name", pd.Series(["1", "0"]))[0] == "string"  # a name stays text


def test_unknown_format_is_a_clear_error(tiny_graph, tmp_path):
    with pytest.raises(KGError, match="cannot tell the export format"):
        export_graph(tiny_graph, tmp_path / "g.xyz")
    with pytest.raises(KGError, match="unknown export format"):
        export_graph(tiny_graph, tmp_path / "g.out", "pdf")


def test_failed_export_leaves_no_partial_file(tiny_graph, tmp_path, monkeypatch):
    import kg.export as export

    def broken(graph, path):
        path.write_text("half")
        raise RuntimeError("disk full")

    monkeypatch.setitem(export.FORMATS, "graphml", (broken, False))
    with pytest.raises(RuntimeError):
        export_graph(tiny_graph, tmp_path / "g.graphml")
    assert list(tmp_path.iterdir()) == []
