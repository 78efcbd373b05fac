"""Synthetic cohorts for scale tests, written in the Synthea CSV layout.

**Synthetic data: for measuring cost at scale, never evidence of quality.** The
prescriptions follow the graph's own indications, so a model evaluated on them is
rewarded for reproducing the graph.

What is generated, all vectorised with one seeded NumPy generator:

- doctors with a specialty; each specialty treats a share of the diseases, and
  each doctor favours a few drugs (habits) on top of the indication lists;
- patients (birth date, sex) with 1-5 comorbid conditions drawn from the graph's
  diseases by a skewed prevalence, each seen by the patient's doctor (an encounter);
- for most conditions a medication: a drug indicated for it (treats or palliates),
  weighted by the doctor's habits, sometimes (``noise``) any indicated drug; a drug
  that interacts with one the patient already takes is redrawn once, then dropped.

Conditions carry a SNOMED CT code and medications a DrugBank name (plus the RxNorm
ingredient CUI where one is known), chosen so that rxkg's own Synthea loader maps
them back to the same graph ids.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kg.errors import KGError
from kg.graph import KnowledgeGraph
from kg.outputs import atomic_directory
from kg.mapping import DiseaseMapper, DrugMapper
from kg.schema import EdgeType

__all__ = ["SynthConfig", "SynthResult", "generate_cohort", "SPECIALTIES"]

SPECIALTIES = ("Family Practice", "Internal Medicine", "Cardiology", "Endocrinology", "Psychiatry",
               "Neurology", "Pulmonary Disease", "Rheumatology", "Hematology/Oncology", "Dermatology")
_EPOCH = np.datetime64("1930-01-01")


@dataclass(frozen=True)
class SynthConfig:
    patients: int = 1000
    doctors: int = 100
    seed: int = 0
    #: Share of medications drawn from all indicated drugs instead of the condition's own.
    noise: float = 0.05
    #: Share of conditions that get a medication.
    treated: float = 0.8
    #: Mean number of extra conditions per patient (Poisson), capped at 4 extra.
    comorbidity: float = 1.0
    favourite_drugs: int = 5

    def __post_init__(self) -> None:
        if self.patients < 1 or self.doctors < 1:
            raise KGError("a synthetic cohort needs at least one patient and one doctor")
        if not (0 <= self.noise <= 1 and 0 <= self.treated <= 1):
            raise KGError("noise and treated are shares between 0 and 1")


@dataclass
class SynthResult:
    out: Path
    config: SynthConfig
    rows: dict[str, int]
    interactions_avoided: int
    interactions_dropped: int
    wall_time_s: float

    def summary(self) -> str:
        return (f"synthetic cohort: {self.rows['patients']:,} patients, {self.rows['providers']:,} doctors, "
                f"{self.rows['conditions']:,} conditions, {self.rows['medications']:,} medications "
                f"({self.interactions_avoided:,} interacting draws redrawn, {self.interactions_dropped:,} dropped) "
                f"in {self.wall_time_s:.1f}s")


def _catalogue(graph: KnowledgeGraph, diseases: DiseaseMapper, drugs: DrugMapper):
    """Diseases with a SNOMED code that maps back to them, and their indicated drugs."""
    xrefs = graph.tables.get("xrefs")
    if xrefs is None:
        raise KGError("the graph has no 'xrefs' table (build it with the disease_ontology source)")
    snomed = xrefs[xrefs["resource"] == "SNOMEDCT"]
    code_of: dict[str, str] = {}
    for node, code in zip(snomed["node_id"], snomed["resource_id"]):
        doid = node.split(":", 1)[1]
        if node not in code_of and diseases.map_code("SNOMEDCT", code).graph_doids == (doid,):
            code_of[node] = code
    pairs = [graph.edges[et][["src", "dst"]].astype(str)
             for et in (EdgeType("drug", "treats", "disease"), EdgeType("drug", "palliates", "disease"))
             if et in graph.edges]
    if not pairs:
        raise KGError("the graph has no treats or palliates edges to draw prescriptions from")
    ind = pd.concat(pairs).drop_duplicates()
    ind = ind[ind["dst"].isin(list(code_of))]
    disease_ids = np.array(sorted(ind["dst"].unique()), dtype=object)
    drug_ids = np.array(sorted(ind["src"].unique()), dtype=object)
    if len(disease_ids) == 0:
        raise KGError("no disease has both a SNOMED code and an indicated drug")
    return code_of, ind, disease_ids, drug_ids


def generate_cohort(graph: KnowledgeGraph, drugs: DrugMapper, diseases: DiseaseMapper, out: str | Path,
                    config: SynthConfig = SynthConfig(), force: bool = False) -> SynthResult:
    """Generate a cohort from ``graph`` and write it (atomically) as a Synthea CSV directory."""
    start = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    code_of, ind, disease_ids, drug_ids = _catalogue(graph, diseases, drugs)
    n_dis, n_drug = len(disease_ids), len(drug_ids)
    dis_index = {d: i for i, d in enumerate(disease_ids)}
    drug_index = {d: i for i, d in enumerate(drug_ids)}
    # Indications as CSR: for disease i, its drugs are ind_drugs[ptr[i]:ptr[i+1]].
    ind = ind.assign(di=ind["dst"].map(dis_index), dr=ind["src"].map(drug_index)).sort_values(["di", "dr"])
    ptr = np.searchsorted(ind["di"].to_numpy(), np.arange(n_dis + 1))
    ind_drugs = ind["dr"].to_numpy()
    interacting = _interaction_keys(graph, drug_index, n_drug)

    # Doctors: specialty, the diseases the specialty sees, favourite drugs.
    n_doc, n_pat = config.doctors, config.patients
    specialty = rng.integers(0, len(SPECIALTIES), n_doc)
    disease_specialty = rng.integers(1, len(SPECIALTIES), n_dis)  # family practice (0) sees everything
    favourites = rng.integers(0, n_drug, (n_doc, config.favourite_drugs))

    # Patients and their conditions; prevalence is skewed (a few common diseases, a long tail).
    prevalence = rng.permutation(1.0 / np.arange(1, n_dis + 1) ** 0.8)
    prevalence /= prevalence.sum()
    n_cond = 1 + np.minimum(rng.poisson(config.comorbidity, n_pat), 4)
    patient_of = np.repeat(np.arange(n_pat), n_cond)
    condition = rng.choice(n_dis, size=len(patient_of), p=prevalence)
    keep = ~pd.DataFrame({"p": patient_of, "c": condition}).duplicated().to_numpy()  # a disease once each
    patient_of, condition = patient_of[keep], condition[keep]
    birth = _EPOCH + rng.integers(0, 85 * 365, n_pat).astype("timedelta64[D]")
    sex = np.where(rng.random(n_pat) < 0.5, "F", "M")
    # Each patient's doctor: half see family practice, half the specialty of their first condition.
    first_condition = condition[np.r_[0, np.flatnonzero(np.diff(patient_of)) + 1]]
    wanted = np.where(rng.random(n_pat) < 0.5, 0, disease_specialty[first_condition])
    doctor_of = _pick_doctor(rng, wanted, specialty)
    onset = birth[patient_of] + rng.integers(365 * 2, 365 * 60, len(patient_of)).astype("timedelta64[D]")

    # Medications: one per treated condition, redrawn once if it interacts with the patient's others.
    treated = (rng.random(len(condition)) < config.treated) & (ptr[condition + 1] > ptr[condition])
    med_patient, med_condition = patient_of[treated], condition[treated]
    med_drug = _draw_drugs(rng, med_condition, favourites[doctor_of[med_patient]], ptr, ind_drugs,
                           config.noise, n_drug)
    clash = _clashes(med_patient, med_drug, interacting, n_drug)
    avoided = int(clash.sum())
    if avoided:
        med_drug[clash] = _draw_drugs(rng, med_condition[clash], favourites[doctor_of[med_patient[clash]]],
                                      ptr, ind_drugs, config.noise, n_drug)
    dropped = _clashes(med_patient, med_drug, interacting, n_drug)
    keep_med = ~dropped
    med_patient, med_condition, med_drug = med_patient[keep_med], med_condition[keep_med], med_drug[keep_med]
    med_start = onset[treated][keep_med] + rng.integers(0, 30, len(med_drug)).astype("timedelta64[D]")
    chronic = rng.random(len(med_drug)) < 0.6
    med_stop = np.where(chronic, np.datetime64("NaT"),
                        med_start + rng.integers(7, 365, len(med_drug)).astype("timedelta64[D]"))

    prefix = f"synth{config.seed}-"
    patient_ids = pd.Series(np.arange(n_pat)).astype(str).radd(prefix + "patient-").to_numpy()
    doctor_ids = pd.Series(np.arange(n_doc)).astype(str).radd(prefix + "doctor-").to_numpy()
    encounter_ids = pd.Series(np.arange(len(patient_of))).astype(str).radd(prefix + "encounter-").to_numpy()
    snomed = np.array([code_of[d] for d in disease_ids], dtype=object)
    disease_names = np.array([diseases.term_names.get(d.split(":", 1)[1], d) for d in disease_ids], dtype=object)
    drug_names = np.array([drugs.name_of(d.split(":", 1)[1]) or d for d in drug_ids], dtype=object)
    rxnorm = drugs.rxnorm_ingredients()
    drug_codes = np.array([rxnorm.get(d.split(":", 1)[1], "") for d in drug_ids], dtype=object)
    med_encounter = encounter_ids[treated][keep_med]

    tables = {
        "patients": pd.DataFrame({"Id": patient_ids, "BIRTHDATE": _day(birth), "DEATHDATE": "",
                                  "GENDER": sex}),
        "providers": pd.DataFrame({"Id": doctor_ids, "ORGANIZATION": "", "NAME": doctor_ids,
                                   "GENDER": np.where(rng.random(n_doc) < 0.5, "F", "M"),
                                   "SPECIALITY": np.array(SPECIALTIES, dtype=object)[specialty], "STATE": ""}),
        "encounters": pd.DataFrame({"Id": encounter_ids, "START": _day(onset), "PATIENT": patient_ids[patient_of],
                                    "PROVIDER": doctor_ids[doctor_of[patient_of]]}),
        "conditions": pd.DataFrame({"START": _day(onset), "STOP": "", "PATIENT": patient_ids[patient_of],
                                    "ENCOUNTER": encounter_ids, "CODE": snomed[condition],
                                    "DESCRIPTION": disease_names[condition]}),
        "medications": pd.DataFrame({"START": _day(med_start), "STOP": _day(med_stop),
                                     "PATIENT": patient_ids[med_patient], "ENCOUNTER": med_encounter,
                                     "CODE": drug_codes[med_drug], "DESCRIPTION": drug_names[med_drug],
                                     "REASONCODE": snomed[med_condition],
                                     "REASONDESCRIPTION": disease_names[med_condition]}),
    }
    out = Path(out)
    manifest = {"synthetic": True,
                "warning": "SYNTHETIC DATA generated by rxkg synth for scale tests; not evidence of quality",
                "config": asdict(config), "rows": {k: len(v) for k, v in tables.items()},
                "interactions_redrawn": avoided, "interactions_dropped": int(dropped.sum())}

    def write(tmp: Path) -> None:
        for name, frame in tables.items():
            frame.to_csv(tmp / f"{name}.csv", index=False)
        (tmp / "SYNTHETIC.json").write_text(json.dumps(manifest, indent=2) + "\n")

    atomic_directory(out, write, force=force)
    return SynthResult(out, config, manifest["rows"], avoided, int(dropped.sum()),
                       round(time.perf_counter() - start, 3))


def _day(values: np.ndarray) -> np.ndarray:
    """ISO dates; NaT as an empty cell."""
    text = np.datetime_as_string(values.astype("datetime64[D]"), unit="D")
    return np.where(text == "NaT", "", text)


def _pick_doctor(rng: np.random.Generator, wanted: np.ndarray, specialty: np.ndarray) -> np.ndarray:
    """A random doctor of the wanted specialty for each patient (any doctor where none has it)."""
    order = np.argsort(specialty, kind="stable")
    starts = np.searchsorted(specialty[order], np.arange(len(SPECIALTIES) + 1))
    size = starts[wanted + 1] - starts[wanted]
    anyone = rng.integers(0, len(specialty), len(wanted))
    offset = (rng.random(len(wanted)) * np.maximum(size, 1)).astype(np.int64)
    return np.where(size > 0, order[np.minimum(starts[wanted] + offset, len(order) - 1)], anyone)


def _draw_drugs(rng: np.random.Generator, condition: np.ndarray, favourites: np.ndarray, ptr: np.ndarray,
                ind_drugs: np.ndarray, noise: float, n_drug: int) -> np.ndarray:
    """A drug per condition: indicated for it, often the doctor's favourite among those."""
    lo, hi = ptr[condition], ptr[condition + 1]
    pick = ind_drugs[lo + (rng.random(len(condition)) * (hi - lo)).astype(np.int64)]
    disease_of = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
    indication_keys = disease_of.astype(np.int64) * n_drug + ind_drugs  # sorted: CSR order
    for k in range(favourites.shape[1]):
        fav = favourites[:, k]
        keys = condition.astype(np.int64) * n_drug + fav
        pos = np.minimum(np.searchsorted(indication_keys, keys), len(indication_keys) - 1)
        indicated = indication_keys[pos] == keys
        pick = np.where(indicated & (rng.random(len(pick)) < 0.5), fav, pick)
    noisy = rng.random(len(pick)) < noise
    pick[noisy] = ind_drugs[rng.integers(0, len(ind_drugs), int(noisy.sum()))]
    return pick


def _interaction_keys(graph: KnowledgeGraph, drug_index: dict[str, int], n_drug: int) -> np.ndarray:
    """Sorted keys ``a * n_drug + b`` (both orders) of interacting pairs among the catalogue's drugs."""
    et = EdgeType("drug", "interacts_with", "drug")
    if et not in graph.edges:
        return np.array([], dtype=np.int64)
    pairs = graph.edges[et]
    a = pairs["src"].astype(str).map(drug_index)
    b = pairs["dst"].astype(str).map(drug_index)
    ok = a.notna() & b.notna()
    a, b = a[ok].astype(np.int64).to_numpy(), b[ok].astype(np.int64).to_numpy()
    return np.unique(np.concatenate([a * n_drug + b, b * n_drug + a]))


def _clashes(patient: np.ndarray, drug: np.ndarray, interacting: np.ndarray, n_drug: int) -> np.ndarray:
    """Medications that interact with an earlier medication of the same patient.

    Medications are grouped by patient (the arrays are in patient order); patients
    have at most five, so comparing each with the up to four before it is enough.
    """
    clash = np.zeros(len(drug), dtype=bool)
    if len(interacting) == 0:
        return clash
    for lag in range(1, 5):
        same = np.zeros(len(drug), dtype=bool)
        same[lag:] = patient[lag:] == patient[:-lag]
        idx = np.flatnonzero(same)
        keys = drug[idx].astype(np.int64) * n_drug + drug[idx - lag]
        pos = np.minimum(np.searchsorted(interacting, keys), len(interacting) - 1)
        clash[idx[interacting[pos] == keys]] = True
    return clash
