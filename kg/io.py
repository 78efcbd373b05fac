"""Graph directories: Parquet tables plus a manifest, written atomically.

Layout of a graph directory::

    manifest.json            format version, counts, sha256 and rows of every file
    nodes.parquet
    edges/<src>__<rel>__<dst>.parquet
    tables/<name>.parquet

The directory is first written next to its destination under a temporary name and
then swapped into place (:mod:`kg.outputs`), so a reader sees either the old graph or
the new one, never half of one. Reading checks the format version and every checksum.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from kg.errors import KGError
from kg.graph import KnowledgeGraph
from kg.outputs import OWNER_FILE, files_under, atomic_directory, atomic_file
from kg.schema import SCHEMA, EdgeType
from kg.version import __version__

__all__ = ["write_graph", "read_graph", "read_manifest", "read_json_manifest", "verify_files",
           "atomic_directory", "atomic_file",
           "sha256_file", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "rxkg-graph"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: Suffixes of the files rxkg's artifacts are made of: an unlisted one is an error, not ignored.
DATA_SUFFIXES = frozenset({".parquet", ".npz", ".pt", ".json", ".npy"})
#: Unlisted files rxkg 0.1 wrote into its folders (reports beside a graph, the run cache key).
_LEGACY_EXTRAS = frozenset({"rxkg-cache.json"})
_LEGACY_GRAPH_REPORTS = frozenset({"build_report.json", "out_of_scope.tsv.gz"})


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_graph(graph: KnowledgeGraph, path: str | Path,
                extra_files: dict[str, Callable[[Path], None]] | None = None, force: bool = False) -> Path:
    """Write ``graph`` to directory ``path`` atomically; returns the path.

    ``extra_files`` maps a file name to a writer for reports that belong beside the
    graph (they are not part of the checksummed manifest). ``path`` must be new, empty or
    an earlier rxkg output (:func:`kg.outputs.atomic_directory`; ``force`` writes beside
    a user's files).
    """
    path = Path(path)

    def fill(tmp: Path) -> None:
        files: dict[str, dict[str, Any]] = {}

        def put(rel: str, frame: pd.DataFrame) -> None:
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            frame.to_parquet(target, index=False, compression="zstd")
            files[rel] = {"sha256": sha256_file(target), "rows": len(frame)}

        put("nodes.parquet", graph.nodes)
        for et, frame in graph.edges.items():
            put(f"edges/{et.key}.parquet", frame)
        for name, table in graph.tables.items():
            put(f"tables/{name}.parquet", table)
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "rxkg_version": __version__,
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "nodes": graph.node_counts(),
            "edges": graph.edge_counts(),
            "tables": {name: len(t) for name, t in graph.tables.items()},
            "files": files,
            "reports": {},  # files for people beside the graph: checksummed, never read back
        }
        for name, writer in (extra_files or {}).items():
            writer(tmp / name)
            manifest["reports"][name] = sha256_file(tmp / name)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")

    atomic_directory(path, fill, force=force)
    return path


def read_json_manifest(path: str | Path, what: str) -> dict[str, Any]:
    """``path/manifest.json`` parsed; a clear error naming ``what`` the directory should be."""
    path = Path(path)
    manifest_path = path / MANIFEST
    if not path.is_dir():
        raise KGError(f"{path}: not {what} ({'no such folder' if not path.exists() else 'a file, not a folder'})")
    if not manifest_path.is_file():
        raise KGError(f"{path}: not {what} (no {MANIFEST})")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise KGError(f"{manifest_path}:{err.lineno}: invalid JSON ({err.msg})") from None
    except (OSError, UnicodeDecodeError) as err:
        raise KGError(f"{manifest_path}: cannot be read ({err})") from None
    if not isinstance(manifest, dict):
        raise KGError(f"{manifest_path}: expected a JSON object, found a {type(manifest).__name__}")
    if not isinstance(manifest.get("files"), dict):
        raise KGError(f"{manifest_path}: key 'files' is missing or not an object")
    return manifest


def _inside(root: Path, rel: object, manifest_path: Path) -> Path:
    """``root / rel`` for a relative path that stays inside ``root``; an error otherwise."""
    if not isinstance(rel, str) or not rel or "\\" in rel:
        raise KGError(f"{manifest_path}: file entry {rel!r} is not a relative path")
    parts = Path(rel).parts
    if Path(rel).is_absolute() or ".." in parts or parts[0] in ("", "."):
        raise KGError(f"{manifest_path}: file entry {rel!r} points outside {root}")
    return root / rel


def verify_files(root: Path, digests: dict[str, str], verify: bool = True,
                 subtrees: tuple[str, ...] = (), unlisted_ok: frozenset[str] = _LEGACY_EXTRAS) -> None:
    """Every listed file exists under ``root`` and, with ``verify``, has its sha256; no listed
    path leaves ``root``; and ``root`` holds no unlisted file of a kind rxkg stores (data
    suffixes, or anything in a folder the manifest lists files of), so nothing unverified can
    pass for part of the artifact. The manifest, the ownership record and ``subtrees`` (folders
    verified by their own manifests) are expected; a user's other files beside a ``--force``
    output are left alone."""
    manifest_path = root / MANIFEST
    for rel, digest in digests.items():
        target = _inside(root, rel, manifest_path)
        if not isinstance(digest, str):
            raise KGError(f"{manifest_path}: file entry {rel!r} has no sha256 text")
        if target.is_symlink() or not target.is_file():
            raise KGError(f"{target}: listed in the manifest but missing (or not a plain file)")
        if verify and sha256_file(target) != digest:
            raise KGError(f"{target}: checksum does not match the manifest (file changed or corrupt)")
    expected = {MANIFEST, OWNER_FILE, *digests, *unlisted_ok}
    areas = {Path(rel).parts[0] for rel in digests if len(Path(rel).parts) > 1}
    for rel in files_under(root):
        if rel in expected or any(rel.startswith(f"{tree}/") for tree in subtrees):
            continue
        if Path(rel).suffix in DATA_SUFFIXES or Path(rel).parts[0] in areas:
            raise KGError(f"{root / rel}: not listed in {manifest_path} (an unexpected file; rxkg reads "
                          f"only verified files: remove it or rebuild)")


def read_manifest(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    manifest_path = path / MANIFEST
    manifest = read_json_manifest(path, "an rxkg graph directory")
    if manifest.get("format") != FORMAT_NAME:
        raise KGError(f"{manifest_path}: format is {manifest.get('format')!r}, expected {FORMAT_NAME!r}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise KGError(f"{manifest_path}: format version {manifest.get('format_version')} is not "
                      f"supported (this rxkg reads version {FORMAT_VERSION})")
    return manifest


def read_graph(path: str | Path, verify: bool = True) -> KnowledgeGraph:
    """Load a graph directory written by :func:`write_graph`.

    With ``verify`` every file's sha256 is checked against the manifest first.
    """
    path = Path(path)
    manifest = read_manifest(path)
    files: dict[str, dict[str, Any]] = manifest["files"]
    reports = manifest.get("reports", {})
    if not isinstance(reports, dict) or not all(isinstance(m, dict) and isinstance(m.get("sha256"), str)
                                                for m in files.values()):
        raise KGError(f"{path / MANIFEST}: 'files' entries need a 'sha256' and 'reports' must be an object")
    legacy = _LEGACY_EXTRAS | (_LEGACY_GRAPH_REPORTS if "reports" not in manifest else frozenset())
    verify_files(path, {**{rel: meta["sha256"] for rel, meta in files.items()}, **reports}, verify,
                 unlisted_ok=legacy)
    nodes = pd.read_parquet(path / "nodes.parquet")
    edges: dict[EdgeType, pd.DataFrame] = {}
    tables: dict[str, pd.DataFrame] = {}
    for rel in files:
        if rel.startswith("edges/"):
            et = EdgeType.from_key(Path(rel).stem)
            if et not in SCHEMA.relations:
                raise KGError(f"{path / rel}: edge type {et} is not in this rxkg's schema")
            edges[et] = pd.read_parquet(path / rel)
        elif rel.startswith("tables/"):
            tables[Path(rel).stem] = pd.read_parquet(path / rel)
    order = {et: i for i, et in enumerate(SCHEMA.edge_types)}
    edges = dict(sorted(edges.items(), key=lambda kv: order[kv[0]]))
    return KnowledgeGraph(nodes, edges, tables)
