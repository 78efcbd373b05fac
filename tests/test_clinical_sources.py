"""CMS, Synthea and MIMIC-III loaders on small fixtures: nodes, combined records, mapping reports."""

import pandas as pd

from kg.schema import EdgeType
from kg.sources import load_cms_prescribers, load_mimic, load_synthea

from conftest import REPO, TINY, build

CLINICAL = TINY.parent / "clinical"
VOCABULARY = REPO / "data" / "mappings" / "vocabulary.toml"


def edges(outcome, src, rel, dst):
    return outcome.graph.edges[EdgeType(src, rel, dst)].astype({"src": str, "dst": str})


def accounted(stats):
    return (stats.nodes_loaded + stats.nodes_annotated + stats.edges_loaded + stats.duplicates_merged
            + stats.table_rows + stats.out_of_scope + stats.rejected) == stats.rows_read + stats.rows_expanded


def test_cms_prescribers():
    out = build(load_cms_prescribers(CLINICAL / "cms.csv", VOCABULARY))
    doctor = out.graph.node("doctor:NPI:1000000002")
    assert (doctor["specialty"], doctor["state"], doctor["gender"]) == ("Internal Medicine", "TX", "M")
    rx = edges(out, "doctor", "prescribes", "drug").set_index(["src", "dst"])["weight"]
    assert rx[("doctor:NPI:1000000001", "drug:DB01238")] == 25      # ABILIFY -> aripiprazole
    assert rx[("doctor:NPI:1000000002", "drug:DB00343")] == 12      # DILTIAZEM.ER + DILTIAZEM.HCL summed
    assert rx[("doctor:NPI:1000000002", "drug:DB00956")] == 40      # combination: both ingredients
    assert rx[("doctor:NPI:1000000002", "drug:DB00316")] == 40
    report = out.stats["cms"].mapping["drug_columns"]
    assert report["unmapped"] == [{"code": "BD.ULTRA.FINE.PEN.NEEDLE", "rows": 1}]
    assert report["columns"] == 6 and report["columns_mapped"] == 5
    assert list(out.out_of_scope["reason"]) == ["drug column BD.ULTRA.FINE.PEN.NEEDLE maps to no DrugBank drug"]
    assert accounted(out.stats["cms"])


def test_cms_bad_claim_count_names_the_line(tmp_path):
    text = (CLINICAL / "cms.csv").read_text().replace("1000000003,\"F\",\"CA\",\"DO\",\"Family Practice\",0",
                                                      "1000000003,\"F\",\"CA\",\"DO\",\"Family Practice\",-2")
    (tmp_path / "cms.csv").write_text(text)
    out = build(load_cms_prescribers(tmp_path / "cms.csv", VOCABULARY), policy="quarantine")
    assert [(p.line, p.reason) for p in out.problems] == [
        (4, "not a claim count (a non-negative integer): ABILIFY='-2'")]


def test_count_columns_are_parsed_as_numbers_unless_a_cell_is_text(tmp_path):
    from kg.errors import ProblemLog
    from kg.sources._io import read_table

    (tmp_path / "t.csv").write_text("NPI,Specialty,A,B\n1000000001,Cardiology,3,\n1000000002,Dentist,,7\n")
    frame = read_table(tmp_path / "t.csv", ProblemLog("t.csv", "t"), numbers_except=("NPI", "Specialty"))
    assert [str(t) for t in frame.dtypes] == ["object", "object", "float64", "float64"]
    assert frame["NPI"].tolist() == ["1000000001", "1000000002"]  # an id stays text, leading digits and all
    assert frame["A"].isna().tolist() == [False, True] and frame["B"].tolist()[1] == 7.0
    (tmp_path / "t.csv").write_text("NPI,Specialty,A,B\n1000000001,Cardiology,3,x\n")
    frame = read_table(tmp_path / "t.csv", ProblemLog("t.csv", "t"), numbers_except=("NPI", "Specialty"))
    assert frame["B"].tolist() == ["x"] and frame["A"].tolist() == ["3"]  # read as written, to be quoted


def test_synthea_export():
    out = build(load_synthea(CLINICAL / "synthea", VOCABULARY, "syn"))
    g = out.graph
    assert g.node("patient:syn:p1")["birth_date"] == "1950-04-02" and "FIRST" not in g.nodes.columns
    sees = edges(out, "doctor", "sees", "patient").set_index("dst")
    assert sees.loc["patient:syn:p1", "weight"] == 2                    # two encounters, one edge
    takes = edges(out, "patient", "takes", "drug").set_index(["src", "dst"])
    lisinopril = takes.loc[("patient:syn:p1", "drug:DB00722")]
    assert lisinopril["weight"] == 2                                    # repeat order combined
    assert lisinopril["time"] == pd.Timestamp("2019-01-01 09:00") and lisinopril["end_time"] == pd.Timestamp("2019-09-01 09:00")
    assert lisinopril["reason"] == "disease:DOID:10763"                 # essential hypertension -> hypertension
    assert {d for s, d in takes.index if s == "patient:syn:p2"} == {"drug:DB00316", "drug:DB00497"}
    cond = edges(out, "patient", "has_condition", "disease").set_index("src")
    assert cond.loc["patient:syn:p1", "doid"] == "DOID:10825"           # the specific term is kept
    assert list(edges(out, "patient", "allergic_to", "drug")["dst"]) == ["drug:DB00945"]
    assert list(g.tables["allergies"]["description"]) == ["Bee venom (substance)"]
    mapping = out.stats["syn"].mapping
    assert mapping["medications"]["unmapped"] == [{"code": "RxNorm:999999 Unobtainium 5 MG Oral Tablet", "rows": 1}]
    assert mapping["conditions"]["rows_mapped"] == 2
    assert accounted(out.stats["syn"])


def test_synthea_without_patients_file_is_an_error(tmp_path):
    (tmp_path / "providers.csv").write_text((CLINICAL / "synthea" / "providers.csv").read_text())
    data = load_synthea(tmp_path, VOCABULARY, "syn")
    assert any(p.file.endswith("patients.csv") and "file not found" in p.reason for p in data.problems)


def test_mimic_demo():
    out = build(load_mimic(CLINICAL / "mimic", VOCABULARY, "mimic"))
    patient = out.graph.node("patient:mimic:101")
    assert patient["birth_date"] == "2094-03-05"                        # M/D/YY read in the shifted 21YY
    takes = edges(out, "patient", "takes", "drug").set_index("dst")
    assert takes.loc["drug:DB00695", "weight"] == 2                     # furosemide in two admissions
    cond = edges(out, "patient", "has_condition", "disease").set_index("dst")
    assert cond.loc["disease:DOID:3021", "time"] == pd.Timestamp("2164-10-23 21:09")  # admission time
    mapping = out.stats["mimic"].mapping["diagnoses"]
    assert mapping["excluded_rows"] == 1 and mapping["rows"] == 2       # the V code is counted apart
    assert "ICD-9 V/E code: a circumstance, not a disease" in set(out.out_of_scope["reason"])
    assert out.stats["mimic"].mapping["prescriptions"]["unmapped"] == [{"code": "NS", "rows": 1}]
    assert len(out.graph.tables["admissions"]) == 2
    assert accounted(out.stats["mimic"])


def test_bad_mimic_date_is_reported(tmp_path):
    import shutil

    shutil.copytree(CLINICAL / "mimic", tmp_path / "m")
    p = tmp_path / "m" / "PRESCRIPTIONS.csv"
    p.write_text(p.read_text().replace("2164-10-26 00:00:00", "someday"))
    out = build(load_mimic(tmp_path / "m", VOCABULARY, "mimic"), policy="quarantine")
    assert [(p.line, p.reason) for p in out.problems] == [(3, "column 'STARTDATE': 'someday' is not a date or time")]
