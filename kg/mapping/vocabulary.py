"""The reference tables clinical codes are mapped through, named by one versioned TOML file.

``data/mappings/vocabulary.toml`` lists the DrugBank, UNII, RxNorm, NDC and Disease
Ontology tables plus rxkg's curated synonym tables, with a version string that the
build report records beside every mapping rate. Loading is cached per file, so the
three clinical sources of a default build share one copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from kg.errors import KGError, KGValidationError, ProblemLog
from kg.tomlfile import read_toml

__all__ = ["VOCABULARY_FILES", "Vocabulary", "load_vocabulary", "read_reference"]

#: Key in vocabulary.toml -> the columns that table must have.
VOCABULARY_FILES: dict[str, tuple[str, ...]] = {
    "drugbank": ("drugbank_id", "name", "atc_codes", "groups"),
    "drugbank_unii": ("drugbank_id", "fdasrs_id"),
    "rxnorm_unii": ("rxnorm_id", "fdasrs_id"),
    "ndc_rxnorm": ("ndc", "rxnorm_id"),
    "drug_synonyms": ("name", "maps_to", "kind"),
    "do_slim_terms": ("doid", "name"),
    "do_xrefs": ("doid_code", "resource", "resource_id"),
    "do_xrefs_slim": ("doid_code", "resource", "resource_id"),
    "do_term_names": ("doid", "name", "type"),
    "disease_synonyms": ("name", "doid", "note"),
}
_QUOTED = {"drugbank", "do_term_names"}


@dataclass(frozen=True)
class Vocabulary:
    """Raw reference tables (string columns), keyed as in :data:`VOCABULARY_FILES`."""

    path: Path
    version: str
    tables: dict[str, pd.DataFrame]
    files: dict[str, Path]

    def __getitem__(self, key: str) -> pd.DataFrame:
        return self.tables[key]


def read_reference(path: Path, columns: tuple[str, ...], quoted: bool = False) -> pd.DataFrame:
    """Read a reference table; any problem raises naming the file and line."""
    # Imported here: kg.sources' clinical loaders import kg.mapping, so a module-level
    # import would make the two packages' initialisation circular.
    from kg.sources._io import read_table

    log = ProblemLog(str(path))
    frame = read_table(path, log, required=columns, quoted=quoted, comment_lines=True)
    if frame is None or len(log):
        raise KGValidationError(log.problems)
    return frame


def load_vocabulary(path: str | Path) -> Vocabulary:
    """Load (once per file and modification time) the tables ``path`` names."""
    p = Path(path).resolve()
    if not p.exists():
        raise KGError(f"{p}: vocabulary file not found")
    return _load(p, p.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _load(path: Path, _mtime: int) -> Vocabulary:
    raw = read_toml(path, "vocabulary")
    version = raw.get("version")
    if not isinstance(version, str):
        raise KGError(f"{path}: needs a 'version' string")
    files = raw.get("files", {})
    missing = sorted(set(VOCABULARY_FILES) - set(files))
    unknown = sorted(set(files) - set(VOCABULARY_FILES))
    if missing or unknown:
        raise KGError(f"{path}: [files] missing {missing}, unknown {unknown}")
    paths = {key: path.parent / files[key] for key in VOCABULARY_FILES}
    tables = {key: read_reference(paths[key], cols, quoted=key in _QUOTED)
              for key, cols in VOCABULARY_FILES.items()}
    return Vocabulary(path, version, tables, paths)
