"""What every trained link model shares: a training log and early stopping on validation MRR."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from torch import nn

__all__ = ["TrainingLog", "EarlyStopping"]


@dataclass
class TrainingLog:
    """Per-epoch record of a training run, kept on the model for reports and bundles."""

    epochs: int = 0
    best_epoch: int = 0
    best_val_mrr: float = float("-inf")
    epoch_seconds: list[float] = field(default_factory=list)
    val_mrr: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)


class EarlyStopping:
    """Keeps the weights of the best validation epoch; stops after ``patience`` epochs without gain."""

    def __init__(self, module: nn.Module, patience: int, log: TrainingLog) -> None:
        self.module, self.patience, self.log = module, patience, log
        self._best_state: dict | None = None
        self._stale = 0

    def record(self, val_mrr: float, loss: float, seconds: float) -> bool:
        """Log one epoch; ``True`` when training should stop."""
        log = self.log
        log.epoch_seconds.append(seconds)
        log.loss.append(loss)
        log.val_mrr.append(val_mrr)
        log.epochs += 1
        if val_mrr > log.best_val_mrr:
            log.best_val_mrr, log.best_epoch, self._stale = val_mrr, log.epochs, 0
            self._best_state = copy.deepcopy(self.module.state_dict())
        else:
            self._stale += 1
        return self._stale >= self.patience

    def record_without_validation(self, loss: float, seconds: float) -> None:
        """Log one epoch of a run that has nothing to validate on (it never stops early)."""
        log = self.log
        log.epoch_seconds.append(seconds)
        log.loss.append(loss)
        log.val_mrr.append(float("nan"))
        log.epochs += 1
        log.best_epoch = log.epochs

    def restore_best(self) -> None:
        if self._best_state is not None:
            self.module.load_state_dict(self._best_state)
