"""``pipelines.run(config)``: the whole job as a flat chain of stages, each cached.

    build graph -> train (split, metapath model and GNN, CF, blend weights, refit, save bundle)
                -> evaluate (every protocol; quick by default here)

Each stage is callable alone (:func:`stage_build`, :func:`stage_train`,
:func:`stage_evaluate`). Each writes its artifact under ``out`` together with a cache
key: a sha256 of the stage's configuration, the sha256 of every input data file, and the
rxkg version. A rerun whose key matches loads the artifact (checksums verified) instead
of recomputing it, so running again with nothing changed takes seconds; change a source
file or a setting and the stages downstream of it run again.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from kg.version import __version__
from kg.graph import KnowledgeGraph
from kg.io import atomic_file
from pipelines.config import PipelineConfig, default_config, default_data_dir

__all__ = ["RunResult", "run", "stage_build", "stage_train", "stage_evaluate", "data_key", "CACHE_FILE"]

#: The cache key file written beside each stage's artifact directory (``.graph.rxkg-cache.json``
#: beside ``graph/``): inside, it would be a file the directory's manifest does not list.
CACHE_FILE = "rxkg-cache.json"


@dataclass
class RunResult:
    """What :func:`run` produced: the graph, the trained recommender, the evaluation, and where
    each lies on disk; ``cached`` says which stages were loaded instead of recomputed."""

    graph: KnowledgeGraph
    recommender: Any
    evaluation: Any | None
    paths: dict[str, Path]
    seconds: dict[str, float]
    cached: dict[str, bool] = field(default_factory=dict)

    def summary(self) -> str:
        stages = ", ".join(f"{name} {'cached' if self.cached.get(name) else f'{s:.0f}s'}"
                           for name, s in self.seconds.items())
        return f"rxkg run: {sum(self.seconds.values()):.0f}s ({stages}); " + ", ".join(
            f"{k} in {v}" for k, v in self.paths.items())


def data_key(config: PipelineConfig) -> str:
    """The build's cache key: the build settings and the sha256 of every source file."""
    from pipelines.provenance import combined_hash, data_hashes

    sources = [(s.kind, s.label, sorted(s.files.items())) for s in config.build.sources]
    return combined_hash("build", __version__, sources, config.build.policy,
                         sorted(data_hashes(config.build.sources, default_data_dir()).items()))


def _marker(directory: Path) -> Path:
    return directory.parent / f".{directory.name}.{CACHE_FILE}"


def _cached(directory: Path, key: str) -> bool:
    marker = _marker(directory)
    if not directory.is_dir():
        return False
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("key") == key
    except (OSError, ValueError):
        return False


def _mark(directory: Path, stage: str, key: str) -> None:
    text = json.dumps({"stage": stage, "key": key}) + "\n"
    atomic_file(_marker(directory), lambda tmp: tmp.write_text(text, encoding="utf-8"))


def stage_build(config: PipelineConfig, out: Path, log: Callable[[str], None] = print,
                key: str | None = None) -> tuple[KnowledgeGraph, bool]:
    """The graph in ``out``: read when its cache key matches, else built and written there."""
    from kg.io import read_graph
    from pipelines.build import run_build

    key = key or data_key(config)
    if _cached(out, key):
        log(f"graph: unchanged sources and settings, reading {out}")
        return read_graph(out), True
    result = run_build(config.build, out, progress=True)
    log(f"graph: {result.report.summary()} -> {out}")
    _mark(out, "build", key)
    return result.graph, False


def stage_train(graph: KnowledgeGraph, config: PipelineConfig, out: Path, key: str,
                log: Callable[[str], None] = print) -> tuple[Any, bool]:
    """The recommender bundle in ``out``: loaded when its cache key matches, else trained and saved."""
    from pipelines.provenance import combined_hash
    from pipelines.train import run_train
    from recsys.recommender.api import Recommender

    key = combined_hash("train", key, asdict(config.train))
    if _cached(out, key):
        log(f"model: unchanged graph and settings, loading {out}")
        return Recommender.load(out), True
    recommender, result = run_train(graph, config.train, out=out, log=log)
    log(f"model: {result.summary()}")
    _mark(out, "train", key)
    return recommender, False


def stage_evaluate(graph: KnowledgeGraph, config: PipelineConfig, out: Path, key: str,
                   log: Callable[[str], None] = print) -> tuple[Any, bool]:
    """The evaluation report in ``out``: read back when its cache key matches, else computed."""
    from pipelines.evaluation import evaluate
    from pipelines.provenance import combined_hash

    key = combined_hash("evaluate", key, asdict(config.evaluate))
    if _cached(out, key) and (out / "report.json").exists():
        log(f"report: unchanged graph and settings, kept {out / 'report.md'}")
        return json.loads((out / "report.json").read_text(encoding="utf-8")), True
    result = evaluate(config.evaluate, graph=graph, sources=config.build.sources, out=out, log=log)
    log(result.summary())
    _mark(out, "evaluate", key)
    return result, False


def run(config: PipelineConfig | None = None, out: str | Path = "build", evaluate: bool = True,
        quick: bool = True, log: Callable[[str], None] = print) -> RunResult:
    """Build, train and (``evaluate``) evaluate, ``quick`` by default; artifacts under ``out``:
    ``graph/``, ``model/`` and ``report/``."""
    config = config or default_config()
    if quick and not config.evaluate.quick:
        config = replace(config, evaluate=replace(config.evaluate, quick=True))
    out = Path(out)
    paths = {"graph": out / "graph", "model": out / "model"}
    seconds: dict[str, float] = {}
    cached: dict[str, bool] = {}
    clock = time.perf_counter()

    def done(stage: str, was_cached: bool) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage], cached[stage], clock = now - clock, was_cached, now

    key = data_key(config)
    log("[1/3] build")
    graph, hit = stage_build(config, paths["graph"], log, key)
    done("build", hit)
    log("[2/3] train")
    recommender, hit = stage_train(graph, config, paths["model"], key, log)
    done("train", hit)
    evaluation = None
    if evaluate:
        paths["report"] = out / "report"
        log("[3/3] evaluate" + (" (quick)" if config.evaluate.quick else ""))
        evaluation, hit = stage_evaluate(graph, config, paths["report"], key, log)
        done("evaluate", hit)
    return RunResult(graph, recommender, evaluation, paths, seconds, cached)
