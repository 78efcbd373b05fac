"""The tiny fixture loads to the same graph from CSV and from Turtle; views are right."""

import pandas as pd
import pytest

from kg.schema import EdgeType
from kg.sources import load_csv_source, load_rdf_source
from kg.views import to_hetero_data, to_networkx

from conftest import TINY, build


def test_csv_and_turtle_fixtures_load_to_the_same_graph(tiny_graph):
    from_turtle = build(load_rdf_source(TINY / "tiny.ttl")).graph
    assert tiny_graph.differences(from_turtle) == []
    assert tiny_graph.node_counts() == {"drug": 4, "disease": 2, "target": 3, "doctor": 1, "patient": 1}
    assert tiny_graph.num_edges == 14


def test_weights_and_times_are_typed(tiny_graph):
    prescribes = tiny_graph.edges[EdgeType("doctor", "prescribes", "drug")]
    assert prescribes["weight"].tolist() == [42.0, 7.5]
    takes = tiny_graph.edges[EdgeType("patient", "takes", "drug")]
    assert takes["time"].iloc[0] == pd.Timestamp("2020-03-01")


def test_node_lookup_and_neighbourhood(tiny_graph):
    assert tiny_graph.node("drug:DB00331")["name"] == "Metformin"
    with pytest.raises(KeyError, match="drug:DB99999"):
        tiny_graph.node("drug:DB99999")
    assert tiny_graph.neighbourhood("disease:DOID:9352", hops=1) == {
        "disease:DOID:9352", "drug:DB00331", "target:5468", "patient:demo:p1"}
    two = tiny_graph.neighbourhood("disease:DOID:9352", hops=2, relations=["treats", "binds"])
    assert two == {"disease:DOID:9352", "drug:DB00331", "target:5468"}
    sub = tiny_graph.around("drug:DB00945", hops=1)
    assert set(sub.nodes["id"]) == {"drug:DB00945", "drug:DB00682", "disease:DOID:1287", "target:5742"}
    assert sub.num_edges == 3


def test_unknown_relation_filter_is_an_error(tiny_graph):
    from kg.errors import KGError
    with pytest.raises(KGError, match="unknown relation"):
        tiny_graph.neighbourhood("drug:DB00945", relations=["cures"])


def test_networkx_view_is_typed(tiny_graph):
    g = to_networkx(tiny_graph)
    assert g.number_of_nodes() == 11 and g.number_of_edges() == 14
    assert g.nodes["drug:DB00945"]["type"] == "drug"
    assert g.edges["drug:DB00331", "disease:DOID:9352", "treats"]["relation"] == "treats"
    assert g.edges["doctor:NPI:1003000126", "drug:DB00331", "prescribes"]["weight"] == 42.0


def test_hetero_data_view_indexes_match_id_maps(tiny_graph):
    data, id_maps = to_hetero_data(tiny_graph)
    assert data["drug"].num_nodes == 4
    ei = data["drug", "treats", "disease"].edge_index
    pairs = {(id_maps["drug"][s], id_maps["disease"][d]) for s, d in ei.t().tolist()}
    assert pairs == {("drug:DB00331", "disease:DOID:9352"), ("drug:DB01076", "disease:DOID:1287")}
    assert data["doctor", "prescribes", "drug"].edge_weight.tolist() == [42.0, 7.5]
    assert data["patient", "takes", "drug"].edge_time.tolist() == [int(pd.Timestamp("2020-03-01").timestamp())]


def test_symmetric_duplicates_in_either_order_merge(tmp_path):
    (tmp_path / "n.csv").write_text("id,type\ndrug:DB1,drug\ndrug:DB2,drug\n")
    (tmp_path / "e.csv").write_text("s,d\ndrug:DB2,drug:DB1\ndrug:DB1,drug:DB2\n")
    (tmp_path / "m.toml").write_text('[[nodes]]\nfile="n.csv"\nid="id"\ntype="type"\n'
                                     '[[edges]]\nfile="e.csv"\nsource="s"\ntarget="d"\nrelation="interacts_with"\n')
    out = build(load_csv_source(tmp_path / "m.toml"))
    assert len(out.graph.edges[EdgeType("drug", "interacts_with", "drug")]) == 1
    assert out.stats["csv"].duplicates_merged == 1
