"""Property tests of the CSV loader: any valid table loads exactly; any garbage is
either loaded or reported with a line number, never a crash or a silent drop."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kg.builder import GraphBuilder
from kg.errors import KGValidationError
from kg.schema import EdgeType
from kg.sources import load_csv_source

MAPPING = """
[[nodes]]
file = "nodes.csv"
id = "id"
node_type = "drug"
name = "name"

[[edges]]
file = "edges.csv"
source = "a"
target = "b"
relation = "interacts_with"
source_type = "drug"
target_type = "drug"
"""

local_ids = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.", min_size=1, max_size=8)
names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20).filter(
    lambda s: s.strip() == s and s != "")


def _csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def _load(directory: Path, nodes: str, edges: str, policy: str = "strict"):
    (directory / "nodes.csv").write_text(nodes, encoding="utf-8")
    (directory / "edges.csv").write_text(edges, encoding="utf-8")
    (directory / "m.toml").write_text(MAPPING)
    builder = GraphBuilder()
    builder.add(load_csv_source(directory / "m.toml"))
    return builder.build(policy)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(nodes=st.dictionaries(local_ids, names, min_size=2, max_size=12), data=st.data())
def test_valid_tables_load_exactly(tmp_path_factory, nodes, data):
    ids = sorted(nodes)
    pairs = data.draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(ids)).filter(lambda p: p[0] != p[1]),
                               min_size=1, max_size=20))
    directory = tmp_path_factory.mktemp("csv")
    out = _load(directory, _csv([["id", "name"]] + [[i, n] for i, n in nodes.items()]),
                _csv([["a", "b"]] + [list(p) for p in pairs]))
    g = out.graph
    assert dict(zip(g.nodes["id"], g.nodes["name"])) == {f"drug:{i}": n for i, n in nodes.items()}
    expected = {tuple(sorted((f"drug:{a}", f"drug:{b}"))) for a, b in pairs}
    edges = g.edges[EdgeType("drug", "interacts_with", "drug")]
    assert set(zip(edges["src"].astype(str), edges["dst"].astype(str))) == expected
    assert out.stats["csv"].rows_read == len(nodes) + len(pairs)
    assert out.stats["csv"].edges_loaded + out.stats["csv"].duplicates_merged == len(pairs)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(st.text(max_size=6), min_size=0, max_size=4), min_size=1, max_size=8))
def test_arbitrary_rows_are_loaded_or_reported_never_lost(tmp_path_factory, rows):
    directory = tmp_path_factory.mktemp("garbage")
    edges = _csv([["a", "b"]] + rows)
    try:
        out = _load(directory, "id,name\nX,x\nY,y\n", edges, policy="quarantine")
    except KGValidationError:  # pragma: no cover - quarantine never raises
        raise
    stats = out.stats["csv"]
    for p in out.problems:
        assert p.file.endswith((".csv", "m.toml")) and (p.line is None or p.line >= 1)
    # Every data row is accounted for: loaded, merged as a duplicate, or reported.
    edge_rows = stats.rows_read - 2
    if edge_rows > 0:
        rejected_edge_rows = len({p.line for p in out.problems if p.file.endswith("edges.csv")})
        assert stats.edges_loaded + stats.duplicates_merged + rejected_edge_rows >= edge_rows
