"""Offline evaluation: every protocol of DESIGN.md, every baseline, one report."""

from pipelines.evaluation.config import EvaluateConfig
from pipelines.evaluation.results import ModelResult, ProtocolResult
from pipelines.evaluation.run import EvaluationResult, evaluate

__all__ = ["EvaluateConfig", "EvaluationResult", "ModelResult", "ProtocolResult", "evaluate"]
