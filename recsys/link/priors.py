"""The degree prior: rank drugs by how many diseases they are known to treat.

Deceptively strong on Hetionet (a few broad drugs, glucocorticoids first, treat many
diseases), so every model is reported beside it. Ties between drugs with the same
number of indications are broken by their total degree in the training graph, which
makes it the strongest form of the baseline rather than the weakest.
"""

from __future__ import annotations

import numpy as np

from recsys.link.adjacency import relation_matrices
from recsys.link.task import LinkTask
from recsys.link.scorer import LinkScorer

__all__ = ["DegreePrior"]


class DegreePrior(LinkScorer):
    """Score of a drug = its number of training indications (+ a tie-break < 1)."""

    name = "degree prior"

    def _fit(self, task: LinkTask) -> None:
        indications = np.bincount(task.train_pairs[:, 0], minlength=task.num_src).astype(np.float64)
        total = np.zeros(task.num_src)
        for metaedge, matrix in relation_matrices(task.train_graph, task.id_maps).items():
            if metaedge.src == task.relation.src:
                total += np.asarray(matrix.sum(axis=1)).ravel()
        tie_break = np.log1p(total) / (np.log1p(total).max() + 1.0)
        self.drug_scores = indications + tie_break

    def score_matrix(self, dst_index: np.ndarray) -> np.ndarray:
        self._fitted()
        return np.tile(self.drug_scores, (len(dst_index), 1))
