"""What a result was computed from: library versions, machine, and hashes of the input data."""

from __future__ import annotations

import hashlib
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Iterable

from kg.build import SourceSpec
from kg.io import sha256_file

__all__ = ["library_versions", "machine", "source_files", "data_hashes", "combined_hash"]

LIBRARIES = ("numpy", "pandas", "scipy", "torch", "torch-geometric", "implicit", "networkx", "rdflib",
             "matplotlib")


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def machine() -> dict[str, object]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cores": cores}


def source_files(sources: Iterable[SourceSpec]) -> list[Path]:
    """Every file the sources read (comma-separated lists and directories expanded), sorted."""
    files: set[Path] = set()
    for spec in sources:
        for value in spec.files.values():
            for part in str(value).split(","):
                path = spec.resolve(part)
                if path.is_dir():
                    files.update(p for p in path.rglob("*") if p.is_file())
                elif path.exists():
                    files.add(path)
    return sorted(files)


def data_hashes(sources: Iterable[SourceSpec], root: Path | None = None) -> dict[str, str]:
    """sha256 of every input file, keyed by its path (relative to ``root`` where possible)."""
    out = {}
    for path in source_files(sources):
        key = str(path)
        if root is not None:
            try:
                key = str(path.resolve().relative_to(root.resolve()))
            except ValueError:
                pass
        out[key] = sha256_file(path)
    return out


def combined_hash(*parts: object) -> str:
    """One sha256 over the ``repr`` of every part (e.g. a config and a data-hash dict), for cache keys."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(repr(part).encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()
