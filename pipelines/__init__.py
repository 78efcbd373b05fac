"""rxkg jobs: configuration, graph build, and the command line."""

from pipelines.build import run_build
from pipelines.config import BuildConfig, PipelineConfig, default_config, load_config

__all__ = ["BuildConfig", "PipelineConfig", "default_config", "load_config", "run_build"]
