"""Settings of the people GNN (no torch here: the recommender reads them without training)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PeopleGNNConfig", "MODES"]

#: Training modes (see ``PeopleGNNConfig.mode``).
MODES = ("full", "sampled")


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
    #: Every person's vector scaled to one learned length (see :class:`recsys.people.model.PeopleGNN`).
    #: Without it, the training seed decided whether the reverse question worked: on the cold
    #: splits of seeds 1 and 2, training seed 0 put prescribers of one drug first for every cold
    #: drug (Precision@100 0.068 and 0.029, AUROC 0.858 and 0.855) where seed 1 did not (0.80,
    #: 0.82); with it, 0.67 to 0.82 and AUROC 0.90 to 0.93 for both seeds, among-cold Recall@5
    #: 0.349 on average against 0.356 (docs/evaluation.md, "How the people GNN was chosen").
    normalise_people: bool = True
    #: "full": the encoder runs on the whole knowledge graph every step. "sampled": on a sampled
    #: neighbourhood of the drugs a step ranks, at most ``fanout[h]`` in-edges per node and
    #: relation at hop ``h`` (as the link GNN's sampled mode), so memory and time per step are
    #: bounded by the fanout, not by the graph; the exported model still reads the whole graph.
    mode: str = "full"
    fanout: tuple[int, ...] = (10, 10)
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.dim, self.num_layers, self.epochs, self.batch_size) <= 0 or self.lr <= 0:
            raise ValueError("people GNN: dim, layers, epochs, batch size and learning rate must be positive")
        if not 0.0 < self.mask_share < 1.0 or not 0.0 <= self.dropout < 1.0 or self.reverse_weight < 0:
            raise ValueError("people GNN: mask_share in (0, 1), dropout in [0, 1), reverse_weight >= 0")
        if self.mode not in MODES:
            raise ValueError(f"people GNN: mode must be one of {list(MODES)}, got {self.mode!r}")
        if not isinstance(self.fanout, (list, tuple)):
            raise ValueError(f"people GNN: fanout must be a list of positive integers, got {self.fanout!r}")
        object.__setattr__(self, "fanout", tuple(self.fanout))  # a TOML list arrives as a list
        sizes_ok = len(self.fanout) == self.num_layers or self.mode == "full"  # full mode never reads it
        if not sizes_ok or not all(isinstance(f, int) and f > 0 for f in self.fanout):
            raise ValueError(f"people GNN: fanout must be {self.num_layers} positive integers (one per layer), "
                             f"got {list(self.fanout)}")
