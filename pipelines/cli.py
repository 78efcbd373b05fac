"""The ``rxkg`` command line. It parses arguments and calls the library; nothing more.

Exit codes: 0 success, 1 invalid data or a failed job (the message says what and
where), 2 wrong usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from kg.errors import KGError, KGValidationError
from pipelines.cli_batch import add_batch_commands
from pipelines.cli_query import add_entity_commands, add_query_commands, check_recommend_flags, pseudonymiser
from pipelines.seeds import seed_argument

__all__ = ["main"]


def _cmd_build(args: argparse.Namespace) -> int:
    from kg.build import report_for_people
    from pipelines.build import run_build
    from pipelines.config import default_config, load_config

    config = load_config(args.config) if args.config else default_config()
    build = replace(config.build, policy=args.policy) if args.policy else config.build
    out = Path(args.out or build.out)
    result = run_build(build, out, progress=not args.json, privacy=args.privacy, force=args.force)
    report, _ = report_for_people(result, args.privacy)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        for node_type, n in report["nodes"].items():
            print(f"  {node_type:<22} {n:>9,} nodes")
        for key, n in report["edges"].items():
            print(f"  {key:<44} {n:>9,} edges")
        for name, source in report["sources"].items():
            for field, tally in source.get("mapping", {}).items():
                print(f"  mapped {name}/{field}: {tally['row_rate']:.1%} of {tally['rows']:,} rows, "
                      f"{tally['code_rate']:.1%} of {tally['codes']:,} codes -> {tally['target']}")
        for p in report["rejected"][:20]:
            print(f"  rejected: {p.get('file')}:{p.get('line', '')} {p['reason']}", file=sys.stderr)
    print(f"rxkg build: {result.report.summary()} -> {out} (report: {out / 'build_report.json'})",
          file=sys.stderr if args.json else sys.stdout)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from kg.export import export_graph, format_from_path
    from kg.io import read_graph

    start = time.perf_counter()
    graph = read_graph(args.graph)
    relations = [r.strip() for r in args.relations.split(",")] if args.relations else None
    fmt = args.format or format_from_path(args.out)
    options = None
    if args.model and not (args.around and fmt == "html"):
        raise KGError("--model needs --around ID and --format html: it adds that entity's recommendations")
    if args.around and not graph.has_node(args.around):
        from kg.search import NameIndex

        hint = NameIndex.from_graph(graph).suggest(args.around)  # never a patient's id
        raise KGError(f"--around: no node {args.around!r} in the graph{hint}")
    if args.around:
        if fmt == "html":
            from pipelines.inspection import inspection_graph, recommend_for

            ranked = ()
            if args.model:
                from recsys.recommender.api import Recommender

                ranked = recommend_for(Recommender.load(args.model), graph, args.around, args.k)
            graph, options = inspection_graph(graph, args.around, ranked, args.hops, relations,
                                              edge_relations=relations)
        else:
            graph = graph.around(args.around, hops=args.hops, relations=relations)
    elif relations:
        graph = graph.subgraph(graph.nodes["id"], relations=relations)
    export_graph(graph, args.out, fmt, privacy=args.patients, options=options, force=args.force)
    print(f"rxkg export: {graph.num_nodes:,} nodes, {graph.num_edges:,} edges as {fmt} -> {args.out} "
          f"in {time.perf_counter() - start:.1f}s")
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from kg.synth import SynthConfig
    from pipelines.synth import run_synth

    config = SynthConfig(patients=args.patients, doctors=args.doctors, seed=args.seed)
    result = run_synth(config, args.out, args.graph, force=args.force)
    print(f"rxkg synth: SYNTHETIC {result.summary()} -> {result.out} (Synthea layout; load it with "
          f"kind = \"synthea\"; for scale tests only, never evidence of quality)")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from pipelines.config import default_config, load_config
    from pipelines.demo import run_demo

    run_demo(Path(args.out), load_config(args.config) if args.config else default_config())
    return 0


DEFAULT_GRAPH = "build/graph"
#: Exit status when the reader of stdout went away (128 + SIGPIPE, as a shell reports for any tool).
SIGPIPE_EXIT = 141


def _load_or_build_graph(path: str | None):
    from kg.build import build_graph
    from kg.io import read_graph
    from pipelines.config import default_config

    if path is not None:  # named by the user: a mistyped path is an error, never a silent rebuild
        if not Path(path).exists():
            raise KGError(f"--graph {path}: no such graph directory")
        return read_graph(path)
    if Path(DEFAULT_GRAPH).exists():
        return read_graph(DEFAULT_GRAPH)
    print(f"rxkg: no graph at {DEFAULT_GRAPH}; building one from the shipped data", file=sys.stderr)
    return build_graph(default_config().build.sources).graph


def _cmd_train(args: argparse.Namespace) -> int:
    from pipelines.train import TrainConfig, run_train

    from pipelines.config import load_config

    settings = load_config(args.config).train if args.config else TrainConfig()
    if args.seed is not None:
        settings = replace(settings, seed=args.seed)
    from kg.outputs import check_output_folder

    check_output_folder(Path(args.out), args.force)  # before minutes of work, not after
    graph = _load_or_build_graph(args.graph)
    log = (lambda m: None) if args.json else print
    _, result = run_train(graph, settings, out=args.out, log=log, force=args.force)
    if args.json:
        print(json.dumps({"out": str(result.out), "weights": result.weights, "selection": result.selection,
                          "seconds": result.seconds, "metapath": result.metapath,
                          "gnn_epochs": result.gnn_epochs}, indent=2))
    else:
        print("\n".join(selection_lines(result.selection)))
    print(f"rxkg train: {result.summary()}", file=sys.stderr if args.json else sys.stdout)
    return 0


#: How a validation metric is written in the training summary.
METRIC_NAMES = {"mrr": "MRR", "ndcg@10": "NDCG@10"}


def selection_lines(selection: dict[str, dict]) -> list[str]:
    """One line per choice ``rxkg train`` made on validation: blends, CF models, the metapath model."""
    from recsys.link.kernel import describe_kernel

    lines = []
    for kind, chosen in selection.items():
        metric = chosen.get("metric", "mrr")  # what a blend was chosen on
        values = ", ".join(f"{k} {v:.3f}" for k, v in chosen.get(f"val_{metric}", {}).items())  # every candidate's
        if "scorers" in chosen:  # the disease scorer a patient's graph component reads
            lines.append(f"  {kind}: {', '.join(chosen['scorers'] or ['disease blend'])} chosen on patients' "
                         f"validation MRR ({values})")
        elif f"val_{metric}" in chosen and isinstance(chosen.get("chosen"), str):  # a blend
            note = f"; {chosen['note']}" if chosen.get("note") else ""
            tried = chosen.get(f"penalty_oof_{metric}")  # the logistic blend's penalty, when one was chosen
            penalty = (f"; logistic penalty {chosen['penalty']:g} chosen out of fold ("
                       + ", ".join(f"{p} {v:.3f}" for p, v in tried.items()) + ")") if tried else ""
            merged = chosen.get("new_drugs")  # whether new drugs in this list are ranked by their own blend
            if merged:
                note += (f"; new drugs: {merged['chosen']} (" + ", ".join(
                    f"{k} {v:.3f}" for k, v in merged.get(f"val_{metric}", {}).items()) + ")")
            lines.append(f"  {kind}: {chosen['chosen']} chosen on validation {METRIC_NAMES.get(metric, metric)} "
                         f"({values}){penalty}{note}")
        elif isinstance(chosen.get("chosen"), str) and chosen.get("note"):  # fixed by design, with its reason
            lines.append(f"  {kind}: {chosen['chosen']} ({chosen['note']})")
        elif "model" in chosen:  # a CF model
            lines.append(f"  {kind}: {chosen['model']} {chosen['params']} chosen on validation")
        elif isinstance(chosen.get("chosen"), dict):  # the metapath model's examples, family and penalty
            picked = chosen["chosen"]
            if "candidates" in picked:
                lines.append(f"  {kind}: the mean of {picked['candidates']} fits ({picked.get('examples')} examples; "
                             f"{picked.get('family')}; penalties {picked.get('penalty')}){describe_kernel(picked)}, "
                             f"validation MRR {picked.get('val_mrr')}")
            else:
                where = (f"the training folds' MRR ({picked['folds_mrr']})" if "folds_mrr" in picked
                         else f"validation MRR ({picked.get('val_mrr')})")
                lines.append(f"  {kind}: {picked.get('examples')} examples, {picked.get('family')}, penalty "
                             f"{picked.get('penalty')} chosen on {where}")
    return lines


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from pipelines.config import default_config, load_config
    from pipelines.evaluation import evaluate

    config = load_config(args.config) if args.config else default_config()
    settings = config.evaluate
    overrides = {"quick": True} if args.quick else {}
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.protocols:
        overrides["protocols"] = tuple(args.protocols)
    if args.disease_splits:
        overrides["disease_splits"] = tuple(args.disease_splits)
    settings = replace(settings, **overrides)
    graph = None
    if args.graph:
        from kg.io import read_graph

        graph = read_graph(args.graph)
    out = args.out or settings.out
    log = (lambda m: print(m, file=sys.stderr)) if args.json else print
    result = evaluate(settings, graph=graph, sources=config.build.sources, out=out, log=log, force=args.force)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2, default=str))
    print(result.summary(), file=sys.stderr if args.json else sys.stdout)
    return 0


def _add_force(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true",
                   help="write beside files rxkg did not write in --out (never changing them)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rxkg", description="Knowledge-graph drug recommender.")
    from kg.version import __version__
    parser.add_argument("--version", action="version", version=f"rxkg {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="build the knowledge graph from its sources")
    p.add_argument("--config", help="TOML config (default: everything shipped under data/)")
    p.add_argument("--out", help="graph directory to write (default: the config's build.out)")
    p.add_argument("--policy", choices=["strict", "quarantine"],
                   help="strict: fail listing every bad record; quarantine: build and report them")
    p.add_argument("--json", action="store_true", help="print the build report as JSON")
    p.add_argument("--privacy", choices=["pseudonymise", "clear"], default="pseudonymise",
                   help="patient ids in the reports (default: keyed pseudonyms)")
    _add_force(p)
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser("export", help="export a graph (or one entity's neighbourhood)")
    p.add_argument("graph", help="graph directory written by `rxkg build`")
    p.add_argument("--format", choices=["graphml", "gexf", "json", "turtle", "csv", "neo4j", "html"],
                   help="default: from the --out extension")
    p.add_argument("--out", required=True, help="output file (or directory for csv/neo4j)")
    p.add_argument("--around", metavar="ID", help="export the neighbourhood of this node id")
    p.add_argument("--hops", type=int, default=1, help="neighbourhood radius (default 1)")
    p.add_argument("--relations", help="comma-separated relations to keep, e.g. treats,binds")
    p.add_argument("--patients", choices=["pseudonymise", "drop", "clear"], default="pseudonymise",
                   help="patients in the export: keyed pseudonyms (default), left out, or source ids")
    p.add_argument("--model", help="html with --around: add the entity's top drugs from this bundle, "
                                   "their explanation paths highlighted")
    p.add_argument("--k", type=int, default=5, help="recommendations on the html page (default 5)")
    _add_force(p)
    p.set_defaults(func=_cmd_export)

    add_query_commands(sub)
    add_entity_commands(sub)
    add_batch_commands(sub)

    p = sub.add_parser("synth", help="generate a synthetic cohort (Synthea layout) for scale tests")
    p.add_argument("--patients", type=int, default=1000, help="patients to generate (default 1000)")
    p.add_argument("--doctors", type=int, default=100, help="doctors to generate (default 100)")
    p.add_argument("--seed", type=seed_argument, default=0, help="same seed, same cohort (default 0)")
    p.add_argument("--out", required=True, help="directory to write the CSV files to")
    p.add_argument("--graph", help="graph directory to draw from (default: the shipped reference sources)")
    _add_force(p)
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("train", help="train every component and write the recommender bundle")
    p.add_argument("--graph", help=f"graph directory (default {DEFAULT_GRAPH}, built from the shipped data "
                                   "if missing; a --graph that does not exist is an error)")
    p.add_argument("--out", default="build/model", help="bundle directory to write")
    p.add_argument("--config", help="TOML config (its [train] settings)")
    p.add_argument("--seed", type=seed_argument, help="overrides the config's seed (default 0)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    _add_force(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="every evaluation protocol with its baselines; writes the report")
    p.add_argument("--config", help="TOML config ([build] sources, [evaluate] settings)")
    p.add_argument("--out", help="report directory (default: the config's evaluate.out, build/report)")
    p.add_argument("--quick", action="store_true", help="every protocol at reduced epochs (a few minutes)")
    p.add_argument("--graph", help="evaluate this graph directory instead of building from the sources")
    p.add_argument("--protocols", nargs="+", choices=["disease", "doctor", "patient"],
                   help="protocols to run (default all three)")
    p.add_argument("--disease-splits", nargs="+",
                   choices=["random", "zero_shot", "rephetio_random", "rephetio_zero_shot"],
                   help="disease protocols to run (default all; --quick leaves out the rephetio_ reproductions, "
                        "split R and split Z, unless named here)")
    p.add_argument("--seed", type=seed_argument, help="overrides the config's seed (default 0)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    _add_force(p)
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("demo", help="the whole job: build, train, quick evaluation, recommendations, exports")
    p.add_argument("--config", help="TOML config (default: everything shipped under data/)")
    p.add_argument("--out", default="build", help="output directory (default build: graph/, model/, report/, "
                                                  "exports/); unchanged stages are reused from it")
    p.set_defaults(func=_cmd_demo)
    return parser


def _failure_count(problems: list) -> str:
    """``3 invalid record(s)``, or with the problems counted apart when a record has several (a
    row with two bad cells) or a problem is about a whole file (a missing column)."""
    from kg.errors import rejected_records

    records = rejected_records(problems)
    if records == len(problems):
        return f"{records} invalid record(s)"
    return f"{len(problems)} problem(s)" + (f" in {records} invalid record(s)" if records else "")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "export" and args.hops < 0:
        parser.error("--hops must be >= 0")
    if args.command == "synth" and (args.patients < 1 or args.doctors < 1):
        parser.error("--patients and --doctors must be >= 1")
    if getattr(args, "k", 1) < 1:
        parser.error("--k must be >= 1")
    if args.command == "profile" and args.peers < 0:
        parser.error("--peers must be >= 0")
    if args.command == "search" and not args.query.strip():
        parser.error("search: the query is empty; give a name, part of one, or an id")
    if args.command == "recommend":
        check_recommend_flags(args, parser)
    try:
        status = int(args.func(args))
        sys.stdout.flush()  # a reader gone away shows here, not in the interpreter's flush at exit
        return status
    except KGValidationError as err:
        # Problems can name patients; they leave the process pseudonymised unless asked otherwise.
        anon = None if getattr(args, "privacy", None) == "clear" else pseudonymiser()
        for problem in err.problems:
            print(f"error: {anon.text(str(problem)) if anon else problem}", file=sys.stderr)
        print(f"rxkg {args.command}: failed, {_failure_count(err.problems)} listed above", file=sys.stderr)
        return 1
    except (KGError, KeyError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"rxkg {args.command}: error: {_one_line(message)}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader closed the pipe early (rxkg ... | head): it has what it wanted
        _silence_stdout()
        return SIGPIPE_EXIT
    except OSError as err:  # the file system said no: name the path and the reason
        where = f"{err.filename}: " if err.filename else ""
        print(f"rxkg {args.command}: error: {where}{err.strerror or err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"rxkg {args.command}: interrupted; outputs are left as they were", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - a user sees one line, never a traceback
        if os.environ.get("RXKG_DEBUG"):
            raise
        print(f"rxkg {args.command}: internal error: {type(err).__name__}: {_one_line(err)} "
              f"(a bug in rxkg: please report it; RXKG_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1


def _silence_stdout() -> None:
    """Point stdout at the null device, so that the interpreter's flush at exit does not hit the
    closed pipe again and print a second error."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _one_line(message: object) -> str:
    """A message on one line: multi-line texts (a validation summary) keep their first line."""
    anon = pseudonymiser()
    text = anon.text(str(message)) if anon else str(message)
    return " ".join(text.split("\n")[0].split()) if text else text


if __name__ == "__main__":
    sys.exit(main())
