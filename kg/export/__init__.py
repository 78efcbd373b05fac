"""Exports to the tools people already use: Gephi, Cytoscape, Neo4j, RDF stores, pandas.

>>> from kg.export import export_graph
>>> export_graph(kg, "out/graph.graphml")                           # doctest: +SKIP
>>> export_graph(kg.around("disease:DOID:9352", hops=1), "t2d.gexf") # doctest: +SKIP

The format comes from the extension (``.graphml``, ``.gexf``, ``.json``, ``.ttl``,
``.html`` for the self-contained inspection page) or is named (``csv`` and ``neo4j``
write a directory). Every file is written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping

from kg.errors import KGError
from kg.records import iter_edges, iter_nodes
from kg.export.html import write_html
from kg.export.rdf import write_turtle
from kg.export.tabular import write_csv, write_neo4j
from kg.export.xml import write_gexf, write_graphml
from kg.graph import KnowledgeGraph
from kg.outputs import atomic_directory, atomic_file, check_output_file
from kg.privacy import PrivacyMode, Pseudonymiser, apply_privacy

__all__ = ["export_graph", "FORMATS", "format_from_path", "write_node_link_json",
           "write_graphml", "write_gexf", "write_turtle", "write_csv", "write_neo4j", "write_html"]


def write_node_link_json(graph: KnowledgeGraph, path: Path) -> None:
    """networkx node-link JSON (``networkx.node_link_graph(data, edges="edges")`` reads it)."""
    data = {
        "directed": True,
        "multigraph": True,
        "graph": {"name": "rxkg"},
        "nodes": [{"id": node_id, **attrs} for node_id, attrs in iter_nodes(graph)],
        "edges": [{"source": s, "target": d, "key": et.rel, "relation": et.rel, **attrs}
                  for et, s, d, attrs in iter_edges(graph)],
    }
    with open(path, "w", encoding="utf-8") as out:
        json.dump(data, out, ensure_ascii=False)
        out.write("\n")


#: format name -> (writer, writes a directory)
FORMATS: dict[str, tuple[Callable[..., None], bool]] = {
    "graphml": (write_graphml, False),
    "gexf": (write_gexf, False),
    "json": (write_node_link_json, False),
    "turtle": (write_turtle, False),
    "csv": (write_csv, True),
    "neo4j": (write_neo4j, True),
    "html": (write_html, False),
}
_EXTENSIONS = {".graphml": "graphml", ".gexf": "gexf", ".json": "json", ".ttl": "turtle", ".html": "html"}


def format_from_path(path: str | Path) -> str:
    ext = Path(path).suffix.lower()
    if ext not in _EXTENSIONS:
        raise KGError(f"cannot tell the export format from {str(path)!r}; use an extension "
                      f"{sorted(_EXTENSIONS)} or name a format {sorted(FORMATS)}")
    return _EXTENSIONS[ext]


def export_graph(graph: KnowledgeGraph, path: str | Path, fmt: str | None = None,
                 privacy: PrivacyMode = "pseudonymise", pseudonymiser: Pseudonymiser | None = None,
                 options: Mapping[str, Any] | None = None, force: bool = False) -> Path:
    """Write ``graph`` in ``fmt`` (default: from the extension) to ``path``; returns the path.

    Patient ids are pseudonymised by default (see :mod:`kg.privacy`); ``privacy="drop"``
    leaves patients out, ``privacy="clear"`` writes the source ids. ``options`` go to the
    writer (the HTML page's ``focus``, ``recommendations`` and ``title``); patient ids in
    them are pseudonymised like the graph's. An existing ``path`` is replaced only when
    rxkg wrote it (``force``: a folder export goes beside the user's files, a file is replaced).
    """
    path = Path(path)
    if privacy == "pseudonymise" and options:
        pseudonymiser = pseudonymiser or Pseudonymiser()
        options = json.loads(pseudonymiser.text(json.dumps(options)))
    graph = apply_privacy(graph, privacy, pseudonymiser)
    fmt = fmt or format_from_path(path)
    if fmt == "ttl":
        fmt = "turtle"
    if fmt not in FORMATS:
        raise KGError(f"unknown export format {fmt!r}; known: {sorted(FORMATS)}")
    writer, is_directory = FORMATS[fmt]
    shared = privacy != "clear"  # an export with patients in clear stays readable by its owner only
    if is_directory:
        atomic_directory(path, lambda tmp: writer(graph, tmp, **(options or {})), force=force, shared=shared)
    else:
        check_output_file(path, force)
        atomic_file(path, lambda tmp: writer(graph, tmp, **(options or {})), shared=shared)
    return path
