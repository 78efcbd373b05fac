"""The Recommender on disk: one directory with a sha256 manifest, written atomically.

    bundle/
      manifest.json          format, library versions, blend weights, sha256 of every file
      graph/                 the graph (its own manifest and checksums)
      disease_scores.npz     the disease -> drug scorers' matrices with their row and column ids
      doctor_cf.npz, doctor_popularity.npz, patient_cf.npz   (those the recommender has)
      explain_index.npz      the explanation paths' adjacency (CSR structure per relation)
      metapath_terms.npz     the metapath model's score split by metapath (faithful graph paths)
      patient_metapath_terms.npz   the same of the patients' own metapath model, when there is one
      people_gnn.npz         the people GNN of the doctors' graph component (its fixed arrays)
      patient_gnn.npz        the people GNN trained on patients' records (``people_gnn`` component)

Everything is plain arrays, JSON and Parquet: loading runs no code from the files, and a
changed or truncated file fails the checksum with a message naming it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from kg.errors import KGError
from kg.io import (MANIFEST, atomic_directory, read_graph, read_json_manifest, sha256_file,
                   verify_files, write_graph)
from recsys.cf.base import CFRecommender, cf_library_versions
from recsys.link.terms import MetapathTerms
from recsys.people import PeopleScorer
from recsys.recommender.explain import write_index
from recsys.recommender.ranking import Ranker

__all__ = ["save_recommender", "read_recommender_parts", "describe_bundle", "RECOMMENDER_FORMAT"]

RECOMMENDER_FORMAT = "rxkg-recommender/1"
CF_PARTS = ("doctor_cf", "doctor_popularity", "patient_cf")
#: Metapath terms files and the recommender attribute each holds.
TERMS = {"metapath_terms.npz": "graph_terms", "patient_metapath_terms.npz": "patient_graph_terms"}


def save_recommender(recommender: Ranker, path: str | Path, force: bool = False) -> Path:
    """Write ``recommender`` to directory ``path`` (replaced only once complete, and only when
    new, empty or an earlier rxkg output; ``force`` writes beside a user's files)."""

    def fill(tmp: Path) -> None:
        write_graph(recommender.graph, tmp / "graph")
        with open(tmp / "disease_scores.npz", "wb") as handle:
            np.savez(handle, **{f"scores.{name}": m for name, m in recommender.disease_scores.items()},
                     disease_ids=np.asarray(recommender.disease_ids, dtype=str),
                     drug_ids=np.asarray(recommender.drug_ids, dtype=str))
        write_index(recommender.path_finder.get().matrices, tmp / "explain_index.npz")  # a first explanation reads it: 0.1 s saved
        files = ["disease_scores.npz", "explain_index.npz"]
        for name, terms in TERMS.items():
            if getattr(recommender, terms) is not None:
                getattr(recommender, terms).save(tmp / name)
                files.append(name)
        for name, gnn in (("people_gnn", recommender.drug_neighbours.gnn), ("patient_gnn", recommender.patient_gnn)):
            if gnn is not None:
                gnn.save(tmp / f"{name}.npz")
                files.append(f"{name}.npz")
        for part in CF_PARTS:
            model = getattr(recommender, part)
            if model is not None:
                model.save(tmp / f"{part}.npz")
                files.append(f"{part}.npz")
        manifest: dict[str, Any] = {
            "format": RECOMMENDER_FORMAT, "versions": cf_library_versions(), "weights": recommender.weights,
            "selection": recommender.selection,
            "files": {name: sha256_file(tmp / name) for name in files},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")

    atomic_directory(Path(path), fill, force=force)
    return Path(path)


def read_recommender_parts(path: str | Path) -> dict[str, Any]:
    """Read a bundle written by :func:`save_recommender`, verifying every checksum first.

    Returns the keyword arguments that rebuild it (``Recommender(**parts)``).
    """
    path = Path(path)
    manifest = _verified_manifest(path)
    graph = read_graph(path / "graph")
    with np.load(path / "disease_scores.npz", allow_pickle=False) as data:
        scores = {key[len("scores."):]: data[key] for key in data.files if key.startswith("scores.")}
        diseases, drugs = list(data["disease_ids"]), list(data["drug_ids"])
    parts = {part: CFRecommender.load(path / f"{part}.npz") if f"{part}.npz" in manifest["files"] else None
             for part in CF_PARTS}
    index = path / "explain_index.npz" if "explain_index.npz" in manifest["files"] else None
    terms = {key: MetapathTerms.load(path / name) if name in manifest["files"] else None
             for name, key in TERMS.items()}
    gnns = {name: PeopleScorer.load(path / f"{name}.npz") if f"{name}.npz" in manifest["files"] else None
            for name in ("people_gnn", "patient_gnn")}
    return {"graph": graph, "disease_scores": scores, "disease_ids": diseases, "drug_ids": drugs,
            "weights": manifest.get("weights"), "selection": manifest.get("selection"),
            "explain_index": index, **terms, **gnns, **parts}


def describe_bundle(path: str | Path) -> dict[str, Any]:
    """What a bundle holds, for ``rxkg info``: its manifest (versions, weights, what was chosen on
    validation) with every file's checksum verified, and its graph's node and edge counts, without
    loading a model."""
    path = Path(path)
    manifest = _verified_manifest(path)
    graph = read_json_manifest(path / "graph", "an rxkg graph directory")
    sizes = sum((path / rel).stat().st_size for rel in manifest["files"])
    doctors = any(f"{part}.npz" in manifest["files"] for part in CF_PARTS if part.startswith("doctor_"))
    return {"manifest": manifest, "files": len(manifest["files"]), "bytes": sizes, "doctor_components": doctors,
            "graph": {"nodes": graph.get("nodes", {}), "edges": graph.get("edges", {})}}


def _verified_manifest(path: Path) -> dict[str, Any]:
    """The bundle's manifest, its format checked and every file it lists verified (the graph
    folder has its own manifest)."""
    manifest = read_json_manifest(path, "a recommender bundle")
    if manifest.get("format") != RECOMMENDER_FORMAT:
        raise KGError(f"{path / MANIFEST}: format {manifest.get('format')!r}, expected {RECOMMENDER_FORMAT!r}")
    verify_files(path, manifest["files"], subtrees=("graph",))
    return manifest
