"""A corpus of hostile and malformed inputs, run through the ``rxkg`` command line as a user would.

Every case asserts the exit code (1 for bad data, 2 for usage), that the one-line message
names the file, the line, triple or key, and the reason, that no Python traceback is
printed, and that no file of the user's changed. Classes: output paths (data loss), silent
drops, accepted nonsense, tracebacks, integrity, privacy, denial of service.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from kg.io import write_graph
from pipelines.cli import main

from conftest import CSV_MAPPING, TINY

REPO = Path(__file__).resolve().parent.parent
VOCABULARY = REPO / "data" / "mappings" / "vocabulary.toml"
CLINICAL = TINY.parent / "clinical"

NODES = "id,type,name\ndrug:DB1,drug,A\ndrug:DB2,drug,B\ndisease:DOID:1,disease,D\n"
EDGES = "s,r,t,w,when\n"
OK_EDGE = "drug:DB1,treats,disease:DOID:1,,\n"
MAPPING = CSV_MAPPING
TTL = ("@prefix rxkg: <https://w3id.org/rxkg/vocab#> .\n"
       "@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .\n"
       "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
       "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n"
       "@prefix db: <https://go.drugbank.com/drugs/> .\n"
       "@prefix obo: <http://purl.obolibrary.org/obo/> .\n"
       "db:DB00001 a rxkg:Drug ; rdfs:label \"A\" .\n"
       "obo:DOID_1 a rxkg:Disease ; rdfs:label \"D\" .\n")


def _config(kind: str, policy: str = "strict", **files: str) -> str:
    options = "".join(f'{k} = "{v}"\n' for k, v in files.items())
    return f'[build]\npolicy = "{policy}"\n[[build.sources]]\nkind = "{kind}"\n{options}'


@dataclass
class Case:
    files: dict[str, str | bytes]
    argv: list[str]
    code: int
    expect: tuple[str, ...]
    setup: Callable[[Path], None] | None = None
    absent: tuple[str, ...] = ()
    seconds: float = 60.0
    #: Environment for the run; ``{in}`` is the case folder, ``None`` removes a variable.
    env: dict[str, str | None] = field(default_factory=dict)


def csv_build(nodes: str = NODES, edges: str = EDGES + OK_EDGE, mapping: str = MAPPING,
              policy: str = "strict", code: int = 1, expect: tuple[str, ...] = (), **kw) -> Case:
    return Case({"nodes.csv": nodes, "edges.csv": edges, "m.toml": mapping,
                 "c.toml": _config("csv", policy, mapping="m.toml")},
                ["build", "--config", "{in}/c.toml", "--out", "{out}/graph"], code, expect, **kw)


def claim_case(weight: str, expect: tuple[str, ...]) -> Case:
    """A prescription edge whose claim weight is ``weight``."""
    return csv_build(nodes="id,type,name\ndoctor:NPI:1,doctor,Dr\ndrug:DB1,drug,A\n",
                     edges=EDGES + f"doctor:NPI:1,prescribes,drug:DB1,{weight},\n", expect=expect)


def clinical_case(kind: str, file: str, old: str, new: str, expect: tuple[str, ...]) -> Case:
    """The shipped ``kind`` fixture folder (synthea or mimic) with ``old`` replaced by ``new`` once in ``file``."""
    files = {f"{kind}/{p.name}": p.read_text() for p in (CLINICAL / kind).iterdir()}
    files[f"{kind}/{file}"] = files[f"{kind}/{file}"].replace(old, new, 1)
    return Case({**files, "c.toml": _config(kind, dir=kind, vocabulary=str(VOCABULARY))},
                ["build", "--config", "{in}/c.toml", "--out", "{out}/g"], 1, expect)


def rdf_build(body: str, name: str = "x.ttl", code: int = 1, expect: tuple[str, ...] = (), **kw) -> Case:
    return Case({name: body, "c.toml": _config("rdf", file=name)},
                ["build", "--config", "{in}/c.toml", "--out", "{out}/graph"], code, expect, **kw)


def with_graph(argv: list[str], code: int, expect: tuple[str, ...],
               tamper: Callable[[Path], None] | None = None, files: dict[str, str] | None = None, **kw) -> Case:
    """A case run against a graph written into the case folder (and then changed by ``tamper``)."""

    def setup(folder: Path) -> None:
        from conftest import build
        from kg.sources import load_csv_source

        write_graph(build(load_csv_source(TINY / "mapping.toml")).graph, folder / "graph")
        if tamper:
            tamper(folder / "graph")

    return Case(files or {}, argv, code, expect, setup=setup, **kw)


def _manifest(change: Callable[[dict], object]) -> Callable[[Path], None]:
    def tamper(graph: Path) -> None:
        path = graph / "manifest.json"
        data = json.loads(path.read_text())
        result = change(data)
        path.write_text(json.dumps(data if result is None else result))
    return tamper


def _fifo(folder: Path) -> None:
    os.remove(folder / "nodes.csv")
    os.mkfifo(folder / "nodes.csv")


def _directory_input(folder: Path) -> None:
    os.remove(folder / "nodes.csv")
    (folder / "nodes.csv").mkdir()


BILLION_LAUGHS = ("<?xml version=\"1.0\"?>\n<!DOCTYPE rdf [\n<!ENTITY a \"aaaaaaaaaaaaaaaaaaaa\">\n"
                  + "".join(f"<!ENTITY {chr(98 + i)} \"" + f"&{chr(97 + i)};" * 10 + "\">\n" for i in range(9))
                  + "]>\n<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" "
                    "xmlns:rdfs=\"http://www.w3.org/2000/01/rdf-schema#\">\n"
                    "<rdf:Description rdf:about=\"https://go.drugbank.com/drugs/DB00001\">"
                    "<rdfs:label>&j;</rdfs:label></rdf:Description>\n</rdf:RDF>\n")

CASES: dict[str, Case] = {
    # 1. output paths: rxkg never replaces what it did not write
    "build over a folder of the user's csvs": Case(
        {"nodes.csv": NODES, "edges.csv": EDGES + OK_EDGE, "m.toml": MAPPING,
         "c.toml": _config("csv", mapping="m.toml")},
        ["build", "--config", "{in}/c.toml", "--out", "{in}"], 1, ("{in}", "was not written by rxkg")),
    "export csv over a folder of unrelated files": with_graph(
        ["export", "{in}/graph", "--format", "csv", "--out", "{in}/mine"], 1, ("mine", "was not written by rxkg"),
        tamper=lambda g: ((g.parent / "mine").mkdir(), (g.parent / "mine" / "a.txt").write_text("a"))),
    "directory export onto a file": with_graph(
        ["export", "{in}/graph", "--format", "neo4j", "--out", "{in}/notes.txt"], 1,
        ("notes.txt", "is a file, not a folder"), tamper=lambda g: (g.parent / "notes.txt").write_text("n")),
    "file export over the user's file": with_graph(
        ["export", "{in}/graph", "--out", "{in}/drawing.graphml"], 1,
        ("drawing.graphml", "was not written by rxkg"),
        tamper=lambda g: (g.parent / "drawing.graphml").write_text("<graphml/>")),
    "file export onto a folder": with_graph(
        ["export", "{in}/graph", "--out", "{in}/graph"], 1, ("graph", "cannot tell the export format")),
    "build under a parent that is a file": Case(
        {"nodes.csv": NODES, "edges.csv": EDGES + OK_EDGE, "m.toml": MAPPING, "notes.txt": "n",
         "c.toml": _config("csv", mapping="m.toml")},
        ["build", "--config", "{in}/c.toml", "--out", "{in}/notes.txt/graph"], 1,
        ("notes.txt", "is a file, not a folder")),
    "train into a folder of the user's files": Case(
        {"keep.txt": "mine", "c.toml": "[train]\nseed = 1\n"},
        ["train", "--graph", "{in}/missing-graph", "--out", "{in}", "--config", "{in}/c.toml"], 1,
        ("{in}", "was not written by rxkg")),
    "output folder that cannot be created": Case(
        {"nodes.csv": NODES, "edges.csv": EDGES + OK_EDGE, "m.toml": MAPPING,
         "c.toml": _config("csv", mapping="m.toml")},
        ["build", "--config", "{in}/c.toml", "--out", "/proc/rxkg-hostile/graph"], 1,
        ("/proc/rxkg-hostile", "cannot")),

    # 2. silent drops
    "csv quote opened and never closed": csv_build(
        nodes="id,type,name\ndrug:DB1,drug,A\ndrug:DB2,drug,\"B\ndisease:DOID:1,disease,D\n",
        expect=("nodes.csv:3", "quote")),
    "edges csv quote never closed": csv_build(
        edges=EDGES + OK_EDGE + "drug:DB2,treats,\"disease:DOID:1,,\n", expect=("edges.csv:3", "quote")),
    "quarantine build that rejected every record": csv_build(
        nodes="id,type,name\nx:1,chemical,X\n", edges=EDGES + "x:1,treats,x:2,,\n", policy="quarantine",
        expect=("every record of this source was rejected",)),
    "quarantine of a source whose header is wrong": csv_build(
        nodes="id,kind,name\ndrug:DB1,drug,A\n", edges=EDGES + OK_EDGE, policy="quarantine",
        expect=("nodes.csv:1", "missing column")),
    "spreadsheet export separated by semicolons": csv_build(
        nodes=NODES.replace(",", ";"), expect=("nodes.csv:1", "missing column", "';'-separated", 'delimiter = ";"')),
    "rdf node with two names": rdf_build(TTL + "db:DB00001 rdfs:label \"Other\" .\n",
                                         expect=("DB00001", "2 values", "name")),
    "rdf statement with two weights": rdf_build(
        TTL + "db:DB00001 rxkg:treats obo:DOID_1 .\n"
        "[] a rdf:Statement ; rdf:subject db:DB00001 ; rdf:predicate rxkg:treats ; rdf:object obo:DOID_1 ;"
        " rxkg:n_curators 1, 2 .\n", expect=("treats", "2 values", "n_curators")),
    "blank line inside a table": csv_build(nodes=NODES.replace("drug:DB2", "\ndrug:DB2"),
                                           expect=("nodes.csv:3", "blank line")),
    "ragged row": csv_build(nodes=NODES + "drug:DB3,drug,C,extra\n", expect=("nodes.csv:5", "fields")),

    # 3. accepted nonsense
    "weight inf": claim_case("inf", ("edges.csv:2", "'w'", "finite")),
    "weight -inf": claim_case("-inf", ("edges.csv:2", "'w'", "finite")),
    "weight 1e400": claim_case("1e400", ("edges.csv:2", "'w'", "finite")),
    "negative claim weight": claim_case("-3", ("edges.csv:2", "'w'", "negative")),
    "weight nan text": claim_case("nan", ("edges.csv:2", "'w'")),
    "rdf weight NaN": rdf_build(
        TTL + "<https://w3id.org/rxkg/id/doctor/NPI:1> a rxkg:Doctor .\n"
        "<https://w3id.org/rxkg/id/doctor/NPI:1> rxkg:prescribes db:DB00001 .\n"
        "[] a rdf:Statement ; rdf:subject <https://w3id.org/rxkg/id/doctor/NPI:1> ; rdf:predicate rxkg:prescribes ;"
        " rdf:object db:DB00001 ; rxkg:weight \"NaN\"^^xsd:double .\n", expect=("prescribes", "finite")),
    "id with a trailing space": csv_build(nodes=NODES + "\"drug:DB3 \",drug,C\n", expect=("nodes.csv:5", "space")),
    "id that is only a namespace": csv_build(nodes=NODES + "drug:,drug,C\n", expect=("nodes.csv:5", "empty")),
    "id that is a namespace and a space": csv_build(nodes=NODES + "drug: ,drug,C\n",
                                                     expect=("nodes.csv:5",)),
    "NUL in a name": csv_build(nodes=NODES + "drug:DB3,drug,C\x00D\n", expect=("nodes.csv:5", "control character")),
    "bell character in a name": csv_build(nodes=NODES + "drug:DB3,drug,C\x07D\n",
                                          expect=("nodes.csv:5", "control character")),
    "CRLF inside a name": csv_build(nodes=NODES + "drug:DB3,drug,\"C\r\nD\"\n",
                                    expect=("nodes.csv:5", "control character")),
    "newline inside a name": csv_build(nodes=NODES + "drug:DB3,drug,\"C\nD\"\n",
                                       expect=("nodes.csv:5", "control character")),
    "time before 1677": csv_build(
        nodes="id,type,name\npatient:x:1,patient,\ndrug:DB1,drug,A\n",
        edges=EDGES + "patient:x:1,takes,drug:DB1,,1500-01-01\n", expect=("edges.csv:2", "'when'")),
    "time after 2262": csv_build(
        nodes="id,type,name\npatient:x:1,patient,\ndrug:DB1,drug,A\n",
        edges=EDGES + "patient:x:1,takes,drug:DB1,,2300-01-01\n", expect=("edges.csv:2", "'when'")),

    # 4. tracebacks instead of messages
    "an input that is a directory": csv_build(setup=_directory_input, expect=("nodes.csv", "directory")),
    "an input that is a FIFO": csv_build(setup=_fifo, expect=("nodes.csv", "not a regular file"), seconds=10),
    "mapping value of the wrong type": csv_build(mapping=MAPPING.replace('id = "id"', "id = 5"),
                                                 expect=("m.toml", "'id'", "text")),
    "mapping that is not TOML": csv_build(mapping="[[nodes]\nfile=", expect=("m.toml", "TOML")),
    "mapping naming a missing file": csv_build(mapping=MAPPING.replace("nodes.csv", "nope.csv"),
                                               expect=("nope.csv", "not found")),
    "train seed that is not a number": Case(
        {"c.toml": '[train]\nseed = "zero"\n'}, ["train", "--config", "{in}/c.toml", "--out", "{out}/m"], 1,
        ("c.toml", "[train]", "seed", "int")),
    "train seed below zero in the config": Case(
        {"c.toml": '[train]\nseed = -1\n'}, ["train", "--config", "{in}/c.toml", "--out", "{out}/m"], 1,
        ("c.toml", "[train]", "seed must be a whole number from 0", "-1")),
    "evaluate seed past the largest in the config": Case(
        {"c.toml": '[evaluate]\nseed = 5000000000\n'}, ["evaluate", "--config", "{in}/c.toml", "--out", "{out}/r"],
        1, ("c.toml", "[evaluate]", "seed must be a whole number from 0", "5000000000")),
    "people GNN setting unknown or invalid": Case(
        {"c.toml": '[train]\npeople_gnn = { epoch = 3 }\n'}, ["train", "--config", "{in}/c.toml", "--out", "{out}/m"],
        1, ("c.toml", "[train]", "people_gnn", "epoch")),
    "people GNN with no epochs": Case(
        {"c.toml": '[train]\npeople_gnn = { epochs = 0 }\n'}, ["train", "--config", "{in}/c.toml", "--out", "{out}/m"],
        1, ("c.toml", "[train]", "epochs", "positive")),
    "evaluate quick that is not a boolean": Case(
        {"c.toml": '[evaluate]\nquick = "yes"\n'}, ["evaluate", "--config", "{in}/c.toml", "--out", "{out}/r"], 1,
        ("c.toml", "[evaluate]", "quick", "bool")),
    "build policy unknown": Case(
        {"c.toml": '[build]\npolicy = "lenient"\n'}, ["build", "--config", "{in}/c.toml", "--out", "{out}/g"], 1,
        ("policy", "lenient")),
    "source entry without kind": Case(
        {"c.toml": '[[build.sources]]\nfile = "x.ttl"\n'}, ["build", "--config", "{in}/c.toml", "--out", "{out}/g"],
        1, ("c.toml", "entry 1", "kind")),
    "config that does not exist": Case({}, ["build", "--config", "{in}/nope.toml", "--out", "{out}/g"], 1,
                                       ("nope.toml", "not found")),
    "rdf IRI with a space": rdf_build(TTL + "<https://go.drugbank.com/drugs/DB 2> a rxkg:Drug .\n",
                                      expect=("x.ttl", "IRI")),
    "rdf syntax error": rdf_build(TTL + "db:DB00002 a rxkg:Drug\n", expect=("x.ttl", "malformed")),
    "rdf file with an unknown extension": rdf_build(TTL, name="x.rdfz", expect=("x.rdfz", "format")),
    "cms claim count that overflows": Case(
        {"cms.csv": (CLINICAL / "cms.csv").read_text().replace(",25,0,0,0,0,0,0", ",99999999999999999999999,0,0,0,0,0,0"),
         "c.toml": _config("cms", prescribers="cms.csv", vocabulary=str(VOCABULARY))},
        ["build", "--config", "{in}/c.toml", "--out", "{out}/g"], 1, ("cms.csv:2", "ABILIFY")),
    "synthea medication before 1677": clinical_case(
        "synthea", "medications.csv", "2019-01-01T09:00:00Z,2019-02-01", "1500-01-01T09:00:00Z,2019-02-01",
        ("medications.csv:2", "START")),
    "mimic prescription with an impossible date": clinical_case(
        "mimic", "PRESCRIPTIONS.csv", "2164-10-24 00:00:00", "9999-99-99 00:00:00", ("PRESCRIPTIONS.csv:2", "STARTDATE")),
    "unwritable key home": with_graph(
        ["export", "{in}/graph", "--out", "{out}/x.json"], 1, ("home-file", "pseudonym key", "RXKG_HOME"),
        files={"home-file": "not a folder"}, env={"RXKG_PSEUDONYM_KEY": None, "RXKG_HOME": "{in}/home-file"}),

    # 5. integrity
    "graph manifest that is a list": with_graph(["info", "{in}/graph"], 1, ("manifest.json", "JSON object"),
                                                tamper=_manifest(lambda m: [m])),
    "graph manifest without files": with_graph(["info", "{in}/graph"], 1, ("manifest.json", "'files'"),
                                               tamper=_manifest(lambda m: m.pop("files"))),
    "graph manifest entry escaping the folder": with_graph(
        ["export", "{in}/graph", "--out", "{out}/x.json"], 1, ("manifest.json", "outside"),
        tamper=_manifest(lambda m: m["files"].update({"edges/../../outside/x.parquet": m["files"]["nodes.parquet"]}))),
    "absolute manifest entry": with_graph(
        ["export", "{in}/graph", "--out", "{out}/x.json"], 1, ("manifest.json", "outside"),
        tamper=_manifest(lambda m: m["files"].update({"/etc/passwd": m["files"]["nodes.parquet"]}))),
    "unlisted parquet file in a graph": with_graph(
        ["export", "{in}/graph", "--out", "{out}/x.json"], 1, ("extra.parquet", "not listed"),
        tamper=lambda g: shutil.copy(g / "nodes.parquet", g / "edges" / "extra.parquet")),
    "changed parquet file": with_graph(
        ["export", "{in}/graph", "--out", "{out}/x.json"], 1, ("nodes.parquet", "checksum"),
        tamper=lambda g: (g / "nodes.parquet").write_bytes((g / "nodes.parquet").read_bytes()[:-10])),
    "manifest that is not JSON": with_graph(["info", "{in}/graph"], 1, ("manifest.json", "invalid JSON"),
                                            tamper=lambda g: (g / "manifest.json").write_text("{")),
    "graph path that is a file": Case({"g.txt": "x"}, ["info", "{in}/g.txt"], 1, ("g.txt", "not a folder")),
    "model bundle that does not exist": Case({}, ["recommend", "--model", "{in}/none", "--disease", "disease:DOID:1"],
                                             1, ("none", "no such folder")),

    # 6. privacy
    "patient id with a space in an error": csv_build(
        nodes="id,type,name\ndrug:DB1,drug,A\n", edges=EDGES + "patient:demo:Jane Doe,takes,drug:DB1,,\n",
        expect=("edges.csv:2", "patient:"), absent=("Jane", "Doe")),

    # 7. denial of service
    "rdf/xml entity expansion": rdf_build(BILLION_LAUGHS, name="x.rdf", expect=("x.rdf", "entity"), seconds=5),
    "rdf/xml external entity": rdf_build(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>\n"
        "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description "
        "rdf:about=\"https://go.drugbank.com/drugs/DB00001\"><x xmlns=\"urn:x#\">&e;</x></rdf:Description></rdf:RDF>\n",
        name="x.rdf", expect=("x.rdf", "entity"), absent=("root:",), seconds=5),

    # usage
    "recommend k of zero": Case({}, ["recommend", "--disease", "disease:DOID:1", "--k", "0"], 2, ("--k",)),
    "recommend negative k": Case({}, ["recommend", "--disease", "disease:DOID:1", "--k", "-5"], 2, ("--k",)),
    "export negative hops": with_graph(["export", "{in}/graph", "--out", "{out}/x.json", "--hops", "-1"], 2,
                                       ("--hops",)),
    "train seed below zero": Case({}, ["train", "--seed", "-1", "--out", "{out}/m"], 2, ("--seed", "from 0")),
    "synth seed that is not a number": Case({}, ["synth", "--seed", "1.5", "--out", "{out}/s"], 2,
                                            ("--seed", "whole number")),
    "synth zero patients": Case({}, ["synth", "--patients", "0", "--out", "{out}/s"], 2, ("--patients",)),
    "unknown command": Case({}, ["fly"], 2, ("invalid choice",)),
    "k that is not a number": Case({}, ["recommend", "--disease", "disease:DOID:1", "--k", "ten"], 2, ("--k",)),
    "safety flag for a disease": Case({}, ["recommend", "--disease", "disease:DOID:1", "--no-safety"], 2,
                                      ("--no-safety", "only for --patient")),
    "duplicates flag for a doctor": Case({}, ["recommend", "--doctor", "doctor:NPI:1", "--duplicates", "remove"], 2,
                                         ("--duplicates", "only for --patient")),
    "new-only for a doctor": Case({}, ["recommend", "--doctor", "doctor:NPI:1", "--new-only"], 2,
                                  ("--new-only", "only for --disease")),
    "continuation for a new patient": Case({}, ["recommend", "--new-patient", "--conditions", "disease:DOID:1",
                                                "--include-current"], 2, ("--include-current", "only for --patient")),
    "empty search": Case({}, ["search", "  "], 2, ("the query is empty",)),
    "negative peers": Case({}, ["profile", "doctor:NPI:1", "--peers", "-2"], 2, ("--peers must be >= 0",)),
    "mistyped graph for train": Case({}, ["train", "--graph", "{in}/grahp", "--out", "{out}/m"], 1,
                                     ("grahp", "no such graph directory")),
}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_fifo()}


def test_the_corpus_covers_every_class():
    assert len(CASES) >= 60


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_input(name, tmp_path, capsys, monkeypatch):
    case = CASES[name]
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    out.mkdir()
    for rel, content in case.files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            (folder / rel).write_bytes(content)
        else:
            with open(folder / rel, "w", encoding="utf-8", newline="") as handle:
                handle.write(content)
    if case.setup:
        case.setup(folder)
    for key, value in case.env.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value.replace("{in}", str(folder)))
    before = _snapshot(folder)
    argv = [a.replace("{in}", str(folder)).replace("{out}", str(out)) for a in case.argv]
    start = time.perf_counter()
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's usage errors
        code = exit_.code
    seconds = time.perf_counter() - start
    captured = capsys.readouterr()
    err = captured.err
    assert code == case.code, f"exit {code}, expected {case.code}; stderr:\n{err}"
    assert "Traceback" not in err + captured.out
    for fragment in case.expect:
        fragment = fragment.replace("{in}", str(folder))
        assert fragment in err, f"{fragment!r} not in stderr:\n{err}"
    for fragment in case.absent:
        assert fragment not in err + captured.out, f"{fragment!r} leaked:\n{err}"
    assert seconds < case.seconds
    assert _snapshot(folder) == before, "a user file changed"


# ----------------------------------------------------------------------------------------------
# Values that reach the exporters from any source (a library user's own graph, an older store)
# must still give files the tools can read, and patients must not leave in clear.

def _nasty_graph():
    import pandas as pd

    from kg.graph import KnowledgeGraph
    from kg.schema import EdgeType

    nodes = pd.DataFrame({
        "id": ["drug:DB1", "drug:DB2", "disease:DOID:1", "doctor:NPI:1", "patient:demo:Jane Doe"],
        "type": ["drug", "drug", "disease", "doctor", "patient"],
        "name": ["Line one\r\nline two", "Bad\x00byte\x07", "<!-- not a comment --> & </script>",
                 "Dr <b>", "Jane Doe"]})
    edges = {
        EdgeType("drug", "treats", "disease"): pd.DataFrame({"src": ["drug:DB1"], "dst": ["disease:DOID:1"]}),
        EdgeType("doctor", "prescribes", "drug"): pd.DataFrame(
            {"src": ["doctor:NPI:1", "doctor:NPI:1"], "dst": ["drug:DB1", "drug:DB2"],
             "weight": [float("inf"), 3.0]}),
        EdgeType("patient", "takes", "drug"): pd.DataFrame(
            {"src": ["patient:demo:Jane Doe"], "dst": ["drug:DB1"],
             "start": pd.to_datetime(["2020-03-17 14:35:12"])}),
    }
    return KnowledgeGraph(nodes, edges)


def test_exports_stay_readable_whatever_the_names_hold(tmp_path):
    import xml.etree.ElementTree as ET

    import networkx as nx

    from kg.export import export_graph

    graph = _nasty_graph()
    graphml = export_graph(graph, tmp_path / "g.graphml", privacy="clear")
    g = nx.read_graphml(graphml)
    assert g.nodes["drug:DB1"]["name"] == "Line one\r\nline two"  # CRLF round-trips
    assert g.nodes["disease:DOID:1"]["name"] == "<!-- not a comment --> & </script>"
    ET.parse(export_graph(graph, tmp_path / "g.gexf", privacy="clear"))  # NUL and BEL replaced, valid XML
    text = export_graph(graph, tmp_path / "g.json", privacy="clear").read_text()
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert {e["source"] for e in data["edges"]} >= {"doctor:NPI:1"}
    page = export_graph(graph, tmp_path / "g.html", privacy="clear").read_text()
    script = page.split('<script id="data" type="application/json">', 1)[1].split("</script>", 1)[0]
    assert "<" not in script and json.loads(script)
    neo4j = export_graph(graph, tmp_path / "neo4j", "neo4j", privacy="clear")
    assert "--multiline-fields=true" in (neo4j / "import.sh").read_text()


def test_patients_leave_pseudonymised_without_names_and_with_coarse_times(tmp_path):
    from kg.export import export_graph

    data = json.loads(export_graph(_nasty_graph(), tmp_path / "g.json").read_text())
    text = json.dumps(data)
    assert "Jane" not in text and "Doe" not in text
    patient = next(n for n in data["nodes"] if n["type"] == "patient")
    assert patient["id"].startswith("patient:anon:") and "name" not in patient
    takes = next(e for e in data["edges"] if e["relation"] == "takes")
    assert takes["source"] == patient["id"]  # the edge names the node it belongs to
    assert takes["start"] == "2020-03-01T00:00:00"  # the month, not the second
