"""A trained people GNN as plain arrays: what serving needs, without torch.

Once trained, the graph encoder's work is done: every drug's representation and bias are fixed.
Scoring a person is then one weighted mean of drug vectors, one linear map, a specialty vector
and two activity terms (:class:`~recsys.people.model.PeopleGNN`), a few microseconds in NumPy.
:class:`PeopleScorer` holds those arrays, is what the recommender bundle stores (``.npz``, read
with ``allow_pickle=False``), and answers every question the model answers, for anyone: a
person is embedded from their drugs and specialty, never looked up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kg.errors import KGError
from kg.outputs import atomic_file

__all__ = ["PeopleScorer", "activity", "row_normalised", "specialties_of", "specialty_codes"]

#: Drug lists whose positions are kept (:meth:`PeopleScorer.positions`).
POSITIONS_KEPT = 8


@dataclass
class PeopleScorer:
    """The people GNN's fixed parts (shapes: ``d`` drugs, ``h`` dimensions, ``s`` specialties)."""

    drug_ids: pd.Index
    drug_vectors: np.ndarray  # (d, h)
    drug_bias: np.ndarray  # (d,)
    from_drugs: np.ndarray  # (h, h): a person is (mean of their drugs' vectors) @ from_drugs.T
    specialties: pd.Index
    specialty_vectors: np.ndarray  # (s + 1, h); row 0: no specialty
    activity_weight: np.ndarray  # (2,): log(1 + drugs), log(1 + claims)
    activity_bias: float
    #: The length every person's vector is scaled to (None: not normalised).
    person_norm: float | None = None
    #: Named constants of how these scores are combined with others (for the doctors' graph
    #: component: the means and spreads it standardises by), saved with the arrays.
    scale: dict[str, float] = field(default_factory=dict)
    #: drug lists -> their positions among the model's drugs, for lists scored again and again (a
    #: CF model's items, the recommender's drugs); a few kept, the oldest dropped first.
    _positions: dict[tuple[str, ...], np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def scores(self, uses: sp.spmatrix, item_ids: Sequence[str], specialty: Sequence[object] | None = None,
               columns: Sequence[str] | None = None) -> np.ndarray:
        """People x ``columns`` (every drug of the model by default; NaN for a drug it lacks):
        the score of people whose drugs are ``uses``' rows over ``item_ids`` (claims or records;
        drugs the model lacks are ignored) and whose specialties are ``specialty`` (None or
        unknown: none)."""
        uses = sp.csr_matrix(uses, dtype=np.float64)
        position = np.arange(len(self.drug_ids)) if columns is None else self.positions(columns)
        people = (self.weights(uses, item_ids) @ self.drug_vectors) @ self.from_drugs.T
        people += self.specialty_vectors[self.specialty_codes(specialty, uses.shape[0])]
        if self.person_norm is not None:
            people *= self.person_norm / np.maximum(np.linalg.norm(people, axis=1, keepdims=True), 1e-12)
        offset = activity(uses) @ self.activity_weight + self.activity_bias
        found = position[position >= 0]
        out = np.full((uses.shape[0], len(position)), np.nan)
        out[:, position >= 0] = people @ self.drug_vectors[found].T + self.drug_bias[found][None, :] + offset[:, None]
        return out

    def drug_parts(self, used: Sequence[str], drug_id: str, specialty: object | None = None) -> dict[str, float]:
        """How much each of ``used`` (one person's drugs, taken alike) adds to their score for
        ``drug_id``: the score's person-drug product is linear in the person's drugs (their mean,
        mapped, then scaled to the person's length), so it splits exactly into one part per drug
        (plus the specialty's part and the biases, not returned). Empty if the model lacks ``drug_id``."""
        target = self.positions([drug_id])[0]
        position = self.positions(used)
        known = [(d, p) for d, p in zip(used, position) if p >= 0]
        if target < 0 or not known:
            return {}
        mapped = self.drug_vectors[[p for _, p in known]] @ self.from_drugs.T / len(known)  # each drug's share
        person = mapped.sum(axis=0) + self.specialty_vectors[self.specialty_codes([specialty], 1)[0]]
        scale = 1.0 if self.person_norm is None else self.person_norm / max(float(np.linalg.norm(person)), 1e-12)
        parts = scale * (mapped @ self.drug_vectors[target])
        return {d: float(v) for (d, _), v in zip(known, parts)}

    def weights(self, uses: sp.spmatrix, item_ids: Sequence[str]) -> np.ndarray:
        """``uses`` (people x ``item_ids``) as row-normalised log weights over the model's drugs."""
        position = self.positions(item_ids)
        known = np.flatnonzero(position >= 0)
        onto = sp.csr_matrix((np.ones(len(known)), (known, position[known])), shape=(len(position), len(self.drug_ids)))
        return row_normalised(sp.csr_matrix(sp.csr_matrix(uses, dtype=np.float64) @ onto))

    def positions(self, drugs: Sequence[str]) -> np.ndarray:
        """Each of ``drugs``' position among the model's drugs (-1 for one it lacks)."""
        key = tuple(str(d) for d in drugs)
        found = self._positions.get(key)
        if found is None:
            found = self.drug_ids.get_indexer(list(key))
            if len(self._positions) >= POSITIONS_KEPT:
                self._positions.pop(next(iter(self._positions)))
            self._positions[key] = found
        return found

    def specialty_codes(self, specialty: Sequence[object] | None, n: int) -> np.ndarray:
        """Rows of :attr:`specialty_vectors`: 0 for none or unknown."""
        return specialty_codes(self.specialties, specialty, n)

    def save(self, path: str | Path) -> None:
        """One ``.npz`` file of arrays, written atomically."""
        arrays = {"drug_ids": np.asarray(self.drug_ids, dtype=str), "drug_vectors": self.drug_vectors,
                  "drug_bias": self.drug_bias, "from_drugs": self.from_drugs,
                  "specialties": np.asarray(self.specialties, dtype=str), "specialty_vectors": self.specialty_vectors,
                  "activity_weight": self.activity_weight, "activity_bias": np.array([self.activity_bias]),
                  "scale": np.array(json.dumps(self.scale, sort_keys=True)),
                  **({} if self.person_norm is None else {"person_norm": np.array([self.person_norm])})}

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)

        atomic_file(Path(path), write)

    @classmethod
    def load(cls, path: str | Path) -> "PeopleScorer":
        """Read a :meth:`save` file (no pickle), checking that its shapes agree."""
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                scorer = cls(pd.Index(data["drug_ids"].astype(str)), data["drug_vectors"], data["drug_bias"],
                             data["from_drugs"], pd.Index(data["specialties"].astype(str)),
                             data["specialty_vectors"], data["activity_weight"], float(data["activity_bias"][0]),
                             float(data["person_norm"][0]) if "person_norm" in data.files else None,
                             {str(k): float(v) for k, v in json.loads(str(data["scale"])).items()})
        except (OSError, ValueError, KeyError) as err:
            raise KGError(f"{path}: not a people GNN file ({err})") from None
        d, h = scorer.drug_vectors.shape
        if (scorer.drug_bias.shape != (d,) or len(scorer.drug_ids) != d or scorer.from_drugs.shape != (h, h)
                or scorer.specialty_vectors.shape != (len(scorer.specialties) + 1, h)
                or scorer.activity_weight.shape != (2,)):
            raise KGError(f"{path}: the people GNN's arrays do not fit together")
        return scorer


def specialties_of(claims) -> np.ndarray:
    """Each person's specialty (None where unknown, everywhere when the claims have none)."""
    if "specialty" not in claims.user_attributes.columns:
        return np.full(claims.shape[0], None, dtype=object)
    return claims.attribute("specialty")


def specialty_codes(specialties: pd.Index, specialty: Sequence[object] | None, n: int) -> np.ndarray:
    """Each of ``n`` people's row of the specialty vectors: 1 + its position in ``specialties``,
    0 for none or one the model does not know (``specialty`` None: nobody has one)."""
    if specialty is None:
        return np.zeros(n, dtype=np.int64)
    return np.asarray(specialties.get_indexer([s if isinstance(s, str) else "" for s in specialty]) + 1,
                      dtype=np.int64)


def activity(rows: sp.spmatrix) -> np.ndarray:
    """(n, 2): log(1 + number of drugs) and log(1 + total count) of each row."""
    rows = sp.csr_matrix(rows)
    drugs = np.diff(rows.indptr).astype(np.float64)
    total = np.asarray(rows.sum(axis=1), dtype=np.float64).ravel()
    return np.log1p(np.column_stack([drugs, np.maximum(total, 0.0)]))


def row_normalised(rows: sp.spmatrix) -> np.ndarray:
    """Dense log(1 + count) weights, each non-empty row summing to 1."""
    dense = np.log1p(np.maximum(sp.csr_matrix(rows).toarray(), 0.0))
    totals = dense.sum(axis=1, keepdims=True)
    return dense / np.where(totals > 0, totals, 1.0)
