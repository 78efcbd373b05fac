"""Code mapping on known examples: brands, combinations, salts, RxNorm, NDC, SNOMED, ICD-9."""

import pytest

from kg.errors import KGValidationError
from kg.mapping import icd9_dotted, load_mappers
from kg.mapping.names import disease_name_candidates, salt_free_forms, strip_drug_product
from kg.mapping.vocabulary import load_vocabulary

from conftest import REPO

VOCABULARY = REPO / "data" / "mappings" / "vocabulary.toml"


@pytest.fixture(scope="module")
def mappers():
    return load_mappers(VOCABULARY)


@pytest.mark.parametrize("name, expected, method", [
    ("ABILIFY", ("DB01238",), "curated"),                              # brand -> aripiprazole
    ("ATORVASTATIN.CALCIUM", ("DB01076",), "name-without-salt"),       # salt dropped
    ("METOPROLOL.SUCCINATE", ("DB00264",), "name-without-salt"),
    ("HYDROCODONE.ACETAMINOPHEN", ("DB00956", "DB00316"), "combination"),  # segmented combination
    ("VYTORIN", ("DB00973", "DB00641"), "curated"),                    # brand combination
    ("Acetaminophen 325 MG / Oxycodone Hydrochloride 5 MG Oral Tablet", ("DB00316", "DB00497"), "combination"),
    ("24 HR metoprolol succinate 100 MG Extended Release Oral Tablet", ("DB00264",), "name-without-salt"),
    ("Ciprofloxacin HCl", ("DB00537",), "name-without-salt"),
    ("ACYCLOVIR", ("DB00787",), "curated"),                            # USAN spelling of aciclovir
])
def test_drug_names_map_to_drugbank(mappers, name, expected, method):
    match = mappers[0].map_name(name)
    assert match.drugbank_ids == expected and match.method == method


def test_unmapped_product_is_reported_as_such(mappers):
    match = mappers[0].map_name("BD.ULTRA.FINE.PEN.NEEDLE".replace(".", " "))
    assert not match and match.method == "unmapped"


def test_rxnorm_ingredient_and_ndc_routes(mappers):
    drugs = mappers[0]
    assert drugs.map_rxnorm("1191").drugbank_ids == ("DB00945",)        # aspirin ingredient CUI via UNII
    # A clinical-drug CUI is not an ingredient: the description's ingredient is matched instead.
    assert drugs.map_rxnorm("308192", "Amoxicillin 500 MG Oral Tablet").drugbank_ids == ("DB01060",)
    assert drugs.map_ndc("0", "Furosemide").drugbank_ids == ("DB00695",)


def test_ambiguous_unii_identifies_nothing(mappers):
    # DrugBank's UNII table gives water's UNII to dozens of drugs: RxNorm 11295 (water) must not map.
    assert not mappers[0].map_rxnorm("11295")


def test_snomed_and_icd9_map_to_disease_ontology(mappers):
    diseases = mappers[1]
    t2d = diseases.map_code("SNOMEDCT", "44054006")
    assert t2d.doid == "DOID:9352" and t2d.graph_doids == ("DOID:9352",)
    essential = diseases.map_code("SNOMEDCT", "59621000")                 # essential hypertension
    assert essential.doid == "DOID:10825" and essential.slim == ("DOID:10763",)  # rolled up to hypertension
    aki = diseases.map_code("ICD9", "5849", "Acute kidney failure, unspecified")   # by title
    assert aki.doid == "DOID:3021" and aki.method == "name"
    assert not diseases.map_code("ICD9", "V4581", "Aortocoronary bypass status")


def test_name_helpers():
    assert icd9_dotted("99591") == "995.91" and icd9_dotted("E8790") == "E879.0"
    assert strip_drug_product("NDA020983 200 ACTUAT albuterol 0.09 MG/ACTUAT Metered Dose Inhaler") == "albuterol"
    assert salt_free_forms("metoprolol succinate")[-1] == "metoprolol"
    assert "asthma" in disease_name_candidates("Childhood asthma")


def test_curated_entry_naming_no_drugbank_drug_is_an_error_with_its_line(tmp_path):
    import shutil

    for p in VOCABULARY.parent.rglob("*"):
        if p.is_file():
            target = tmp_path / p.relative_to(VOCABULARY.parent)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(p, target)
    toml = (tmp_path / "vocabulary.toml").read_text().replace('"../', f'"{VOCABULARY.parent.parent}/')
    (tmp_path / "vocabulary.toml").write_text(toml)
    with open(tmp_path / "curated" / "drug-synonyms.tsv", "a") as f:
        f.write("fakebrand\tNot A Real Drug\tbrand\n")
    lines = (tmp_path / "curated" / "drug-synonyms.tsv").read_text().count("\n")
    with pytest.raises(KGValidationError) as err:
        load_mappers(tmp_path / "vocabulary.toml")
    assert f"drug-synonyms.tsv:{lines}: 'Not A Real Drug' is not a DrugBank drug name" in str(err.value)


def test_vocabulary_records_its_version():
    assert load_vocabulary(VOCABULARY).version
