"""rxkg jobs: configuration, the stages (build, train, evaluate), the whole chain, the command line.

The top layer: may import :mod:`kg` and :mod:`recsys`; nothing in them imports it. Names are
imported on first use, so ``rxkg recommend`` never loads the build or the evaluation code.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "run_build": "pipelines.build", "BuildConfig": "pipelines.config", "PipelineConfig": "pipelines.config",
    "default_config": "pipelines.config", "load_config": "pipelines.config",
    "EvaluateConfig": "pipelines.evaluation", "EvaluationResult": "pipelines.evaluation",
    "evaluate": "pipelines.evaluation", "RunResult": "pipelines.run", "run": "pipelines.run",
    "TrainConfig": "pipelines.train", "run_train": "pipelines.train",
}

__all__ = ["BuildConfig", "PipelineConfig", "TrainConfig", "EvaluateConfig", "default_config", "load_config",
           "run_build", "run_train", "evaluate", "EvaluationResult", "run", "RunResult"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pipelines' has no attribute {name!r}")
