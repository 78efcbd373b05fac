"""What a protocol returns: per-model metric means with bootstrap intervals, and split facts."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from pipelines.evaluation.config import EvaluateConfig
from recsys.metrics import bootstrap_interval

__all__ = ["ModelResult", "ProtocolResult", "EvaluationResult", "summarise", "split_result", "Stopwatch"]

#: Model roles, in table order: priors and simple heuristics, learned single models, the blend,
#: the blend with components left out.
ROLES = ("baseline", "model", "hybrid", "ablation")


@dataclass
class ModelResult:
    """One model on one protocol's test part (scored once)."""

    model: str
    role: str
    means: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    entities: int
    seconds: float = float("nan")
    val: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    #: Per-entity metric values (for breakdowns and plots; not written to the report).
    per_entity: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    #: Ranks of every held-out item (disease protocols; plotted as a distribution).
    ranks: np.ndarray | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "role": self.role, "entities": self.entities,
                               "seconds": round(self.seconds, 2)}
        for name, value in self.means.items():
            lo, hi = self.intervals.get(name, (float("nan"), float("nan")))
            out[name] = {"mean": _round(value), "ci95": [_round(lo), _round(hi)]}
        if self.val:
            out["val"] = {k: _round(v) for k, v in self.val.items()}
        if self.params:
            out["params"] = self.params
        if self.ranks is not None and len(self.ranks):
            q = np.quantile(self.ranks, [0.25, 0.5, 0.75])
            out["rank_quartiles"] = [round(float(v), 1) for v in q]
        return out


@dataclass
class ProtocolResult:
    """Every model of one protocol, evaluated on one shared split."""

    name: str
    title: str
    metrics: tuple[str, ...]
    models: list[ModelResult] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    skipped: str | None = None

    def model(self, name: str) -> ModelResult:
        for m in self.models:
            if m.model == name:
                return m
        raise KeyError(f"{self.name} has no model {name!r}")

    def paired_differences(self, n_resamples: int, seed: int = 0) -> dict[str, dict[str, dict[str, Any]]]:
        """The hybrid minus every other model, per test entity, on the first two metrics: mean and
        a paired 95% bootstrap interval (the same entities resampled for both models), so "above
        zero" can be read off where two separate intervals would overlap."""
        hybrid = next((m for m in self.models if m.role == "hybrid"), None)
        if hybrid is None or not hybrid.per_entity or n_resamples <= 0:
            return {}
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for other in self.models:
            if other is hybrid:
                continue
            rows = {}
            for metric in self.metrics[:2]:
                a, b = hybrid.per_entity.get(metric), other.per_entity.get(metric)
                if a is None or b is None or len(a) != len(b):
                    continue
                diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
                lo, hi = bootstrap_interval(diff, n_resamples, seed=seed)
                rows[metric] = {"mean": _round(float(diff.mean())), "ci95": [_round(lo), _round(hi)]}
            if rows:
                out[other.model] = rows
        return out

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"protocol": self.name, "title": self.title, "seconds": round(self.seconds, 1)}
        if self.skipped:
            out["skipped"] = self.skipped
            return out
        return out | {"metrics": list(self.metrics), "info": self.info,
                      "models": [m.as_dict() for m in self.models]}


def summarise(model: str, role: str, per_entity: Mapping[str, np.ndarray], n_resamples: int, seed: int,
              **extra: Any) -> ModelResult:
    """Means and 95% percentile-bootstrap intervals over entities (NaN entries left out per metric)."""
    means, intervals = {}, {}
    entities = 0
    for name, values in per_entity.items():
        values = np.asarray(values, dtype=np.float64)
        values = values[~np.isnan(values)]
        entities = max(entities, values.size)
        means[name] = float(values.mean()) if values.size else float("nan")
        intervals[name] = bootstrap_interval(values, n_resamples, seed=seed) if n_resamples else (means[name],) * 2
    return ModelResult(model, role, means, intervals, entities,
                       per_entity={k: np.asarray(v) for k, v in per_entity.items()}, **extra)


def split_result(name: str, role: str, scores: np.ndarray, split, config: EvaluateConfig, **extra: Any) -> ModelResult:
    """One row of a CF-split protocol: ``scores`` (the split's evaluated users x items) against its
    test part, Recall@k, NDCG@k and MRR with their intervals."""
    from recsys.cf.evaluate import split_metrics

    return summarise(name, role, split_metrics(scores, split, config.k), config.bootstrap, config.seed, **extra)


def by_history(models: list[ModelResult], known: np.ndarray, bins: tuple[int, ...], metric: str) -> list[dict]:
    """``metric`` of every model per band of how many items each test entity already has
    (``known``; bands split at ``bins``, e.g. (3, 10, 30): 1-3, 4-10, 11-30, 31+): where sparse
    users stand. Bands without entities are left out."""
    edges = [0, *bins, np.inf]
    out = []
    for low, high in zip(edges[:-1], edges[1:]):
        mask = (known > low) & (known <= high)
        if mask.any():
            label = f"{int(low) + 1}+" if np.isinf(high) else (f"{int(high)}" if high == low + 1 else
                                                              f"{int(low) + 1}-{int(high)}")
            out.append({"known": label, "entities": int(mask.sum()),
                        **{m.model: round(float(np.nanmean(m.per_entity[metric][mask])), 4) for m in models}})
    return out


class Stopwatch:
    """Seconds since the last call: ``lap()``; ``timed(fn)`` returns (result, seconds)."""

    def __init__(self) -> None:
        self._last = time.perf_counter()

    def lap(self) -> float:
        now = time.perf_counter()
        seconds, self._last = now - self._last, now
        return seconds

    @staticmethod
    def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
        start = time.perf_counter()
        value = fn()
        return value, time.perf_counter() - start


def _round(value: float) -> float | None:
    return None if value is None or np.isnan(value) else round(float(value), 4)


@dataclass
class EvaluationResult:
    """Every protocol's result, the settings that produced them, and their provenance."""

    config: EvaluateConfig
    protocols: list[ProtocolResult]
    provenance: dict[str, Any]
    seconds: float
    paths: dict[str, Path] = field(default_factory=dict)

    def protocol(self, name: str) -> ProtocolResult:
        for p in self.protocols:
            if p.name == name:
                return p
        raise KeyError(f"no protocol {name!r}; have {[p.name for p in self.protocols]}")

    def as_dict(self) -> dict[str, Any]:
        return {"format": "rxkg-evaluation/1", "config": asdict(self.config),
                "effective_settings": asdict(self.config.effective()), "seconds": round(self.seconds, 1),
                "provenance": self.provenance, "protocols": [p.as_dict() for p in self.protocols]}

    def summary(self) -> str:
        done = [p for p in self.protocols if not p.skipped]
        parts = []
        for p in done:
            hybrid = next((m for m in p.models if m.role == "hybrid"), None)
            if hybrid is not None:
                metric = p.metrics[0]
                parts.append(f"{p.name} {metric} {hybrid.means[metric]:.3f}")
        skipped = len(self.protocols) - len(done)
        where = f" -> {self.paths['markdown']}" if "markdown" in self.paths else ""
        return (f"rxkg evaluate: {len(done)} protocols in {self.seconds:.0f}s"
                + (f" ({skipped} skipped)" if skipped else "") + (f"; hybrid {', '.join(parts)}" if parts else "")
                + where)
