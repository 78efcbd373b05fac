"""The build stage: sources -> validated graph directory + ``build_report.json``."""

from __future__ import annotations

from pathlib import Path

from kg.build import BuildResult, build_graph, write_build
from kg.outputs import check_output_folder
from kg.privacy import PrivacyMode
from pipelines.config import BuildConfig

__all__ = ["run_build"]


def run_build(config: BuildConfig, out: str | Path | None = None, progress: bool = False,
              privacy: PrivacyMode = "pseudonymise", force: bool = False) -> BuildResult:
    """Build the graph ``config`` describes and write it (atomically) to ``out`` or ``config.out``.

    ``privacy`` applies to the reports written beside the graph (patient ids in them).
    ``out`` must be new, empty or an earlier rxkg output (checked before building);
    ``force`` writes beside a user's files without touching them.
    """
    target = Path(out or config.out)
    check_output_folder(target, force)
    result = build_graph(config.sources, policy=config.policy, progress=progress)  # type: ignore[arg-type]
    write_build(result, target, privacy, force=force)
    return result
