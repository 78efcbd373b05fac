"""Model bundles: one file holding weights, configuration, id maps and library versions.

Written atomically (a temporary file in the same directory, then a rename), read with
``torch.load(weights_only=True)``: a bundle holds only tensors, numbers, strings,
lists and dicts, so loading one never runs code from the file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from kg.errors import KGError

__all__ = ["save_bundle", "load_bundle", "library_versions", "BUNDLE_FORMAT"]

BUNDLE_FORMAT = "rxkg-link-model/1"


def library_versions() -> dict[str, str]:
    import numpy
    import torch_geometric

    import kg

    return {"rxkg": kg.__version__, "torch": str(torch.__version__),
            "torch_geometric": str(torch_geometric.__version__), "numpy": str(numpy.__version__)}


def save_bundle(payload: dict[str, Any], path: str | Path) -> Path:
    """Write ``payload`` (plus format and versions) to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": BUNDLE_FORMAT, "versions": library_versions(), **payload}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_bundle(path: str | Path) -> dict[str, Any]:
    """Read a bundle safely; raises :class:`KGError` naming the file when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise KGError(f"{path}: no model bundle there")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file
        raise KGError(f"{path}: not a readable rxkg model bundle ({exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != BUNDLE_FORMAT:
        raise KGError(f"{path}: not an rxkg model bundle (format {payload.get('format') if isinstance(payload, dict) else None!r})")
    return payload
