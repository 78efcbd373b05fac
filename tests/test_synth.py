"""Synthetic cohorts: deterministic per seed, readable by the Synthea loader, interaction-free."""

import hashlib

import pytest

from kg.mapping import load_mappers
from kg.sources import load_synthea
from kg.synth import SynthConfig, generate_cohort

from conftest import REPO, build

VOCABULARY = REPO / "data" / "mappings" / "vocabulary.toml"


@pytest.fixture(scope="module")
def reference():
    from pipelines.synth import reference_graph

    return reference_graph(), *load_mappers(VOCABULARY)


def digest(directory):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_same_seed_same_files_other_seed_other_files(reference, tmp_path):
    graph, drugs, diseases = reference
    config = SynthConfig(patients=300, doctors=20, seed=7)
    generate_cohort(graph, drugs, diseases, tmp_path / "a", config)
    generate_cohort(graph, drugs, diseases, tmp_path / "b", config)
    generate_cohort(graph, drugs, diseases, tmp_path / "c", SynthConfig(patients=300, doctors=20, seed=8))
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a")["medications.csv"] != digest(tmp_path / "c")["medications.csv"]


def test_cohort_loads_fully_mapped_and_without_interactions(reference, tmp_path):
    graph, drugs, diseases = reference
    result = generate_cohort(graph, drugs, diseases, tmp_path / "s", SynthConfig(patients=2000, doctors=50, seed=1))
    assert (tmp_path / "s" / "SYNTHETIC.json").exists()
    data = load_synthea(tmp_path / "s", VOCABULARY, "synth")
    for field in ("medications", "medication_reasons", "conditions"):
        assert data.mapping[field]["row_rate"] == 1.0, field
    out = build(data)
    assert out.graph.node_counts()["patient"] == 2000 and result.rows["patients"] == 2000
    takes = out.graph.edges[("patient", "takes", "drug")].astype(str)
    ddi = graph.edges[("drug", "interacts_with", "drug")].astype(str)
    pairs = set(zip(ddi["src"], ddi["dst"])) | set(zip(ddi["dst"], ddi["src"]))
    for _, group in takes.groupby("src"):
        meds = list(group["dst"])
        assert not any((a, b) in pairs for i, a in enumerate(meds) for b in meds[i + 1:])
