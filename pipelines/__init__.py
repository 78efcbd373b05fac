"""rxkg jobs: configuration, the stages (build, train, evaluate), the whole chain, the command line.

The top layer: may import :mod:`kg` and :mod:`recsys`; nothing in them imports it.
"""

from pipelines.build import run_build
from pipelines.config import BuildConfig, PipelineConfig, default_config, load_config
from pipelines.evaluation import EvaluateConfig, EvaluationResult, evaluate
from pipelines.run import RunResult, run
from pipelines.train import TrainConfig, run_train

__all__ = ["BuildConfig", "PipelineConfig", "TrainConfig", "EvaluateConfig", "default_config", "load_config",
           "run_build", "run_train", "evaluate", "EvaluationResult", "run", "RunResult"]
