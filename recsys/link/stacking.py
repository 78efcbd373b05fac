"""The deployed disease -> drug scorer: component scores blended with weights fitted on validation.

Each component (the GNN, the metapath model, ...) is fitted on the training split.
Their scores are standardised within each disease's row (so a component's scale
does not matter, only how it orders drugs) and combined by a logistic regression
fitted on the *validation* pairs: validation indications against every drug not
known to treat the disease. The test split is never read.
"""

from __future__ import annotations

import numpy as np

from recsys.blend import blend_scores, fit_blend
from recsys.link.task import LinkTask
from recsys.link.scorer import LinkScorer

__all__ = ["StackedScorer"]


class StackedScorer(LinkScorer):
    """Blend of already-fitted components; ``fit`` reads only the validation split."""

    def __init__(self, components: list[LinkScorer], penalty: float = 1e-2) -> None:
        super().__init__()
        if not components:
            raise ValueError("a stacked scorer needs at least one component")
        self.components = components
        self.penalty = penalty
        self.name = " + ".join(c.name for c in components) + " (blend fitted on validation)"

    def _fit(self, task: LinkTask) -> None:
        diseases = np.unique(task.val_pairs[:, 1])
        features = [c.score_matrix(diseases) for c in self.components]
        labels = np.zeros((len(diseases), task.num_src), dtype=bool)
        keep = np.ones_like(labels, dtype=bool)
        row_of = {int(d): i for i, d in enumerate(diseases)}
        for drug, disease in task.val_pairs:
            labels[row_of[int(disease)], drug] = True
        for drug, disease in task.train_pairs:  # training indications are neither positive nor negative here
            if int(disease) in row_of:
                keep[row_of[int(disease)], drug] = False
        self.weights, self.bias = fit_blend(features, labels, keep, self.penalty)

    def score_matrix(self, dst_index: np.ndarray) -> np.ndarray:
        self._fitted()
        return blend_scores([c.score_matrix(dst_index) for c in self.components], self.weights, self.bias)

    def blend_weights(self) -> dict[str, float]:
        return {c.name: float(w) for c, w in zip(self.components, self.weights)}
