"""Turtle writer with resolvable IRIs (DrugBank, Disease Ontology, NCBI Gene).

Nodes are typed with rxkg classes and labelled with ``rdfs:label``; relations are
``rxkg:<relation>`` predicates; edge attributes are reified ``rdf:Statement``s.
:func:`kg.sources.load_rdf_source` reads the file back into an equal graph.
"""

from __future__ import annotations

from pathlib import Path

from kg.records import iter_edges, iter_nodes
from kg.graph import KnowledgeGraph
from kg.schema import SCHEMA, split_id
from kg.sources.rdf_source import RXKG_VOCAB, node_iri, type_class

__all__ = ["write_turtle"]

_XSD = {"float": "xsd:double", "int": "xsd:integer", "datetime": "xsd:dateTime"}


def _literal(value: object, dtype: str = "str") -> str:
    text = str(value)
    text = (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            .replace("\r", "\\r").replace("\t", "\\t"))
    suffix = f"^^{_XSD[dtype]}" if dtype in _XSD else ""
    return f'"{text}"{suffix}'


def _local(type_iri: str) -> str:
    return "rxkg:" + type_iri[len(RXKG_VOCAB):]


def write_turtle(graph: KnowledgeGraph, path: Path) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write(f"@prefix rxkg: <{RXKG_VOCAB}> .\n"
                  "@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .\n"
                  "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
                  "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n\n")
        for node_id, attrs in iter_nodes(graph):
            node_type = attrs.pop("type", split_id(node_id)[0])
            parts = [f"a {_local(type_class(node_type))}"]
            if "name" in attrs:
                parts.append(f"rdfs:label {_literal(attrs.pop('name'))}")
            parts += [f"rxkg:{k} {_literal(v)}" for k, v in attrs.items()]
            out.write(f"<{node_iri(node_id)}> " + " ;\n    ".join(parts) + " .\n")
        out.write("\n")
        for et, s, d, attrs in iter_edges(graph):
            s_iri, d_iri = node_iri(s), node_iri(d)
            out.write(f"<{s_iri}> rxkg:{et.rel} <{d_iri}> .\n")
            if attrs:
                dtypes = SCHEMA.spec(et).attributes
                extra = "".join(f" ; rxkg:{k} {_literal(v, dtypes.get(k, 'str'))}" for k, v in attrs.items())
                out.write(f"[] a rdf:Statement ; rdf:subject <{s_iri}> ; rdf:predicate rxkg:{et.rel} ; "
                          f"rdf:object <{d_iri}>{extra} .\n")
