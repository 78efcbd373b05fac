"""The rxkg schema: node types, relations, and how Hetionet's kinds map onto them.

Everything else in rxkg refers to this module. A relation is declared once as a
``(source type, relation, target type)`` triple (an :class:`EdgeType`, the same
tuple PyG uses as a ``HeteroData`` key) together with the attribute columns its
edges may carry. Anything not declared here is a validation error.

Node ids are namespaced and stable: ``drug:DB00945``, ``disease:DOID:9352``,
``target:1017``. The namespace is the node type, so the type of any id can be read
off the id itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, NamedTuple

__all__ = [
    "NODE_TYPES",
    "NODE_TYPE_ORDER",
    "ATTRIBUTE_DTYPES",
    "COMBINE_RULES",
    "EdgeType",
    "RelationSpec",
    "SCHEMA",
    "Schema",
    "HETIONET_KINDS",
    "HETIONET_METAEDGES",
    "make_id",
    "split_id",
    "node_type_of",
]

#: Core node types first, then the auxiliary kinds Hetionet brings.
NODE_TYPES: tuple[str, ...] = (
    "drug",
    "disease",
    "target",
    "doctor",
    "patient",
    "side_effect",
    "pharmacologic_class",
    "pathway",
    "anatomy",
    "symptom",
    "biological_process",
    "cellular_component",
    "molecular_function",
)

#: Position of each node type, for ordering tables and reports the same way everywhere.
NODE_TYPE_ORDER: Mapping[str, int] = MappingProxyType({t: i for i, t in enumerate(NODE_TYPES)})

#: The value types an edge attribute column may declare.
ATTRIBUTE_DTYPES: tuple[str, ...] = ("str", "float", "int", "datetime")


class EdgeType(NamedTuple):
    """A typed, directed relation ``(src, rel, dst)``; usable directly as a PyG edge type."""

    src: str
    rel: str
    dst: str

    @property
    def key(self) -> str:
        """File- and JSON-safe name, e.g. ``drug__treats__disease``."""
        return f"{self.src}__{self.rel}__{self.dst}"

    @classmethod
    def from_key(cls, key: str) -> "EdgeType":
        parts = key.split("__")
        if len(parts) != 3:
            raise ValueError(f"not an edge type key (expected src__rel__dst): {key!r}")
        return cls(*parts)

    def __str__(self) -> str:
        return f"({self.src}, {self.rel}, {self.dst})"


@dataclass(frozen=True)
class RelationSpec:
    """Declaration of one relation.

    ``symmetric`` relations (interactions, resemblance) are stored once per
    unordered pair; views that need both directions add the reverse themselves.
    ``self_loops = False`` marks relations an edge from a node to itself can only be an error in:
    a drug interacting with itself, a disease resembling itself (a protein may bind itself).
    ``attributes`` maps each optional edge column to its value type; ``weight``
    and ``time`` are the conventional names for a numeric weight (claim counts)
    and an event time (start of a medication, onset of a condition).

    ``combine`` declares event relations: repeated records of one pair (repeat
    orders, several CMS columns of one drug, one condition coded at every visit)
    are one edge whose attributes aggregate (``sum``, ``min``, ``max``, ``first``).
    Duplicates of any other relation must agree, or the later one is rejected.

    ``episodes`` names a table that keeps every record of an event relation before its
    records merge (one row per record: the endpoints in columns named by their node types,
    ``time``, ``end_time``, ``weight``): a medication stopped
    and started again is two episodes, and only they tell what was running at a given date.

    ``learned = False`` marks safety knowledge (curated contraindications) that models
    never learn from: a contraindication is not evidence for or against an indication.
    """

    edge_type: EdgeType
    description: str
    symmetric: bool = False
    attributes: Mapping[str, str] = field(default_factory=dict)
    combine: Mapping[str, str] = field(default_factory=dict)
    learned: bool = True
    episodes: str | None = None
    self_loops: bool = True

    def __post_init__(self) -> None:
        for name, dtype in self.attributes.items():
            if dtype not in ATTRIBUTE_DTYPES:
                raise ValueError(f"{self.edge_type}: attribute {name!r} has unknown dtype {dtype!r}")
        for name, how in self.combine.items():
            if name not in self.attributes or how not in COMBINE_RULES:
                raise ValueError(f"{self.edge_type}: cannot combine {name!r} by {how!r}")
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))
        object.__setattr__(self, "combine", MappingProxyType(dict(self.combine)))


#: How an event relation's attribute aggregates over repeated records of one pair. ``open_max``
#: is the latest value where a missing one means "not yet" (a record without a stop is still
#: open, so the merged record is open too); ``max`` skips missing values.
COMBINE_RULES: tuple[str, ...] = ("sum", "min", "max", "open_max", "first")


def _spec(src: str, rel: str, dst: str, description: str, symmetric: bool = False,
          combine: Mapping[str, str] | None = None, learned: bool = True, episodes: str | None = None,
          self_loops: bool = True, **attributes: str) -> RelationSpec:
    return RelationSpec(EdgeType(src, rel, dst), description, symmetric, attributes, combine or {}, learned,
                        episodes, self_loops)


_DRUGBANK_ACTION = {"actions": "str", "known_action": "str"}

_RELATIONS: tuple[RelationSpec, ...] = (
    # Pharmacology and indications.
    _spec("drug", "treats", "disease", "disease-modifying indication",
          n_curators="int", n_resources="int"),
    _spec("drug", "palliates", "disease", "symptomatic indication",
          n_curators="int", n_resources="int"),
    _spec("drug", "binds", "target", "drug binds the gene's protein"),
    _spec("drug", "upregulates", "target", "drug raises the gene's expression"),
    _spec("drug", "downregulates", "target", "drug lowers the gene's expression"),
    _spec("drug", "causes", "side_effect", "drug causes the side effect"),
    _spec("drug", "resembles", "drug", "chemical similarity", symmetric=True, self_loops=False),
    _spec("drug", "interacts_with", "drug",
          "known drug-drug interaction (severity: minor | moderate | major | contraindicated, when known)",
          symmetric=True, self_loops=False, severity="str"),
    _spec("drug", "has_target", "target", "DrugBank target", **_DRUGBANK_ACTION),
    _spec("drug", "metabolized_by", "target", "DrugBank enzyme", **_DRUGBANK_ACTION),
    _spec("drug", "carried_by", "target", "DrugBank carrier", **_DRUGBANK_ACTION),
    _spec("drug", "transported_by", "target", "DrugBank transporter", **_DRUGBANK_ACTION),
    _spec("pharmacologic_class", "includes", "drug", "class membership"),
    _spec("drug", "contraindicated_in", "disease",
          "curated contraindication (action: remove | warn | allow; note: why)", learned=False,
          action="str", note="str"),
    # Disease biology.
    _spec("disease", "associates", "target", "gene associated with the disease"),
    _spec("disease", "upregulates", "target", "gene over-expressed in the disease"),
    _spec("disease", "downregulates", "target", "gene under-expressed in the disease"),
    _spec("disease", "localizes", "anatomy", "disease localises to the anatomy"),
    _spec("disease", "presents", "symptom", "disease presents the symptom"),
    _spec("disease", "resembles", "disease", "disease similarity", symmetric=True, self_loops=False),
    _spec("anatomy", "expresses", "target", "gene expressed in the anatomy"),
    _spec("anatomy", "upregulates", "target", "gene over-expressed in the anatomy"),
    _spec("anatomy", "downregulates", "target", "gene under-expressed in the anatomy"),
    # Gene biology.
    _spec("target", "interacts", "target", "protein-protein interaction", symmetric=True),
    _spec("target", "covaries", "target", "evolutionary covariation", symmetric=True, self_loops=False),
    _spec("target", "regulates", "target", "knock-down of the source regulates the target"),
    _spec("target", "participates", "pathway", "gene in pathway"),
    _spec("target", "participates", "biological_process", "gene in GO process"),
    _spec("target", "participates", "cellular_component", "gene in GO component"),
    _spec("target", "participates", "molecular_function", "gene in GO function"),
    # People. Weights count records (claims, encounters, orders); times are the first record's.
    _spec("doctor", "prescribes", "drug", "prescriber's claims for the drug",
          combine={"weight": "sum", "time": "min"}, weight="float", time="datetime"),
    _spec("doctor", "sees", "patient", "encounters between doctor and patient",
          combine={"weight": "sum", "time": "min"}, weight="float", time="datetime"),
    _spec("patient", "takes", "drug", "medication records (time: the first start; end_time: the last stop, "
          "empty while a record is open; every record kept in the medication_episodes table)",
          combine={"weight": "sum", "time": "min", "end_time": "open_max", "reason": "first",
                   "code": "first", "admission": "first"}, episodes="medication_episodes",
          weight="float", time="datetime", end_time="datetime", reason="str", code="str",
          admission="str"),
    _spec("patient", "has_condition", "disease", "diagnosis or condition (doid: the specific DO term)",
          combine={"time": "min", "end_time": "max", "code": "first", "doid": "first"},
          time="datetime", end_time="datetime", code="str", doid="str"),
    _spec("patient", "allergic_to", "drug", "recorded allergy or intolerance",
          combine={"time": "min", "code": "first"}, time="datetime", code="str"),
)


class Schema:
    """Lookup over the declared node types and relations."""

    def __init__(self, node_types: tuple[str, ...], relations: tuple[RelationSpec, ...]) -> None:
        self.node_types = node_types
        self.relations: dict[EdgeType, RelationSpec] = {}
        for spec in relations:
            et = spec.edge_type
            if et.src not in node_types or et.dst not in node_types:
                raise ValueError(f"relation {et} uses an undeclared node type")
            if et in self.relations:
                raise ValueError(f"relation {et} declared twice")
            self.relations[et] = spec

    @property
    def edge_types(self) -> list[EdgeType]:
        return list(self.relations)

    def has_node_type(self, node_type: str) -> bool:
        return node_type in self.node_types

    def resolve(self, src_type: str, relation: str, dst_type: str) -> EdgeType | None:
        """The declared edge type for these parts, or ``None`` if undeclared."""
        et = EdgeType(src_type, relation, dst_type)
        return et if et in self.relations else None

    def relation_names(self) -> set[str]:
        return {et.rel for et in self.relations}

    def undeclared(self, src_type: str, relation: str, dst_type: str) -> str:
        """Why (src_type, relation, dst_type) is refused, with what would be accepted: the
        relations declared between those types, or, when there are none, the types ``relation``
        joins (a file with its columns the wrong way round reads as the reverse)."""
        text = f"relation ({src_type}, {relation}, {dst_type}) is not in the schema"
        between = sorted(et.rel for et in self.relations if (et.src, et.dst) == (src_type, dst_type))
        if between:
            return f"{text}; {src_type} -> {dst_type} relations are: {', '.join(between)}"
        joins = sorted(f"({et.src}, {et.rel}, {et.dst})" for et in self.relations if et.rel == relation)
        if joins:
            return f"{text}; {relation!r} joins {', '.join(joins)}"
        return f"{text}; no relation joins {src_type} to {dst_type}"

    def spec(self, edge_type: EdgeType) -> RelationSpec:
        return self.relations[edge_type]


SCHEMA = Schema(NODE_TYPES, _RELATIONS)

#: Hetionet metanode kind -> rxkg node type.
HETIONET_KINDS: Mapping[str, str] = MappingProxyType({
    "Compound": "drug",
    "Disease": "disease",
    "Gene": "target",
    "Side Effect": "side_effect",
    "Pharmacologic Class": "pharmacologic_class",
    "Pathway": "pathway",
    "Anatomy": "anatomy",
    "Symptom": "symptom",
    "Biological Process": "biological_process",
    "Cellular Component": "cellular_component",
    "Molecular Function": "molecular_function",
})

#: Hetionet metaedge abbreviation -> rxkg edge type (direction as in Hetionet's SIF).
HETIONET_METAEDGES: Mapping[str, EdgeType] = MappingProxyType({
    "AdG": EdgeType("anatomy", "downregulates", "target"),
    "AeG": EdgeType("anatomy", "expresses", "target"),
    "AuG": EdgeType("anatomy", "upregulates", "target"),
    "CbG": EdgeType("drug", "binds", "target"),
    "CcSE": EdgeType("drug", "causes", "side_effect"),
    "CdG": EdgeType("drug", "downregulates", "target"),
    "CpD": EdgeType("drug", "palliates", "disease"),
    "CrC": EdgeType("drug", "resembles", "drug"),
    "CtD": EdgeType("drug", "treats", "disease"),
    "CuG": EdgeType("drug", "upregulates", "target"),
    "DaG": EdgeType("disease", "associates", "target"),
    "DdG": EdgeType("disease", "downregulates", "target"),
    "DlA": EdgeType("disease", "localizes", "anatomy"),
    "DpS": EdgeType("disease", "presents", "symptom"),
    "DrD": EdgeType("disease", "resembles", "disease"),
    "DuG": EdgeType("disease", "upregulates", "target"),
    "GcG": EdgeType("target", "covaries", "target"),
    "GiG": EdgeType("target", "interacts", "target"),
    "GpBP": EdgeType("target", "participates", "biological_process"),
    "GpCC": EdgeType("target", "participates", "cellular_component"),
    "GpMF": EdgeType("target", "participates", "molecular_function"),
    "GpPW": EdgeType("target", "participates", "pathway"),
    "Gr>G": EdgeType("target", "regulates", "target"),
    "PCiC": EdgeType("pharmacologic_class", "includes", "drug"),
})


def make_id(node_type: str, local_id: str) -> str:
    """Namespaced node id; ``local_id`` already carrying the namespace is kept as is.

    >>> make_id("disease", "DOID:9352")
    'disease:DOID:9352'
    >>> make_id("drug", "drug:DB00945")
    'drug:DB00945'
    """
    prefix = f"{node_type}:"
    return local_id if local_id.startswith(prefix) else prefix + local_id


def split_id(node_id: str) -> tuple[str, str]:
    """``'disease:DOID:9352'`` -> ``('disease', 'DOID:9352')``; raises on an id with no namespace."""
    node_type, sep, local = node_id.partition(":")
    if not sep or not local:
        raise ValueError(f"node id {node_id!r} has no type namespace (expected TYPE:ID)")
    return node_type, local


def node_type_of(node_id: str) -> str:
    """The node type an id is namespaced with (not checked against the schema)."""
    return split_id(node_id)[0]
