"""Every row or triple read is accounted for, per source, with several problems on one record:

    rows (or triples) read + rows expanded
        = nodes loaded + nodes annotated + edges loaded + duplicates merged + table rows
          + out of scope + rejected

and ``rejected`` counts records (a row with three problems is one rejected row).
"""

from __future__ import annotations

from pathlib import Path

import rdflib

from kg.sources import load_cms_prescribers, load_csv_source, load_mimic, load_rdf_source, load_synthea

from conftest import CSV_MAPPING, TINY, balance, build

REPO = Path(__file__).resolve().parent.parent
VOCABULARY = REPO / "data" / "mappings" / "vocabulary.toml"
CLINICAL = TINY.parent / "clinical"
MAPPING = CSV_MAPPING


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        with open(folder / name, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)


def test_csv_rows_with_several_problems_count_once(tmp_path):
    _write(tmp_path, {
        "m.toml": MAPPING,
        "nodes.csv": ("id,type,name\n"
                      "drug:DB1,drug,A\n"
                      "doctor:NPI:1,doctor,Dr\n"
                      "\"drug:DB2 \",drug,B\x07ad\n"          # two problems, one row
                      "x:1,chemical,X\n"                       # one problem
                      "drug:DB1,drug,A\n"),                    # a duplicate, merged
        "edges.csv": ("s,r,t,w,when\n"
                      "doctor:NPI:1,prescribes,drug:DB1,3,\n"
                      "doctor:NPI:1,prescribes,drug:DB1,-inf,1500-01-01\n"  # two problems, one row
                      "doctor:NPI:1,prescribes,drug:DB9,1,\n"               # missing endpoint
                      "doctor:NPI:1,prescribes,drug:DB1,3,\n"               # a duplicate, merged
                      "doctor:NPI:1,cures,drug:DB1,,\n"),                    # not in the schema
    })
    out = build(load_csv_source(tmp_path / "m.toml"), policy="quarantine")
    stats = out.stats["csv"]
    assert stats.rows_read == 10
    assert stats.rejected == 5
    assert len(out.problems) == 7
    accounted, read = balance(stats)
    assert accounted == read


def test_csv_broken_quote_and_ragged_rows_are_read_and_rejected(tmp_path):
    _write(tmp_path, {
        "m.toml": MAPPING,
        "nodes.csv": "id,type,name\ndrug:DB1,drug,A\ndrug:DB2,drug,B,extra\ndrug:DB3,drug,C\n",
        "edges.csv": "s,r,t,w,when\ndrug:DB1,treats,drug:DB3,,\n\"drug:DB3,treats,drug:DB1,,\n",
    })
    out = build(load_csv_source(tmp_path / "m.toml"), policy="quarantine")
    stats = out.stats["csv"]
    assert stats.rows_read == 5 and stats.rejected == 3  # ragged row, unknown relation, broken quote
    accounted, read = balance(stats)
    assert accounted == read


TTL = """@prefix rxkg: <https://w3id.org/rxkg/vocab#> .
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix db: <https://go.drugbank.com/drugs/> .
@prefix obo: <http://purl.obolibrary.org/obo/> .
@prefix doc: <https://w3id.org/rxkg/id/doctor/> .
db:DB00001 a rxkg:Drug ; rdfs:label "A" .
db:DB00002 a rxkg:Drug ; rdfs:label "B", "Bee" .
obo:DOID_1 a rxkg:Disease ; rdfs:label "D" ; rxkg:colour "blue" .
doc:NPI:1 a rxkg:Doctor ; rdfs:label "Dr" .
db:DB00003 rdfs:label "no type" ; rxkg:note "n" .
db:DB00001 rxkg:treats obo:DOID_1 .
db:DB00002 rxkg:treats obo:DOID_1 .
db:DB00001 rxkg:cures obo:DOID_1 .
doc:NPI:1 rxkg:prescribes db:DB00001 .
doc:NPI:1 rxkg:prescribes db:DB00002 .
obo:DOID_1 rxkg:treats db:DB00001 .
[] a rdf:Statement ; rdf:subject doc:NPI:1 ; rdf:predicate rxkg:prescribes ; rdf:object db:DB00001 ;
   rxkg:weight 4.0 ; <http://example.org/other> "x" .
[] a rdf:Statement ; rdf:subject doc:NPI:1 ; rdf:predicate rxkg:prescribes ; rdf:object db:DB00002 ;
   rxkg:weight 1.0, 2.0 .
[] a rdf:Statement ; rdf:subject db:DB00009 ; rdf:predicate rxkg:treats ; rdf:object obo:DOID_1 .
"""


def test_rdf_triples_are_accounted_for_one_by_one(tmp_path):
    (tmp_path / "x.ttl").write_text(TTL)
    triples = len(rdflib.Graph().parse(tmp_path / "x.ttl"))
    out = build(load_rdf_source(tmp_path / "x.ttl"), policy="quarantine")
    stats = out.stats["rdf"]
    assert stats.rows_read == triples
    accounted, read = balance(stats)
    assert accounted == read, (accounted, read, stats)
    assert stats.rejected > 0 and out.graph.node_counts() == {"drug": 2, "disease": 1, "doctor": 1}


def test_cms_rows_with_several_bad_cells(tmp_path):
    text = (CLINICAL / "cms.csv").read_text().splitlines()
    text[1] = text[1].replace(",25,0,0,0,0,0,0", ",-1,x,0,0,0,0,0")      # two bad cells, one row
    text.append('1000000009,"F","NY","MD","Psychiatry",1.5,0,0,0,0,0,0')  # another bad row
    (tmp_path / "cms.csv").write_text("\n".join(text) + "\n")
    out = build(load_cms_prescribers(tmp_path / "cms.csv", VOCABULARY), policy="quarantine")
    stats = next(iter(out.stats.values()))
    assert stats.rejected == 2
    accounted, read = balance(stats)
    assert accounted == read


def test_synthea_and_mimic_rows_with_problems(tmp_path):
    for name in ("synthea", "mimic"):
        for f in (CLINICAL / name).iterdir():
            (tmp_path / name).mkdir(exist_ok=True)
            (tmp_path / name / f.name).write_text(f.read_text())
    meds = tmp_path / "synthea" / "medications.csv"
    lines = meds.read_text().splitlines()
    lines.append(lines[1].replace("2019-01-01T09:00:00Z", "not a date").replace("314076", "0"))
    meds.write_text("\n".join(lines) + "\n")
    rx = tmp_path / "mimic" / "PRESCRIPTIONS.csv"
    lines = rx.read_text().splitlines()
    lines.append(lines[1].replace("2164-10-24 00:00:00", "9999-99-99 00:00:00").replace("1,101", "99,101", 1))
    rx.write_text("\n".join(lines) + "\n")
    for loader, folder in ((load_synthea, "synthea"), (load_mimic, "mimic")):
        out = build(loader(tmp_path / folder, VOCABULARY), policy="quarantine")
        stats = next(iter(out.stats.values()))
        assert stats.rejected >= 1, folder
        accounted, read = balance(stats)
        assert accounted == read, (folder, stats)
