"""Settings of ``rxkg evaluate`` (the ``[evaluate]`` section of a TOML config)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from kg.errors import KGError
from pipelines.seeds import seed_problem
from pipelines.temporal import HISTORY_SHARE

__all__ = ["EvaluateConfig", "PROTOCOLS", "DISEASE_SPLITS", "DOCTOR_SPLITS"]

PROTOCOLS = ("disease", "doctor", "patient")
DISEASE_SPLITS = ("random", "zero_shot", "rephetio_random", "rephetio_zero_shot")
#: Published protocols (split R and split Z) a quick run leaves out: they repeat the full model set.
REPRODUCTION_SPLITS = ("rephetio_random", "rephetio_zero_shot")
#: Seen prescribers, unseen prescribers, and drugs nobody prescribes (:mod:`pipelines.evaluation.coldstart`).
DOCTOR_SPLITS = ("holdout", "unseen", "cold")
#: What a quick run's metapath models try: one penalty, and the feature family with doctors and
#: patients, which every full run and ``rxkg train`` on the shipped data chooses.
QUICK_METAPATH = {"penalties": (1e-2,), "families": ("with people",)}
#: The people GNN's epochs in a quick run.
QUICK_PEOPLE_EPOCHS = 3


@dataclass(frozen=True)
class EvaluateConfig:
    """Every knob of the evaluation; ``quick`` scales training down, never the protocol."""

    seed: int = 0
    quick: bool = False
    protocols: tuple[str, ...] = PROTOCOLS
    disease_splits: tuple[str, ...] = DISEASE_SPLITS
    doctor_splits: tuple[str, ...] = DOCTOR_SPLITS
    #: Cut-off of Recall@k and NDCG@k (doctors, patients).
    k: int = 10
    bootstrap: int = 1000
    #: Share of held-out indications (random split) or diseases (zero-shot) in validation and in test.
    disease_holdout: float = 0.15
    kge_epochs: int = 15
    #: Triples sampled per KGE epoch (the target relation's share is fixed by the model).
    kge_triples_per_epoch: int = 50_000
    gnn_epochs: int = 100
    #: Epochs of the people GNNs (the doctors' graph component, the patients' ``people_gnn``);
    #: None: ``rxkg train``'s setting.
    people_gnn_epochs: int | None = None
    #: Share of each patient's distinct medication start times that forms the history.
    patient_history_share: float = HISTORY_SHARE
    #: Share of time-split patients used for validation (the rest is test).
    patient_val_share: float = 0.3
    out: str = "build/report"

    def __post_init__(self) -> None:
        if seed_problem(self.seed):
            raise KGError(f"evaluate.{seed_problem(self.seed)}")
        for name, allowed in (("protocols", PROTOCOLS), ("disease_splits", DISEASE_SPLITS),
                              ("doctor_splits", DOCTOR_SPLITS)):
            value = tuple(getattr(self, name))
            object.__setattr__(self, name, value)
            unknown = [v for v in value if v not in allowed]
            if unknown:
                raise KGError(f"evaluate.{name}: unknown {unknown}; known: {list(allowed)}")
        if (min(self.k, self.kge_epochs, self.gnn_epochs, self.kge_triples_per_epoch,
                1 if self.people_gnn_epochs is None else self.people_gnn_epochs) <= 0
                or self.bootstrap < 0):
            raise KGError("evaluate: k, epochs and triples per epoch must be positive, bootstrap >= 0")
        for name in ("disease_holdout", "patient_history_share", "patient_val_share"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise KGError(f"evaluate.{name} must be in (0, 1), got {getattr(self, name)}")

    def train_config(self):
        """The :class:`~pipelines.train.TrainConfig` a protocol trains the deployed recommender
        with (``rxkg train``'s settings; quick mode tries one metapath penalty and only the
        feature family every full run keeps); a test trains a bundle with it to check that the
        evaluated hybrid is what the bundle deploys."""
        from pipelines.train import DEPLOYED_GNN, TrainConfig

        people = {} if self.people_gnn_epochs is None else {"epochs": self.people_gnn_epochs}
        return TrainConfig(seed=self.seed, gnn={**DEPLOYED_GNN, "epochs": self.gnn_epochs}, ablations=True,
                           people_gnn=people, patient_gnn=people,
                           **({"metapath_penalties": QUICK_METAPATH["penalties"],
                               "metapath_families": QUICK_METAPATH["families"]} if self.quick else {}))

    def effective(self) -> "EvaluateConfig":
        """The settings actually run: ``quick`` caps epochs and bootstrap resamples, leaves the
        alternative link models (shallow KGE, HeteroConv) to the full run and, unless the disease
        splits were named, skips the published-protocol reproductions (split R, split Z)."""
        if not self.quick:
            return self
        return replace(self, kge_epochs=min(self.kge_epochs, 1), gnn_epochs=min(self.gnn_epochs, 3),
                       people_gnn_epochs=min(self.people_gnn_epochs or QUICK_PEOPLE_EPOCHS, QUICK_PEOPLE_EPOCHS),
                       kge_triples_per_epoch=min(self.kge_triples_per_epoch, 20_000),
                       bootstrap=min(self.bootstrap, 200),
                       disease_splits=self.disease_splits if self.disease_splits != DISEASE_SPLITS else
                       tuple(s for s in DISEASE_SPLITS if s not in REPRODUCTION_SPLITS))
