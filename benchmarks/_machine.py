"""Machine facts recorded beside every benchmark result."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable, Sequence

RESULTS = Path(__file__).parent / "results"


def machine_info() -> dict[str, Any]:
    import pandas
    import pyarrow

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "affinity_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "pandas": pandas.__version__,
        "pyarrow": pyarrow.__version__,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def seed_table(first: str, names: Sequence[str], rows: list[dict[str, Any]], key: str,
               cell: Callable[[dict[str, Any]], str]) -> list[str]:
    """Markdown lines of a table with one row per name (``row[key]``) and one column per seed."""
    seeds = sorted({r["seed"] for r in rows})
    lines = [f"| {first} | " + " | ".join(f"seed {s}" for s in seeds) + " |", "|---|" + "---|" * len(seeds)]
    for name in names:
        cells = {r["seed"]: cell(r) for r in rows if r[key] == name}
        lines.append(f"| {name} | " + " | ".join(cells[s] for s in seeds) + " |")
    return lines


def write_result(name: str, result: dict[str, Any]) -> Path:
    """``results/<name>.json``: the result with the machine facts, written atomically."""
    return _write_atomically(RESULTS / f"{name}.json",
                             json.dumps({"benchmark": name, "machine": machine_info(), **result}, indent=2) + "\n")


def write_markdown(name: str, text: str) -> Path:
    """``results/<name>.md``, the human-readable tables beside the JSON, written atomically."""
    return _write_atomically(RESULTS / f"{name}.md", text)


def publish(name: str, result: dict[str, Any], text: str) -> None:
    """The usual ending of a benchmark: ``results/<name>.json`` and ``.md``, and the tables printed."""
    write_result(name, result)
    write_markdown(name, text)
    print(text)


def _write_atomically(path: Path, text: str) -> Path:
    # A benchmark killed mid-write leaves the previous results, never half a file.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path
