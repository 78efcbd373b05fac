"""Source loaders: each turns files into :class:`~kg.builder.SourceData`.

Built-in formats (Hetionet, PharmacotherapyDB, DrugBank, Disease Ontology,
interaction tables) and the two generic ones for a user's own data: CSV driven by
a small TOML mapping, and RDF (Turtle, N-Triples, RDF/XML) driven by class and
predicate maps.
"""

from kg.sources.cms import load_cms_prescribers
from kg.sources.csv_source import CsvMapping, load_csv_mapping, load_csv_source
from kg.sources.ddi import load_interactions
from kg.sources.disease_ontology import load_disease_ontology
from kg.sources.drugbank import load_drugbank
from kg.sources.hetionet import load_hetionet
from kg.sources.indications import load_indications
from kg.sources.mimic import load_mimic
from kg.sources.rdf_source import RdfMapping, load_rdf_source
from kg.sources.synthea import load_synthea

__all__ = [
    "CsvMapping",
    "RdfMapping",
    "load_cms_prescribers",
    "load_csv_mapping",
    "load_csv_source",
    "load_disease_ontology",
    "load_drugbank",
    "load_hetionet",
    "load_indications",
    "load_interactions",
    "load_mimic",
    "load_rdf_source",
    "load_synthea",
]
