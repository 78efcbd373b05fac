"""``rxkg demo``: the main job on the shipped data, end to end, as far as rxkg goes today.

Builds the full graph, then exports the neighbourhood of one disease in every
format, and tells the user where everything is.
"""

from __future__ import annotations

import time
from pathlib import Path

from kg.export import FORMATS, export_graph
from pipelines.build import run_build
from pipelines.config import default_config

__all__ = ["run_demo", "DEMO_DISEASE"]

DEMO_DISEASE = "disease:DOID:9352"  # type 2 diabetes mellitus
_EXTENSIONS = {"graphml": ".graphml", "gexf": ".gexf", "json": ".json", "turtle": ".ttl",
               "csv": "_csv", "neo4j": "_neo4j"}


def run_demo(out: Path) -> None:
    start = time.perf_counter()
    config = default_config()
    result = run_build(config.build, out / "graph", progress=True)
    graph = result.graph
    print(f"[1/2] graph: {result.report.summary()}")
    counts = result.report.nodes
    print(f"      people: {counts.get('doctor', 0):,} doctors ({result.report.sources['cms']['nodes_loaded']:,} "
          f"CMS prescribers), {counts.get('patient', 0):,} patients (Synthea, MIMIC-III)")
    for name, source in result.report.sources.items():
        for field, tally in source.get("mapping", {}).items():
            if field in ("drug_columns", "medications", "medication_reasons", "prescriptions", "diagnoses"):
                print(f"      mapped {name}/{field} -> {tally['target']}: {tally['row_rate']:.1%} of "
                      f"{tally['rows']:,} rows, {tally['code_rate']:.1%} of {tally['codes']:,} codes")
    name = graph.node(DEMO_DISEASE)["name"]
    # has_condition brings the disease's patients in: the exports show them pseudonymised.
    around = graph.around(DEMO_DISEASE, hops=1, relations=["treats", "palliates", "associates",
                                                            "resembles", "localizes", "has_condition"])
    treats = graph.edges[("drug", "treats", "disease")]
    drugs = treats.loc[treats["dst"] == DEMO_DISEASE, "src"].astype(str)
    names = [graph.node(d)["name"] for d in sorted(drugs)]
    print(f"      {name} ({DEMO_DISEASE}): treated by {len(names)} drugs: {', '.join(names[:8])}, ...")
    exports = out / "exports"
    for fmt in FORMATS:
        export_graph(around, exports / f"type2_diabetes{_EXTENSIONS[fmt]}", fmt)
    print(f"[2/2] exports of its neighbourhood ({around.num_nodes} nodes, {around.num_edges} edges) "
          f"in {len(FORMATS)} formats -> {exports}")
    print(f"rxkg demo: done in {time.perf_counter() - start:.1f}s; graph in {out / 'graph'}, "
          f"build report {out / 'graph' / 'build_report.json'}, exports in {exports}")
