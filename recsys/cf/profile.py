"""Doctor profiles: therapeutic areas, how a prescriber differs from their specialty, and peers.

A profile is data (dataclasses with ``to_dict``), built from the claim counts: a drug's
claims are split evenly over the ATC areas it belongs to at each level, so a doctor's
shares at one level sum to the classified part of their claims. The specialty average
is the mean share over the specialty's prescribers, each weighted equally.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Mapping

import numpy as np
import scipy.sparse as sp

from kg.errors import KGError
from kg.atc import ATC_LEVELS, ATC_MAIN_GROUPS
from recsys.cf.base import CFRecommender, cosine_rows
from recsys.cf.interactions import Interactions

__all__ = ["AreaShare", "Peer", "DoctorProfile", "profile_doctor"]


@dataclass(frozen=True)
class AreaShare:
    """Share of a prescriber's claims in one ATC area, beside their specialty's average."""

    level: int
    code: str
    name: str
    share: float
    specialty_share: float

    @property
    def difference(self) -> float:
        return self.share - self.specialty_share


@dataclass(frozen=True)
class Peer:
    doctor_id: str
    similarity: float
    specialty: str | None
    shared_drugs: int


@dataclass(frozen=True)
class DoctorProfile:
    """What a prescriber prescribes, relative to their specialty, and who prescribes alike."""

    doctor_id: str
    specialty: str | None
    state: str | None
    n_drugs: int
    total_claims: float
    specialty_size: int
    top_drugs: list[tuple[str, str, float]]  # (drug id, name, share of claims)
    areas: dict[int, list[AreaShare]]  # per ATC level, largest share first
    distinctive: list[AreaShare]  # level 1-3 areas furthest from the specialty average
    unclassified_share: float  # claims on drugs without an ATC code
    peers: list[Peer] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["areas"] = {str(level): [_area_dict(a) for a in areas] for level, areas in self.areas.items()}
        out["distinctive"] = [_area_dict(a) for a in self.distinctive]
        return out

    def text(self) -> str:
        """A few readable lines, e.g. for the CLI."""
        lines = [f"{self.doctor_id} ({self.specialty or 'specialty unknown'}, {self.state or '?'}): "
                 f"{self.n_drugs} drugs, {self.total_claims:,.0f} claims"]
        top = ", ".join(f"{a.name} {a.share:.0%}" for a in self.areas.get(1, [])[:3])
        lines.append(f"  main areas: {top}")
        if self.distinctive:
            lines.append("  vs specialty: " + ", ".join(
                f"{a.code} {a.difference:+.0%}" for a in self.distinctive[:3]))
        if self.peers:
            lines.append("  peers: " + ", ".join(f"{p.doctor_id} ({p.similarity:.2f})" for p in self.peers[:3]))
        return "\n".join(lines)


def _area_dict(area: AreaShare) -> dict[str, object]:
    return {**asdict(area), "difference": area.difference}


def _area_matrix(item_ids: np.ndarray, atc: Mapping[str, list[str]],
                 level: int) -> tuple[sp.csr_matrix, list[str]]:
    """(items x areas) with each drug's weight split evenly over its areas at ``level``."""
    width = ATC_LEVELS[level]
    rows, labels = [], []
    for i, drug in enumerate(item_ids):
        areas = sorted({code[:width] for code in atc.get(drug, [])})
        rows.extend([i] * len(areas))
        labels.extend(areas)
    vocabulary = sorted(set(labels))
    column = {a: j for j, a in enumerate(vocabulary)}
    counts = np.bincount(rows, minlength=len(item_ids)) if rows else np.zeros(len(item_ids))
    values = [1.0 / counts[r] for r in rows]
    matrix = sp.csr_matrix((values, (rows, [column[a] for a in labels])),
                           shape=(len(item_ids), len(vocabulary)))
    return matrix, vocabulary


def _shares(matrix: sp.csr_matrix, areas: sp.csr_matrix) -> np.ndarray:
    totals = np.asarray(matrix.sum(axis=1)).ravel()
    return (matrix @ areas).toarray() / np.maximum(totals, 1e-12)[:, None]


def profile_doctor(doctor_id: str, interactions: Interactions, atc: Mapping[str, list[str]],
                   model: CFRecommender | None = None, drug_names: Mapping[str, str] | None = None,
                   top: int = 5, peers: int = 5) -> DoctorProfile:
    """Profile one prescriber of ``interactions`` (doctor x drug claim counts).

    Parameters
    ----------
    atc
        ATC codes per drug id (:func:`kg.atc.drug_atc_codes`).
    model
        A fitted CF model over the same doctors; its ``similar_users`` picks the peers.
        Without one, peers are the nearest doctors by cosine of log claim counts.

    >>> profile_doctor("doctor:NPI:1003000126", doctor_drug_interactions(graph),
    ...                drug_atc_codes(graph)).text()                      # doctest: +SKIP
    """
    if top <= 0 or peers < 0:
        raise KGError("top must be positive and peers non-negative")
    row = int(interactions.user_index([doctor_id])[0])
    matrix = interactions.matrix
    names = drug_names or {}
    specialty = _attribute(interactions, "specialty", row)
    state = _attribute(interactions, "state", row)
    cohort = (np.flatnonzero(interactions.attribute("specialty") == specialty)
              if specialty is not None else np.arange(interactions.shape[0]))

    own = matrix[row]
    total = float(own.sum())
    order = np.argsort(-own.data, kind="stable")[:top]
    top_drugs = [(str(interactions.item_ids[own.indices[i]]),
                  names.get(str(interactions.item_ids[own.indices[i]]), ""),
                  float(own.data[i] / total)) for i in order]

    areas: dict[int, list[AreaShare]] = {}
    everything: list[AreaShare] = []
    classified = 0.0
    for level in ATC_LEVELS:
        area_matrix, vocabulary = _area_matrix(interactions.item_ids, atc, level)
        mine = _shares(own, area_matrix)[0]
        theirs = _shares(matrix[cohort], area_matrix).mean(axis=0)
        found = [AreaShare(level, code, ATC_MAIN_GROUPS.get(code, code) if level == 1 else code,
                           float(mine[j]), float(theirs[j]))
                 for j, code in enumerate(vocabulary) if mine[j] > 0 or theirs[j] > 0]
        areas[level] = sorted((a for a in found if a.share > 0), key=lambda a: -a.share)[:top]
        everything.extend(found)
        if level == 1:
            classified = float(mine.sum())
    distinctive = sorted(everything, key=lambda a: -abs(a.difference))[:top]

    return DoctorProfile(doctor_id=doctor_id, specialty=specialty, state=state,
                         n_drugs=int(own.nnz), total_claims=total, specialty_size=len(cohort),
                         top_drugs=top_drugs, areas=areas, distinctive=distinctive,
                         unclassified_share=max(0.0, 1.0 - classified),
                         peers=_peers(interactions, row, model, peers) if peers else [])


def _peers(interactions: Interactions, row: int, model: CFRecommender | None, k: int) -> list[Peer]:
    doctor_id = interactions.user_ids[row]
    if model is not None:
        ids, sims = model.similar_users([doctor_id], k)
        ids, sims = ids[0], sims[0]
    else:
        weights = interactions.matrix.copy()
        weights.data = np.log1p(weights.data)
        sims_all = cosine_rows(weights, np.array([row]))[0]
        sims_all[row] = -np.inf
        best = np.argsort(-sims_all, kind="stable")[:k]
        ids, sims = interactions.user_ids[best], sims_all[best]
    mine = set(interactions.matrix[row].indices)
    positions = interactions.user_index(list(ids))
    specialties = interactions.attribute("specialty") if "specialty" in interactions.user_attributes else None
    return [Peer(str(i), float(s), None if specialties is None else specialties[p],
                 len(mine & set(interactions.matrix[p].indices)))
            for i, s, p in zip(ids, sims, positions)]


def _attribute(interactions: Interactions, name: str, row: int) -> str | None:
    if name not in interactions.user_attributes.columns:
        return None
    return interactions.attribute(name)[row]
