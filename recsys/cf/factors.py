"""Matrix-factorisation recommenders on ``implicit``: ALS and BPR, with fold-in and updates.

ALS (Hu, Koren and Volinsky 2008) fits a confidence-weighted least squares; a new or
changed user's vector is the exact least-squares solution against the fixed item
factors (implicit's ``recalculate_user``), which is also what one ALS half-step does.
BPR (Rendle et al. 2009) optimises pairwise ranking by SGD and has no closed form, so
its fold-in runs the same pairwise objective by gradient ascent on the new vector only,
with the item factors fixed and a seeded sampler.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from kg.errors import KGError
from recsys.cf.base import CFRecommender
from recsys.cf.confidence import ConfidenceTransform
from recsys.cf.interactions import Interactions

__all__ = ["ALSRecommender", "BPRRecommender", "MatrixFactorization"]


class MatrixFactorization(CFRecommender):
    """Scores are dot products of user and item factors."""

    def __init__(self) -> None:
        super().__init__()
        self.user_factors = np.zeros((0, 0), dtype=np.float32)
        self.item_factors = np.zeros((0, 0), dtype=np.float32)

    def fold_in(self, rows: sp.csr_matrix) -> np.ndarray:
        """Factors of new users from their raw interaction rows (over ``item_ids``)."""
        raise NotImplementedError

    def _known_scores(self, rows: np.ndarray) -> np.ndarray:
        return self.user_factors[rows] @ self.item_factors.T

    def _new_scores(self, rows: sp.csr_matrix, attributes: pd.DataFrame) -> np.ndarray:
        return self.fold_in(rows) @ self.item_factors.T

    def _item_similarities(self, queries: np.ndarray) -> np.ndarray:
        return _cosine(self._item_vectors(), queries)

    def _user_similarities(self, queries: np.ndarray) -> np.ndarray:
        return _cosine(self._user_vectors(), queries)

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors

    def _user_vectors(self) -> np.ndarray:
        return self.user_factors

    def _grow(self, new_users: int, new_items: int) -> None:
        width = self.user_factors.shape[1]
        self.user_factors = np.vstack([self.user_factors, self._new_user_rows(new_users, width)])
        self.item_factors = np.vstack([self.item_factors, np.zeros((new_items, width), np.float32)])

    def _new_user_rows(self, n: int, width: int) -> np.ndarray:
        return np.zeros((n, width), np.float32)

    def _state(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        self.user_factors = np.asarray(state["user_factors"], dtype=np.float32)
        self.item_factors = np.asarray(state["item_factors"], dtype=np.float32)


class ALSRecommender(MatrixFactorization):
    """Implicit-feedback ALS over confidence-transformed strengths.

    Parameters
    ----------
    factors, regularization, alpha, iterations
        As in ``implicit.cpu.als.AlternatingLeastSquares``; ``alpha`` scales confidence.
    transform
        ``log1p`` | ``bm25`` | ``binary`` | ``raw`` (:mod:`recsys.cf.confidence`).
    seed
        Initial factors; each user's and item's solve is independent of thread order,
        so the same seed gives the same model on any number of threads.
    use_gpu
        Fit with ``implicit.gpu.als`` (CUDA) for large matrices; the factors come back
        to the CPU, where fold-in, updates and scoring run. Raises when implicit was
        built without CUDA or sees no GPU.

    Examples
    --------
    >>> als = ALSRecommender(factors=32).fit(doctor_drug_interactions(graph))  # doctest: +SKIP
    >>> als.recommend(["doctor:NPI:1003000126"], k=5)                          # doctest: +SKIP
    """

    name = "als"

    def __init__(self, factors: int = 32, regularization: float = 50.0, alpha: float = 1.0,
                 iterations: int = 15, transform: str = "log1p", seed: int = 0,
                 num_threads: int = 0, use_gpu: bool = False) -> None:
        super().__init__()
        if factors <= 0 or iterations <= 0 or regularization < 0 or alpha <= 0:
            raise KGError("ALS needs factors > 0, iterations > 0, regularization >= 0 and alpha > 0")
        self.factors, self.regularization, self.alpha = factors, regularization, alpha
        self.iterations, self.seed, self.num_threads = iterations, seed, num_threads
        self.use_gpu = bool(use_gpu)
        self.transform = ConfidenceTransform(transform)

    def config(self) -> dict[str, object]:
        return {"factors": self.factors, "regularization": self.regularization, "alpha": self.alpha,
                "iterations": self.iterations, "transform": self.transform.kind, "seed": self.seed,
                "num_threads": self.num_threads, "use_gpu": self.use_gpu}

    def _gpu_solver(self):
        import implicit.gpu

        if not implicit.gpu.HAS_CUDA:
            raise KGError("ALS use_gpu=True, but implicit has no CUDA support here (a CUDA build of "
                          "implicit and a visible GPU are needed); fit on the CPU with use_gpu=False")
        from implicit.gpu.als import AlternatingLeastSquares

        return AlternatingLeastSquares(factors=self.factors, regularization=self.regularization, alpha=self.alpha,
                                       iterations=self.iterations, random_state=self.seed,
                                       calculate_training_loss=False)

    def _solver(self):
        from implicit.cpu.als import AlternatingLeastSquares

        with threadpool_limits(1, "blas"):  # implicit warns when BLAS may use threads
            solver = AlternatingLeastSquares(factors=self.factors, regularization=self.regularization,
                                             alpha=self.alpha, iterations=self.iterations,
                                             random_state=self.seed, num_threads=self.num_threads,
                                             calculate_training_loss=False)
        if self.user_factors.size:
            solver.user_factors, solver.item_factors = self.user_factors, self.item_factors
        return solver

    def _fit(self, interactions: Interactions) -> None:
        confidence = self.transform.fit(interactions.matrix).apply(interactions.matrix)
        self.user_factors = np.zeros((0, 0), dtype=np.float32)
        solver = self._gpu_solver() if self.use_gpu else self._solver()
        # implicit parallelises over users itself; a second BLAS thread pool only contends.
        with threadpool_limits(1, "blas"):
            solver.fit(confidence.astype(np.float32), show_progress=False)
        if self.use_gpu:
            solver = solver.to_cpu()
        self.user_factors = np.ascontiguousarray(solver.user_factors, dtype=np.float32)
        self.item_factors = np.ascontiguousarray(solver.item_factors, dtype=np.float32)

    def fold_in(self, rows: sp.csr_matrix) -> np.ndarray:
        if rows.shape[0] == 0:
            return np.zeros((0, self.factors), np.float32)
        confidence = self.transform.apply(rows).astype(np.float32)
        with threadpool_limits(1, "blas"):
            return self._solver().recalculate_user(np.arange(rows.shape[0]), confidence)

    def _update(self, merged: Interactions, new_users: int, new_items: int,
                touched_users: np.ndarray, touched_items: np.ndarray) -> None:
        self.transform.extend_items(new_items)
        self._grow(new_users, new_items)
        confidence = self.transform.apply(merged.matrix).astype(np.float32)
        by_item = confidence.T.tocsr()
        with threadpool_limits(1, "blas"):
            # Users first (new items still have zero factors), then the touched items
            # against them, then the users again now the new items have vectors.
            self.user_factors[touched_users] = self.fold_in(merged.matrix[touched_users])
            self.item_factors[touched_items] = self._solver().recalculate_item(
                touched_items, by_item[touched_items])
            self.user_factors[touched_users] = self.fold_in(merged.matrix[touched_users])

    def _state(self) -> dict[str, np.ndarray]:
        state = super()._state()
        state.update({f"transform.{k}": v for k, v in self.transform.state().items()})
        return state

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        super()._restore(state)
        self.transform = ConfidenceTransform.from_state(
            {k[len("transform."):]: v for k, v in state.items() if k.startswith("transform.")})


class BPRRecommender(MatrixFactorization):
    """Bayesian personalised ranking on binary interactions (strengths only mark presence).

    implicit stores an item bias as the last factor column (users carry a constant 1
    there). Training runs on one thread: implicit's BPR is lock-free SGD, whose result
    depends on thread timing, and "same seed, same model" matters more here than the
    speed of a fit that takes a few seconds.
    """

    name = "bpr"

    def __init__(self, factors: int = 32, learning_rate: float = 0.05, regularization: float = 0.01,
                 iterations: int = 100, seed: int = 0, fold_in_epochs: int = 200,
                 fold_in_learning_rate: float = 0.5) -> None:
        super().__init__()
        if factors <= 0 or iterations <= 0 or learning_rate <= 0 or regularization < 0:
            raise KGError("BPR needs factors > 0, iterations > 0, learning_rate > 0, regularization >= 0")
        self.factors, self.learning_rate, self.regularization = factors, learning_rate, regularization
        self.iterations, self.seed = iterations, seed
        self.fold_in_epochs, self.fold_in_learning_rate = fold_in_epochs, fold_in_learning_rate

    def config(self) -> dict[str, object]:
        return {"factors": self.factors, "learning_rate": self.learning_rate,
                "regularization": self.regularization, "iterations": self.iterations,
                "seed": self.seed, "fold_in_epochs": self.fold_in_epochs,
                "fold_in_learning_rate": self.fold_in_learning_rate}

    def _fit(self, interactions: Interactions) -> None:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        solver = BayesianPersonalizedRanking(factors=self.factors, learning_rate=self.learning_rate,
                                             regularization=self.regularization,
                                             iterations=self.iterations, num_threads=1,
                                             random_state=self.seed)
        binary = (interactions.matrix > 0).astype(np.float32)
        solver.fit(binary, show_progress=False)
        self.user_factors = np.ascontiguousarray(solver.user_factors, dtype=np.float32)
        self.item_factors = np.ascontiguousarray(solver.item_factors, dtype=np.float32)

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors[:, :-1]  # the bias column is popularity, not likeness

    def _user_vectors(self) -> np.ndarray:
        return self.user_factors[:, :-1]

    def _new_user_rows(self, n: int, width: int) -> np.ndarray:
        rows = np.zeros((n, width), np.float32)
        rows[:, -1] = 1.0
        return rows

    def fold_in(self, rows: sp.csr_matrix) -> np.ndarray:
        return _bpr_fold_in(self.item_factors, (rows > 0).astype(np.float32).tocsr(),
                            self._negative_pool(), epochs=self.fold_in_epochs,
                            lr=self.fold_in_learning_rate, reg=self.regularization, seed=self.seed)

    def _negative_pool(self) -> np.ndarray:
        """Items to draw negatives from, one entry per training interaction.

        implicit's BPR draws a negative as the item of a random training interaction,
        i.e. in proportion to popularity; fold-in must optimise the same objective to
        land where training would have put the user.
        """
        return self._fitted().matrix.indices

    def _update(self, merged: Interactions, new_users: int, new_items: int,
                touched_users: np.ndarray, touched_items: np.ndarray) -> None:
        self._grow(new_users, new_items)
        binary = (merged.matrix > 0).astype(np.float32).tocsr()
        self.user_factors[touched_users] = self.fold_in(binary[touched_users])
        self.item_factors[touched_items] = _bpr_fold_in_items(
            self.user_factors, self.item_factors, binary, touched_items, self._negative_pool(),
            epochs=self.fold_in_epochs, lr=self.fold_in_learning_rate,
            reg=self.regularization, seed=self.seed)
        self.user_factors[touched_users] = self.fold_in(binary[touched_users])


def _bpr_fold_in(items: np.ndarray, rows: sp.csr_matrix, pool: np.ndarray, epochs: int,
                 lr: float, reg: float, seed: int) -> np.ndarray:
    """User vectors maximising BPR's pairwise objective against fixed item vectors.

    Full-batch gradient ascent: every epoch pairs each known item with one item drawn
    from ``pool`` that the user does not have; the gradient of a user is the mean over their pairs. The
    constant bias coordinate stays 1.
    """
    n, width = rows.shape[0], items.shape[1]
    rng = np.random.default_rng(seed)
    users = np.zeros((n, width), dtype=np.float64)
    users[:, -1] = 1.0
    if n == 0 or rows.nnz == 0:
        return users.astype(np.float32)
    counts = np.diff(rows.indptr)
    owner = np.repeat(np.arange(n), counts)
    positives = rows.indices
    n_items = items.shape[0]
    known = np.sort(_pair_keys(owner, positives, n_items))
    gather = _mean_gather(owner, counts)
    item_vectors = items.astype(np.float64)
    for _ in range(epochs):
        negatives = pool[rng.integers(0, len(pool), size=len(positives))]
        valid = _unknown(known, _pair_keys(owner, negatives, n_items))
        diff = item_vectors[positives] - item_vectors[negatives]
        margin = np.einsum("ij,ij->i", users[owner], diff)
        weight = valid / (1.0 + np.exp(np.clip(margin, -30, 30)))
        gradient = gather @ (diff * weight[:, None])
        users[:, :-1] += lr * (gradient[:, :-1] - reg * users[:, :-1])
    return users.astype(np.float32)


def _bpr_fold_in_items(users: np.ndarray, items: np.ndarray, binary: sp.csr_matrix,
                       which: np.ndarray, pool: np.ndarray, epochs: int, lr: float, reg: float,
                       seed: int) -> np.ndarray:
    """Item vectors (bias included) for items ``which``, other factors fixed.

    Each of an item's users contributes the pair (this item, a sampled item the user
    does not have), so a new drug moves towards the prescribers who use it.
    """
    rng = np.random.default_rng(seed)
    by_item = binary.T.tocsr()[which]
    n = len(which)
    out = items[which].astype(np.float64)
    if n == 0 or by_item.nnz == 0:
        return out.astype(np.float32)
    counts = np.diff(by_item.indptr)
    owner = np.repeat(np.arange(n), counts)
    user_rows = by_item.indices
    n_items = items.shape[0]
    known = np.sort(_pair_keys(*binary.nonzero(), n_items))
    gather = _mean_gather(owner, counts)
    user_vectors = users.astype(np.float64)
    item_vectors = items.astype(np.float64)
    for _ in range(epochs):
        negatives = pool[rng.integers(0, len(pool), size=len(user_rows))]
        valid = _unknown(known, _pair_keys(user_rows, negatives, n_items))
        u = user_vectors[user_rows]
        margin = np.einsum("ij,ij->i", u, out[owner] - item_vectors[negatives])
        weight = valid / (1.0 + np.exp(np.clip(margin, -30, 30)))
        out += lr * (gather @ (u * weight[:, None]) - reg * out)
    return out.astype(np.float32)


def _pair_keys(users: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    """One integer per (user, item) pair, for fast membership tests."""
    return users.astype(np.int64) * n_items + items


def _unknown(known_sorted: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Which pair keys are not interactions: a sampled negative the user has is no negative."""
    at = np.clip(np.searchsorted(known_sorted, keys), 0, len(known_sorted) - 1)
    return known_sorted[at] != keys


def _mean_gather(owner: np.ndarray, counts: np.ndarray) -> sp.csr_matrix:
    """(owners x pairs) matrix that averages a per-pair gradient into its owner's row."""
    pairs = np.arange(len(owner))
    return sp.csr_matrix((1.0 / counts[owner], (owner, pairs)), shape=(len(counts), len(owner)))


def _cosine(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1)
    norms[norms == 0] = 1.0
    return (vectors[queries] @ vectors.T) / norms[queries][:, None] / norms[None, :]
