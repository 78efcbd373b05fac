"""A self-contained HTML inspection page: an entity's typed neighbourhood, drawn in the browser.

One file with the data (JSON), the drawing code and the styles inline: it opens from
disk with no network. Node positions come from a seeded networkx spring layout, so the
same graph draws the same way; the page's script draws nodes and edges as SVG, colours
them by type, shows every attribute on hover, and, when recommendations are given,
lists them and highlights the explanation paths of the one selected.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any, Sequence

from kg.errors import KGError
from kg.graph import KnowledgeGraph

__all__ = ["write_html", "inspection_page", "MAX_NODES"]

#: Beyond this a page is unreadable and slow to lay out: ask for fewer hops or relations.
MAX_NODES = 3000
#: Nodes drawn at most: a larger neighbourhood keeps the focus, its recommendations and their
#: paths, then the most connected nodes, and the page says what it left out.
DRAWN_NODES = 150
TYPE_COLOURS = {"drug": "#4c72b0", "disease": "#c44e52", "target": "#55a868", "doctor": "#8172b2",
                "patient": "#dd8452", "pathway": "#937860", "anatomy": "#da8bc3", "side_effect": "#8c8c8c",
                "pharmacologic_class": "#ccb974", "biological_process": "#64b5cd"}


def inspection_page(graph: KnowledgeGraph, focus: str | None = None,
                    recommendations: Sequence[dict[str, Any]] = (), title: str | None = None,
                    seed: int = 0, drawn_nodes: int = DRAWN_NODES) -> str:
    """The page as a string. ``recommendations``: dicts with ``drug_id``, ``name``, ``score``,
    ``explanation`` and ``paths`` (each a list of node ids). At most ``drawn_nodes`` are drawn."""
    import networkx as nx

    if graph.num_nodes > MAX_NODES:
        raise KGError(f"{graph.num_nodes:,} nodes are too many for one page (at most {MAX_NODES:,}); "
                      "use fewer --hops or --relations")
    if focus is not None and not graph.has_node(focus):
        raise KGError(f"{focus!r} is not in the exported graph")
    graph, note = _capped(graph, focus, recommendations, drawn_nodes)
    ids = graph.nodes["id"].astype(str).tolist()
    position = {node: i for i, node in enumerate(ids)}
    edges = []
    simple = nx.Graph()
    simple.add_nodes_from(range(len(ids)))
    for et, frame in graph.edges.items():
        for s, d in zip(frame["src"].astype(str), frame["dst"].astype(str)):
            edges.append({"s": position[s], "t": position[d], "rel": et.rel})
            simple.add_edge(position[s], position[d])
    layout_graph = simple.copy()
    # Weak edges tie every component to the focus (or the largest component), so a stray
    # node does not push the rest into a corner; they are used for the layout only.
    components = sorted(nx.connected_components(simple), key=len, reverse=True)
    hub = position[focus] if focus is not None else next(iter(components[0]), 0) if components else 0
    for component in components:
        if hub not in component:
            layout_graph.add_edge(hub, next(iter(component)), weight=0.2)
    layout = nx.spring_layout(layout_graph, seed=seed, iterations=80) if len(ids) > 1 else {0: (0.0, 0.0)}
    nodes = []
    for i, row in enumerate(graph.nodes.itertuples(index=False)):
        attrs = {k: v for k, v in row._asdict().items() if isinstance(v, (str, int, float)) and v == v
                 and k not in ("id", "type")}
        x, y = layout[i]
        nodes.append({"id": ids[i], "type": str(row.type), "label": str(attrs.get("name") or ids[i]),
                      "x": round(float(x), 4), "y": round(float(y), 4), "degree": simple.degree(i),
                      "attrs": {k: str(v) for k, v in attrs.items()}})
    missing = {n for r in recommendations for p in r.get("paths", ()) for n in p if n not in position}
    if missing:
        raise KGError(f"explanation paths name nodes outside the exported graph: {sorted(missing)[:5]}")
    data = {"title": title or (f"rxkg: around {focus}" if focus else "rxkg graph"), "focus": focus, "note": note,
            "nodes": nodes, "edges": edges, "colours": TYPE_COLOURS,
            "recommendations": [{"drug": r["drug_id"], "name": r.get("name") or r["drug_id"],
                                 "score": round(float(r.get("score", 0.0)), 4),
                                 "explanation": r.get("explanation", ""),
                                 "paths": [list(p) for p in r.get("paths", ())]} for r in recommendations]}
    # No "<" inside the script element at all: "</script>" would end it and "<!--" would
    # switch the HTML parser into a state where the rest of the page is script text.
    payload = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
    return _TEMPLATE.replace("__TITLE__", html.escape(data["title"])).replace("__DATA__", payload)


def _capped(graph: KnowledgeGraph, focus: str | None, recommendations: Sequence[dict[str, Any]],
            limit: int) -> tuple[KnowledgeGraph, str]:
    """At most ``limit`` nodes: the focus, the recommended drugs and their paths first, then
    the most connected (ties by id, so the same graph keeps the same nodes); and a note."""
    if graph.num_nodes <= limit:
        return graph, ""
    import pandas as pd

    must = [focus] if focus else []
    must += [n for r in recommendations for n in [r["drug_id"], *(i for p in r.get("paths", ()) for i in p)]]
    ends = pd.concat([pd.concat([f["src"], f["dst"]]) for f in graph.edges.values()] or [pd.Series(dtype=object)])
    degree = ends.value_counts()
    ranked = sorted(graph.nodes["id"], key=lambda n: (-int(degree.get(n, 0)), n))
    keep = list(dict.fromkeys([n for n in must if graph.has_node(n)] + ranked))[:max(limit, len(set(must)))]
    kept = graph.subgraph(keep)
    note = (f"Showing {kept.num_nodes:,} of {graph.num_nodes:,} nodes and {kept.num_edges:,} of "
            f"{graph.num_edges:,} edges: the focus, the recommendations and their paths, then the most "
            f"connected. Narrow the export with --relations or fewer --hops to see the rest.")
    return kept, note


def write_html(graph: KnowledgeGraph, path: Path, focus: str | None = None,
               recommendations: Sequence[dict[str, Any]] = (), title: str | None = None) -> None:
    Path(path).write_text(inspection_page(graph, focus, recommendations, title), encoding="utf-8")


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
body{margin:0;font:13px system-ui,sans-serif;display:flex;height:100vh;color:#222}
#side{width:330px;overflow:auto;padding:10px 14px;border-right:1px solid #ddd;box-sizing:border-box}
#view{flex:1}svg{width:100%;height:100%}
.edge{stroke:#bbb;stroke-width:.6;opacity:.7}.edge.on{stroke:#e8590c;stroke-width:3;opacity:1}
.node{stroke:#fff;stroke-width:.8;cursor:pointer}.node.on{stroke:#e8590c;stroke-width:3}
.node.focus{stroke:#111;stroke-width:2.5}.label{font-size:10px;pointer-events:none;fill:#333}.label.on{font-weight:600;fill:#b34700}
#note{color:#8a4b00;font-size:12px}
.rec{padding:6px;border-radius:4px;cursor:pointer;margin:2px 0}.rec:hover{background:#f3f3f3}
.rec.on{background:#fff0e6}.rec small{color:#555;display:block}
.key{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:4px}
#info{margin-top:10px;white-space:pre-wrap;font-size:12px;color:#444}
</style></head><body>
<div id="side"><h3 id="title"></h3><div id="counts"></div><p id="note"></p><div id="legend"></div>
<div id="recs"></div><div id="info">Hover or click a node for its attributes.</div></div>
<div id="view"><svg id="graph" role="img" aria-label="knowledge graph neighbourhood"></svg></div>
<script id="data" type="application/json">__DATA__</script>
<script>
"use strict";
const data = JSON.parse(document.getElementById("data").textContent);
const NS = "http://www.w3.org/2000/svg", svg = document.getElementById("graph");
const W = 1000, H = 800, pad = 40;
svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
const xs = data.nodes.map(n => n.x), ys = data.nodes.map(n => n.y);
const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
const px = x => pad + (W - 2 * pad) * (x1 > x0 ? (x - x0) / (x1 - x0) : .5);
const py = y => pad + (H - 2 * pad) * (y1 > y0 ? (y - y0) / (y1 - y0) : .5);
const index = new Map(data.nodes.map((n, i) => [n.id, i]));
function el(name, attrs, parent) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  parent.appendChild(e); return e;
}
const edgeLayer = el("g", {}, svg), nodeLayer = el("g", {}, svg), labelLayer = el("g", {}, svg);
const edgeEls = data.edges.map(e => {
  const a = data.nodes[e.s], b = data.nodes[e.t];
  const line = el("line", {class: "edge", x1: px(a.x), y1: py(a.y), x2: px(b.x), y2: py(b.y),
                           "data-rel": e.rel}, edgeLayer);
  el("title", {}, line).textContent = `${a.label} ${e.rel} ${b.label}`;
  return line;
});
const byDegree = [...data.nodes.keys()].sort((i, j) => data.nodes[j].degree - data.nodes[i].degree);
const recDrugs = new Set(data.recommendations.map(r => r.drug));
// Labels in priority order (focus, highlighted path, recommendations, most connected), each
// placed only where it overlaps no label already placed and no other node's circle of the focus.
function placeLabels(pathNodes) {
  labelLayer.replaceChildren();
  const boxes = [], order = [];
  if (data.focus !== null && index.has(data.focus)) order.push(index.get(data.focus));
  pathNodes.forEach(i => order.push(i));
  data.nodes.forEach((n, i) => { if (recDrugs.has(n.id)) order.push(i); });
  byDegree.slice(0, 40).forEach(i => order.push(i));
  const focusAt = data.focus !== null && index.has(data.focus) ? data.nodes[index.get(data.focus)] : null;
  const seen = new Set();
  for (const i of order) {
    if (seen.has(i)) continue;
    seen.add(i);
    const n = data.nodes[i], w = 6 * n.label.length, x = px(n.x) + 6, y = py(n.y) - 6;
    const box = [x, y - 10, x + w, y + 2];
    const hits = boxes.some(b => box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3]);
    const onFocus = focusAt && n !== focusAt && Math.abs(px(focusAt.x) - (x + w / 2)) < w / 2 + 10
      && Math.abs(py(focusAt.y) - (y - 4)) < 16;
    if (boxes.length && (hits || onFocus) && !pathNodes.includes(i)) continue;
    boxes.push(box);
    el("text", {class: "label" + (pathNodes.includes(i) ? " on" : ""), x, y}, labelLayer).textContent = n.label;
  }
}
const nodeEls = data.nodes.map((n, i) => {
  const r = n.id === data.focus ? 9 : recDrugs.has(n.id) ? 7 : 3 + Math.min(4, Math.sqrt(n.degree) / 2);
  const c = el("circle", {class: "node" + (n.id === data.focus ? " focus" : ""), cx: px(n.x), cy: py(n.y), r,
                          fill: data.colours[n.type] || "#999", "data-id": n.id, "data-type": n.type}, nodeLayer);
  el("title", {}, c).textContent = `${n.label} (${n.type})`;
  const show = () => { document.getElementById("info").textContent =
    `${n.label}\\n${n.id}\\ntype: ${n.type}\\nneighbours here: ${n.degree}\\n` +
    Object.entries(n.attrs).map(([k, v]) => `${k}: ${v}`).join("\\n"); };
  c.addEventListener("mouseenter", show); c.addEventListener("click", show);
  return c;
});
placeLabels([]);
function highlight(rec) {
  edgeEls.forEach(e => e.classList.remove("on")); nodeEls.forEach(n => n.classList.remove("on"));
  document.querySelectorAll(".rec").forEach(d => d.classList.toggle("on", d.dataset.drug === rec.drug));
  placeLabels([...new Set(rec.paths.flat().map(id => index.get(id)))]);
  for (const path of rec.paths) {
    path.forEach(id => nodeEls[index.get(id)].classList.add("on"));
    for (let k = 0; k + 1 < path.length; k++) {
      const a = index.get(path[k]), b = index.get(path[k + 1]);
      data.edges.forEach((e, j) => { if ((e.s === a && e.t === b) || (e.s === b && e.t === a))
        edgeEls[j].classList.add("on"); });
    }
  }
}
document.getElementById("title").textContent = data.title;
document.getElementById("counts").textContent = `${data.nodes.length} nodes, ${data.edges.length} edges`;
document.getElementById("note").textContent = data.note;
const counts = {};
data.nodes.forEach(n => counts[n.type] = (counts[n.type] || 0) + 1);
document.getElementById("legend").innerHTML = Object.entries(counts).map(([t, k]) =>
  `<div><span class="key" style="background:${data.colours[t] || "#999"}"></span>${t} (${k})</div>`).join("");
const recs = document.getElementById("recs");
if (data.recommendations.length) recs.insertAdjacentHTML("beforeend", "<h4>Recommendations</h4>");
data.recommendations.forEach((r, k) => {
  const d = document.createElement("div");
  d.className = "rec"; d.dataset.drug = r.drug;
  d.textContent = `${k + 1}. ${r.name} (${r.score.toFixed(3)})`;
  const s = document.createElement("small"); s.textContent = r.explanation; d.appendChild(s);
  d.addEventListener("click", () => highlight(r));
  recs.appendChild(d);
});
if (data.recommendations.length) highlight(data.recommendations[0]);
</script></body></html>
"""
