"""``rxkg synth``: a synthetic cohort in the Synthea layout, for scale tests only."""

from __future__ import annotations

from pathlib import Path

from kg.build import build_graph
from kg.graph import KnowledgeGraph
from kg.io import read_graph
from kg.mapping import load_mappers
from kg.synth import SynthConfig, SynthResult, generate_cohort
from pipelines.config import VOCABULARY, default_config, default_data_dir

__all__ = ["run_synth", "REFERENCE_KINDS"]

#: The sources a cohort is drawn from (no people: a cohort must not echo the shipped patients).
REFERENCE_KINDS = ("hetionet", "indications", "drugbank", "disease_ontology", "interactions")


def reference_graph() -> KnowledgeGraph:
    sources = [s for s in default_config().build.sources if s.kind in REFERENCE_KINDS]
    return build_graph(sources).graph


def run_synth(config: SynthConfig, out: str | Path, graph_dir: str | Path | None = None,
              vocabulary: str | Path | None = None, force: bool = False) -> SynthResult:
    """Generate a cohort from a graph directory (default: the shipped reference sources)."""
    graph = read_graph(graph_dir) if graph_dir else reference_graph()
    drugs, diseases = load_mappers(vocabulary or default_data_dir() / VOCABULARY)
    return generate_cohort(graph, drugs, diseases, out, config, force=force)
