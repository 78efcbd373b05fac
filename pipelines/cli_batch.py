"""``rxkg score`` (chosen drugs for one entity) and ``rxkg batch`` (top-k for many entities at once)."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

from kg.errors import KGError, KGValidationError, Problem
from kg.outputs import atomic_file, check_output_file
from kg.text import NotUtf8, decode_utf8
from pipelines.cli_query import add_model_option, pseudonymiser, resolve_patient, summary

__all__ = ["add_batch_commands"]


def add_batch_commands(sub) -> None:
    """Register ``score`` and ``batch`` on the ``rxkg`` sub-parser set ``sub``."""
    p = sub.add_parser("score", help="blended score and calibrated probability of given drugs for one entity")
    p.add_argument("entity", help="a disease, doctor or patient id (or a patient pseudonym printed by rxkg)")
    p.add_argument("drugs", nargs="+", help="drug ids, e.g. drug:DB00331 drug:DB01132")
    add_model_option(p)
    p.add_argument("--reveal-patients", action="store_true", help="print the patient id in clear text")
    p.add_argument("--json", action="store_true", help="print the scores as JSON")
    p.set_defaults(func=_cmd_score)

    p = sub.add_parser("batch", help="top drugs for many entities of one type (one id per line of a file)")
    p.add_argument("ids", help="a file with one disease, doctor or patient id per line ('-': standard input)")
    add_model_option(p)
    p.add_argument("--k", type=int, default=10, help="how many drugs per entity (default 10)")
    p.add_argument("--out", help="CSV file to write (entity, rank, drug_id, name, score, probability); "
                                 "default: standard output")
    p.add_argument("--reveal-patients", action="store_true", help="write patient ids in clear text")
    p.add_argument("--json", action="store_true", help="print JSON instead of CSV")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.set_defaults(func=_cmd_batch)


def _cmd_score(args: argparse.Namespace) -> int:
    from recsys.recommender.api import Recommender
    from recsys.recommender.fitting import calibrated

    start = time.perf_counter()
    recommender = Recommender.load(args.model)
    entity = resolve_patient(recommender, args.entity)
    scores = recommender.score(entity, args.drugs)  # an unknown entity or drug is an error naming it
    probabilities = calibrated(recommender.calibration(recommender.kind_of(entity)), scores)
    shown = entity if args.reveal_patients else pseudonymiser().pseudonym(entity)
    rows = [{"drug_id": d, "name": recommender.names.get(d, d), "score": round(float(s), 4),
             "probability": _rounded(p)} for d, s, p in zip(args.drugs, scores, probabilities)]
    if args.json:
        print(json.dumps({"entity": shown, "scores": rows}, indent=2))
    else:
        for row in rows:
            p = "" if row["probability"] is None else f"  p {row['probability']:.3f}"
            print(f"{row['name']} ({row['drug_id']})  score {row['score']:.3f}{p}")
    summary(args, f"{len(rows)} drug(s) for {shown}", start)
    return 0


def _rounded(probability: float) -> float | None:
    """A probability for JSON and CSV: None where the bundle has no calibration (NaN)."""
    return None if probability != probability else round(float(probability), 4)


def _label(source: str) -> str:
    """How messages name the ids file ('-' is standard input)."""
    return "<stdin>" if source == "-" else source


def _read_ids(source: str) -> list[tuple[int, str]]:
    """(line number, id) of every id line of ``source`` ('-': standard input); blank lines and
    ``#`` comments are skipped, a byte-order mark (Windows editors write one) is not part of an id."""
    name = _label(source)
    raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    try:
        text = decode_utf8(raw)
    except NotUtf8 as err:
        raise KGError(f"{name}:{err.line}: {err}") from None
    ids = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)
           if line.strip() and not line.lstrip().startswith("#")]
    if not ids:
        raise KGError(f"{name}: no ids (one disease, doctor or patient id per line)")
    return ids


def _resolve_ids(recommender, source: str, lines: list[tuple[int, str]]) -> list[str]:
    """The entity of every line, or every unknown id at once, each with its line."""
    ids, problems = [], []
    for line, raw_id in lines:
        try:
            entity = resolve_patient(recommender, raw_id)
            recommender.kind_of(entity)  # unknown ids are errors with "did you mean"
        except KGError as err:
            problems.append(Problem(_label(source), str(err), line=line))
            continue
        ids.append(entity)
    if problems:
        raise KGValidationError(problems)
    return ids


def _cmd_batch(args: argparse.Namespace) -> int:
    from recsys.recommender.api import Recommender
    from recsys.recommender.fitting import calibrated

    start = time.perf_counter()
    if args.out:
        check_output_file(Path(args.out), args.force)
    recommender = Recommender.load(args.model)
    ids = _resolve_ids(recommender, args.ids, _read_ids(args.ids))
    kinds = {recommender.kind_of(i) for i in ids}
    if len(kinds) > 1:
        raise KGError(f"{args.ids}: ids of one type per batch, got {sorted(kinds)}")
    drugs, scores = recommender.recommend_many(ids, k=args.k)
    probabilities = calibrated(recommender.calibration(kinds.pop()), scores)
    anon = None if args.reveal_patients else pseudonymiser()
    rows, empty = [], 0
    for entity, row_drugs, row_scores, row_p in zip(ids, drugs, scores, probabilities):
        shown = anon.pseudonym(entity) if anon else entity
        ranked = [(d, s, p) for d, s, p in zip(row_drugs, row_scores, row_p) if d is not None]
        if not ranked:  # nothing can score it: a marked empty row, never made-up drugs
            empty += 1
            rows.append({"entity": shown, "rank": None, "drug_id": None, "name": None, "score": None,
                         "probability": None, "note": "no component can score this entity"})
        for rank, (drug, score, p) in enumerate(ranked, 1):
            rows.append({"entity": shown, "rank": rank, "drug_id": str(drug), "name": recommender.names.get(drug),
                         "score": round(float(score), 4), "probability": _rounded(p), "note": None})
    _write_rows(rows, args)
    summary(args, f"{len(ids)} entities, {len(rows) - empty} recommendations, {empty} without scores"
            + (f" -> {args.out}" if args.out else ""), start, to_stderr=not args.out)
    return 0


def _write_rows(rows: list[dict], args: argparse.Namespace) -> None:
    if args.json:
        text = json.dumps(rows, indent=2)
    else:
        import io

        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    if args.out:
        atomic_file(Path(args.out), lambda tmp: tmp.write_text(text), shared=not args.reveal_patients)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
