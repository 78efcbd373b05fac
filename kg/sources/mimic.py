"""MIMIC-III (Clinical Database Demo v1.4): ICU patients, prescriptions, ICD-9 diagnoses.

- PATIENTS -> ``patient:<source>:<SUBJECT_ID>`` with sex and birth/death dates;
- ADMISSIONS -> the ``admissions`` table (the times diagnoses are dated by);
- PRESCRIPTIONS -> ``(patient, takes, drug)`` through the NDC, else the generic
  name (else the order name); one record per row, weighted so that the edge's
  weight counts the *admissions* the drug was given in, not the repeated orders;
- DIAGNOSES_ICD -> ``(patient, has_condition, disease)`` through Disease Ontology's
  ICD-9 cross-references, the ICD-9 titles of D_ICD_DIAGNOSES matched to DO names,
  and the ICD-9 category. V and E codes describe circumstances (a status, an
  external cause), not diseases: they are out of scope and counted apart.

MIMIC shifts dates into 2100-2200 to de-identify them; this demo copy writes
PATIENTS and ADMISSIONS times as ``M/D/YY H:MM``, read here as 21YY (a birth date
that would then follow the patient's first admission as 20YY).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kg.builder import NodeBatch, SourceData
from kg.errors import Problem
from kg.mapping import MappingTally, load_mappers
from kg.schema import EdgeType
from kg.sources._clinical import parse_dates, read_csv_directory, set_aside
from kg.sources._io import data_line_numbers
from kg.sources.synthea import condition_edges, drug_edges

__all__ = ["load_mimic", "MIMIC_FILES"]

MIMIC_FILES: dict[str, tuple[str, ...]] = {
    "PATIENTS": ("SUBJECT_ID", "GENDER", "DOB", "DOD"),
    "ADMISSIONS": ("SUBJECT_ID", "HADM_ID", "ADMITTIME", "DISCHTIME"),
    "PRESCRIPTIONS": ("SUBJECT_ID", "HADM_ID", "STARTDATE", "ENDDATE", "DRUG", "DRUG_NAME_GENERIC", "NDC"),
    "DIAGNOSES_ICD": ("SUBJECT_ID", "HADM_ID", "ICD9_CODE"),
}
#: Reference table of ICD-9 titles: read for matching, not records of the graph.
TITLES = ("D_ICD_DIAGNOSES", ("ICD9_CODE", "LONG_TITLE"))


def _mimic_time(values: pd.Series) -> pd.Series:
    """ISO times, or the demo copy's ``M/D/YY H:MM`` with the shifted century 21YY."""
    parsed = parse_dates(values, ("ISO8601",))
    short = values.notna() & parsed.isna()
    if short.any():
        m = values[short].str.extract(r"^(\d{1,2})/(\d{1,2})/(\d{2})(?:\s+(\d{1,2}):(\d{2}))?$")
        text = ("21" + m[2] + "-" + m[0].str.zfill(2) + "-" + m[1].str.zfill(2) + " "
                + m[3].fillna("0").str.zfill(2) + ":" + m[4].fillna("00"))
        parsed[short] = pd.to_datetime(text, errors="coerce", format="%Y-%m-%d %H:%M")
    return parsed


def load_mimic(directory: Path, vocabulary: Path, name: str = "mimic3") -> SourceData:
    """Load a MIMIC-III CSV directory (the demo's upper-case file names, .csv or .csv.gz)."""
    drugs, diseases = load_mappers(vocabulary)
    data = SourceData(name=name)
    frames = read_csv_directory(data, Path(directory), {**MIMIC_FILES, TITLES[0]: TITLES[1]},
                                reference=(TITLES[0],))
    patient = f"patient:{name}:"

    def times(stem: str, column: str) -> pd.Series:
        path, f = frames[stem]
        parsed = _mimic_time(f[column])
        bad = f[column].notna() & parsed.isna()
        for line, value in zip(data_line_numbers(f)[bad], f[column][bad]):
            data.problems.append(Problem(str(path), f"column {column!r}: {value!r} is not a date or time",
                                         line=int(line), source=name))
        return parsed

    admit_time: dict[str, pd.Timestamp] = {}
    first_admission: dict[str, pd.Timestamp] = {}
    if "ADMISSIONS" in frames:
        path, f = frames["ADMISSIONS"]
        admit, discharge = times("ADMISSIONS", "ADMITTIME"), times("ADMISSIONS", "DISCHTIME")
        admit_time = dict(zip(f["HADM_ID"], admit))
        first_admission = admit.groupby(f["SUBJECT_ID"].to_numpy()).min().to_dict()
        data.tables["admissions"] = pd.DataFrame({
            "patient": (patient + f["SUBJECT_ID"]).to_numpy(), "admission": f["HADM_ID"].to_numpy(),
            "admit_time": admit.to_numpy(), "discharge_time": discharge.to_numpy(), "source": name})
    if "PATIENTS" in frames:
        path, f = frames["PATIENTS"]
        birth = times("PATIENTS", "DOB")
        # Two-digit years are read as 21YY; a birth that would follow the patient's first
        # admission belongs to the century before (the demo has 2064-born patients admitted in 2164).
        first_admit = f["SUBJECT_ID"].map(first_admission).astype("datetime64[ns]")
        too_late = (birth > first_admit).to_numpy()
        birth[too_late] = birth[too_late] - pd.DateOffset(years=100)
        data.nodes.append(NodeBatch(str(path), pd.DataFrame({
            "id": (patient + f["SUBJECT_ID"]).to_numpy(), "type": "patient", "name": None,
            "birth_date": birth.dt.strftime("%Y-%m-%d").to_numpy(),
            "death_date": times("PATIENTS", "DOD").dt.strftime("%Y-%m-%d").to_numpy(),
            "sex": f["GENDER"].to_numpy(), "source": name, "_line": data_line_numbers(f).to_numpy(),
        })))
    if "PRESCRIPTIONS" in frames:
        path, f = frames["PRESCRIPTIONS"]
        generic = f["DRUG_NAME_GENERIC"].fillna(f["DRUG"])
        matches = [drugs.map_ndc(n, g) for n, g in zip(f["NDC"], generic)]
        mapped = np.fromiter((bool(m) for m in matches), dtype=bool, count=len(matches))
        codes = generic.fillna("")
        tally = MappingTally("prescription (NDC or generic name)", "DrugBank")
        tally.add(codes, mapped, (m.method for m in matches))
        data.mapping["prescriptions"] = tally.to_dict()
        drug_key = pd.Series([",".join(m.drugbank_ids) for m in matches], index=f.index)
        # Weight 1 on an admission's first order of a drug, 0 on repeats: the edge sums to admissions.
        first = ~pd.DataFrame({"s": f["SUBJECT_ID"], "h": f["HADM_ID"], "d": drug_key}).duplicated()
        records = pd.DataFrame({
            "src": (patient + f["SUBJECT_ID"]).to_numpy(), "weight": first.astype("float64").to_numpy(),
            "time": times("PRESCRIPTIONS", "STARTDATE").to_numpy(),
            "end_time": times("PRESCRIPTIONS", "ENDDATE").to_numpy(),
            "code": ("NDC:" + f["NDC"].fillna("0")).to_numpy(), "admission": f["HADM_ID"].to_numpy(),
            "_line": data_line_numbers(f).to_numpy()})
        drug_edges(data, path, records, matches, mapped, codes, EdgeType("patient", "takes", "drug"), drugs)
    if "DIAGNOSES_ICD" in frames:
        path, f = frames["DIAGNOSES_ICD"]
        lines = data_line_numbers(f)
        titles = dict(zip(frames[TITLES[0]][1]["ICD9_CODE"], frames[TITLES[0]][1]["LONG_TITLE"])) \
            if TITLES[0] in frames else {}
        code = f["ICD9_CODE"].fillna("")
        circumstance = code.str[:1].isin(["V", "E"]).to_numpy()
        data.out_of_scope.append(set_aside(
            name, str(path), lines[circumstance], patient + f["SUBJECT_ID"][circumstance] + " -> ICD9:"
            + code[circumstance], "ICD-9 V/E code: a circumstance, not a disease"))
        g = f[~circumstance]
        matches = [diseases.map_code("ICD9", c, titles.get(c)) for c in g["ICD9_CODE"]]
        mapped = np.fromiter((bool(m) for m in matches), dtype=bool, count=len(matches))
        codes = "ICD9:" + g["ICD9_CODE"].fillna("") + " " + g["ICD9_CODE"].map(titles).fillna("(no title)")
        tally = MappingTally("diagnosis (ICD-9)", "Disease Ontology")
        tally.add(codes, mapped, (m.method for m in matches))
        tally.exclude(int(circumstance.sum()), "ICD-9 V and E codes (circumstances, not diseases)")
        data.mapping["diagnoses"] = {**tally.to_dict(),
                                     "rows_mapped_to_graph_disease": sum(bool(m.slim) for m in matches)}
        records = pd.DataFrame({
            "src": (patient + g["SUBJECT_ID"]).to_numpy(),
            "time": pd.to_datetime(g["HADM_ID"].map(admit_time)).astype("datetime64[ns]").to_numpy(),
            "code": ("ICD9:" + g["ICD9_CODE"]).to_numpy(),
            "doid": np.asarray([m.doid for m in matches], dtype=object), "_line": lines[~circumstance].to_numpy()})
        condition_edges(data, path, records, matches, mapped, codes, diseases)
    return data
