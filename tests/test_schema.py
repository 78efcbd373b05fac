import pytest

from kg.schema import HETIONET_KINDS, HETIONET_METAEDGES, NODE_TYPES, SCHEMA, EdgeType, make_id, split_id


def test_core_node_types_and_relations_are_declared():
    for t in ("drug", "disease", "target", "doctor", "patient"):
        assert t in NODE_TYPES
    for et in [("drug", "treats", "disease"), ("drug", "palliates", "disease"), ("drug", "binds", "target"),
               ("disease", "associates", "target"), ("drug", "interacts_with", "drug"),
               ("doctor", "prescribes", "drug"), ("patient", "takes", "drug"),
               ("patient", "has_condition", "disease"), ("doctor", "sees", "patient")]:
        assert EdgeType(*et) in SCHEMA.relations


def test_every_hetionet_kind_and_metaedge_maps_into_the_schema():
    assert set(HETIONET_KINDS.values()) <= set(NODE_TYPES)
    assert HETIONET_KINDS["Compound"] == "drug" and HETIONET_KINDS["Gene"] == "target"
    for et in HETIONET_METAEDGES.values():
        assert et in SCHEMA.relations


def test_ids_are_namespaced_by_type():
    assert make_id("disease", "DOID:9352") == "disease:DOID:9352"
    assert make_id("drug", "drug:DB00945") == "drug:DB00945"
    assert split_id("disease:DOID:9352") == ("disease", "DOID:9352")
    with pytest.raises(ValueError, match="no type namespace"):
        split_id("DB00945")


def test_undeclared_relation_does_not_resolve():
    assert SCHEMA.resolve("drug", "treats", "disease") == EdgeType("drug", "treats", "disease")
    assert SCHEMA.resolve("disease", "treats", "drug") is None
    assert EdgeType.from_key("drug__treats__disease").key == "drug__treats__disease"
