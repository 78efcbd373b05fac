"""Leakage-safe splits of interactions: per-user holdout and unseen users (held-out groups).

Both return a :class:`CFSplit` and never change their input. Every evaluated user has
a *history* (what the model may know about them) and a *test* part (what it must
find); the test entries are never in the training matrix, and in the unseen-user
split the evaluated users are not in it at all: models reach them by fold-in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from kg.errors import KGError
from recsys.cf.interactions import Interactions

__all__ = ["CFSplit", "holdout_split", "unseen_user_split", "per_user_holdout", "sparse_users", "new_user_split"]


@dataclass(frozen=True)
class CFSplit:
    """Training interactions plus the evaluated users' history and held-out test items.

    ``history`` and ``test`` share rows (the evaluated users). With ``mode="holdout"``
    the evaluated users are training users and ``history`` is their training row; with
    ``mode="unseen"`` they are absent from ``train`` and ``history`` is what fold-in uses.
    """

    mode: str
    train: Interactions
    history: Interactions
    test: Interactions
    held_out_groups: tuple[str, ...] = ()

    def __iter__(self):
        return iter((self.train, self.history, self.test))

    def summary(self) -> str:
        groups = f", held-out groups {list(self.held_out_groups)}" if self.held_out_groups else ""
        return (f"{self.mode} split: train {self.train.shape[0]:,} users / {self.train.nnz:,} entries; "
                f"{self.test.shape[0]:,} evaluated users with {self.test.nnz:,} held-out entries{groups}")


def per_user_holdout(matrix: sp.csr_matrix, fraction: float, rng: np.random.Generator,
                     eligible: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask over ``matrix.data``: ``floor(fraction * n_u)`` random entries of each user,
    among the ``eligible`` ones (a mask over ``matrix.data``; every entry by default), where
    ``n_u`` counts the user's eligible entries."""
    counts = np.diff(matrix.indptr)
    rows = np.repeat(np.arange(matrix.shape[0]), counts)
    eligible = np.ones(matrix.nnz, dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
    n_out = np.floor(fraction * np.bincount(rows[eligible], minlength=matrix.shape[0]) + 1e-9).astype(np.int64)
    # A random key per entry, ranked within its row: the lowest n_out of each row leave, and an
    # entry that may not leave sorts last.
    keys = rng.random(matrix.nnz)
    keys[~eligible] = np.inf
    return eligible & (_rank_in_row(matrix, keys) < n_out[rows])


def _rank_in_row(matrix: sp.csr_matrix, keys: np.ndarray) -> np.ndarray:
    """Each entry's place in its row when the row is sorted by ``keys`` (0: the lowest)."""
    counts = np.diff(matrix.indptr)
    order = np.lexsort((keys, np.repeat(np.arange(matrix.shape[0]), counts)))
    rank = np.empty(matrix.nnz, dtype=np.int64)
    rank[order] = np.arange(matrix.nnz) - np.repeat(matrix.indptr[:-1], counts)
    return rank


def _part(inter: Interactions, mask: np.ndarray) -> Interactions:
    m = inter.matrix.copy()
    m.data = np.where(mask, m.data, 0.0)
    m.eliminate_zeros()
    return inter.with_matrix(m)


def holdout_split(inter: Interactions, fraction: float = 0.2, seed: int = 0) -> CFSplit:
    """Hold out ``floor(fraction * n)`` random items of every user.

    Users with too few items to lose one (fewer than ``1 / fraction``) stay whole in
    training and are not evaluated. For validation, split the returned ``train`` again.

    >>> split = holdout_split(doctor_drug_interactions(graph), 0.2, seed=0)  # doctest: +SKIP
    """
    _check_fraction(fraction)
    rng = np.random.default_rng(seed)
    held = per_user_holdout(inter.matrix, fraction, rng)
    train, test = _part(inter, ~held), _part(inter, held)
    evaluated = np.flatnonzero(np.diff(test.matrix.indptr) > 0)
    return CFSplit("holdout", train, train.select_users(evaluated), test.select_users(evaluated))


def unseen_user_split(inter: Interactions, by: str = "state", user_fraction: float = 0.1,
                      test_fraction: float = 0.2, seed: int = 0,
                      groups: list[str] | None = None,
                      exclude_groups: tuple[str, ...] = ()) -> CFSplit:
    """Leave every user of some groups (e.g. states) out of training entirely.

    Groups are drawn in a seeded random order until they hold ``user_fraction`` of the
    users (or given as ``groups``); ``exclude_groups`` are never drawn (a validation
    split uses it to keep away from the test groups). Each held-out user's items are then
    split into history (for fold-in) and ``floor(test_fraction * n)`` test items.
    """
    _check_fraction(user_fraction)
    _check_fraction(test_fraction)
    rng = np.random.default_rng(seed)
    values = inter.attribute(by)
    present = sorted({v for v in values if v is not None and v not in exclude_groups})
    if groups is None:
        chosen: list[str] = []
        target = user_fraction * len(values)
        taken = 0
        for g in rng.permutation(np.array(present, dtype=object)):
            if taken >= target:
                break
            chosen.append(str(g))
            taken += int((values == g).sum())
        groups = sorted(chosen)
    unknown = sorted(set(groups) - set(present))
    if unknown:
        raise KGError(f"no users with {by} in {unknown}")
    held_user = np.isin(values, np.array(groups, dtype=object))
    if held_user.all() or not held_user.any():
        raise KGError(f"holding out {by} {groups} leaves {'no' if held_user.all() else 'all'} users for training")
    train = inter.select_users(~held_user)
    outside = inter.select_users(held_user)
    held = per_user_holdout(outside.matrix, test_fraction, rng)
    history, test = _part(outside, ~held), _part(outside, held)
    evaluated = np.flatnonzero(np.diff(test.matrix.indptr) > 0)
    return CFSplit("unseen", train, history.select_users(evaluated), test.select_users(evaluated),
                   held_out_groups=tuple(groups))


def new_user_split(inter: Interactions, user_fraction: float = 0.1, seed: int = 0) -> CFSplit:
    """Leave a seeded random ``user_fraction`` of the users out of training entirely; their whole
    rows are the history, nothing is held out yet (cut them with :func:`sparse_users`)."""
    _check_fraction(user_fraction)
    held = np.zeros(inter.shape[0], dtype=bool)
    held[np.random.default_rng(seed).permutation(inter.shape[0])[:int(round(user_fraction * inter.shape[0]))]] = True
    if held.all() or not held.any():
        raise KGError(f"holding out {user_fraction:.0%} of {inter.shape[0]} users leaves no split")
    outside = inter.select_users(held)
    return CFSplit("unseen", inter.select_users(~held), outside, outside.with_matrix(sp.csr_matrix(outside.shape)))


def sparse_users(split: CFSplit, most: int = 3, seed: int = 0) -> CFSplit:
    """``split``'s evaluated users as sparse new users: each keeps 1 to ``most`` random items of
    history and test alike (uniformly many, seeded) as the whole history they are folded in from,
    and every other item of theirs is to be found; an ``"unseen"``-mode split over the same
    training part, so only for users that training part never saw. Users left with nothing kept
    or nothing to find are not evaluated."""
    pool = split.history.with_matrix(split.history.matrix + split.test.matrix)  # history and test share rows
    rng = np.random.default_rng(seed)
    counts = np.diff(pool.matrix.indptr)
    want = np.minimum(rng.integers(1, most + 1, size=pool.shape[0]), counts - 1)
    kept = _rank_in_row(pool.matrix, rng.random(pool.nnz)) < np.repeat(want, counts)
    known, targets = _part(pool, kept), _part(pool, ~kept)
    users = np.flatnonzero((np.diff(known.matrix.indptr) > 0) & (np.diff(targets.matrix.indptr) > 0))
    return CFSplit("unseen", split.train, known.select_users(users), targets.select_users(users),
                   split.held_out_groups)


def _check_fraction(value: float) -> None:
    if not 0.0 < value < 1.0:
        raise KGError(f"a split fraction must be between 0 and 1, got {value}")
