"""Shared fixtures: the tiny graph shipped as CSV and as Turtle."""

from __future__ import annotations

from pathlib import Path

import pytest

from kg.builder import GraphBuilder, SourceData
from kg.graph import KnowledgeGraph
from kg.sources import load_csv_source

TINY = Path(__file__).parent / "fixtures" / "tiny"
REPO = Path(__file__).resolve().parents[1]
#: The [[nodes]] entry of hand-written cases: nodes.csv with id, type, name.
NODES_MAPPING = """
[[nodes]]
file = "nodes.csv"
id = "id"
type = "type"
name = "name"
"""
#: A CSV mapping for hand-written cases: nodes.csv (id, type, name) and edges.csv (s, r, t, w, when).
CSV_MAPPING = NODES_MAPPING + """
[[edges]]
file = "edges.csv"
source = "s"
target = "t"
relation_column = "r"
weight = "w"
time = "when"
"""


def balance(stats) -> tuple[int, int]:
    """(records accounted for, records read): equal when no row went missing."""
    accounted = (stats.nodes_loaded + stats.nodes_annotated + stats.edges_loaded + stats.duplicates_merged
                 + stats.table_rows + stats.out_of_scope + stats.rejected)
    return accounted, stats.rows_read + stats.rows_expanded


def build(*sources: SourceData, policy: str = "strict"):
    builder = GraphBuilder()
    for s in sources:
        builder.add(s)
    return builder.build(policy)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _pseudonym_key(monkeypatch, tmp_path_factory):
    """Tests never read or create the user's pseudonym key."""
    monkeypatch.setenv("RXKG_HOME", str(tmp_path_factory.mktemp("rxkg-home")))
    monkeypatch.setenv("RXKG_PSEUDONYM_KEY", "test-key-not-a-secret-0123456789")


@pytest.fixture
def tiny_graph() -> KnowledgeGraph:
    return build(load_csv_source(TINY / "mapping.toml")).graph


@pytest.fixture(scope="session")
def shipped_build():
    """The full default build from the data shipped in the repository (about 3 s)."""
    from kg.build import build_graph
    from pipelines.config import default_config

    return build_graph(default_config().build.sources)


@pytest.fixture(scope="session")
def shipped_graph(shipped_build) -> KnowledgeGraph:
    return shipped_build.graph
