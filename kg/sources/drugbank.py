"""DrugBank 4.2 tables: drug names, ATC codes and categories; drug-protein actions.

The drug table is a catalogue of every DrugBank drug: it annotates the graph's drug
nodes (rows for drugs the graph does not hold are out of scope, and reported as
such). Protein rows become typed drug -> target edges by DrugBank category
(target, enzyme, carrier, transporter) with the action (inhibitor, agonist, ...).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kg.builder import EdgeBatch, NodeBatch, SourceData
from kg.errors import ProblemLog
from kg.schema import EdgeType
from kg.sources._io import DRUGBANK_ID, ENTREZ_ID, check_pattern, data_line_numbers, read_table, records_read

__all__ = ["load_drugbank", "PROTEIN_RELATIONS"]

DRUG_COLUMNS = ["drugbank_id", "name", "type", "groups", "atc_codes", "categories",
                "inchikey", "inchi", "description"]
PROTEIN_COLUMNS = ["drugbank_id", "category", "uniprot_id", "entrez_gene_id", "organism",
                   "known_action", "actions", "pubmed_ids"]

#: DrugBank protein category -> relation.
PROTEIN_RELATIONS: dict[str, EdgeType] = {
    "target": EdgeType("drug", "has_target", "target"),
    "enzyme": EdgeType("drug", "metabolized_by", "target"),
    "carrier": EdgeType("drug", "carried_by", "target"),
    "transporter": EdgeType("drug", "transported_by", "target"),
}


def load_drugbank(drugs_path: Path, proteins_path: Path | None = None,
                  name: str = "drugbank") -> SourceData:
    """Load the DrugBank drug table and, optionally, the drug-protein table."""
    data = SourceData(name=name, files=[str(drugs_path)])
    log = ProblemLog(str(drugs_path), name)
    drugs = read_table(Path(drugs_path), log, columns=DRUG_COLUMNS, quoted=True)
    if drugs is not None:
        data.rows_read += records_read(drugs)
        data.nodes.append(NodeBatch(str(drugs_path), _drug_annotations(drugs, log), annotate_only=True))
    data.problems += log.problems
    if proteins_path is not None:
        data.files.append(str(proteins_path))
        plog = ProblemLog(str(proteins_path), name)
        proteins = read_table(Path(proteins_path), plog, columns=PROTEIN_COLUMNS)
        if proteins is not None:
            data.rows_read += records_read(proteins)
            data.edges += _protein_edges(proteins, str(proteins_path), plog)
        data.problems += plog.problems
    return data


def _drug_annotations(frame: pd.DataFrame, log: ProblemLog) -> pd.DataFrame:
    lines = data_line_numbers(frame)
    bad = check_pattern(frame, "drugbank_id", DRUGBANK_ID, log)
    nameless = ~bad & frame["name"].isna()
    for line, value in zip(lines[nameless], frame["drugbank_id"][nameless]):
        log.add(f"drug {value} has no name", line=int(line))
    ok = ~(bad | nameless)
    f = frame[ok]
    return pd.DataFrame({
        "id": ("drug:" + f["drugbank_id"]).to_numpy(),
        "type": "drug",
        "name": f["name"].to_numpy(),
        "drugbank_type": f["type"].to_numpy(),
        "groups": f["groups"].to_numpy(),
        "atc_codes": f["atc_codes"].to_numpy(),
        "categories": f["categories"].to_numpy(),
        "inchikey": f["inchikey"].to_numpy(),
        "_line": lines[ok].to_numpy(),
    })


def _protein_edges(frame: pd.DataFrame, file: str, log: ProblemLog) -> list[EdgeBatch]:
    lines = data_line_numbers(frame)
    bad_id = check_pattern(frame, "drugbank_id", DRUGBANK_ID, log)
    bad_gene = check_pattern(frame, "entrez_gene_id", ENTREZ_ID, log)
    bad_cat = ~frame["category"].isin(list(PROTEIN_RELATIONS))
    for line, value in zip(lines[bad_cat], frame["category"][bad_cat]):
        log.add(f"column 'category': {value!r} is not one of {sorted(PROTEIN_RELATIONS)}", line=int(line))
    ok = ~(bad_id | bad_gene | bad_cat)
    batches = []
    for category, et in PROTEIN_RELATIONS.items():
        sel = ok & (frame["category"] == category)
        f = frame[sel]
        edges = pd.DataFrame({
            "src": ("drug:" + f["drugbank_id"]).to_numpy(),
            "dst": ("target:" + f["entrez_gene_id"]).to_numpy(),
            "actions": f["actions"].to_numpy(),
            "known_action": f["known_action"].to_numpy(),
            "_line": lines[sel].to_numpy(),
        })
        batches.append(EdgeBatch(file, et, edges, restrict_to_graph=True))
    return batches
