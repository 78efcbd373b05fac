"""Hyper-parameters of the GNN link predictor, validated on construction."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GNNConfig", "PRIORS"]

PRIORS = (None, "metapath")


@dataclass(frozen=True)
class GNNConfig:
    """Hyper-parameters of one GNN; every default measured on the shipped graph's validation split."""

    encoder: str = "rgcn"
    dim: int = 64
    num_layers: int = 2
    num_bases: int = 8
    dropout: float = 0.2
    lr: float = 0.01
    weight_decay: float = 0.0
    epochs: int = 100
    patience: int = 10
    supervision_fraction: float = 0.25
    aux_edges: int = 8192
    aux_negatives: int = 32
    aux_weight: float = 0.2
    mode: str = "full"
    #: Train for new diseases: supervise whole diseases (all their indications hidden
    #: from messages) and embed diseases from their neighbourhood only. ``None``
    #: follows the split (on for a zero-shot split), so training mimics testing.
    zero_shot: bool | None = None
    batch_size: int = 64
    fanout: tuple[int, ...] = (16, 8)
    #: ``"metapath"`` stacks the GNN on the metapath model's scores (see the module doc).
    prior: str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in ("full", "sampled"):
            raise ValueError(f"mode must be 'full' or 'sampled', got {self.mode!r}")
        if not 0.0 < self.supervision_fraction <= 1.0:
            raise ValueError(f"supervision_fraction must be in (0, 1], got {self.supervision_fraction}")
        if self.epochs <= 0 or self.dim <= 0:
            raise ValueError("epochs and dim must be positive")
        if self.prior not in PRIORS:
            raise ValueError(f"prior must be one of {PRIORS}, got {self.prior!r}")
