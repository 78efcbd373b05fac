"""The ``rxkg`` commands that read what was built: ``search``, ``info`` and ``recommend``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from kg.errors import KGError
from kg.schema import NODE_TYPES

__all__ = ["add_query_commands", "add_entity_commands", "add_model_option", "check_recommend_flags",
           "pseudonymiser", "probability_text", "resolve_patient", "summary"]


def add_model_option(parser: argparse.ArgumentParser) -> None:
    """``--model``: the bundle every command that ranks or explains reads."""
    parser.add_argument("--model", default="build/model", help="bundle directory written by rxkg train")


def add_query_commands(sub) -> None:
    """Register the commands of this module on the ``rxkg`` sub-parser set ``sub``."""
    p = sub.add_parser("search", help="find node ids by name: diseases, drugs, genes, ...")
    p.add_argument("query", help="a name, part of one, or an id (spelling mistakes are tolerated)")
    p.add_argument("--type", choices=[t for t in NODE_TYPES if t != "patient"],
                   help="only nodes of this type (patients are never searched: their ids stay private)")
    p.add_argument("--graph", default="build/graph", help="graph directory (default build/graph)")
    p.add_argument("--k", type=int, default=10, help="how many matches to show (default 10)")
    p.add_argument("--json", action="store_true", help="print the matches as JSON")
    p.set_defaults(func=_cmd_search)

    p = sub.add_parser("info", help="describe a graph directory or a recommender bundle")
    p.add_argument("graph", metavar="path", help="graph directory written by rxkg build, or bundle written by "
                                                 "rxkg train (its weights and validation choices; every checksum "
                                                 "verified)")
    p.add_argument("--json", action="store_true", help="print the manifest (and build report) as JSON")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("recommend", help="top drugs for a disease, a doctor or a patient")
    add_model_option(p)
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--disease", help="a disease id, e.g. disease:DOID:9352 (find ids with rxkg search)")
    who.add_argument("--doctor", help="a prescriber id, e.g. doctor:NPI:1386962785")
    who.add_argument("--patient", help="a patient id (patient:mimic3:10006) or the pseudonym rxkg printed for it "
                     "on this machine (patient:anon:...)")
    who.add_argument("--new-patient", action="store_true",
                     help="a patient not in the graph, described by --conditions, --drugs and --allergies")
    who.add_argument("--new-doctor", action="store_true",
                     help="a prescriber not in the graph, described by --prescriptions, --specialty and --state")
    p.add_argument("--conditions", nargs="+", default=[], help="new patient: disease ids (rxkg search finds them)")
    p.add_argument("--drugs", nargs="+", default=[], help="new patient: drug ids they take now")
    p.add_argument("--allergies", nargs="+", default=[], help="new patient: drug ids or ATC classes (atc:J01C)")
    p.add_argument("--prescriptions", nargs="+", default=[], metavar="DRUG=CLAIMS",
                   help="new doctor: claim counts per drug, e.g. drug:DB00331=40")
    p.add_argument("--specialty", help="new doctor: specialty, as CMS writes it (e.g. Cardiology)")
    p.add_argument("--state", help="new doctor: two-letter state (e.g. MA)")
    p.add_argument("--k", type=int, default=10, help="how many drugs (default 10)")
    p.add_argument("--candidates", choices=("prescribed", "all"),
                   help="doctors: rank the drugs somebody prescribes (default) or every drug of the graph")
    p.add_argument("--new-only", action="store_true", help="diseases: leave out known indications")
    p.add_argument("--no-safety", action="store_true", help="patients: raw scores, no safety filter")
    p.add_argument("--include-current", action="store_true",
                   help="patients: the drugs they take now may come back (continuation plus new drugs, ranked by "
                        "the weights chosen for every later drug); default: new drugs only")
    p.add_argument("--block-at", choices=("minor", "moderate", "major", "contraindicated"),
                   help="patients: remove interactions of this severity or graver, warn about milder ones "
                        "(an interaction without a recorded severity is always removed; default minor)")
    p.add_argument("--contraindications", choices=("remove", "warn", "off"),
                   help="patients: drugs whose recorded side effects include one of the patient's conditions "
                        "are flagged (default), removed, or not checked; curated pairs keep their own action")
    p.add_argument("--duplicates", choices=("remove", "warn", "off"),
                   help="patients: a drug of a class the patient already takes one of (a second statin) is "
                        "flagged (default), removed, or not checked")
    p.add_argument("--reveal-patients", action="store_true", help="print the patient id in clear text")
    p.add_argument("--json", action="store_true", help="print the recommendations as JSON")
    p.set_defaults(func=_cmd_recommend)


def add_entity_commands(sub) -> None:
    """``explain``, ``similar`` and ``profile``: the Recommender's other entry points."""
    p = sub.add_parser("explain", help="why a drug for a disease, doctor or patient: paths, scores, peers")
    p.add_argument("entity", help="a disease, doctor or patient id (or a patient pseudonym printed by rxkg)")
    p.add_argument("drug", help="a drug id, e.g. drug:DB00331")
    add_model_option(p)
    p.add_argument("--k", type=int, default=3, help="how many graph paths (default 3)")
    p.add_argument("--include-current", action="store_true",
                   help="patients: explain under the weights of continuation plus new drugs, as "
                        "rxkg recommend --include-current ranks (default: new drugs only)")
    p.add_argument("--reveal-patients", action="store_true", help="print patient ids in clear text")
    p.add_argument("--json", action="store_true", help="print the explanation as JSON")
    p.set_defaults(func=_cmd_explain)

    p = sub.add_parser("similar", help="drugs most like a drug, by the graph scorer or by prescribing")
    p.add_argument("drug", help="a drug id, e.g. drug:DB00331")
    p.add_argument("--by", choices=("graph", "prescribing"), default="graph",
                   help="graph: what the disease scorer predicts they treat (default); prescribing: who "
                        "prescribes them")
    add_model_option(p)
    p.add_argument("--k", type=int, default=10, help="how many drugs (default 10)")
    p.add_argument("--json", action="store_true", help="print the drugs as JSON")
    p.set_defaults(func=_cmd_similar)

    p = sub.add_parser("profile", help="a prescriber's therapeutic areas, differences from their specialty, peers")
    p.add_argument("doctor", help="a prescriber id, e.g. doctor:NPI:1386962785")
    add_model_option(p)
    p.add_argument("--peers", type=int, default=5, help="how many peer prescribers (default 5)")
    p.add_argument("--json", action="store_true", help="print the profile as JSON")
    p.set_defaults(func=_cmd_profile)


def check_recommend_flags(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """A flag that does nothing for the chosen entity is a usage error, not silently ignored."""
    patient_only = [flag for flag, value in (("--no-safety", args.no_safety), ("--block-at", args.block_at),
                                             ("--contraindications", args.contraindications),
                                             ("--duplicates", args.duplicates),
                                             ("--reveal-patients", args.reveal_patients)) if value]
    if patient_only and not (args.patient or args.new_patient):
        parser.error(f"{', '.join(patient_only)}: only for --patient or --new-patient")
    if args.new_only and not args.disease:
        parser.error("--new-only: only for --disease")
    if args.candidates and not (args.doctor or args.new_doctor):
        parser.error("--candidates: only for --doctor or --new-doctor")
    if args.include_current and not args.patient:
        parser.error("--include-current: only for --patient")
    if patient_only and args.new_patient:
        patient_only = [f for f in patient_only if f != "--reveal-patients"]
    new_patient = [f for f, v in (("--conditions", args.conditions), ("--drugs", args.drugs),
                                  ("--allergies", args.allergies)) if v]
    if new_patient and not args.new_patient:
        parser.error(f"{', '.join(new_patient)}: only for --new-patient")
    if (args.prescriptions or args.specialty or args.state) and not args.new_doctor:
        parser.error("--prescriptions, --specialty, --state: only for --new-doctor")


def _cmd_info(args: argparse.Namespace) -> int:
    from kg.io import read_json_manifest, read_manifest
    from recsys.recommender.bundle import RECOMMENDER_FORMAT

    if read_json_manifest(args.graph, "an rxkg graph directory or bundle").get("format") == RECOMMENDER_FORMAT:
        return _info_bundle(args)
    manifest = read_manifest(args.graph)
    report_path = Path(args.graph) / "build_report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    if args.json:
        print(json.dumps({"manifest": manifest, "build_report": report}, indent=2))
        return 0
    print(f"{args.graph}: {manifest['format']} v{manifest['format_version']}, "
          f"written by rxkg {manifest['rxkg_version']} at {manifest['created_utc']}")
    for node_type, n in manifest["nodes"].items():
        print(f"  {node_type:<22} {n:>9,} nodes")
    for key, n in manifest["edges"].items():
        print(f"  {key:<44} {n:>9,} edges")
    for name, n in manifest.get("tables", {}).items():
        print(f"  table {name:<38} {n:>9,} rows")
    if report:
        print(f"  build: policy {report['policy']}, {len(report['rejected'])} rejected, "
              f"{report['wall_time_s']}s")
    print(f"rxkg info: {sum(manifest['nodes'].values()):,} nodes, {sum(manifest['edges'].values()):,} edges")
    return 0


def _info_bundle(args: argparse.Namespace) -> int:
    """``rxkg info`` of a bundle: per audience the components and weights it ranks with and what
    validation chose, then each fitted model's settings."""
    from recsys.recommender.bundle import describe_bundle
    from recsys.recommender.doctor_side import NO_DOCTORS

    info = describe_bundle(args.graph)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    manifest = info["manifest"]
    versions = ", ".join(f"{name} {v}" for name, v in manifest.get("versions", {}).items())
    print(f"{args.graph}: {manifest['format']} ({versions})")
    nodes, edges = sum(info["graph"]["nodes"].values()), sum(info["graph"]["edges"].values())
    print(f"  graph: {nodes:,} nodes, {edges:,} edges")
    weights, selection = manifest.get("weights") or {}, manifest.get("selection") or {}
    for audience, by_component in weights.items():
        if audience.startswith("doctor") and not info["doctor_components"]:
            print(f"  {audience:<19} unused: no doctor components ({NO_DOCTORS})")
            continue
        used = ", ".join(f"{c} {w:.3g}" for c, w in by_component.items() if w) or "no component"
        chosen = selection.get(audience, {})
        print(f"  {audience:<19} {'; '.join(filter(None, (used, _choice(chosen))))}")
    for name, entry in selection.items():
        if name not in weights and isinstance(entry, dict):
            print(f"  {name:<19} {_choice(entry)}")
    print(f"rxkg info: recommender bundle, {len(weights)} weight sets, {info['files']} files "
          f"besides the graph ({info['bytes'] / 2**20:.1f} MiB), every checksum verified")
    return 0


def _choice(entry: dict) -> str:
    """One selection record in a line: what was chosen, its settings and the validation scores."""
    parts = []
    for key, value in entry.items():
        if key.startswith("val_") and isinstance(value, dict):
            scores = ", ".join(f"{m} {v:.3f}" for m, v in value.items() if isinstance(v, (int, float)))
            parts.append(f"validation {key[4:]}: {scores}")
        elif key in ("chosen", "model", "params", "scorers") and isinstance(value, dict):
            parts.append(f"{key} " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                               for k, v in value.items()))
        elif key in ("chosen", "model", "scorers"):
            parts.append(f"{key} {', '.join(map(str, value)) if isinstance(value, list) else value}")
    return "; ".join(parts)


def _cmd_search(args: argparse.Namespace) -> int:
    from kg.io import read_graph
    from kg.search import NameIndex

    start = time.perf_counter()
    hits = NameIndex.from_graph(read_graph(args.graph)).search(args.query, args.type, args.k)  # never patients
    if args.json:
        print(json.dumps([{"id": h.node_id, "name": h.name, "type": h.node_type, "score": h.score} for h in hits],
                         indent=2))
    else:
        for h in hits:
            print(f"{h.node_id:<32} {h.name or '-':<50} {h.node_type} ({h.score:.2f})")
    summary(args, f"{len(hits)} match(es) for {args.query!r}", start)
    return 0


def _cmd_recommend(args: argparse.Namespace) -> int:
    from recsys.recommender.api import Recommender

    start = time.perf_counter()
    recommender = Recommender.load(args.model)
    if args.disease:
        entity, out = args.disease, recommender.recommend_for_disease(args.disease, k=args.k,
                                                                      exclude_known=args.new_only)
    elif args.doctor:
        entity, out = args.doctor, recommender.recommend_for_doctor(args.doctor, k=args.k,
                                                                    candidates=args.candidates or "prescribed")
    elif args.new_doctor:
        entity, out = "the new doctor", recommender.recommend_for_new_doctor(
            _claims(args.prescriptions), specialty=args.specialty, k=args.k, state=args.state,
            candidates=args.candidates or "prescribed")
    else:
        from recsys.recommender.safety import SafetyPolicy

        recommender.safety = recommender.safety.with_policy(
            SafetyPolicy(block_at=args.block_at or "minor", contraindications=args.contraindications or "warn",
                         duplicates=args.duplicates or "warn"))
        if args.new_patient:
            entity, out = "the new patient", recommender.recommend_for_new_patient(
                args.conditions, args.drugs, args.allergies, k=args.k, safety=not args.no_safety)
        else:
            entity = resolve_patient(recommender, args.patient)
            out = recommender.recommend_for_patient(entity, k=args.k, safety=not args.no_safety,
                                                    exclude_current=not args.include_current)
    shown = entity if args.reveal_patients else pseudonymiser().pseudonym(entity)
    if args.json:
        print(json.dumps({"entity": shown, "recommendations": [r.as_dict() for r in out],
                          "removed_by_safety": [e.text(recommender.names) for e in out.removed],
                          "current_drug_problems": [e.text(recommender.names) for e in out.current_problems],
                          "dropped_components": out.dropped_components}, indent=2))
    else:
        for rank, r in enumerate(out, 1):
            print(f"{rank:>2}. {r.name} ({r.drug_id})  score {r.score:.3f}{probability_text(r.probability)}")
            print(f"    {r.explanation}")
            for note in r.safety_notes[1:]:  # the first note says what was checked, for every item alike
                print(f"    caution: {note}")
        if out.removed:
            print(f"  safety removed {len({e.drug_id for e in out.removed})} higher-ranked drug(s), e.g. "
                  f"{out.removed[0].text(recommender.names)}")
        _print_current_problems(out.current_problems, recommender.names)
    summary(args, f"{len(out)} drugs for {shown}", start)
    return 0


#: Problems among a patient's current drugs printed as text (``--json`` lists every one).
SHOWN_PROBLEMS = 3


def _print_current_problems(problems: list, names: dict[str, str]) -> None:
    """What is unsafe among the drugs a patient already takes, for the prescriber to review: a
    count by kind and the first few (allergies, contraindications and duplicates before interactions)."""
    if not problems:
        return
    kinds = ", ".join(f"{count} {reason}" for reason, count in Counter(p.reason for p in problems).items())
    print(f"  warning: {len(problems)} problem(s) among the current drugs ({kinds}):")
    for problem in problems[:SHOWN_PROBLEMS]:
        print(f"    - {problem.text(names)}")
    if len(problems) > SHOWN_PROBLEMS:
        print(f"    - and {len(problems) - SHOWN_PROBLEMS} more (--json lists them all)")


def probability_text(probability: float) -> str:
    """`` (p 0.21)``: the calibrated probability beside a score, nothing when the bundle has none."""
    return "" if probability != probability else f" (p {probability:.2f})"


def summary(args: argparse.Namespace, text: str, start: float, to_stderr: bool = False) -> None:
    """The one-line summary every command ends with; on stderr when stdout carries JSON."""
    print(f"rxkg {args.command}: {text} in {time.perf_counter() - start:.2f}s",
          file=sys.stderr if to_stderr or getattr(args, "json", False) else sys.stdout)


def _claims(pairs: list[str]) -> dict[str, float]:
    """``drug:DB00331=40`` pairs as claim counts; a malformed pair is an error naming it."""
    out: dict[str, float] = {}
    for pair in pairs:
        drug, sep, count = pair.rpartition("=")
        try:
            value = float(count)
        except ValueError:
            value = float("nan")
        if not sep or not drug or not 0 < value < float("inf"):
            raise KGError(f"--prescriptions {pair!r}: expected DRUG=CLAIMS with a positive count, "
                          "e.g. drug:DB00331=40")
        out[drug] = value
    return out


def _cmd_explain(args: argparse.Namespace) -> int:
    from recsys.recommender.api import Recommender

    start = time.perf_counter()
    recommender = Recommender.load(args.model)
    entity = resolve_patient(recommender, args.entity)
    found = recommender.explain(entity, args.drug, k=args.k, exclude_current=not args.include_current)
    anon = None if args.reveal_patients else pseudonymiser()
    shown = anon.pseudonym(entity) if anon else entity
    if args.json:
        text = json.dumps({"entity": shown, **found}, indent=2, default=str)
        print(anon.text(text) if anon else text)
    else:
        print(anon.text(found["text"]) if anon else found["text"])
        scores = ", ".join(f"{n} {'-' if v is None else f'{v:.2f}'}" for n, v in found["components"].items())
        print(f"  component scores (standardised): {scores}")
    summary(args, f"{found['name']} for {shown}", start)
    return 0


def _cmd_similar(args: argparse.Namespace) -> int:
    from recsys.recommender.api import Recommender

    start = time.perf_counter()
    found = Recommender.load(args.model).similar_drugs(args.drug, k=args.k, by=args.by)
    if args.json:
        print(json.dumps([{"drug_id": d, "name": n, "cosine": round(c, 4)} for d, n, c in found], indent=2))
    else:
        for rank, (drug, name, cosine) in enumerate(found, 1):
            print(f"{rank:>2}. {name} ({drug})  cosine {cosine:.3f}")
    summary(args, f"{len(found)} drugs like {args.drug} by {args.by}", start)
    return 0


def _cmd_profile(args: argparse.Namespace) -> int:
    from recsys.recommender.api import Recommender

    start = time.perf_counter()
    profile = Recommender.load(args.model).profile_doctor(args.doctor, peers=args.peers)
    print(json.dumps(profile.to_dict(), indent=2, default=str) if args.json else profile.text())
    summary(args, args.doctor, start)
    return 0


def resolve_patient(recommender, given: str) -> str:
    """A patient id, or the pseudonym rxkg printed for it on this machine (same key), as an id."""
    if not given.startswith("patient:anon:"):
        return given
    anon = pseudonymiser()
    patients = [i for i, t in recommender.node_types.items() if t == "patient"]
    found = next((p for p in patients if anon.pseudonym(p) == given), None)
    if found is None:
        raise KGError(f"no patient of the model has the pseudonym {given!r} under this machine's key "
                      "(pseudonyms printed with another key cannot be read back)")
    return found


def pseudonymiser():
    import secrets

    from kg.privacy import Pseudonymiser

    try:
        return Pseudonymiser()
    except (KGError, OSError):
        # No usable key: a one-off key still hides the ids (the pseudonyms just won't be stable).
        return Pseudonymiser(secrets.token_hex(32))


