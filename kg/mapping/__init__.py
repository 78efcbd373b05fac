"""Code mapping: clinical drug and condition codes to DrugBank and Disease Ontology ids.

>>> from kg.mapping import load_mappers
>>> drugs, diseases = load_mappers("data/mappings/vocabulary.toml")      # doctest: +SKIP
>>> drugs.map_name("HYDROCODONE.ACETAMINOPHEN").drugbank_ids             # doctest: +SKIP
('DB00956', 'DB00316')
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from kg.mapping.diseases import NO_DISEASE, DiseaseMapper, DiseaseMatch, icd9_dotted
from kg.mapping.drugs import NO_DRUG, DrugMapper, DrugMatch
from kg.mapping.report import MappingTally
from kg.mapping.vocabulary import Vocabulary, load_vocabulary

__all__ = ["DrugMapper", "DrugMatch", "DiseaseMapper", "DiseaseMatch", "MappingTally", "Vocabulary",
           "NO_DRUG", "NO_DISEASE", "icd9_dotted", "load_vocabulary", "load_mappers"]


def load_mappers(vocabulary_path: str | Path) -> tuple[DrugMapper, DiseaseMapper]:
    """Drug and disease mappers over one vocabulary file (cached: sources share them)."""
    p = Path(vocabulary_path).resolve()
    return _mappers(p, p.stat().st_mtime_ns if p.exists() else 0)


@lru_cache(maxsize=2)
def _mappers(path: Path, _mtime: int) -> tuple[DrugMapper, DiseaseMapper]:
    vocabulary = load_vocabulary(path)
    return DrugMapper(vocabulary), DiseaseMapper(vocabulary)
