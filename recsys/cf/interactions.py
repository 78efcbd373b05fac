"""Who prescribes or takes what, as a sparse user x item matrix that carries its ids.

:class:`Interactions` is the input of every collaborative-filtering model: rows are
users (doctors or patients), columns items (drugs), values the raw strength of the
interaction (claim counts, days on a drug). Confidence transforms (log1p, BM25) are
the models' business, so the raw numbers stay available for profiles and updates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kg.errors import KGError
from kg.graph import KnowledgeGraph
from kg.schema import EdgeType

__all__ = ["Interactions", "doctor_drug_interactions", "patient_drug_interactions",
           "PRESCRIBES", "TAKES"]

PRESCRIBES = EdgeType("doctor", "prescribes", "drug")
TAKES = EdgeType("patient", "takes", "drug")


@dataclass(frozen=True)
class Interactions:
    """A users x items matrix of interaction strengths with the ids of its rows and columns.

    Parameters
    ----------
    matrix
        CSR matrix (n_users, n_items), non-negative; an explicit entry is an interaction.
    user_ids, item_ids
        Node ids of the rows and columns, unique.
    user_attributes
        Per-user columns (e.g. ``specialty``, ``state``), aligned with ``user_ids``.

    Examples
    --------
    >>> inter = Interactions.from_triples(["doctor:a", "doctor:a", "doctor:b"],
    ...                                   ["drug:x", "drug:y", "drug:x"], [3, 1, 2])
    >>> inter.shape, inter.items_of("doctor:a")
    ((2, 2), {'drug:x': 3.0, 'drug:y': 1.0})
    """

    matrix: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray
    user_attributes: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __post_init__(self) -> None:
        matrix = sp.csr_matrix(self.matrix, dtype=np.float64)
        matrix.sum_duplicates()
        matrix.eliminate_zeros()
        matrix.sort_indices()
        object.__setattr__(self, "matrix", matrix)
        object.__setattr__(self, "user_ids", np.asarray(self.user_ids, dtype=object))
        object.__setattr__(self, "item_ids", np.asarray(self.item_ids, dtype=object))
        attributes = self.user_attributes
        if attributes is None or attributes.empty and len(attributes.columns) == 0:
            attributes = pd.DataFrame(index=pd.RangeIndex(len(self.user_ids)))
        object.__setattr__(self, "user_attributes", attributes.reset_index(drop=True))
        if matrix.shape != (len(self.user_ids), len(self.item_ids)):
            raise KGError(f"interaction matrix {matrix.shape} does not match "
                          f"{len(self.user_ids)} user ids x {len(self.item_ids)} item ids")
        if len(self.user_attributes) != len(self.user_ids):
            raise KGError(f"{len(self.user_attributes)} rows of user attributes for {len(self.user_ids)} users")
        for kind, ids in (("user", self.user_ids), ("item", self.item_ids)):
            if len(pd.unique(ids)) != len(ids):
                raise KGError(f"duplicate {kind} ids in interactions")
        if matrix.nnz and matrix.data.min() < 0:
            raise KGError("interaction strengths must be non-negative")

    # ------------------------------------------------------------ construction
    @classmethod
    def from_triples(cls, users: Sequence[str], items: Sequence[str],
                     weights: Sequence[float] | None = None,
                     item_ids: Sequence[str] | None = None,
                     user_attributes: pd.DataFrame | None = None) -> "Interactions":
        """Build from parallel (user, item, weight) sequences; repeated pairs add up.

        ``item_ids`` fixes the column order (and may include items nobody has used yet);
        ``user_attributes`` is indexed by user id.
        """
        users = np.asarray(users, dtype=object)
        items = np.asarray(items, dtype=object)
        weights = np.ones(len(users)) if weights is None else np.asarray(weights, dtype=np.float64)
        if not len(users) == len(items) == len(weights):
            raise KGError("users, items and weights differ in length")
        bad = ~np.isfinite(weights) | (weights < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise KGError(f"{int(bad.sum())} interactions have a negative or missing weight, "
                          f"first: {users[i]} -> {items[i]} ({weights[i]})")
        user_ids = pd.unique(users)
        item_ids = pd.unique(items) if item_ids is None else np.asarray(item_ids, dtype=object)
        rows = pd.Index(user_ids).get_indexer(users)
        cols = pd.Index(item_ids).get_indexer(items)
        if (cols < 0).any():
            missing = sorted(set(items[cols < 0]))
            raise KGError(f"{len(missing)} items are not in item_ids, e.g. {missing[:3]}")
        matrix = sp.csr_matrix((weights, (rows, cols)), shape=(len(user_ids), len(item_ids)))
        attributes = None
        if user_attributes is not None:
            attributes = user_attributes.reindex(user_ids)
        return cls(matrix, user_ids, item_ids, attributes if attributes is not None else pd.DataFrame())

    # ------------------------------------------------------------------ access
    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape

    @property
    def nnz(self) -> int:
        return int(self.matrix.nnz)

    @cached_property
    def _user_lookup(self) -> pd.Index:
        return pd.Index(self.user_ids)  # built once: 25k ids take milliseconds per lookup otherwise

    @cached_property
    def _item_lookup(self) -> pd.Index:
        return pd.Index(self.item_ids)

    def has_user(self, user_id: str) -> bool:
        return user_id in self._user_lookup

    def has_item(self, item_id: str) -> bool:
        return item_id in self._item_lookup

    def user_index(self, user_ids: Iterable[str]) -> np.ndarray:
        """Row positions of ``user_ids``; raises :class:`KGError` naming unknown ids."""
        return _positions(self._user_lookup, user_ids, "user")

    def item_index(self, item_ids: Iterable[str]) -> np.ndarray:
        """Column positions of ``item_ids``; raises :class:`KGError` naming unknown ids."""
        return _positions(self._item_lookup, item_ids, "item")

    def items_of(self, user_id: str) -> dict[str, float]:
        """The user's items and strengths."""
        row = self.matrix[self.user_index([user_id])[0]]
        return {str(self.item_ids[j]): float(v) for j, v in zip(row.indices, row.data)}

    def attribute(self, name: str) -> np.ndarray:
        """One per-user attribute column (missing values as ``None``)."""
        if name not in self.user_attributes.columns:
            raise KGError(f"interactions have no user attribute {name!r} "
                          f"(have: {sorted(self.user_attributes.columns)})")
        values = self.user_attributes[name].astype(object)
        return values.where(values.notna(), None).to_numpy(dtype=object)

    # ------------------------------------------------------------ derivation
    def with_matrix(self, matrix: sp.spmatrix) -> "Interactions":
        """Same users, items and attributes, other strengths (e.g. a split's training part)."""
        return Interactions(sp.csr_matrix(matrix), self.user_ids, self.item_ids, self.user_attributes)

    def select_users(self, rows: np.ndarray) -> "Interactions":
        """The interactions of the users at positions (or boolean mask) ``rows``."""
        rows = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows, dtype=np.int64)
        return Interactions(self.matrix[rows], self.user_ids[rows], self.item_ids,
                            self.user_attributes.iloc[rows])

    def rows_for(self, histories: Sequence[Mapping[str, float] | Iterable[str]],
                 ignore_unknown: bool = False) -> tuple[sp.csr_matrix, list[list[str]]]:
        """A CSR matrix over this item space for new users' histories.

        A history is a mapping ``{item_id: strength}`` or a plain iterable of item ids
        (strength 1). Items outside the space raise :class:`KGError` unless
        ``ignore_unknown``; either way the unknown ids of each history come back.
        """
        column = {item: j for j, item in enumerate(self.item_ids)}
        rows, cols, vals = [], [], []
        unknown: list[list[str]] = []
        for r, history in enumerate(histories):
            pairs = history.items() if isinstance(history, Mapping) else ((h, 1.0) for h in history)
            missing = []
            for item, strength in pairs:
                j = column.get(item)
                if j is None:
                    missing.append(str(item))
                    continue
                if not np.isfinite(strength) or strength < 0:
                    raise KGError(f"history {r}: strength of {item} must be a non-negative number, got {strength}")
                rows.append(r), cols.append(j), vals.append(float(strength))
            unknown.append(missing)
        if not ignore_unknown and any(unknown):
            r = next(i for i, m in enumerate(unknown) if m)
            raise KGError(f"history {r}: {len(unknown[r])} item(s) the model does not know: "
                          f"{unknown[r][:5]} (pass ignore_unknown=True to leave them out)")
        matrix = sp.csr_matrix((vals, (rows, cols)), shape=(len(unknown), len(self.item_ids)))
        matrix.sum_duplicates()
        return matrix, unknown

    def __repr__(self) -> str:
        return f"Interactions({self.shape[0]:,} users x {self.shape[1]:,} items, {self.nnz:,} entries)"


def _positions(index: pd.Index, wanted: Iterable[str], kind: str) -> np.ndarray:
    wanted = list(wanted)
    positions = index.get_indexer(wanted)
    if (positions < 0).any():
        missing = [w for w, p in zip(wanted, positions) if p < 0]
        raise KGError(f"{len(missing)} unknown {kind} id(s): {missing[:5]}")
    return positions.astype(np.int64)


# ---------------------------------------------------------------- from the graph
def doctor_drug_interactions(graph: KnowledgeGraph) -> Interactions:
    """Doctor x drug claim counts from ``prescribes`` edges, with specialty and state per doctor.

    Columns are the drugs anybody prescribes, in sorted id order.
    """
    edges = _edges(graph, PRESCRIBES)
    weights = edges["weight"].fillna(1.0) if "weight" in edges.columns else None
    doctors = graph.nodes_of_type("doctor").set_index("id")
    # Always both columns (empty where a source has none), so specialty models work on any graph.
    attributes = doctors.reindex(columns=["specialty", "state"])
    return Interactions.from_triples(edges["src"].to_numpy(), edges["dst"].to_numpy(),
                                     None if weights is None else weights.to_numpy(),
                                     item_ids=np.sort(edges["dst"].unique()),
                                     user_attributes=attributes)


def patient_drug_interactions(graph: KnowledgeGraph, weighting: str = "binary") -> Interactions:
    """Patient x drug from ``takes`` edges.

    ``weighting="binary"`` marks each drug a patient took once; ``"duration"`` sums the
    days of all its records (a record without an end counts one day), so long-term
    therapy weighs more than a single dose in hospital.
    """
    if weighting not in ("binary", "duration"):
        raise KGError(f"patient weighting must be 'binary' or 'duration', got {weighting!r}")
    edges = _edges(graph, TAKES)
    if weighting == "binary":
        weights = np.ones(len(edges))
    else:
        start = pd.to_datetime(edges.get("time"), errors="coerce")
        end = pd.to_datetime(edges.get("end_time"), errors="coerce")
        days = ((end - start).dt.total_seconds() / 86400.0).to_numpy()
        weights = np.where(np.isfinite(days) & (days > 1.0), days, 1.0)
    inter = Interactions.from_triples(edges["src"].to_numpy(), edges["dst"].to_numpy(), weights,
                                      item_ids=np.sort(edges["dst"].unique()))
    if weighting == "binary":  # repeated records of one drug still mean "took it"
        inter = inter.with_matrix((inter.matrix > 0).astype(np.float64))
    return inter


def _edges(graph: KnowledgeGraph, relation: EdgeType) -> pd.DataFrame:
    edges = graph.edges.get(relation)
    if edges is None or edges.empty:
        raise KGError(f"the graph has no {relation.src} -{relation.rel}-> {relation.dst} edges")
    return edges
