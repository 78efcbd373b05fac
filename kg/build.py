"""Build a graph from a list of source specifications; report what happened to every row.

>>> from kg.build import SourceSpec, build_graph
>>> result = build_graph([SourceSpec("hetionet", {"nodes": "data/hetionet/nodes.tsv.gz",
...                                               "edges": "data/hetionet/edges.sif.gz"})])  # doctest: +SKIP
>>> result.report.nodes["drug"]                                                         # doctest: +SKIP
1552
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from kg.builder import GraphBuilder, SourceData
from kg.errors import KGError, Policy
from kg.graph import KnowledgeGraph
from kg.io import write_graph
from kg.privacy import PrivacyMode, Pseudonymiser
from kg.sources import (load_cms_prescribers, load_csv_source, load_disease_ontology, load_drugbank,
                        load_hetionet, load_indications, load_interactions, load_mimic, load_rdf_source,
                        load_synthea)

__all__ = ["SourceSpec", "BuildReport", "BuildResult", "build_graph", "write_build", "report_for_people",
           "SOURCE_LOADERS"]


@dataclass(frozen=True)
class SourceSpec:
    """One source of a build: its loader ``kind``, file options and a unique ``name``.

    ``files`` maps the loader's file options (``nodes``, ``edges``, ``mapping``, ...)
    to paths; relative paths are resolved against ``base_dir``.
    """

    kind: str
    files: Mapping[str, str]
    name: str | None = None
    base_dir: str = "."

    @property
    def label(self) -> str:
        return self.name or self.kind

    def path(self, key: str) -> Path | None:
        value = self.files.get(key)
        return None if value is None else self.resolve(value)

    def resolve(self, value: str) -> Path:
        """A file option's path: relative to ``base_dir``; '~/data/x.csv' is in the user's home, as in a shell."""
        return Path(self.base_dir) / Path(value).expanduser()  # an absolute path replaces the base


def _require(spec: SourceSpec, key: str) -> Path:
    p = spec.path(key)
    if p is None:
        raise KGError(f"source {spec.label!r} ({spec.kind}) needs the file option {key!r}")
    return p


def _csv_option(spec: SourceSpec, key: str) -> list[str]:
    value = spec.files.get(key, "")
    return [v.strip() for v in str(value).split(",") if v.strip()]


#: Source kind -> loader; a plain dict so the set of formats is visible in one place.
SOURCE_LOADERS: dict[str, Callable[[SourceSpec], SourceData]] = {
    "hetionet": lambda s: load_hetionet(_require(s, "nodes"), _require(s, "edges"), s.label,
                                        _csv_option(s, "exclude_metaedges")),
    "indications": lambda s: load_indications(_require(s, "indications"), s.label),
    "drugbank": lambda s: load_drugbank(_require(s, "drugs"), s.path("proteins"), s.label),
    "disease_ontology": lambda s: load_disease_ontology(
        _require(s, "slim_terms"), s.path("xrefs"), s.path("term_names"), s.label),
    "interactions": lambda s: load_interactions(_require(s, "interactions"), s.label),
    "csv": lambda s: load_csv_source(_require(s, "mapping"), s.label, s.path("vocabulary")),
    "rdf": lambda s: load_rdf_source(_require(s, "file"), s.path("mapping"), s.label),
    # Clinical sources map their codes through a vocabulary file (data/mappings/vocabulary.toml).
    "cms": lambda s: load_cms_prescribers(_require(s, "prescribers"), _require(s, "vocabulary"), s.label),
    "synthea": lambda s: load_synthea(_require(s, "dir"), _require(s, "vocabulary"), s.label),
    "mimic": lambda s: load_mimic(_require(s, "dir"), _require(s, "vocabulary"), s.label),
}


@dataclass
class BuildReport:
    """What a build produced and what it set aside, as written to ``build_report.json``."""

    policy: str
    nodes: dict[str, int]
    edges: dict[str, int]
    tables: dict[str, int]
    sources: dict[str, dict[str, Any]]
    rejected: list[dict[str, Any]]
    out_of_scope: dict[str, dict[str, int]]
    wall_time_s: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def summary(self) -> str:
        # Records, as each source's accounting counts them: one row with two bad cells is one.
        records = sum(int(stats.get("rejected", 0)) for stats in self.sources.values())
        problems = f" ({len(self.rejected):,} problems)" if len(self.rejected) != records else ""
        return (f"built {sum(self.nodes.values()):,} nodes, {sum(self.edges.values()):,} edges "
                f"from {len(self.sources)} sources in {self.wall_time_s:.1f}s; "
                f"{records:,} rejected{problems}, {sum(sum(v.values()) for v in self.out_of_scope.values()):,} "
                f"out of scope")


@dataclass
class BuildResult:
    graph: KnowledgeGraph
    report: BuildReport
    out_of_scope: pd.DataFrame


def build_graph(sources: Sequence[SourceSpec], policy: Policy = "strict",
                progress: bool = False) -> BuildResult:
    """Load every source and build one validated graph.

    Under ``strict`` any problem raises :class:`~kg.errors.KGValidationError`
    listing all of them; under ``quarantine`` the build completes and the report
    lists every rejected record with its reason.
    """
    names = [s.label for s in sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise KGError(f"source names must be unique; repeated: {dupes} (give each a 'name')")
    unknown = [s.kind for s in sources if s.kind not in SOURCE_LOADERS]
    if unknown:
        raise KGError(f"unknown source kind(s) {unknown}; known: {sorted(SOURCE_LOADERS)}")
    start = time.perf_counter()
    builder = GraphBuilder()
    iterator: Any = sources
    if progress:
        from tqdm import tqdm
        iterator = tqdm(sources, desc="loading sources", unit="source", leave=False)
    # Text columns held as Python strings while building: the builder slices, maps and
    # merges millions of cells, which costs 0.6 s more in Arrow-backed strings (pandas'
    # default) than the whole build's remaining 3 s. Only the frames built here are affected.
    with pd.option_context("mode.string_storage", "python"):
        for spec in iterator:
            builder.add(SOURCE_LOADERS[spec.kind](spec))
        outcome = builder.build(policy)
    wall = time.perf_counter() - start
    oos = outcome.out_of_scope
    oos_summary: dict[str, dict[str, int]] = {}
    for (source, reason), n in oos.groupby(["source", "reason"]).size().items():
        oos_summary.setdefault(str(source), {})[str(reason)] = int(n)
    g = outcome.graph
    report = BuildReport(
        policy=policy,
        nodes=g.node_counts(),
        edges=g.edge_counts(),
        tables={k: len(v) for k, v in g.tables.items()},
        sources={k: v.to_dict() for k, v in outcome.stats.items()},
        rejected=[p.to_dict() for p in outcome.problems],
        out_of_scope=oos_summary,
        wall_time_s=round(wall, 3),
    )
    return BuildResult(g, report, oos)


def report_for_people(result: BuildResult, privacy: PrivacyMode = "pseudonymise",
                      pseudonymiser: Pseudonymiser | None = None) -> tuple[dict[str, Any], pd.DataFrame]:
    """The build report and out-of-scope table as they may leave the process.

    Rejected records and set-aside rows name patients; unless ``privacy="clear"``
    their ids are pseudonymised (see :mod:`kg.privacy`).
    """
    report = result.report.to_dict()
    oos = result.out_of_scope
    mentions_patients = (oos["record"].astype(str).str.contains("patient:", regex=False).any()
                         or any("patient:" in json.dumps(p) for p in report["rejected"]))
    if privacy == "clear" or not mentions_patients:
        return report, oos
    anon = pseudonymiser or Pseudonymiser()
    oos = oos.assign(record=anon.column(oos["record"].astype(object)))
    report["rejected"] = [{k: anon.text(v) if isinstance(v, str) else v for k, v in p.items()}
                          for p in report["rejected"]]
    return report, oos


def write_build(result: BuildResult, out: str | Path, privacy: PrivacyMode = "pseudonymise",
                pseudonymiser: Pseudonymiser | None = None, force: bool = False) -> Path:
    """Write the graph directory with ``build_report.json`` and ``out_of_scope.tsv.gz`` beside it.

    The two reports are for people to read: patient ids in them are pseudonymised
    unless ``privacy="clear"``. The graph store keeps the source ids (see :mod:`kg.privacy`).
    """
    report, oos = report_for_people(result, privacy, pseudonymiser)

    def write_report(path: Path) -> None:
        path.write_text(json.dumps(report, indent=2, default=str) + "\n")

    def write_oos(path: Path) -> None:
        oos.to_csv(path, sep="\t", index=False, compression="gzip")

    return write_graph(result.graph, out, extra_files={
        "build_report.json": write_report, "out_of_scope.tsv.gz": write_oos}, force=force)
