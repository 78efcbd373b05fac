"""Un-namespaced ids in a user's CSV: mapped through a declared namespace, or an error that says how."""

from __future__ import annotations

import textwrap

import pytest

from kg.errors import KGValidationError
from kg.sources import load_csv_source
from tests.conftest import TINY, build


def _prescriptions(tmp_path, namespace: str | None, npi: str = "1003000126"):
    (tmp_path / "rx.csv").write_text(f"npi,drug,claims\n{npi},DB00331,12\n")
    extra = f'source_namespace = "{namespace}"\n' if namespace else ""
    (tmp_path / "rx.toml").write_text(textwrap.dedent("""
        [[edges]]
        file = "rx.csv"
        source = "npi"
        target = "drug"
        relation = "prescribes"
        source_type = "doctor"
        target_type = "drug"
        weight = "claims"
    """) + extra)
    return load_csv_source(tmp_path / "rx.toml", name="mine")


def test_an_npi_column_maps_through_its_namespace(tmp_path):
    graph = build(load_csv_source(TINY / "mapping.toml"), _prescriptions(tmp_path, "NPI")).graph
    edges = graph.edges[("doctor", "prescribes", "drug")]
    assert ("doctor:NPI:1003000126", "drug:DB00331") in set(zip(edges["src"], edges["dst"]))


def test_without_the_namespace_the_error_names_the_id_meant_and_the_fix(tmp_path):
    with pytest.raises(KGValidationError) as err:
        build(load_csv_source(TINY / "mapping.toml"), _prescriptions(tmp_path, None))
    text = str(err.value)
    assert "rx.csv:2" in text and "'doctor:1003000126' does not exist" in text
    assert "did you mean 'doctor:NPI:1003000126'" in text and "source_namespace" in text


@pytest.mark.parametrize("namespace", ["NPI", None])
def test_an_id_a_spreadsheet_wrote_as_a_decimal_is_named_with_the_fix(tmp_path, namespace):
    with pytest.raises(KGValidationError) as err:
        build(load_csv_source(TINY / "mapping.toml"), _prescriptions(tmp_path, namespace, npi="1003000126.0"))
    text = str(err.value)
    assert "rx.csv:2" in text and "1003000126.0' does not exist" in text
    assert "did you mean 'doctor:NPI:1003000126'" in text and "decimal number" in text
    assert ("source_namespace" in text) == (namespace is None)
