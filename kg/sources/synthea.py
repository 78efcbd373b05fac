"""Synthea CSV exports: patients, providers (as doctors), encounters, medications, conditions, allergies.

Ids are namespaced by the source's name, so two exports never collide:
``patient:synthea-ne:<uuid>``, ``doctor:synthea-ne:<uuid>``. Only clinical fields
are loaded; names, addresses, SSNs and the like are never read into the graph.

- encounters -> ``(doctor, sees, patient)``, one record per encounter;
- medications -> ``(patient, takes, drug)`` per DrugBank ingredient of the RxNorm
  clinical drug, with start/stop times, the RxNorm code, and the reason condition
  (the DO disease it maps to, else ``SNOMEDCT:<code>``);
- conditions -> ``(patient, has_condition, disease)``: the Hetionet disease the
  SNOMED code rolls up to, else the specific DO term (``doid`` keeps the specific term);
- allergies -> ``(patient, allergic_to, drug)`` for medication allergies; food and
  environment allergies go to the ``allergies`` table, as data for the safety filter.

Rows whose code maps to nothing (a social finding, a device) are out of scope and
counted per code in the build report's mapping section.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kg.builder import EdgeBatch, NodeBatch, SourceData
from kg.errors import ProblemLog
from kg.mapping import DiseaseMapper, DrugMapper, MappingTally, load_mappers
from kg.schema import EdgeType
from kg.sources._clinical import explode_matches, product_table, read_csv_directory, set_aside
from kg.sources._io import data_line_numbers, parse_datetimes

__all__ = ["load_synthea", "SYNTHEA_FILES", "drug_edges", "condition_edges"]

#: File -> columns rxkg reads (others, personal data included, are ignored).
SYNTHEA_FILES: dict[str, tuple[str, ...]] = {
    "patients": ("Id", "BIRTHDATE", "DEATHDATE", "GENDER"),
    "providers": ("Id", "NAME", "GENDER", "SPECIALITY", "STATE"),
    "encounters": ("Id", "START", "PATIENT", "PROVIDER"),
    "medications": ("START", "STOP", "PATIENT", "CODE", "DESCRIPTION", "REASONCODE", "REASONDESCRIPTION"),
    "conditions": ("START", "STOP", "PATIENT", "CODE", "DESCRIPTION"),
    "allergies": ("START", "PATIENT", "CODE", "SYSTEM", "DESCRIPTION", "TYPE", "CATEGORY"),
}
_OPTIONAL = {"allergies", "encounters", "conditions"}


def load_synthea(directory: Path, vocabulary: Path, name: str = "synthea") -> SourceData:
    """Load one Synthea CSV export directory."""
    drugs, diseases = load_mappers(vocabulary)
    data = SourceData(name=name)
    frames = read_csv_directory(data, Path(directory), SYNTHEA_FILES, optional=_OPTIONAL, missing=(
        "file not found (a Synthea export needs patients, providers and medications)"))
    patient = f"patient:{name}:"
    doctor = f"doctor:{name}:"
    if "patients" in frames:
        _patients(data, *frames["patients"], patient)
    if "providers" in frames:
        _providers(data, *frames["providers"], doctor)
    if "encounters" in frames:
        _encounters(data, *frames["encounters"], patient, doctor)
    if "medications" in frames:
        _medications(data, *frames["medications"], patient, drugs, diseases)
    if "conditions" in frames:
        _conditions(data, *frames["conditions"], patient, diseases)
    if "allergies" in frames:
        _allergies(data, *frames["allergies"], patient, drugs)
    return data


def _times(data: SourceData, path: Path, frame: pd.DataFrame, column: str) -> pd.Series:
    log = ProblemLog(str(path), data.name)
    parsed = parse_datetimes(frame[column], data_line_numbers(frame), column, log)
    data.problems += log.problems
    return parsed


def _patients(data: SourceData, path: Path, f: pd.DataFrame, prefix: str) -> None:
    birth = _times(data, path, f, "BIRTHDATE")
    death = _times(data, path, f, "DEATHDATE")
    data.nodes.append(NodeBatch(str(path), pd.DataFrame({
        "id": (prefix + f["Id"]).to_numpy(), "type": "patient", "name": None,
        "birth_date": birth.dt.strftime("%Y-%m-%d").to_numpy(),
        "death_date": death.dt.strftime("%Y-%m-%d").to_numpy(),
        "sex": f["GENDER"].to_numpy(), "source": data.name,
        "_line": data_line_numbers(f).to_numpy(),
    })))


def _providers(data: SourceData, path: Path, f: pd.DataFrame, prefix: str) -> None:
    data.nodes.append(NodeBatch(str(path), pd.DataFrame({
        "id": (prefix + f["Id"]).to_numpy(), "type": "doctor", "name": f["NAME"].to_numpy(),
        "gender": f["GENDER"].to_numpy(), "state": f["STATE"].to_numpy(),
        "specialty": f["SPECIALITY"].str.title().to_numpy(), "source": data.name,
        "_line": data_line_numbers(f).to_numpy(),
    })))


def _encounters(data: SourceData, path: Path, f: pd.DataFrame, patient: str, doctor: str) -> None:
    lines = data_line_numbers(f)
    start = _times(data, path, f, "START")
    has_provider = f["PROVIDER"].notna().to_numpy()
    if (~has_provider).any():
        data.out_of_scope.append(set_aside(data.name, str(path), lines[~has_provider],
                                           patient + f["PATIENT"][~has_provider], "encounter without a provider"))
    g = f[has_provider]
    data.edges.append(EdgeBatch(str(path), EdgeType("doctor", "sees", "patient"), pd.DataFrame({
        "src": (doctor + g["PROVIDER"]).to_numpy(), "dst": (patient + g["PATIENT"]).to_numpy(),
        "weight": 1.0, "time": start[has_provider].to_numpy(), "_line": lines[has_provider].to_numpy(),
    })))


def _medications(data: SourceData, path: Path, f: pd.DataFrame, patient: str, drugs: DrugMapper,
                 diseases: DiseaseMapper) -> None:
    lines = data_line_numbers(f)
    matches = [drugs.map_rxnorm(c, d) for c, d in zip(f["CODE"], f["DESCRIPTION"])]
    mapped = np.fromiter((bool(m) for m in matches), dtype=bool, count=len(matches))
    codes = "RxNorm:" + f["CODE"].fillna("") + " " + f["DESCRIPTION"].fillna("")
    tally = MappingTally("medication code", "DrugBank")
    tally.add(codes, mapped, (m.method for m in matches))
    data.mapping["medications"] = tally.to_dict()

    has_reason = f["REASONCODE"].notna().to_numpy()
    reasons = [diseases.map_code("SNOMEDCT", c, d) if r else None
               for c, d, r in zip(f["REASONCODE"], f["REASONDESCRIPTION"], has_reason)]
    reason_tally = MappingTally("medication reason", "Disease Ontology")
    reason_codes = "SNOMEDCT:" + f["REASONCODE"][has_reason] + " " + f["REASONDESCRIPTION"][has_reason].fillna("")
    reason_ok = [bool(r) for r in reasons if r is not None]
    reason_tally.add(reason_codes, reason_ok, (r.method for r in reasons if r is not None))
    data.mapping["medication_reasons"] = {
        **reason_tally.to_dict(),
        "rows_mapped_to_graph_disease": sum(bool(r.slim) for r in reasons if r is not None)}
    reason_text = [("disease:" + r.graph_doids[0]) if r else (f"SNOMEDCT:{c}" if isinstance(c, str) else None)
                   for r, c in zip(reasons, f["REASONCODE"])]

    start, stop = _times(data, path, f, "START"), _times(data, path, f, "STOP")
    records = pd.DataFrame({
        "src": (patient + f["PATIENT"]).to_numpy(), "weight": 1.0,
        "time": start.to_numpy(), "end_time": stop.to_numpy(),
        "reason": np.asarray(reason_text, dtype=object), "code": ("RxNorm:" + f["CODE"]).to_numpy(),
        "_line": lines.to_numpy(),
    })
    drug_edges(data, path, records, matches, mapped, codes, EdgeType("patient", "takes", "drug"), drugs)


def drug_edges(data: SourceData, path: Path, records: pd.DataFrame, matches: list,
               mapped: np.ndarray, codes: pd.Series, edge_type: EdgeType, drugs: DrugMapper) -> None:
    """Edges to every DrugBank ingredient of mapped rows; implied drug nodes; unmapped rows set aside."""
    edges, expanded = explode_matches(records[mapped], [m for m, ok in zip(matches, mapped) if ok], "drug:")
    data.rows_expanded += expanded
    data.edges.append(EdgeBatch(str(path), edge_type, edges))
    data.nodes.append(NodeBatch(str(path), drugs.drug_nodes(matches), implied=True))
    products = product_table(data.name, np.asarray(codes, dtype=object)[mapped],
                             [m for m, ok in zip(matches, mapped) if ok], np.ones(int(mapped.sum()), dtype=np.int64))
    data.summaries["products"] = pd.concat([data.summaries["products"], products], ignore_index=True) \
        if "products" in data.summaries else products
    if (~mapped).any():
        data.out_of_scope.append(set_aside(
            data.name, str(path), records["_line"].to_numpy()[~mapped],
            records["src"].to_numpy()[~mapped] + " -> " + np.asarray(codes, dtype=object)[~mapped],
            f"{edge_type.rel}: code maps to no DrugBank drug"))


def _conditions(data: SourceData, path: Path, f: pd.DataFrame, patient: str, diseases: DiseaseMapper) -> None:
    lines = data_line_numbers(f)
    matches = [diseases.map_code("SNOMEDCT", c, d) for c, d in zip(f["CODE"], f["DESCRIPTION"])]
    mapped = np.fromiter((bool(m) for m in matches), dtype=bool, count=len(matches))
    codes = "SNOMEDCT:" + f["CODE"].fillna("") + " " + f["DESCRIPTION"].fillna("")
    tally = MappingTally("condition code", "Disease Ontology")
    tally.add(codes, mapped, (m.method for m in matches))
    data.mapping["conditions"] = {**tally.to_dict(),
                                  "rows_mapped_to_graph_disease": sum(bool(m.slim) for m in matches)}
    start, stop = _times(data, path, f, "START"), _times(data, path, f, "STOP")
    records = pd.DataFrame({
        "src": (patient + f["PATIENT"]).to_numpy(), "time": start.to_numpy(), "end_time": stop.to_numpy(),
        "code": ("SNOMEDCT:" + f["CODE"]).to_numpy(),
        "doid": np.asarray([m.doid for m in matches], dtype=object), "_line": lines.to_numpy(),
    })
    condition_edges(data, path, records, matches, mapped, codes, diseases)


def condition_edges(data: SourceData, path: Path, records: pd.DataFrame, matches: list, mapped: np.ndarray,
                    codes: pd.Series, diseases: DiseaseMapper) -> None:
    """``has_condition`` edges for mapped rows; implied nodes for DO terms outside Hetionet."""
    edges, expanded = explode_matches(records[mapped], [m for m, ok in zip(matches, mapped) if ok], "disease:")
    data.rows_expanded += expanded
    data.edges.append(EdgeBatch(str(path), EdgeType("patient", "has_condition", "disease"), edges))
    doids = pd.unique(edges["dst"].str[8:])
    data.nodes.append(NodeBatch(str(path), pd.DataFrame({
        "id": ["disease:" + d for d in doids], "type": "disease",
        "name": [diseases.term_names.get(d) for d in doids], "from_clinical": True,
    }), implied=True))
    if (~mapped).any():
        data.out_of_scope.append(set_aside(
            data.name, str(path), records["_line"].to_numpy()[~mapped],
            records["src"].to_numpy()[~mapped] + " -> " + np.asarray(codes, dtype=object)[~mapped],
            "condition code maps to no Disease Ontology term"))


def _allergies(data: SourceData, path: Path, f: pd.DataFrame, patient: str, drugs: DrugMapper) -> None:
    lines = data_line_numbers(f)
    is_drug = (f["CATEGORY"].str.lower() == "medication").to_numpy()
    matches = [drugs.map_rxnorm(c, d) if m else None for c, d, m in zip(f["CODE"], f["DESCRIPTION"], is_drug)]
    mapped = np.fromiter((m is not None and bool(m) for m in matches), dtype=bool, count=len(matches))
    tally = MappingTally("medication allergy", "DrugBank")
    tally.add((f["SYSTEM"] + ":" + f["CODE"] + " " + f["DESCRIPTION"].fillna(""))[is_drug], mapped[is_drug])
    data.mapping["allergies"] = tally.to_dict()
    start = _times(data, path, f, "START")
    records = pd.DataFrame({"src": (patient + f["PATIENT"]).to_numpy(), "time": start.to_numpy(),
                            "code": (f["SYSTEM"] + ":" + f["CODE"]).to_numpy(), "_line": lines.to_numpy()})
    edges, expanded = explode_matches(records[mapped], [m for m, ok in zip(matches, mapped) if ok], "drug:")
    data.rows_expanded += expanded
    data.edges.append(EdgeBatch(str(path), EdgeType("patient", "allergic_to", "drug"), edges))
    data.nodes.append(NodeBatch(str(path), drugs.drug_nodes(matches), implied=True))
    rest = ~mapped
    # Food, environment and unmapped medication allergies stay as data: the safety filter reads them.
    data.tables["allergies"] = pd.DataFrame({
        "patient": (patient + f["PATIENT"])[rest].to_numpy(), "start": start[rest].to_numpy(),
        "system": f["SYSTEM"][rest].to_numpy(), "code": f["CODE"][rest].to_numpy(),
        "description": f["DESCRIPTION"][rest].to_numpy(), "type": f["TYPE"][rest].to_numpy(),
        "category": f["CATEGORY"][rest].to_numpy(), "source": data.name,
    })
