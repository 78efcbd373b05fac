"""Settings of the people GNN (no torch here: the recommender reads them without training)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PeopleGNNConfig"]


@dataclass(frozen=True)
class PeopleGNNConfig:
    """Hyper-parameters, chosen on the drug cold-start splits of seeds 1 and 2 (never the evaluated
    seed 0), first with early stopping on a cold split of the training drugs (docs/evaluation.md,
    "How the people GNN was chosen"): R-GCN over HeteroConv-SAGE (among-cold Recall@5 0.29 against
    0.23 on seed 1), two layers over one (0.27), learning rate 0.003 over 0.01; the best epochs (4
    to 18) led to a fixed 12, as good as early stopping on both seeds and steadier on the reverse
    question."""

    dim: int = 64
    encoder: str = "rgcn"
    num_layers: int = 2
    dropout: float = 0.2
    epochs: int = 12
    lr: float = 0.003
    batch_size: int = 2048
    #: Share of each person's drugs hidden per step as the targets to predict.
    mask_share: float = 0.2
    #: Weight of the reverse loss: each hidden drug's likelihood over the step's people, so that
    #: scores also rank people for a drug (which prescribers should hear of it), not only drugs
    #: for a person (seed 2's reverse AUROC: 0.75 without it, 0.85 with it, 0.89 with the activity bias).
    reverse_weight: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.dim, self.num_layers, self.epochs, self.batch_size) <= 0 or self.lr <= 0:
            raise ValueError("people GNN: dim, layers, epochs, batch size and learning rate must be positive")
        if not 0.0 < self.mask_share < 1.0 or not 0.0 <= self.dropout < 1.0 or self.reverse_weight < 0:
            raise ValueError("people GNN: mask_share in (0, 1), dropout in [0, 1), reverse_weight >= 0")
