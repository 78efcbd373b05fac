"""The evaluation report: ``report.json``, ``report.md`` and PNG plots, written atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from kg.outputs import atomic_directory, atomic_file
from pipelines.evaluation.config import EvaluateConfig
from pipelines.evaluation.results import EvaluationResult, ProtocolResult
from recsys.link.kernel import describe_kernel

__all__ = ["write_report", "markdown", "plot_protocol", "plot_rank_distribution"]

LABELS = {"mrr": "MRR", "hits_at_1": "Hits@1", "hits_at_10": "Hits@10", "hits_at_50": "Hits@50",
          "auroc": "AUROC", "auprc": "AUPRC", "hard_negative_above": "non-indication above (lower is better)",
          "jaccard": "Jaccard (k = true set size)"}


def write_report(result: EvaluationResult, out: str | Path, force: bool = False) -> dict[str, Path]:
    """Write the report folder ``out`` (report.json, report.md, plots) in one atomic swap;
    returns the paths by kind. ``out`` must be new, empty or an earlier rxkg report
    (:func:`kg.outputs.atomic_directory`)."""
    out = Path(out)
    paths = {"json": out / "report.json", "markdown": out / "report.md"}
    report = json.dumps(result.as_dict(), indent=2, default=_plain) + "\n"

    def fill(tmp: Path) -> None:
        (tmp / "report.json").write_text(report, encoding="utf-8")
        plots = []
        for protocol in result.protocols:
            if protocol.skipped:
                continue
            slug = protocol.name.replace("/", "_")
            plots.append(plot_protocol(protocol, tmp / f"{slug}.png"))
            if protocol.name.startswith("disease/"):
                plots.append(plot_rank_distribution(protocol, tmp / f"{slug}_ranks.png"))
        (tmp / "report.md").write_text(markdown(result, [p.name for p in plots]), encoding="utf-8")
        for plot in plots:
            paths[plot.stem] = out / plot.name

    atomic_directory(out, fill, force=force, shared=True)  # metrics only: no patient ids
    return paths


def _cell(model, metric: str) -> str:
    mean = model.means.get(metric)
    if mean is None or np.isnan(mean):
        return "n/a"
    lo, hi = model.intervals[metric]
    return f"{mean:.3f} [{lo:.3f}, {hi:.3f}]"


#: Model names whose training quick mode caps (KGE and GNN epochs): their rows are marked.
_EPOCH_CAPPED = ("TransE", "DistMult", "ComplEx", "RotatE", "GNN", "gnn")


def protocol_table(protocol: ProtocolResult, quick: EvaluateConfig | None = None) -> list[str]:
    """One protocol's table; with the ``quick`` settings run, rows trained for capped epochs get a †."""
    if protocol.skipped:
        return [f"### {protocol.title}", "", f"Skipped: {protocol.skipped}.", ""]
    metrics = list(protocol.metrics)
    head = ["model", "role", *[_label(m) for m in metrics], "validation", "train s"]
    lines = [f"### {protocol.title}" + (" (quick mode)" if quick else ""), "", _facts(protocol), "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    marked = False
    for m in protocol.models:
        val = ", ".join(f"{k} {v:.3f}" for k, v in m.val.items() if v == v)
        seconds = "" if np.isnan(m.seconds) else f"{m.seconds:.1f}"
        name = m.model
        if quick and any(word in name for word in _EPOCH_CAPPED):
            name, marked = name + " †", True
        lines.append("| " + " | ".join([name, m.role, *[_cell(m, x) for x in metrics], val, seconds]) + " |")
    if marked:
        lines += ["", f"† quick mode: trained for at most {quick.gnn_epochs} GNN epochs; a full run trains until "
                      "validation stops improving, so these rows understate the model."]
    lines.append("")
    same = protocol.info.get("ablations_equal_to_the_hybrid")
    if same:
        lines += ["Equal to the hybrid, so not rows: " + ", ".join(f"hybrid {label}" for label in same)
                  + " (what they change carries no weight in it).", ""]
    lines += _paired(protocol)
    lines += _extras(protocol)
    return lines


def _paired(protocol: ProtocolResult) -> list[str]:
    """The hybrid minus each model, paired over the same test entities."""
    diffs = protocol.info.get("hybrid_minus") or {}
    if not diffs:
        return []
    metrics = list(protocol.metrics[:2])
    lines = ["Hybrid minus each model, per test entity (paired bootstrap, 95%):", "",
             "| model | " + " | ".join(_label(m) for m in metrics) + " |", "|---|" + "---|" * len(metrics)]
    for model, rows in diffs.items():
        cells = [f"{rows[m]['mean']:+.3f} [{rows[m]['ci95'][0]:+.3f}, {rows[m]['ci95'][1]:+.3f}]"
                 if m in rows else "" for m in metrics]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return lines + [""]


def _label(metric: str) -> str:
    return LABELS.get(metric, metric.replace("recall@", "Recall@").replace("ndcg@", "NDCG@")
                      .replace("precision@", "Precision@"))


def _facts(protocol: ProtocolResult) -> str:
    info = protocol.info
    if protocol.name.startswith("disease/"):
        chosen = info.get("selection", {})
        metapath = chosen.get("metapath") or {}
        choice = f" Metapath model {_how_made(metapath)}: {describe_metapath(metapath)}." if metapath else ""
        deployed = f" Deployed blend: {chosen['deployed']}." if chosen.get("deployed") else ""
        return (f"Test: {info['test_pairs']} held-out indications of {info['test_diseases']} diseases, each ranked "
                f"among all {info['drugs_ranked']:,} drugs (filtered), macro-averaged over diseases; "
                f"{info['hard_negative_pairs_in_test_diseases']} curated non-indications of test diseases as hard "
                f"negatives. Seed {info['seed']}.{choice}{deployed}")
    if protocol.name == "doctor/cold_mixed":
        chosen = info.get("selection", {}).get("chosen", "default weights")
        return (f"Test: {info['evaluated_prescribers']:,} prescribers rank all {info['prescribed_drugs']} prescribed "
                f"drugs, their kept drugs excluded; {info['held_out']:,} held-out prescriptions, "
                f"{info['held_out_cold']:,} of them of the {info['cold_drugs']} cold drugs. The doctor_all weights "
                f"were chosen ({chosen}) on a mixed split of the training claims drawn with the next seed. "
                f"Seed {info['seed']}.")
    if protocol.name.startswith("doctor/cold"):
        shared = (f"{info['cold_drugs']} of {info['prescribed_drugs']} prescribed drugs made cold "
                  f"({info['hidden_prescriptions']:,} prescriptions and every medication record of them removed "
                  f"from training; {_refitted_metapath(info)}). Seed {info['seed']}.")
        if "evaluated_prescribers" in info:
            return (f"Test: {info['evaluated_prescribers']:,} prescribers of a cold drug (and at least one other), "
                    f"each ranking only the cold drugs; ties in shuffled order. {shared}")
        return f"Test: every cold drug ranks all {info['prescribers_ranked']:,} prescribers. {shared}"
    if protocol.name.startswith("patient/cold"):
        shared = (f"{info['cold_drugs']} of the {info['drugs_taken']} drugs patients take made cold "
                  f"({info['hidden_pairs']:,} patient-drug pairs, every record of them removed from training; "
                  f"{_refitted_metapath(info)}). Seed {info['seed']}.")
        if "evaluated_patients" in info:
            return (f"Test: {info['evaluated_patients']:,} patients who take a cold drug (and another), each ranking "
                    f"only the cold drugs; ties in shuffled order. {shared}")
        return f"Test: every cold drug ranks all {info['patients_ranked']:,} patients. {shared}"
    if protocol.name == "doctor/sparse":
        known = ", ".join(f"{n} drug{'s' if n != '1' else ''}: {c:,}" for n, c in info["known_drugs"].items())
        return (f"Test: {info['evaluated_prescribers']:,} prescribers of the held-out states "
                f"({', '.join(info['held_out_states'])}; never in training), each folded in from 1 to 3 of their "
                f"drugs drawn at random ({known}); every other drug of theirs is to be found "
                f"({info['held_out_entries']:,} prescriptions over {info['drugs_ranked']} drugs). The deployed "
                f"hybrid ranks them with the doctor_sparse weights ({info['chosen']}), chosen on validation "
                f"prescribers cut down the same way. Seed {info['seed']}.")
    if protocol.name == "patient/sparse":
        return (f"Test: the time split's {info['evaluated_patients']} test patients as new patients, each known "
                f"from their first drug and their conditions before the cutoff ({info['with_conditions']} have "
                f"any); {info['targets']} other drugs taken after the cutoff to find, ranked over "
                f"{info['drugs_ranked']:,} drugs. The deployed hybrid is recommend_for_new_patient's blend (the "
                f"patient_new weights); the ablation sets the graph components' weights to 0. Seed {info['seed']}.")
    if protocol.name.startswith("doctor/"):
        states = f" Held-out states: {', '.join(info['held_out_states'])}." if info["held_out_states"] else ""
        return (f"Test: {info['evaluated_prescribers']:,} prescribers, {info['held_out_entries']:,} held-out "
                f"prescriptions over {info['drugs_ranked']} drugs; history excluded from the ranking.{states} "
                f"Seed {info['seed']}.")
    return (f"Test: {info['test_patients']} patients, {info['test_pairs']} later drugs, ranked over "
            f"{info['drugs_ranked']:,} drugs; validation {info['val_patients']} patients. Seed {info['seed']}.")


def _refitted_metapath(info: dict) -> str:
    """The drug cold-start protocols' metapath model, chosen again without the cold drugs."""
    return f"the metapath model refitted without them: {describe_metapath(info.get('metapath') or {})}"


def describe_metapath(chosen: dict) -> str:
    """A metapath model's settings: the one candidate chosen, or the candidates its fits average."""
    if "candidates" in chosen:
        def listed(key: str) -> str:
            return str(chosen.get(key)).replace("+", ", ")

        return (f"the mean of {chosen['candidates']} fits ({listed('examples')} examples; {listed('family')}; "
                f"penalties {listed('penalty')}){describe_kernel(chosen)}")
    return (f"{chosen.get('examples')} examples, {chosen.get('family')}, penalty {chosen.get('penalty')}"
            f"{describe_kernel(chosen)}")


def _how_made(chosen: dict) -> str:
    if "candidates" in chosen:
        return "averaged"
    return "chosen on the training folds" if "folds_mrr" in chosen else "chosen on validation"


def _extras(protocol: ProtocolResult) -> list[str]:
    info, lines = protocol.info, []
    if info.get("by_specialty"):
        models = [m.model for m in protocol.models]
        lines += ["Recall by specialty (top 10 specialties by evaluated prescribers):", "",
                  "| specialty | prescribers | " + " | ".join(models) + " |", "|" + "---|" * (len(models) + 2)]
        for s in info["by_specialty"]:
            lines.append(f"| {s['specialty']} | {s['prescribers']:,} | "
                         + " | ".join(f"{s[m]:.3f}" for m in models) + " |")
        lines.append("")
    if info.get("by_source"):
        models = [m.model for m in protocol.models]
        lines += ["Recall by source:", "", "| source | patients | " + " | ".join(models) + " |",
                  "|" + "---|" * (len(models) + 2)]
        for source, row in info["by_source"].items():
            lines.append(f"| {source} | {row['patients']} | " + " | ".join(f"{row[m]:.3f}" for m in models) + " |")
        lines.append("")
    if info.get("by_history"):
        models = [m.model for m in protocol.models]
        who = "prescriber" if protocol.name.startswith("doctor/") else "patient"
        lines += [f"Recall by how many drugs the {who} already has (sparse users first):", "",
                  f"| known drugs | {who}s | " + " | ".join(models) + " |", "|" + "---|" * (len(models) + 2)]
        for band in info["by_history"]:
            lines.append(f"| {band['known']} | {band['entities']:,} | "
                         + " | ".join(f"{band[m]:.3f}" for m in models) + " |")
        lines.append("")
    sanity = info.get("conditions_only")
    if sanity:
        lines += [f"Conditions-only sanity: a new patient with one condition and no drugs, over the "
                  f"{sanity['diseases']} diseases with at least {sanity['min_indications']} known indications; "
                  f"share of the top {sanity['k']} that are indications of the condition or share an ATC level-4 "
                  "class with one (clinical plausibility, not what clinicians started):", "",
                  "| ranked by | share |", "|---|---|"]
        lines += [f"| {name} | {share:.3f} |" for name, share in sanity["share"].items()] + [""]
    rate = info.get("interaction_rate")
    if rate:
        lines += [f"Known interactions with a current drug in the hybrid's top {rate['k']} "
                  f"({rate['patients']} test patients):", "",
                  "| | share of recommended drugs | share of lists with one |", "|---|---|---|",
                  f"| without the safety filter | {rate['without_safety']['drugs']:.3f} | "
                  f"{rate['without_safety']['lists']:.3f} |",
                  f"| with the safety filter | {rate['with_safety']['drugs']:.3f} | {rate['with_safety']['lists']:.3f} |",
                  f"| drugs clinicians actually started | {rate['drugs_actually_started']:.3f} | |", ""]
    cost = info.get("safety_cost")
    if cost:
        lines += [f"What each safety policy removes among the {cost['pairs']} drugs clinicians actually started "
                  f"({cost['patients']} test patients), and the hybrid's recall@{cost['k']} with it:", "",
                  "| policy | share of started drugs removed | by rule | recall |", "|---|---|---|---|"]
        for name, row in cost["policies"].items():
            rules = ", ".join(f"{rule} {share:.3f}" for rule, share in row["by_rule"].items()) or "-"
            lines.append(f"| {name} | {row['started_removed']:.3f} | {rules} | {row['recall']:.3f} |")
        lines.append("")
    return lines


def markdown(result: EvaluationResult, plots: list[str] = ()) -> str:
    cfg = result.config
    lines = ["# rxkg evaluation report", "",
             f"{'Quick' if cfg.quick else 'Full'} run, seed {cfg.seed}, {result.seconds:.0f} s on "
             f"{result.provenance['machine']['cores']} cores; rxkg {result.provenance['rxkg']}, "
             + ", ".join(f"{k} {v}" for k, v in result.provenance["versions"].items()) + ".", "",
             "Every number is a mean over test entities with a 95% percentile-bootstrap interval "
             f"({cfg.effective().bootstrap} resamples). Models and blend weights were chosen on validation; "
             "test was scored once. Roles: baseline (priors, heuristics, the metapath model), model (learned), "
             "hybrid (what rxkg deploys: the logistic blend of its components, a blend tuned by coordinate "
             "ascent on validation MRR (`tuned`, its MRR measured out of fold) or one component alone, "
             "whichever has the best validation MRR, shown as `selection mrr`: each validation pair ranked "
             "among the entity's non-positive drugs; patients' blends are chosen the same way on NDCG@10 per "
             "patient instead, shown as `selection ndcg@10`; a candidate replaces the best single component, or the "
             "metapath model for diseases, only if it beats it in 95% of bootstrap resamples of the validation "
             "entities, else the next best is tried), ablation (the hybrid with components left out, "
             "for patients its weights chosen again on the same validation pairs; for prescribers the graph's "
             "weight set to 0). The `validation` column is the "
             "criterion each model was selected or stopped on.", ""]
    for protocol in result.protocols:
        lines += protocol_table(protocol, cfg.effective() if cfg.quick else None)
    if plots:
        lines += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    lines += ["## Provenance", "", f"Data: {len(result.provenance['data'])} input files, combined sha256 "
              f"`{result.provenance['data_hash'][:16]}`; graph {result.provenance['graph']}.", "",
              "Timings (s): " + ", ".join(f"{p.name} {p.seconds:.1f}" for p in result.protocols), ""]
    return "\n".join(lines)


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_protocol(protocol: ProtocolResult, path: Path) -> Path:
    """One panel per metric: each model's mean with its 95% interval."""
    plt = _figure()
    metrics = [m for m in protocol.metrics if any(not np.isnan(x.means.get(m, np.nan)) for x in protocol.models)]
    fig, axes = plt.subplots(1, len(metrics), figsize=(max(8.0, 3.4 * len(metrics)), 0.42 * len(protocol.models) + 2.2),
                             sharey=True, squeeze=False)
    names = [m.model for m in protocol.models]
    colours = {"baseline": "#9e9e9e", "model": "#4c72b0", "hybrid": "#dd8452", "ablation": "#f2c49b"}
    y = np.arange(len(names))
    for ax, metric in zip(axes[0], metrics):
        means = np.array([m.means.get(metric, np.nan) for m in protocol.models])
        lo = np.array([m.intervals.get(metric, (np.nan, np.nan))[0] for m in protocol.models])
        hi = np.array([m.intervals.get(metric, (np.nan, np.nan))[1] for m in protocol.models])
        ax.barh(y, np.nan_to_num(means), xerr=[np.nan_to_num(means - lo), np.nan_to_num(hi - means)],
                color=[colours[m.role] for m in protocol.models], capsize=2)
        ax.set_title(_label(metric), fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(y, names, fontsize=9)
    axes[0][0].invert_yaxis()
    from matplotlib.patches import Patch

    roles = [r for r in colours if any(m.role == r for m in protocol.models)]
    fig.legend([Patch(color=colours[r]) for r in roles], roles, loc="lower center", ncol=len(roles) + 1,
               fontsize=9, frameon=False, title="bars: test mean; whiskers: 95% bootstrap interval",
               title_fontsize=8)
    fig.suptitle(protocol.title, fontsize=11)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return _save(fig, path)


def plot_rank_distribution(protocol: ProtocolResult, path: Path) -> Path:
    """Filtered rank of every held-out indication, per model (log scale; lower is better)."""
    plt = _figure()
    models = [m for m in protocol.models if m.ranks is not None and len(m.ranks)]
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(models) + 1.5))
    ax.boxplot([m.ranks for m in models], orientation="horizontal", whis=(5, 95), showfliers=False)
    ax.set_yticks(np.arange(1, len(models) + 1), [m.model for m in models], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("filtered rank of each held-out drug (box: quartiles, whiskers: 5-95%)")
    ax.set_title(protocol.title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    try:
        atomic_file(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    finally:
        plt.close(fig)
    return path


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
