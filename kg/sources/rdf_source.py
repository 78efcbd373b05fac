"""RDF sources (Turtle, N-Triples, RDF/XML) read with rdflib.

A mapping says which classes are which node types, which predicates are which
relations and which literal predicates are node attributes. Without a mapping the
rxkg vocabulary is used, the one :func:`kg.export.write_turtle` writes, so an
exported graph loads back unchanged. Edge attributes (weight, time, ...) travel as
reified ``rdf:Statement`` resources.

Node ids come from IRIs: DrugBank, Disease Ontology (OBO) and NCBI Gene IRIs are
recognised, rxkg's own ``https://w3id.org/rxkg/id/<type>/<id>`` IRIs too, and a
mapping may add namespace prefixes per node type. Every triple that cannot be
placed is reported, named in N-Triples form.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pandas as pd
import rdflib
from rdflib import RDF, RDFS, Literal, URIRef

from kg.builder import EdgeBatch, NodeBatch, SourceData
from kg.errors import KGError, ProblemLog
from kg.schema import NODE_TYPES, SCHEMA, EdgeType, split_id
from kg.sources._io import read_text
from kg.tomlfile import read_toml

__all__ = ["RdfMapping", "load_rdf_source", "RXKG_VOCAB", "RXKG_ID", "node_iri", "iri_to_id",
           "type_class", "RDF_FORMATS"]

RXKG_VOCAB = "https://w3id.org/rxkg/vocab#"
RXKG_ID = "https://w3id.org/rxkg/id/"

#: File extension -> rdflib parser name.
RDF_FORMATS = {".ttl": "turtle", ".nt": "nt", ".rdf": "xml", ".xml": "xml", ".owl": "xml", ".n3": "n3"}

# Resolvable IRIs for the id systems people look up.
_KNOWN_IRIS: list[tuple[str, str, re.Pattern[str], str]] = [
    # (node type, IRI prefix, pattern on the local id, local-id prefix)
    ("drug", "https://go.drugbank.com/drugs/", re.compile(r"^DB\d+$"), ""),
    ("disease", "http://purl.obolibrary.org/obo/DOID_", re.compile(r"^DOID:\d+$"), "DOID:"),
    ("target", "https://www.ncbi.nlm.nih.gov/gene/", re.compile(r"^\d+$"), ""),
]


def type_class(node_type: str) -> str:
    """rxkg class IRI of a node type: ``side_effect`` -> ``...vocab#SideEffect``."""
    return RXKG_VOCAB + "".join(part.capitalize() for part in node_type.split("_"))


def node_iri(node_id: str) -> str:
    """Resolvable IRI for well-known ids, an rxkg IRI otherwise."""
    node_type, local = split_id(node_id)
    for t, prefix, pattern, local_prefix in _KNOWN_IRIS:
        if t == node_type and pattern.match(local):
            return prefix + local[len(local_prefix):]
    return f"{RXKG_ID}{node_type}/{quote(local, safe='')}"


def iri_to_id(iri: str, namespaces: dict[str, str] | None = None) -> str | None:
    """Inverse of :func:`node_iri` (plus user namespaces); ``None`` if not recognised."""
    for t, prefix, pattern, local_prefix in _KNOWN_IRIS:
        if iri.startswith(prefix):
            local = local_prefix + iri[len(prefix):]
            if pattern.match(local):
                return f"{t}:{local}"
    if iri.startswith(RXKG_ID):
        node_type, _, local = iri[len(RXKG_ID):].partition("/")
        if node_type in NODE_TYPES and local:
            return f"{node_type}:{unquote(local)}"
    for prefix, node_type in (namespaces or {}).items():
        if iri.startswith(prefix) and len(iri) > len(prefix):
            return f"{node_type}:{unquote(iri[len(prefix):])}"
    return None


@dataclass(frozen=True)
class RdfMapping:
    """Class, predicate, attribute and namespace maps for one RDF source."""

    classes: dict[str, str] = field(default_factory=dict)
    predicates: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    namespaces: dict[str, str] = field(default_factory=dict)
    format: str | None = None

    @classmethod
    def rxkg_default(cls) -> "RdfMapping":
        classes = {type_class(t): t for t in NODE_TYPES}
        predicates = {RXKG_VOCAB + r: r for r in sorted(SCHEMA.relation_names())}
        attributes = {str(RDFS.label): "name"}
        return cls(classes, predicates, attributes)

    @classmethod
    def from_toml(cls, path: Path) -> "RdfMapping":
        raw = read_toml(path, "RDF mapping")
        unknown = set(raw) - {"classes", "predicates", "attributes", "namespaces", "format"}
        if unknown:
            raise KGError(f"{path}: unknown key(s) {sorted(unknown)}")
        m = cls(dict(raw.get("classes", {})), dict(raw.get("predicates", {})),
                dict(raw.get("attributes", {})), dict(raw.get("namespaces", {})), raw.get("format"))
        for iri, t in {**m.classes, **m.namespaces}.items():
            if t not in NODE_TYPES:
                raise KGError(f"{path}: {iri} maps to unknown node type {t!r}")
        for iri, r in m.predicates.items():
            if r not in SCHEMA.relation_names():
                raise KGError(f"{path}: {iri} maps to unknown relation {r!r}")
        return m


def load_rdf_source(path: str | Path, mapping: str | Path | RdfMapping | None = None,
                    name: str = "rdf") -> SourceData:
    """Parse an RDF file and turn its triples into node and edge records."""
    path = Path(path)
    if mapping is None:
        mapping = RdfMapping.rxkg_default()
    elif not isinstance(mapping, RdfMapping):
        mapping = RdfMapping.from_toml(Path(mapping))
    data = SourceData(name=name, files=[str(path)])
    log = ProblemLog(str(path), name)
    graph = _parse(path, mapping, log)
    if graph is not None:
        data.rows_read = len(graph)
        nodes, edges = _convert(graph, mapping, log)
        data.nodes.append(NodeBatch(str(path), nodes))
        data.edges += [EdgeBatch(str(path), et, frame) for et, frame in edges.items()]
    data.problems += log.problems
    return data


def _parse(path: Path, mapping: RdfMapping, log: ProblemLog) -> rdflib.Graph | None:
    suffix = Path(path.name.removesuffix(".gz")).suffix.lower()
    fmt = mapping.format or RDF_FORMATS.get(suffix)
    if fmt is None:
        log.add(f"cannot tell the RDF format from extension {suffix!r}; "
                f"use one of {sorted(RDF_FORMATS)} or set 'format' in the mapping", whole_file=True)
        return None
    text = read_text(path, log)
    if text is None:
        return None
    if fmt == "xml" and _DTD.search(text[:65536]):
        # Entities expand exponentially (an 882-byte file can take minutes) or read local files.
        log.add("RDF/XML with a DOCTYPE or ENTITY declaration is refused (entity expansion and external "
                "entities are unsafe): remove the DTD", line=text[:_DTD.search(text).start()].count("\n") + 1,
                whole_file=True)
        return None
    graph = rdflib.Graph()
    # rdflib logs a traceback for every literal it cannot convert; the schema check reports them.
    term_logger = logging.getLogger("rdflib.term")
    level = term_logger.level
    term_logger.setLevel(logging.CRITICAL)
    try:
        graph.parse(data=text, format=fmt)
    except Exception as err:  # rdflib raises many unrelated types for malformed input
        line = _error_line(err)
        message = " ".join(str(err).split())[:300]
        log.add(f"malformed {fmt} ({type(err).__name__}: {message})", line=line, whole_file=True)
        return None
    finally:
        term_logger.setLevel(level)
    return graph


def _error_line(err: Exception) -> int | None:
    for attr in ("lines", "_linenumber"):
        value = getattr(err, attr, None)
        if isinstance(value, int):
            return value + (1 if attr == "lines" else 0)
    getter = getattr(err, "getLineNumber", None)
    if callable(getter):
        return int(getter())
    match = re.search(r"line (\d+)", str(err))
    return int(match.group(1)) if match else None


_DTD = re.compile(r"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


def _n3(*terms: Any) -> str:
    return " ".join(_term_n3(t) for t in terms)


def _term_n3(term: Any) -> str:
    try:
        return term.n3()
    except Exception:  # noqa: BLE001 - rdflib refuses to write an invalid IRI (a space, say)
        return f"<{term}>"


def _convert(graph: rdflib.Graph, mapping: RdfMapping,
             log: ProblemLog) -> tuple[pd.DataFrame, dict[EdgeType, pd.DataFrame]]:
    node_types: dict[str, str] = {}
    node_attrs: dict[str, dict[str, Any]] = {}
    relation_triples: list[tuple[Any, Any, Any]] = []

    def node_id(term: Any, triple: tuple[Any, Any, Any], records: int = 1) -> str | None:
        if not isinstance(term, URIRef):
            log.add(f"{_term_n3(term)} is not an IRI, so it cannot be a node", triple=_n3(*triple), records=records)
            return None
        if any(c.isspace() or ord(c) < 32 for c in str(term)):
            log.add(f"IRI {_term_n3(term)} contains a space or control character (not a valid IRI)",
                    triple=_n3(*triple), records=records)
            return None
        nid = iri_to_id(str(term), mapping.namespaces)
        if nid is None:
            log.add(f"no rxkg id can be derived from IRI {term.n3()} (add its prefix under [namespaces])",
                    triple=_n3(*triple), records=records)
        return nid

    # Reified statements (edge attributes) are found once, before the pass over all triples.
    statement_nodes = set(graph.subjects(RDF.type, RDF.Statement))
    for reifying in (RDF.subject, RDF.predicate, RDF.object):
        statement_nodes.update(graph.subjects(reifying, None))
    statements: dict[Any, dict[str, list[Any]]] = {node: {} for node in statement_nodes}
    # Every triple is accounted for: a node stands for its type and attribute triples, an edge
    # for its relation triple and the triples of the statement that describes it.
    statement_size: dict[Any, int] = {node: 0 for node in statement_nodes}
    type_triples: dict[str, int] = {}
    attribute_triples: dict[tuple[str, str], list[tuple[Any, Any, Any]]] = {}

    for s, p, o in graph:
        triple = (s, p, o)
        if s in statement_nodes:
            statement_size[s] += 1
            if not (p == RDF.type and o == RDF.Statement):
                statements[s].setdefault(str(p), []).append(o)
        elif p == RDF.type:
            node_type = mapping.classes.get(str(o))
            if node_type is None:
                log.add(f"unknown class {o.n3()} (not mapped to a node type)", triple=_n3(*triple))
                continue
            nid = node_id(s, triple)
            if nid is None:
                continue
            if split_id(nid)[0] != node_type:
                log.add(f"IRI names a {split_id(nid)[0]} but the class says {node_type}", triple=_n3(*triple))
                continue
            if node_types.setdefault(nid, node_type) != node_type:
                log.add(f"node {nid} has two node types ({node_types[nid]}, {node_type})", triple=_n3(*triple))
                continue
            type_triples[nid] = type_triples.get(nid, 0) + 1
        elif isinstance(o, Literal):
            attr = mapping.attributes.get(str(p))
            if attr is None and str(p).startswith(RXKG_VOCAB):
                local = str(p)[len(RXKG_VOCAB):]
                attr = None if local in SCHEMA.relation_names() else local
            if attr is None:
                log.add(f"unknown literal predicate {p.n3()}", triple=_n3(*triple))
                continue
            nid = node_id(s, triple)
            if nid is not None:
                attribute_triples.setdefault((nid, attr), []).append(triple)
        elif str(p) in mapping.predicates:
            relation_triples.append(triple)
        else:
            log.add(f"unknown predicate {p.n3()} (not mapped to a relation)", triple=_n3(*triple))

    for (nid, attr), triples in sorted(attribute_triples.items()):
        values = sorted({str(t[2]) for t in triples})
        if len(values) > 1:  # keeping one would be arbitrary: the order of triples is not the file's
            for t in sorted(triples, key=lambda t: str(t[2])):
                log.add(f"node {nid} has {len(values)} values for {attr!r} ({', '.join(map(repr, values[:3]))}); "
                        f"give one", triple=_n3(*t))
            continue
        node_attrs.setdefault(nid, {})[attr] = values[0]
    for nid, attrs in node_attrs.items():
        if nid not in node_types:
            log.add(f"node {nid} has attributes but no rdf:type", triple=f"{node_iri(nid)}", records=len(attrs))
    node_rows = [{"id": nid, "type": t, **node_attrs.get(nid, {}),
                  "_records": type_triples[nid] + len(node_attrs.get(nid, {}))}
                 for nid, t in sorted(node_types.items())]
    nodes = pd.DataFrame(node_rows, columns=None if node_rows else ["id", "type", "name"])
    if "name" not in nodes.columns:
        nodes["name"] = None
    nodes["_line"] = None

    edge_attrs, described_by = _statement_attributes(statements, statement_size, log)
    rows: dict[EdgeType, list[dict[str, Any]]] = {}
    for s, p, o in relation_triples:
        triple = (s, p, o)
        n = 1 + described_by.pop((s, p, o), 0)  # the relation triple and its statement's triples
        attrs = edge_attrs.pop((s, p, o), {})
        src, dst = node_id(s, triple, n), node_id(o, triple, n)
        if src is None or dst is None:
            continue
        et = SCHEMA.resolve(split_id(src)[0], mapping.predicates[str(p)], split_id(dst)[0])
        if et is None:
            log.add(SCHEMA.undeclared(split_id(src)[0], mapping.predicates[str(p)], split_id(dst)[0]),
                    triple=_n3(*triple), records=n)
            continue
        bad = sorted(set(attrs) - set(SCHEMA.spec(et).attributes))
        if bad:
            log.add(f"relation {et} takes no attribute(s) {bad}", triple=_n3(*triple), records=n)
            continue
        try:
            typed = _typed(attrs, et)
        except (TypeError, ValueError) as err:
            log.add(f"edge attribute value does not fit the schema ({err})", triple=_n3(*triple), records=n)
            continue
        rows.setdefault(et, []).append({"src": src, "dst": dst, **typed, "_records": n})
    for (s, p, o), size in described_by.items():
        log.add("reified statement describes a triple that is not in the file", triple=_n3(s, p, o),
                records=size)
    edges = {}
    for et, r in rows.items():
        frame = pd.DataFrame(r)
        frame["_line"] = None
        edges[et] = frame
    return nodes, edges


def _statement_attributes(statements: dict[Any, dict[str, list[Any]]], sizes: dict[Any, int], log: ProblemLog,
                          ) -> tuple[dict[tuple[Any, Any, Any], dict[str, Any]], dict[tuple[Any, Any, Any], int]]:
    """Edge attributes by the triple each statement describes, and how many triples each
    statement has; a statement with a problem is reported with all its triples."""
    out: dict[tuple[Any, Any, Any], dict[str, Any]] = {}
    described_by: dict[tuple[Any, Any, Any], int] = {}
    for node, props in statements.items():
        repeated = sorted(p for p, values in props.items() if len(set(values)) > 1)
        if repeated:
            name = repeated[0].rpartition("#")[2].rpartition("/")[2]
            described = " ".join(_term_n3(props[k][0]) for k in (str(RDF.subject), str(RDF.predicate),
                                                                   str(RDF.object)) if k in props)
            log.add(f"statement {described} has {len(set(props[repeated[0]]))} values for {name!r}; give one",
                    triple=_term_n3(node), records=sizes[node])
            continue
        single = {p: values[0] for p, values in props.items()}
        try:
            key = (single.pop(str(RDF.subject)), single.pop(str(RDF.predicate)), single.pop(str(RDF.object)))
        except KeyError:
            log.add("rdf:Statement lacks rdf:subject, rdf:predicate or rdf:object", triple=_term_n3(node),
                    records=sizes[node])
            continue
        if key in described_by:
            log.add("a second statement describes the same triple", triple=_term_n3(node), records=sizes[node])
            continue
        described_by[key] = sizes[node]
        attrs = {}
        for p, value in single.items():
            if not p.startswith(RXKG_VOCAB):
                log.add(f"unknown statement property <{p}>", triple=_n3(node, URIRef(p), value))
                described_by[key] -= 1  # that triple is rejected; the rest describe the edge
                continue
            # The lexical form, not toPython(): a malformed literal must reach the schema check.
            attrs[p[len(RXKG_VOCAB):]] = str(value)
        out[key] = attrs
    return out, described_by


def _typed(attrs: dict[str, Any], et: EdgeType) -> dict[str, Any]:
    spec = SCHEMA.spec(et).attributes
    out: dict[str, Any] = {}
    for k, v in attrs.items():
        dtype = spec[k]
        if dtype == "float":
            out[k] = float(v)
            if not math.isfinite(out[k]):
                raise ValueError(f"{k} {v!r} is not a finite number")
        elif dtype == "int":
            out[k] = int(str(v))
        elif dtype == "datetime":
            out[k] = pd.Timestamp(v).tz_localize(None) if pd.Timestamp(v).tzinfo else pd.Timestamp(v)
        else:
            out[k] = str(v)
    return out
