"""A corpus of malformed inputs: each must be reported with its file, its line (or
triple) and the reason, and a strict build must list every one of them."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from kg.errors import KGValidationError
from kg.sources import (load_csv_source, load_hetionet, load_indications, load_interactions,
                        load_rdf_source)

from conftest import CSV_MAPPING, build

NODES_OK = "id,type,name\ndrug:DB1,drug,A\ndrug:DB2,drug,B\ndisease:DOID:1,disease,D\n"
MAPPING = CSV_MAPPING
EDGES_HEADER = "s,r,t,w,when\n"
TTL_HEAD = ("@prefix rxkg: <https://w3id.org/rxkg/vocab#> .\n"
            "@prefix db: <https://go.drugbank.com/drugs/> .\n"
            "@prefix obo: <http://purl.obolibrary.org/obo/> .\n")


@dataclass
class Case:
    files: dict[str, str | bytes]
    load: Callable[[Path], object]
    file: str
    reason: str
    line: int | None = None
    triple: str | None = None


def csv_case(nodes: str = NODES_OK, edges: str = EDGES_HEADER + "drug:DB1,treats,disease:DOID:1,,\n",
             mapping: str = MAPPING, **expect) -> Case:
    return Case({"nodes.csv": nodes, "edges.csv": edges, "m.toml": mapping},
                lambda d: load_csv_source(d / "m.toml"), **expect)


def het(nodes: str, edges: str = "source\tmetaedge\ttarget\n", **expect) -> Case:
    return Case({"nodes.tsv": nodes, "edges.sif": edges},
                lambda d: load_hetionet(d / "nodes.tsv", d / "edges.sif"), **expect)


HET_NODES = "id\tname\tkind\nCompound::DB1\tA\tCompound\nGene::1\tG\tGene\n"
IND_HEADER = "doid_id\tdrugbank_id\tdisease\tdrug\tcategory\tn_curators\tn_resources\n"

CASES: dict[str, Case] = {
    "unknown node type": csv_case(nodes=NODES_OK + "x:1,chemical,X\n", file="nodes.csv", line=5,
                                  reason="unknown node type 'chemical'"),
    "unknown relation": csv_case(edges=EDGES_HEADER + "drug:DB1,cures,disease:DOID:1,,\n", file="edges.csv",
                                 line=2, reason="relation (drug, cures, disease) is not in the schema; drug -> disease relations are: "
                                 "contraindicated_in, palliates, treats"),
    "relation with wrong direction": csv_case(edges=EDGES_HEADER + "disease:DOID:1,treats,drug:DB1,,\n",
                                              file="edges.csv", line=2,
                                              reason="(disease, treats, drug) is not in the schema; 'treats' "
                                                     "joins (drug, treats, disease)"),
    "missing endpoint": csv_case(edges=EDGES_HEADER + "drug:DB1,treats,disease:DOID:1,,\n"
                                 "drug:DB9,treats,disease:DOID:1,,\n", file="edges.csv", line=3,
                                 reason="endpoint 'drug:DB9' does not exist"),
    "drug interacting with itself": csv_case(edges=EDGES_HEADER + "drug:DB1,treats,disease:DOID:1,,\n"
                                             "drug:DB2,interacts_with,drug:DB2,,\n", file="edges.csv", line=3,
                                             reason="(drug, interacts_with, drug) from 'drug:DB2' to itself: this "
                                                    "relation joins two different drug nodes"),
    "turtle disease resembling itself": Case({"g.ttl": TTL_HEAD + "obo:DOID_1 a rxkg:Disease .\n"
                                                                  "obo:DOID_1 rxkg:resembles obo:DOID_1 .\n"},
                                             lambda d: load_rdf_source(d / "g.ttl"), file="g.ttl",
                                             reason="from 'disease:DOID:1' to itself"),
    "duplicate id with conflicting name": csv_case(nodes=NODES_OK + "drug:DB1,drug,Other\n", file="nodes.csv",
                                                   line=5, reason="conflicting name: 'Other' here, 'A' at"),
    "mapped column missing from header": csv_case(nodes="id,kind,name\ndrug:DB1,drug,A\n", file="nodes.csv",
                                                  line=1, reason="missing column(s) ['type']"),
    "extra unmapped column": csv_case(nodes="id,type,name,colour\ndrug:DB1,drug,A,red\n", file="nodes.csv",
                                      line=1, reason="unmapped column(s) ['colour']"),
    "ragged row": csv_case(nodes=NODES_OK + "drug:DB3,drug,C,extra\n", file="nodes.csv", line=5,
                           reason="expected 3 fields, found 4"),
    "short row": csv_case(nodes=NODES_OK + "drug:DB3,drug\n", file="nodes.csv", line=5,
                          reason="expected 3 fields, found 2"),
    "unparsable weight": csv_case(edges=EDGES_HEADER + "drug:DB1,treats,disease:DOID:1,,\n"
                                  "drug:DB2,interacts_with,drug:DB1,lots,\n", file="edges.csv", line=3,
                                  reason="column 'w': 'lots' is not a number"),
    "unparsable date": csv_case(edges=EDGES_HEADER + "drug:DB1,treats,disease:DOID:1,,31/02/2020\n",
                                file="edges.csv", line=2, reason="'31/02/2020' is not an ISO date"),
    "attribute the relation does not take": csv_case(edges=EDGES_HEADER + "drug:DB1,treats,disease:DOID:1,3,\n",
                                                     file="edges.csv", line=2,
                                                     reason="relation (drug, treats, disease) takes no 'weight'"),
    "bad encoding": csv_case(nodes=NODES_OK.encode() + "drug:DB3,drug,Caf\xe9\n".encode("latin-1"),
                             file="nodes.csv", line=5, reason="bad encoding: byte 0xe9"),
    "empty file": csv_case(edges="", file="edges.csv", reason="empty file"),
    "header only": csv_case(edges=EDGES_HEADER, file="edges.csv", line=1, reason="no data rows"),
    "missing id": csv_case(nodes=NODES_OK + ",drug,Nameless\n", file="nodes.csv", line=5,
                           reason="missing node id"),
    "blank line inside the table": csv_case(nodes="id,type,name\ndrug:DB1,drug,A\n\ndrug:DB2,drug,B\n"
                                            "disease:DOID:1,disease,D\n", file="nodes.csv", line=3,
                                            reason="blank line inside the table"),
    "id of unknown type without mapping type": csv_case(edges=EDGES_HEADER + "DB1,treats,disease:DOID:1,,\n",
                                                        file="edges.csv", line=2,
                                                        reason="'DB1': cannot tell its node type"),
    "malformed turtle": Case({"g.ttl": TTL_HEAD + "db:DB1 a rxkg:Drug .\ndb:DB1 rxkg:treats obo:DOID_1 ;; ]\n"
                                      "db:DB2 a rxkg:Drug .\n"},
                             lambda d: load_rdf_source(d / "g.ttl"), file="g.ttl", line=5,
                             reason="malformed turtle"),
    "turtle unknown predicate": Case({"g.ttl": TTL_HEAD + "db:DB1 a rxkg:Drug .\n"
                                      "db:DB1 <http://x.org/cures> obo:DOID_1 .\n"},
                                     lambda d: load_rdf_source(d / "g.ttl"), file="g.ttl",
                                     triple="<http://x.org/cures>", reason="unknown predicate"),
    "turtle unknown class": Case({"g.ttl": TTL_HEAD + "db:DB1 a rxkg:Chemical .\n"},
                                 lambda d: load_rdf_source(d / "g.ttl"), file="g.ttl",
                                 triple="<https://w3id.org/rxkg/vocab#Chemical>", reason="unknown class"),
    "turtle edge to a node never declared": Case(
        {"g.ttl": TTL_HEAD + "db:DB1 a rxkg:Drug .\ndb:DB1 rxkg:treats obo:DOID_1 .\n"},
        lambda d: load_rdf_source(d / "g.ttl"), file="g.ttl", reason="endpoint 'disease:DOID:1' does not exist"),
    "turtle unrecognised IRI": Case({"g.ttl": TTL_HEAD + "<http://x.org/thing/1> a rxkg:Drug .\n"},
                                    lambda d: load_rdf_source(d / "g.ttl"), file="g.ttl",
                                    triple="<http://x.org/thing/1>", reason="no rxkg id can be derived"),
    "malformed n-triples": Case({"g.nt": "<https://go.drugbank.com/drugs/DB1> <http://x.org/p> .\n"},
                                lambda d: load_rdf_source(d / "g.nt"), file="g.nt", reason="malformed nt"),
    "malformed rdf/xml": Case({"g.rdf": '<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf='
                               '"http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n<rdf:Description>\n</rdf:RDF>\n'},
                              lambda d: load_rdf_source(d / "g.rdf"), file="g.rdf", line=4,
                              reason="malformed xml"),
    "hetionet unknown kind": het(HET_NODES + "Chemical::X\tX\tChemical\n", file="nodes.tsv", line=4,
                                 reason="unknown Hetionet node kind 'Chemical'"),
    "hetionet unknown metaedge": het(HET_NODES, "source\tmetaedge\ttarget\nCompound::DB1\tCxG\tGene::1\n",
                                     file="edges.sif", line=2, reason="unknown Hetionet metaedge 'CxG'"),
    "hetionet edge endpoint of the wrong kind": het(HET_NODES, "source\tmetaedge\ttarget\n"
                                                    "Compound::DB1\tCbG\tGene::1\nCompound::DB1\tGiG\tGene::1\n",
                                                    file="edges.sif", line=3,
                                                    reason="source 'Compound::DB1' is not a Gene node"),
    "hetionet unexpected column": het("id\tname\tkind\tscore\nGene::1\tG\tGene\t1\n", file="nodes.tsv", line=1,
                                      reason="unexpected column(s) ['score']"),
    "indications unknown category": Case({"ind.tsv": IND_HEADER + "DOID:1\tDB00001\tD\tA\tMAYBE\t1\t1\n"},
                                         lambda d: load_indications(d / "ind.tsv"), file="ind.tsv", line=2,
                                         reason="'MAYBE' is not one of ['DM', 'SYM', 'NOT']"),
    "indications count not an integer": Case({"ind.tsv": IND_HEADER + "DOID:1\tDB00001\tD\tA\tNOT\ttwo\t1\n"},
                                             lambda d: load_indications(d / "ind.tsv"), file="ind.tsv", line=2,
                                             reason="column 'n_curators': 'two' is not an integer"),
    "interaction with a malformed id": Case({"ddi.tsv": "Drug1\tDrug2\nDB00001\tDB00002\nDB00001\taspirin\n"},
                                            lambda d: load_interactions(d / "ddi.tsv"), file="ddi.tsv", line=3,
                                            reason="'aspirin' is not a DrugBank id"),
    "corrupt gzip": Case({"ddi.tsv.gz": b"\x1f\x8b\x08\x00garbage"},
                         lambda d: load_interactions(d / "ddi.tsv.gz"), file="ddi.tsv.gz",
                         reason="not a readable gzip file"),
}


def _write(tmp_path: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        target = tmp_path / name
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_input_is_reported_with_file_line_and_reason(name, tmp_path):
    case = CASES[name]
    _write(tmp_path, case.files)
    with pytest.raises(KGValidationError) as info:
        build(case.load(tmp_path))
    matching = [p for p in info.value.problems if case.reason in p.reason]
    assert matching, f"no problem mentions {case.reason!r}: {[str(p) for p in info.value.problems]}"
    problem = matching[0]
    assert Path(problem.file).name == case.file
    if case.line is not None:
        assert problem.line == case.line, str(problem)
    if case.triple is not None:
        assert problem.triple is not None and case.triple in problem.triple
    assert str(problem).startswith(problem.file)


def test_corpus_is_large_enough():
    assert len(CASES) >= 20


def test_strict_build_lists_every_problem_not_just_the_first(tmp_path):
    _write(tmp_path, {"nodes.csv": NODES_OK + "x:1,chemical,X\ndrug:DB1,drug,Other\n",
                      "edges.csv": EDGES_HEADER + "drug:DB1,cures,disease:DOID:1,,\ndrug:DB7,treats,disease:DOID:1,,\n",
                      "m.toml": MAPPING})
    with pytest.raises(KGValidationError) as info:
        build(load_csv_source(tmp_path / "m.toml"))
    lines = sorted((Path(p.file).name, p.line) for p in info.value.problems)
    assert lines == [("edges.csv", 2), ("edges.csv", 3), ("nodes.csv", 5), ("nodes.csv", 6)]


def test_quarantine_completes_the_build_and_reports_every_rejected_record(tmp_path):
    _write(tmp_path, {"nodes.csv": NODES_OK + "x:1,chemical,X\n",
                      "edges.csv": EDGES_HEADER + "drug:DB1,treats,disease:DOID:1,,\n"
                                   "drug:DB7,treats,disease:DOID:1,,\n",
                      "m.toml": MAPPING})
    out = build(load_csv_source(tmp_path / "m.toml"), policy="quarantine")
    assert out.graph.node_counts() == {"drug": 2, "disease": 1}
    assert out.graph.num_edges == 1
    assert [(Path(p.file).name, p.line) for p in out.problems] == [("nodes.csv", 5), ("edges.csv", 3)]
    assert out.stats["csv"].rejected == 2
    assert out.stats["csv"].rows_read == 6


def test_gzipped_csv_is_read_like_plain(tmp_path):
    (tmp_path / "ddi.tsv.gz").write_bytes(gzip.compress(b"Drug1\tDrug2\nDB00001\tbad\n"))
    with pytest.raises(KGValidationError, match=r"ddi.tsv.gz:2: column 'Drug2'"):
        build(load_interactions(tmp_path / "ddi.tsv.gz"))
