"""A fitted metapath model's score, split by metapath: what an explanation may call its reasons.

The metapath model scores a (drug, disease) pair as a logistic regression over scaled DWPC
features, one per metapath, plus the ends' degrees and a bias. The part a metapath adds to
a pair's score, beyond what a pair without any such path gets, is

    weight_j * (f_j(DWPC_j(pair)) - f_j(0))

with ``f_j`` the feature's fitted scaling (arcsinh of the count over its scale, capped,
standardised). :class:`MetapathTerms` keeps exactly what that needs (the metapaths, their
weights and scaling), in plain arrays a recommender bundle stores; the path walker of
:mod:`recsys.recommender.explain` supplies the DWPC of one pair, so the paths shown first
are those the model relies on most for that pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kg.errors import KGError
from recsys.link.adjacency import MetaEdge
from recsys.link.dwpc import Metapath

__all__ = ["MetapathTerms"]

#: Separators of a metapath written as text: ``src|rel|dst`` metaedges joined by ``;``.
_FIELD, _STEP = "|", ";"


@dataclass(frozen=True)
class MetapathTerms:
    """The path features of a fitted metapath model: each metapath (drug -> disease, as fitted),
    its weight and its scaling; ``damping`` is the DWPC degree damping the features used."""

    paths: tuple[Metapath, ...]
    weights: np.ndarray
    scale: np.ndarray
    cap: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    damping: float

    def __post_init__(self) -> None:
        n = len(self.paths)
        for name in ("weights", "scale", "cap", "mean", "std"):
            if len(getattr(self, name)) != n:
                raise KGError(f"metapath terms: {name} has {len(getattr(self, name))} entries for {n} metapaths")

    @classmethod
    def of(cls, model) -> "MetapathTerms":
        """The path terms of a fitted :class:`~recsys.link.metapath.MetapathModel`."""
        n = len(model.paths)  # path features come first, then the degrees
        scaler = model.scaler
        return cls(tuple(model.paths), np.asarray(model.weights[:n], dtype=np.float64), scaler.scale[:n].copy(),
                   scaler.cap[:n].copy(), scaler.mean[:n].copy(), scaler.std[:n].copy(), float(model.damping))

    def contributions(self, dwpc: np.ndarray) -> np.ndarray:
        """What each metapath adds to a pair's score, given the pair's DWPC per metapath."""
        dwpc = np.asarray(dwpc, dtype=np.float64)
        return self.weights * (self._feature(dwpc) - self._feature(np.zeros_like(dwpc)))

    def _feature(self, dwpc: np.ndarray) -> np.ndarray:
        return (np.minimum(np.arcsinh(dwpc / self.scale), self.cap) - self.mean) / self.std

    # ----------------------------------------------------------- persistence
    def save(self, path: Path) -> None:
        """Plain arrays in an ``.npz``: the metapaths as text, the numbers as float64."""
        text = np.array([_STEP.join(_FIELD.join(e) for e in p) for p in self.paths], dtype=str)
        with open(path, "wb") as handle:
            np.savez(handle, paths=text, weights=self.weights, scale=self.scale, cap=self.cap, mean=self.mean,
                     std=self.std, damping=np.array([self.damping]))

    @classmethod
    def load(cls, path: Path) -> "MetapathTerms":
        """What :meth:`save` wrote (no pickle); a malformed metapath is named in the error."""
        with np.load(path, allow_pickle=False) as data:
            paths = []
            for text in data["paths"]:
                steps = [step.split(_FIELD) for step in str(text).split(_STEP)]
                if any(len(s) != 3 for s in steps):
                    raise KGError(f"{path}: malformed metapath {str(text)!r} (expected src|rel|dst steps)")
                paths.append(tuple(MetaEdge(*s) for s in steps))
            return cls(tuple(paths), data["weights"], data["scale"], data["cap"], data["mean"], data["std"],
                       float(data["damping"][0]))
