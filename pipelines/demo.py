"""``rxkg demo``: the whole job on the shipped data, end to end.

Builds the full graph, trains every component, evaluates every protocol in quick
mode (:func:`pipelines.run.run`, cached), then prints the top-10 drugs with their
explanations for one real CMS prescriber, one MIMIC-III patient and one disease, writes
the exports (six formats plus an HTML inspection page per entity) and says where
everything is.
"""

from __future__ import annotations

import time
from pathlib import Path

from kg.errors import KGError
from kg.export import FORMATS, export_graph
from pipelines.config import PipelineConfig, default_config
from pipelines.inspection import inspection_graph
from pipelines.run import RunResult, run

__all__ = ["run_demo", "DEMO_DISEASE", "DEMO_DOCTOR", "DEMO_PATIENT"]

DEMO_DISEASE = "disease:DOID:9352"  # type 2 diabetes mellitus
DEMO_DOCTOR = "doctor:NPI:1225079817"  # a family-practice prescriber in Iowa (CMS Part D 2014)
DEMO_PATIENT = "patient:mimic3:10006"  # a MIMIC-III demo patient
_EXTENSIONS = {"graphml": ".graphml", "gexf": ".gexf", "json": ".json", "turtle": ".ttl",
               "csv": "_csv", "neo4j": "_neo4j", "html": ".html"}
_PAGE_RELATIONS = ["treats", "palliates", "resembles", "associates", "localizes", "has_condition",
                   "takes", "prescribes", "binds", "allergic_to"]


def run_demo(out: Path, config: PipelineConfig | None = None, k: int = 10) -> RunResult:
    from kg.privacy import Pseudonymiser

    start = time.perf_counter()
    config = config or default_config()
    result = run(config, out, evaluate=True, quick=True)
    graph, recommender = result.graph, result.recommender
    anon = Pseudonymiser()
    print()
    print(deployed_summary(recommender))
    print()
    disease, doctor, patient = (_pick(graph, kind, preferred) for kind, preferred in
                                (("disease", DEMO_DISEASE), ("doctor", DEMO_DOCTOR), ("patient", DEMO_PATIENT)))
    treats = graph.edges[("drug", "treats", "disease")]
    known = set(treats.loc[treats["dst"] == disease, "src"].astype(str))
    sections = [("disease", disease, f"{graph.node(disease).get('name')}; its {len(known)} known indications "
                 "left out", recommender.recommend_for_disease(disease, k=k, exclude_known=True)),
                ("prescriber", doctor, _doctor_label(graph, doctor), recommender.recommend_for_doctor(doctor, k=k)),
                ("patient", anon.pseudonym(patient), "every recorded condition and drug, safety filter on",
                 recommender.recommend_for_patient(patient, k=k))]
    for kind, shown, label, recommendations in sections:
        print(f"Top {k} for {kind} {shown} ({label}):")
        for rank, r in enumerate(recommendations, 1):
            print(f"  {rank:>2}. {r.name}  (score {r.score:.2f})")
            print(f"      {anon.text(r.explanation)}")
        if recommendations.removed:
            drugs = len({e.drug_id for e in recommendations.removed})
            print(f"      safety removed {drugs} drug(s), e.g. {anon.text(recommendations.removed[0].text(recommender.names))}")
        if recommendations.current_problems:
            problems = recommendations.current_problems
            print(f"      warning: {len(problems)} problem(s) among the current drugs, e.g. "
                  f"{anon.text(problems[0].text(recommender.names))}")
        print()
    exports = out / "exports"
    around = graph.around(disease, hops=1, relations=["treats", "palliates", "associates", "resembles",
                                                            "localizes", "has_condition"])
    for fmt in FORMATS:
        if fmt != "html":
            export_graph(around, exports / f"disease{_EXTENSIONS[fmt]}", fmt)
    pages = []
    for (kind, _, _, recommendations), entity, name in zip(sections, (disease, doctor, patient),
                                                            ("disease", "prescriber", "patient")):
        pages.append(_page(graph, entity, recommendations, exports / f"{name}.html"))
    report = result.paths.get("report")
    print(f"exports of {graph.node(disease).get('name') or disease}'s neighbourhood ({around.num_nodes} nodes, {around.num_edges} edges) in "
          f"{len(FORMATS) - 1} formats, and inspection pages {', '.join(p.name for p in pages)} -> {exports}")
    print(f"rxkg demo: done in {time.perf_counter() - start:.0f}s; graph {result.paths['graph']}, "
          f"model {result.paths['model']}, report {report / 'report.md' if report else '(not run)'}, "
          f"exports {exports}")
    return result


def _pick(graph, node_type: str, preferred: str) -> str:
    """``preferred`` when the graph has it (the shipped data), else the best-connected node of the type."""
    if graph.has_node(preferred):
        return preferred
    ids = graph.nodes_of_type(node_type)["id"].astype(str)
    if ids.empty:
        raise KGError(f"the demo needs a {node_type} in the graph; it has none")
    degree = {i: 0 for i in ids}
    for et, frame in graph.edges.items():
        for side, t in (("src", et.src), ("dst", et.dst)):
            if t == node_type:
                for node, n in frame[side].astype(str).value_counts().items():
                    degree[node] = degree.get(node, 0) + int(n)
    return max(sorted(degree), key=lambda i: degree[i])


def _doctor_label(graph, doctor: str) -> str:
    node = graph.node(doctor)
    return ", ".join(v for v in (node.get("specialty"), node.get("state")) if isinstance(v, str)) or "prescriber"


def _page(graph, entity: str, recommendations, path: Path) -> Path:
    """The entity's neighbourhood plus its recommendations' explanation paths, as an HTML page."""
    page, options = inspection_graph(graph, entity, recommendations, relations=_PAGE_RELATIONS,
                                     max_neighbourhood=400)
    return export_graph(page, path, "html", options=options)


def deployed_summary(recommender) -> str:
    """What the bundle deploys, as chosen on validation: the blend per entity kind and the CF models."""
    lines = ["Deployed (chosen on validation):"]
    for kind in ("disease", "doctor", "doctor_sparse", "doctor_all", "patient", "patient_new", "patient_conditions"):
        chosen = recommender.selection.get(kind, {}).get("chosen")
        weights = ", ".join(f"{name} {w:.2f}" for name, w in recommender.weights.get(kind, {}).items() if w)
        lines.append(f"  {kind:<18} {chosen or 'default weights'}: {weights or 'no weighted component'}")
    for part in ("doctor_cf", "patient_cf"):
        choice = recommender.selection.get(part)
        if choice:
            lines.append(f"  {part:<18} {choice['model']} {choice['params']}")
    return "\n".join(lines)
