"""The build stage: sources -> validated graph directory + ``build_report.json``."""

from __future__ import annotations

from pathlib import Path

from kg.build import BuildResult, build_graph, write_build
from kg.privacy import PrivacyMode
from pipelines.config import BuildConfig

__all__ = ["run_build"]


def run_build(config: BuildConfig, out: str | Path | None = None, progress: bool = False,
              privacy: PrivacyMode = "pseudonymise") -> BuildResult:
    """Build the graph ``config`` describes and write it (atomically) to ``out`` or ``config.out``.

    ``privacy`` applies to the reports written beside the graph (patient ids in them).
    """
    result = build_graph(config.sources, policy=config.policy, progress=progress)  # type: ignore[arg-type]
    target = Path(out or config.out)
    write_build(result, target, privacy)
    return result
