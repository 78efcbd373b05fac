"""Graph directories: Parquet tables plus a manifest, written atomically.

Layout of a graph directory::

    manifest.json            format version, counts, sha256 and rows of every file
    nodes.parquet
    edges/<src>__<rel>__<dst>.parquet
    tables/<name>.parquet

The directory is first written next to its destination under a temporary name and
then renamed into place, so a reader sees either the old graph or the new one,
never half of one. Reading checks the format version and every checksum.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from kg.errors import KGError
from kg.graph import KnowledgeGraph
from kg.schema import SCHEMA, EdgeType
from kg.version import __version__

__all__ = ["write_graph", "read_graph", "read_manifest", "read_json_manifest", "verify_files",
           "atomic_directory", "atomic_file",
           "sha256_file", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "rxkg-graph"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def atomic_directory(dest: Path, fill: Callable[[Path], None]) -> None:
    """Build a directory with ``fill(tmpdir)`` and rename it onto ``dest``.

    An existing ``dest`` is replaced only once the new one is complete; on error
    the temporary directory is removed and ``dest`` is left untouched.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        fill(tmp)
        if dest.exists():
            old = dest.parent / f".{dest.name}.old-{os.getpid()}-{time.monotonic_ns()}"
            dest.rename(old)
            tmp.rename(dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_file(dest: Path, write: Callable[[Path], None]) -> None:
    """Write a file through ``write(tmp_path)`` then rename it onto ``dest``."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.tmp-", dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_graph(graph: KnowledgeGraph, path: str | Path,
                extra_files: dict[str, Callable[[Path], None]] | None = None) -> Path:
    """Write ``graph`` to directory ``path`` atomically; returns the path.

    ``extra_files`` maps a file name to a writer for reports that belong beside the
    graph (they are not part of the checksummed manifest).
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
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        for name, writer in (extra_files or {}).items():
            writer(tmp / name)

    atomic_directory(path, fill)
    return path


def read_json_manifest(path: str | Path, what: str) -> dict[str, Any]:
    """``path/manifest.json`` parsed; a clear error naming ``what`` the directory should be."""
    path = Path(path)
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise KGError(f"{path}: not {what} (no {MANIFEST})")
    try:
        return json.loads(manifest_path.read_text())
    except json.JSONDecodeError as err:
        raise KGError(f"{manifest_path}:{err.lineno}: invalid JSON ({err.msg})") from None


def verify_files(root: Path, digests: dict[str, str], verify: bool = True) -> None:
    """Every listed file exists under ``root`` and, with ``verify``, has its sha256."""
    for rel, digest in digests.items():
        target = root / rel
        if not target.is_file():
            raise KGError(f"{target}: listed in the manifest but missing")
        if verify and sha256_file(target) != digest:
            raise KGError(f"{target}: checksum does not match the manifest (file changed or corrupt)")


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
    verify_files(path, {rel: meta["sha256"] for rel, meta in files.items()}, verify)
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
