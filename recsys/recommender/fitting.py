"""Blend weights chosen on validation pairs: the targets a :class:`~recsys.recommender.ranking.Ranker` fits on."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from kg.errors import KGError
from recsys.blend import BlendChoice, select_blend

__all__ = ["choose_blend"]


def choose_blend(parts: Mapping[str, np.ndarray], drug_index: pd.Index, entities: Sequence[str],
                 pairs: Sequence[tuple[str, str]], known: Sequence[tuple[str, str]],
                 penalty: float, reference: str | None = None, seed: int = 0) -> BlendChoice:
    """The blend of ``parts`` (entity rows in ``entities`` order) that best ranks the validation ``pairs``.

    ``known`` training pairs are neither positives nor negatives; a ``reference`` component
    is replaced only with bootstrap support (:func:`recsys.blend.select_blend`).
    """
    row = {e: i for i, e in enumerate(entities)}
    columns = drug_index.get_indexer([d for _, d in pairs])
    if (columns < 0).any():
        raise KGError(f"validation pairs name drugs outside the recommender: {pairs[int(np.argmin(columns))]}")
    positives = np.zeros((len(entities), len(drug_index)), dtype=bool)
    positives[[row[e] for e, _ in pairs], columns] = True
    usable = np.ones_like(positives)
    known_rows = [(row[e], d) for e, d in known if e in row]
    if known_rows:
        known_columns = drug_index.get_indexer([d for _, d in known_rows])
        found = known_columns >= 0
        usable[np.array([r for r, _ in known_rows])[found], known_columns[found]] = False
    usable |= positives
    return select_blend(dict(parts), positives, usable, penalty, reference=reference, seed=seed)
