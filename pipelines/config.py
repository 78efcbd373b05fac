"""Configuration: frozen dataclasses that a TOML file maps onto one to one.

::

    [build]
    policy = "strict"            # or "quarantine"
    out = "build/graph"

    [[build.sources]]
    kind = "hetionet"            # a key of kg.build.SOURCE_LOADERS
    nodes = "data/hetionet/nodes.tsv.gz"
    edges = "data/hetionet/edges.sif.gz"

Relative paths are resolved against the directory of the TOML file. Without a
file, :func:`default_config` builds everything shipped under ``data/``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from kg.build import SOURCE_LOADERS, SourceSpec
from kg.errors import POLICIES, KGError
from kg.tomlfile import check_types, read_toml
from pipelines.evaluation.config import EvaluateConfig
from pipelines.train import TrainConfig

__all__ = ["BuildConfig", "PipelineConfig", "TrainConfig", "EvaluateConfig", "default_config", "load_config", "default_data_dir"]


def default_data_dir() -> Path:
    """``$RXKG_DATA_DIR`` if set, else the ``data/`` folder of this checkout."""
    env = os.environ.get("RXKG_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "data"


@dataclass(frozen=True)
class BuildConfig:
    sources: tuple[SourceSpec, ...]
    policy: str = "strict"
    out: str = "build/graph"

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise KGError(f"build.policy must be one of {list(POLICIES)}, got {self.policy!r}")


@dataclass(frozen=True)
class PipelineConfig:
    """One dataclass per TOML section: ``[build]``, ``[train]``, ``[evaluate]``."""

    build: BuildConfig = field(default_factory=lambda: default_config().build)
    train: TrainConfig = field(default_factory=TrainConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)


#: The shipped code-mapping vocabulary, relative to the data directory.
VOCABULARY = "mappings/vocabulary.toml"


def _shipped_sources(data_dir: Path) -> tuple[SourceSpec, ...]:
    base = str(data_dir)
    return (
        SourceSpec("hetionet", {"nodes": "hetionet/nodes.tsv.gz", "edges": "hetionet/edges.sif.gz"},
                   base_dir=base),
        SourceSpec("indications", {"indications": "indications/indications.tsv.gz"}, base_dir=base),
        SourceSpec("drugbank", {"drugs": "drugbank/drugbank.tsv.gz", "proteins": "drugbank/proteins.tsv.gz"},
                   base_dir=base),
        SourceSpec("disease_ontology", {"slim_terms": "disease-ontology/slim-terms.tsv",
                                        "xrefs": "disease-ontology/xrefs-prop-slim.tsv.gz",
                                        "term_names": "disease-ontology/term-names.tsv.gz"}, base_dir=base),
        SourceSpec("interactions", {"interactions": "ddi/chch-miner-drugbank-ddi.tsv.gz"}, base_dir=base),
        SourceSpec("cms", {"prescribers": "doctors/cms-partd-2014/prescriber-info.csv.gz",
                           "vocabulary": VOCABULARY}, base_dir=base),
        SourceSpec("synthea", {"dir": "patients/synthea-ne", "vocabulary": VOCABULARY}, "synthea-ne",
                   base_dir=base),
        SourceSpec("synthea", {"dir": "patients/synthea-ca", "vocabulary": VOCABULARY}, "synthea-ca",
                   base_dir=base),
        SourceSpec("mimic", {"dir": "patients/mimic3-demo", "vocabulary": VOCABULARY}, "mimic3",
                   base_dir=base),
        SourceSpec("csv", {"mapping": "safety/mapping.toml"}, "contraindications", base_dir=base),
    )


def default_config(data_dir: Path | None = None) -> PipelineConfig:
    """Everything shipped in the repository: Hetionet, indications, DrugBank, ontology, interactions."""
    return PipelineConfig(build=BuildConfig(_shipped_sources(data_dir or default_data_dir())))


def load_config(path: str | Path) -> PipelineConfig:
    """Read a TOML config; every mistake names the file and the key."""
    path = Path(path)
    raw = read_toml(path, "config file")
    unknown = set(raw) - {"build", "train", "evaluate"}
    if unknown:
        raise KGError(f"{path}: unknown section(s) {sorted(unknown)}; known: ['build', 'evaluate', 'train']")
    build = raw.get("build", {})
    unknown = set(build) - {"sources", "policy", "out", "include_shipped"}
    if unknown:
        raise KGError(f"{path}: [build] has unknown key(s) {sorted(unknown)}")
    include_shipped = build.get("include_shipped", False)
    if not isinstance(include_shipped, bool):
        raise KGError(f"{path}: [build] include_shipped must be true or false, got {include_shipped!r}")
    config = default_config()
    specs = config.build.sources
    if "sources" in build:
        own = tuple(_source(entry, path, i) for i, entry in enumerate(build["sources"]))
        # include_shipped adds the config's sources to everything shipped instead of replacing it
        specs = config.build.sources + own if include_shipped else own
        labels = [s.label for s in specs]
        clash = sorted({label for label in labels if labels.count(label) > 1})
        if clash:
            raise KGError(f"{path}: [[build.sources]] names {clash} twice"
                          + (" (a shipped source has that name; give yours a 'name')" if include_shipped else ""))
    out = build.get("out", config.build.out)
    if not isinstance(out, str) or not out:
        raise KGError(f"{path}: [build] out must be a folder path (text), got {out!r}")
    if "out" in build:  # relative to the config file; '~' is the user's home, as in a shell
        out = str(path.parent / Path(out).expanduser())
    evaluate = dict(raw.get("evaluate", {}))
    if isinstance(evaluate.get("out"), str):
        evaluate["out"] = str(path.parent / Path(evaluate["out"]).expanduser())
    try:
        return PipelineConfig(build=replace(config.build, sources=specs, out=out,
                                            policy=build.get("policy", config.build.policy)),
                              train=_section(TrainConfig, raw.get("train", {}), f"{path}: [train]"),
                              evaluate=_section(EvaluateConfig, evaluate, f"{path}: [evaluate]"))
    except KGError as err:
        if str(path) in str(err):
            raise
        raise KGError(f"{path}: {err}") from None


def _section(cls, values: dict, where: str):
    """A frozen dataclass from one TOML table; unknown keys and wrong types are errors naming ``where``."""
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise KGError(f"{where} has unknown key(s) {sorted(unknown)}; known: {sorted(known)}")
    values = check_types(cls, values, where)
    try:
        return cls(**values)
    except (TypeError, ValueError, KGError) as err:
        raise KGError(f"{where}: {err}") from None


def _source(entry: Any, path: Path, index: int) -> SourceSpec:
    where = f"{path}: [[build.sources]] entry {index + 1}"
    if not isinstance(entry, dict) or "kind" not in entry:
        raise KGError(f"{where}: needs a 'kind' (one of {sorted(SOURCE_LOADERS)})")
    kind = entry["kind"]
    if kind not in SOURCE_LOADERS:
        raise KGError(f"{where}: unknown kind {kind!r}; known: {sorted(SOURCE_LOADERS)}")
    files = {k: ",".join(map(str, v)) if isinstance(v, list) else str(v)
             for k, v in entry.items() if k not in ("kind", "name")}
    if kind == "csv" and "vocabulary" not in files:  # names and codes in a user's CSV map like the shipped ones
        files["vocabulary"] = str(default_data_dir() / VOCABULARY)
    return SourceSpec(kind, files, entry.get("name"), base_dir=str(path.parent))
