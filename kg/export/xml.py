"""GraphML and GEXF writers (streaming, so the full graph exports in seconds).

Both open in Gephi and Cytoscape; networkx reads them back with
``read_graphml`` / ``read_gexf``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TextIO
from xml.sax.saxutils import escape, quoteattr

from kg.records import edge_attribute_columns, iter_edges, iter_nodes, node_attribute_columns
from kg.graph import KnowledgeGraph

__all__ = ["write_graphml", "write_gexf"]

_GRAPHML_TYPES = {"str": "string", "float": "double", "int": "long", "datetime": "string"}
_GEXF_TYPES = {"str": "string", "float": "double", "int": "long", "datetime": "string"}


# Characters XML 1.0 cannot carry at all (a parser rejects the whole file).
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: object) -> str:
    """Element text: escaped, a carriage return as a character reference (a parser would turn a
    raw one into a line feed) and characters XML cannot carry as U+FFFD."""
    return _NOT_XML.sub("\ufffd", escape(str(value))).replace("\r", "&#13;")


def _attr(value: object) -> str:
    """A quoted attribute value (line breaks and tabs as character references by quoteattr)."""
    return quoteattr(_NOT_XML.sub("\ufffd", str(value)))


def write_graphml(graph: KnowledgeGraph, path: Path) -> None:
    node_cols = node_attribute_columns(graph)
    edge_cols = {"relation": "str", **edge_attribute_columns(graph)}
    with open(path, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                  '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
                  'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                  'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
                  'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">\n')
        for c in node_cols:
            out.write(f'  <key id="n_{c}" for="node" attr.name="{c}" attr.type="string"/>\n')
        for c, dtype in edge_cols.items():
            out.write(f'  <key id="e_{c}" for="edge" attr.name="{c}" attr.type="{_GRAPHML_TYPES[dtype]}"/>\n')
        out.write('  <graph id="rxkg" edgedefault="directed">\n')
        for node_id, attrs in iter_nodes(graph):
            out.write(f"    <node id={_attr(node_id)}>")
            for k, v in attrs.items():
                out.write(f'<data key="n_{k}">{_text(v)}</data>')
            out.write("</node>\n")
        for i, (et, s, d, attrs) in enumerate(iter_edges(graph)):
            out.write(f'    <edge id="e{i}" source={_attr(s)} target={_attr(d)}>'
                      f'<data key="e_relation">{et.rel}</data>')
            for k, v in attrs.items():
                out.write(f'<data key="e_{k}">{_text(v)}</data>')
            out.write("</edge>\n")
        out.write("  </graph>\n</graphml>\n")


def write_gexf(graph: KnowledgeGraph, path: Path) -> None:
    node_cols = [c for c in node_attribute_columns(graph) if c != "name"]
    edge_cols = {"relation": "str", **edge_attribute_columns(graph)}
    node_ids = {c: str(i) for i, c in enumerate(node_cols)}
    edge_ids = {c: str(i) for i, c in enumerate(edge_cols)}
    with open(path, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                  '<gexf xmlns="http://www.gexf.net/1.2draft" version="1.2">\n'
                  '  <meta><creator>rxkg</creator><description>rxkg knowledge graph</description></meta>\n'
                  '  <graph defaultedgetype="directed" mode="static">\n')
        _gexf_attributes(out, "node", {c: "str" for c in node_cols}, node_ids)
        _gexf_attributes(out, "edge", edge_cols, edge_ids)
        out.write("    <nodes>\n")
        for node_id, attrs in iter_nodes(graph):
            label = attrs.pop("name", node_id)
            out.write(f"      <node id={_attr(node_id)} label={_attr(str(label))}>")
            _gexf_values(out, attrs, node_ids)
            out.write("</node>\n")
        out.write("    </nodes>\n    <edges>\n")
        for i, (et, s, d, attrs) in enumerate(iter_edges(graph)):
            out.write(f'      <edge id="{i}" source={_attr(s)} target={_attr(d)} label="{et.rel}">')
            _gexf_values(out, {"relation": et.rel, **attrs}, edge_ids)
            out.write("</edge>\n")
        out.write("    </edges>\n  </graph>\n</gexf>\n")


def _gexf_attributes(out: TextIO, cls: str, cols: dict[str, str], ids: dict[str, str]) -> None:
    out.write(f'    <attributes class="{cls}">\n')
    for c, dtype in cols.items():
        out.write(f'      <attribute id="{ids[c]}" title="{c}" type="{_GEXF_TYPES[dtype]}"/>\n')
    out.write("    </attributes>\n")


def _gexf_values(out: TextIO, attrs: dict[str, object], ids: dict[str, str]) -> None:
    if not attrs:
        return
    out.write("<attvalues>")
    for k, v in attrs.items():
        out.write(f'<attvalue for="{ids[k]}" value={_attr(str(v))}/>')
    out.write("</attvalues>")
