"""Drug names and clinical codes in a user's CSV map to graph ids through the shipped vocabulary."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kg.errors import KGError
from kg.sources import load_csv_source
from kg.sources.csv_codes import ndc11
from tests.conftest import TINY, balance, build

VOCABULARY = Path(__file__).resolve().parents[1] / "data" / "mappings" / "vocabulary.toml"


def _source(tmp_path, rows: str, **keys: str):
    """Prescriptions by NPI (and a roster naming the one new prescriber, 1234567893)."""
    (tmp_path / "rx.csv").write_text(rows)
    (tmp_path / "doctors.csv").write_text("npi,specialty\n1234567893,Family Practice\n")
    extra = "".join(f'{k} = "{v}"\n' for k, v in keys.items())
    (tmp_path / "rx.toml").write_text(textwrap.dedent("""
        [[nodes]]
        file = "doctors.csv"
        id = "npi"
        node_type = "doctor"
        namespace = "NPI"
        attributes = ["specialty"]

        [[edges]]
        file = "rx.csv"
        source = "who"
        target = "what"
        relation = "prescribes"
        source_type = "doctor"
        source_namespace = "NPI"
        weight = "claims"
    """) + extra)
    return tmp_path / "rx.toml"


def test_drug_names_map_to_drugbank_with_combinations_as_every_ingredient(tmp_path):
    mapping = _source(tmp_path, "who,what,claims\n"
                                "1234567893,Metformin HCl 500 mg,12\n"
                                "1234567893,AMOXICILLIN/CLAVULANATE POTASSIUM,5\n"
                                "1234567893,Pen needles,3\n", target_map="drug_name")
    data = load_csv_source(mapping, "mine", VOCABULARY)
    outcome = build(load_csv_source(TINY / "mapping.toml"), data, policy="quarantine")
    edges = outcome.graph.edges[("doctor", "prescribes", "drug")]
    edges = edges[edges["src"] == "doctor:NPI:1234567893"]
    assert outcome.graph.node("doctor:NPI:1234567893")["specialty"] == "Family Practice"
    pairs = set(zip(edges["dst"], edges["weight"]))
    assert pairs == {("drug:DB00331", 12.0), ("drug:DB01060", 5.0), ("drug:DB00766", 5.0)}
    # the unmapped name is set aside with its reason, and every row is accounted for
    oos = outcome.out_of_scope
    assert list(oos["record"]) == ["Pen needles"] and "maps to no DrugBank drug" in oos["reason"].iloc[0]
    stats = outcome.stats["mine"]
    assert stats.rows_read == 4 and stats.rows_expanded == 1 and balance(stats)[0] == balance(stats)[1]
    tally = stats.mapping["rx.csv:what"]
    assert (tally["rows"], tally["rows_mapped"], tally["unmapped"]) == (3, 2, [{"code": "Pen needles", "rows": 1}])
    # the combination is one product whose ingredients the safety filter checks together
    products = outcome.graph.tables["products"]
    assert "drug:DB01060|drug:DB00766" in set(products["ingredients"])


def test_a_bad_row_is_rejected_once_even_when_its_name_maps_to_two_drugs(tmp_path):
    mapping = _source(tmp_path, "who,what,claims\n1234567893,AMOXICILLIN/CLAVULANATE,x\n1234567893,Metformin,2\n",
                      target_map="drug_name")
    outcome = build(load_csv_source(TINY / "mapping.toml"), load_csv_source(mapping, "mine", VOCABULARY),
                    policy="quarantine")
    stats = outcome.stats["mine"]
    assert stats.rejected == 1 and stats.edges_loaded == 1
    assert balance(stats)[0] == balance(stats)[1]


def test_condition_codes_map_to_disease_ontology(tmp_path):
    (tmp_path / "dx.csv").write_text("patient,code\ndemo:p1,250.00\ndemo:p1,E11.9\n")
    (tmp_path / "dx.toml").write_text(textwrap.dedent("""
        [[edges]]
        file = "dx.csv"
        source = "patient"
        source_type = "patient"
        target = "code"
        target_map = "icd9"
        relation = "has_condition"
    """))
    data = load_csv_source(tmp_path / "dx.toml", "mine", VOCABULARY)
    (batch,) = data.edges
    assert batch.frame["dst"].tolist() == ["disease:DOID:9352"]  # 250.00: diabetes without complication
    assert data.mapping["dx.csv:code"]["rows_mapped"] == 1       # E11.9 is ICD-10, not ICD-9: set aside
    assert "ICD-9 code 'E11.9' maps to no" in data.out_of_scope[0]["reason"].iloc[0]


@pytest.mark.parametrize("keys, message", [
    ({"target_map": "atc"}, "target_map 'atc' is not a code system"),
    ({"target_map": "icd9", "target_type": "drug"}, "yields disease ids, but target_type is 'drug'"),
    ({"target_map": "ndc", "target_namespace": "X"}, "give target_map or target_namespace, not both"),
])
def test_mapping_mistakes_are_errors_naming_the_entry(tmp_path, keys, message):
    mapping = _source(tmp_path, "who,what,claims\n1,a,1\n", **keys)
    with pytest.raises(KGError, match=message):
        load_csv_source(mapping, "mine", VOCABULARY)


def test_a_code_map_without_a_vocabulary_says_how_to_give_one(tmp_path):
    mapping = _source(tmp_path, "who,what,claims\n1,a,1\n", target_map="drug_name")
    with pytest.raises(KGError, match="has no code vocabulary; give it 'vocabulary'"):
        load_csv_source(mapping, "mine")


def test_hyphenated_ndcs_pad_each_segment():
    assert ndc11("0002-3227-30") == "00002322730"   # 4-4-2
    assert ndc11("50090-123-01") == "50090012301"   # 5-3-2
    assert ndc11("12345-6789-1") == "12345678901"   # 5-4-1
    assert ndc11("00002322730") == "00002322730"
