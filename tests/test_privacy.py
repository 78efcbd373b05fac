"""Patient ids leave the process pseudonymised unless the user asks otherwise."""

import gzip
import json

import pytest

from kg.build import SourceSpec, build_graph, write_build
from kg.errors import KGError
from kg.export import export_graph
from kg.privacy import Pseudonymiser, apply_privacy

from conftest import REPO, TINY

CLINICAL = TINY.parent / "clinical"
VOCABULARY = str(REPO / "data" / "mappings" / "vocabulary.toml")


def test_exports_pseudonymise_patients_by_default(tiny_graph, tmp_path):
    export_graph(tiny_graph, tmp_path / "g.graphml")
    text = (tmp_path / "g.graphml").read_text()
    assert "patient:demo:p1" not in text
    assert Pseudonymiser().pseudonym("patient:demo:p1") in text


def test_pseudonyms_are_keyed_and_stable():
    a, b = Pseudonymiser("k" * 32), Pseudonymiser("j" * 32)
    assert a.pseudonym("patient:x:1") == Pseudonymiser("k" * 32).pseudonym("patient:x:1")
    assert a.pseudonym("patient:x:1") != b.pseudonym("patient:x:1")
    assert a.pseudonym("drug:DB00945") == "drug:DB00945"
    assert a.text("patient:x:1 -> drug:DB1") == f"{a.pseudonym('patient:x:1')} -> drug:DB1"
    with pytest.raises(KGError):
        Pseudonymiser("short")


def test_key_file_is_created_once_with_private_permissions(monkeypatch, tmp_path):
    monkeypatch.delenv("RXKG_PSEUDONYM_KEY")
    monkeypatch.setenv("RXKG_HOME", str(tmp_path))
    first = Pseudonymiser().pseudonym("patient:x:1")
    assert (tmp_path / "pseudonym.key").stat().st_mode & 0o777 == 0o600
    assert Pseudonymiser().pseudonym("patient:x:1") == first


def test_drop_and_clear_modes(tiny_graph, tmp_path):
    dropped = apply_privacy(tiny_graph, "drop")
    assert "patient" not in set(dropped.nodes["type"])
    assert not any("patient" in (et.src, et.dst) for et in dropped.edges)
    export_graph(tiny_graph, tmp_path / "clear.json", privacy="clear")
    assert "patient:demo:p1" in (tmp_path / "clear.json").read_text()


def test_personal_dates_are_cut_to_the_year():
    result = build_graph([SourceSpec("synthea", {"dir": str(CLINICAL / "synthea"), "vocabulary": VOCABULARY},
                                     "syn")])
    anon = apply_privacy(result.graph)
    patients = anon.nodes[anon.nodes["type"] == "patient"]
    assert sorted(patients["birth_date"]) == ["1950", "1980"]
    assert all(i.startswith("patient:anon:") for i in patients["id"])
    takes = anon.edges[("patient", "takes", "drug")]
    assert all(str(s).startswith("patient:anon:") for s in takes["src"])


def test_build_reports_pseudonymise_patients(tmp_path):
    result = build_graph([SourceSpec("synthea", {"dir": str(CLINICAL / "synthea"), "vocabulary": VOCABULARY},
                                     "syn")])
    write_build(result, tmp_path / "g")
    with gzip.open(tmp_path / "g" / "out_of_scope.tsv.gz", "rt") as f:
        oos = f.read()
    assert "patient:syn:" not in oos and "patient:anon:" in oos
    assert "patient:syn:" not in (tmp_path / "g" / "build_report.json").read_text()
    json.loads((tmp_path / "g" / "build_report.json").read_text())
