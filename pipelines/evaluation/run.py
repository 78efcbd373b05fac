"""``rxkg evaluate``: every protocol of DESIGN.md on one graph, one report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from kg.graph import KnowledgeGraph
from kg.outputs import check_output_folder
from kg.version import __version__
from pipelines.evaluation.config import EvaluateConfig
from pipelines.evaluation.report import write_report
from pipelines.evaluation.results import EvaluationResult, ProtocolResult

__all__ = ["EvaluationResult", "evaluate"]


def evaluate(config: EvaluateConfig | None = None, graph: KnowledgeGraph | None = None,
             sources=None, out: str | Path | None = None,
             log: Callable[[str], None] = print, force: bool = False) -> EvaluationResult:
    """Run every configured protocol on ``graph`` (built from ``sources`` when not given).

    ``out`` (default ``config.out``; ``""`` for none) receives report.json, report.md
    and the plots.

    >>> result = evaluate(EvaluateConfig(quick=True))          # doctest: +SKIP
    >>> result.protocol("disease/random").model("degree prior").means["mrr"]  # doctest: +SKIP
    """
    from pipelines.config import default_config, default_data_dir
    from pipelines.evaluation.coldpatients import patient_cold_protocols
    from pipelines.evaluation.coldmixed import mixed_protocol
    from pipelines.evaluation.coldstart import cold_start_protocols
    from pipelines.evaluation.disease import disease_protocol
    from pipelines.evaluation.doctor import doctor_protocol
    from pipelines.evaluation.patient import patient_protocols
    from pipelines.provenance import combined_hash, data_hashes, library_versions, machine

    requested = config or EvaluateConfig()
    config = requested.effective()
    if (config.out if out is None else out):
        check_output_folder(Path(config.out if out is None else out), force)  # before minutes of work
    start = time.perf_counter()
    sources = sources if sources is not None else default_config().build.sources
    if graph is None:
        from kg.build import build_graph

        log("building the graph from the configured sources")
        graph = build_graph(sources).graph
    hashes = data_hashes(sources, default_data_dir()) if sources else {}
    protocols: list[ProtocolResult] = []

    def run(label: str, fn: Callable[[], Any]) -> None:
        log(f"[{label}]")
        t0 = time.perf_counter()
        produced = fn()
        produced = produced if isinstance(produced, list) else [produced]
        for p in produced:
            p.seconds = p.seconds or time.perf_counter() - t0
            if p.skipped:
                log(f"  skipped: {p.skipped}")
        protocols.extend(produced)

    if "disease" in config.protocols:
        for mode in config.disease_splits:
            run(f"disease/{mode}", lambda mode=mode: disease_protocol(graph, mode, config, log))
    if "doctor" in config.protocols:
        from recsys.cf import doctor_drug_interactions
        from recsys.cf.interactions import PRESCRIBES
        from pipelines.train import people_gnn_config
        from recsys.recommender.drugprofiles import DrugProfiles
        from recsys.recommender.people_graph import DoctorGraphRecipe

        claims = graph.edges.get(PRESCRIBES)
        inter = doctor_drug_interactions(graph) if claims is not None and len(claims) else None
        # The graph component's recipe: profiles hold no prescribing, and the people GNN reads only
        # the claims it is fitted on (each protocol's training part), never the graph's people.
        recipe = (DoctorGraphRecipe(graph, DrugProfiles.from_graph(graph, [str(i) for i in inter.item_ids]),
                                    people_gnn_config(config.train_config())) if inter is not None else None)
        for mode in config.doctor_splits:
            if inter is None:
                run(f"doctor/{mode}", lambda mode=mode: _skipped(f"doctor/{mode}", "the graph has no prescriptions"))
            elif mode == "cold":
                run("doctor/cold", lambda: [*cold_start_protocols(graph, config, log), mixed_protocol(graph, config, log)])
            else:
                run(f"doctor/{mode}", lambda mode=mode: doctor_protocol(inter, mode, config, log, recipe))
    if "patient" in config.protocols:
        run("patient", lambda: [*patient_protocols(graph, config, log), *patient_cold_protocols(graph, config, log)])
    provenance = {"rxkg": __version__, "versions": library_versions(), "machine": machine(),
                  "data": hashes, "data_hash": combined_hash(sorted(hashes.items())),
                  "graph": f"{graph.num_nodes:,} nodes, {graph.num_edges:,} edges",
                  "timings_s": {p.name: round(p.seconds, 1) for p in protocols}}
    for protocol in protocols:
        if not protocol.skipped:
            protocol.info["hybrid_minus"] = protocol.paired_differences(config.bootstrap, config.seed)
    result = EvaluationResult(requested, protocols, provenance, time.perf_counter() - start)
    target = config.out if out is None else out
    if target:

        result.paths = write_report(result, target, force=force)
    return result


def _skipped(name: str, why: str) -> ProtocolResult:
    return ProtocolResult(name, name, (), skipped=why)
