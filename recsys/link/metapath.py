"""Metapath model in the style of Rephetio (Himmelstein et al., eLife 2017).

Features of a (drug, disease) pair are degree-weighted path counts (DWPC,
:mod:`recsys.link.dwpc`) along every metapath from drug to disease of length 1 to 3,
including those that walk back through a shared node ("binds a gene bound by a known
treatment"), plus the degrees of both ends per relation. They are fed to an
L2-regularised logistic regression. It is the strongest known model on Hetionet, fits in
seconds, and every score decomposes into named metapath contributions, which is why the
hybrid uses it as an explainable component.

What is chosen on validation MRR, in this order of preference (a later choice must beat
the earlier one by ``margin``, because 70-odd validation pairs cannot tell small gains
from noise): the training examples (random drug x disease pairs, or those plus every
drug x every training disease, as Rephetio does), whether metapaths through doctors and
patients help (they must earn their place), and the L2 penalty.

Features are robust to outliers (:mod:`recsys.link.scaling`): capped at the largest value
any training indication shows, one pair far beyond every known indication cannot
dominate a ranking.

Two departures from Rephetio, both stated:

- counts are over *walks*, not paths without repeated nodes (see :mod:`recsys.link.dwpc`);
- a pair's own edge must not feed its features. Training features are therefore
  *cross-fitted*: training indications are split into folds and a pair of fold k is
  described by the graph without fold k's indications, exactly as a held-out pair is
  described by the graph without the held-out ones.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import scipy.sparse as sp

from recsys.link.adjacency import MetaEdge, relation_matrices
from recsys.link.dwpc import WORKERS, DWPCGraphs, Metapath, enumerate_metapaths
from recsys.link.evaluate import evaluate_scores
from recsys.link.scaling import FeatureScaler
from recsys.link.scorer import LinkScorer
from recsys.link.task import LinkTask
from recsys.logistic import fit_logistic_regression

__all__ = ["MetapathModel", "enumerate_metapaths", "Metapath", "PEOPLE", "EXAMPLES"]

#: Node types whose metapaths form the "people" family (prescribing and patient records).
PEOPLE = frozenset({"doctor", "patient"})
#: Training example schemes, in order of preference.
EXAMPLES = ("sampled", "every drug")
FAMILIES = ("with people", "without people")


class MetapathModel(LinkScorer):
    """DWPC features + degrees -> logistic regression; examples, families and penalty chosen on validation.

    Parameters
    ----------
    max_length
        Longest metapath (Rephetio: 3 at most for speed, 4 in the paper's full model).
    damping
        DWPC damping exponent ``w`` (Rephetio: 0.4).
    folds
        Cross-fitting folds for the features of training pairs.
    negatives_per_positive
        Random drug x disease pairs per training indication (the "sampled" examples).
    penalties
        L2 penalties tried.
    examples, families
        Candidates tried, in order of preference (see the module doc): subsets of
        :data:`EXAMPLES` and :data:`FAMILIES`.
    margin
        Validation MRR a less preferred candidate must gain to be chosen.
    cap_quantile
        Features are capped at the largest value a training indication shows, or at this
        quantile of their non-zero training values when no indication has any (``None``:
        no cap; see :mod:`recsys.link.scaling`).
    reversals
        Allow metapaths that walk a relation straight back through a shared node.
    """

    name = "metapath (DWPC)"

    def __init__(self, max_length: int = 3, damping: float = 0.4, folds: int = 5,
                 negatives_per_positive: int = 50,
                 penalties: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1), seed: int = 0,
                 examples: tuple[str, ...] = EXAMPLES, families: tuple[str, ...] = FAMILIES,
                 margin: float = 0.01, cap_quantile: float | None = 0.999, reversals: bool = True,
                 progress: bool = False) -> None:
        super().__init__()
        self.progress = progress  # a bar over the fit's steps (features, each example scheme, scores)
        for value, allowed, what in ((examples, EXAMPLES, "examples"), (families, FAMILIES, "families")):
            if not value or any(v not in allowed for v in value):
                raise ValueError(f"{what} must be a non-empty subset of {allowed}, got {value}")
        self.max_length = max_length
        self.damping = damping
        self.folds = folds
        self.negatives_per_positive = negatives_per_positive
        self.penalties = penalties
        self.seed = seed
        self.examples = tuple(examples)
        self.families = tuple(families)
        self.margin = margin
        self.cap_quantile = cap_quantile
        self.reversals = reversals
        #: Every candidate's validation MRR and what was chosen (``examples``, ``family``, ``penalty``).
        self.candidates: list[dict[str, object]] = []
        self.chosen: dict[str, object] = {}

    def chosen_settings(self) -> dict[str, object]:
        """Constructor arguments that refit this model's choices without searching (deployment)."""
        return {"penalties": (self.chosen["penalty"],), "examples": (self.chosen["examples"],),
                "families": (self.chosen["family"],), "max_length": self.max_length, "damping": self.damping,
                "folds": self.folds, "negatives_per_positive": self.negatives_per_positive, "seed": self.seed,
                "cap_quantile": self.cap_quantile, "reversals": self.reversals}

    @property
    def penalty(self) -> float:
        return float(self.chosen["penalty"])

    # --------------------------------------------------------------- fitting
    def _fit(self, task: LinkTask) -> None:
        rel = task.relation
        rng = np.random.default_rng(self.seed)
        base = relation_matrices(task.train_graph, task.id_maps)
        target = MetaEdge(*rel)
        paths = enumerate_metapaths(base, rel.src, rel.dst, self.max_length, exclude=[(target,)],
                                    reversals=self.reversals)
        self.paths = sorted(paths, key=lambda p: tuple(reversed(p)))  # shared suffixes are computed once
        self.src_degree_edges = sorted(e for e in base if e.src == rel.src)
        self.dst_degree_edges = sorted(e for e in base if e.src == rel.dst)

        from tqdm.auto import tqdm

        bar = tqdm(total=3 + len(self.examples), desc=self.name, unit="step", disable=not self.progress,
                   leave=False)
        bar.set_postfix_str(f"{len(self.paths)} metapath features")
        pairs, labels, fold, rows_of = self._examples(task, rng)
        self._base, self._target = base, target
        self._fixed_part: np.ndarray | None = None  # set by _all_scores, read by scores_without
        full = DWPCGraphs.of(base, self.damping)
        positives = task.train_pairs
        fold_graphs = [DWPCGraphs.of(self._without(base, target, positives[fold[:len(positives)] == k], task),
                                     self.damping) for k in range(self.folds)]
        raw_train = self._raw_features(full, fold_graphs, pairs, fold)
        # Constant features (metapaths no training pair has) carry nothing: drop them.
        varies = raw_train.max(axis=0) > raw_train.min(axis=0)
        self._keep_columns(varies)
        raw_train = _compact_columns(raw_train, varies)
        bar.update(1)
        bar.set_postfix_str("scaling")

        # Scaled once on every example row; each candidate is a slice of rows and columns.
        is_path = np.arange(self._n_features) < len(self.paths)
        scaler, x_all = FeatureScaler.fit_transform(raw_train, is_path, len(task.train_pairs), self.cap_quantile,
                                                    overwrite=True)
        del raw_train
        x_all = x_all.astype(np.float32)  # column-major, as the features were written
        val_dst = np.unique(task.val_pairs[:, 1])
        x_val_all = scaler.transform(self._dense_features(full, val_dst)) if len(val_dst) else None
        people = self._people_columns()
        bar.update(1)
        best: tuple[float, dict, tuple] | None = None
        for scheme in self.examples:
            bar.set_postfix_str(f"{scheme} examples")
            rows, y = x_all[rows_of[scheme]], labels[rows_of[scheme]]
            # Penalties on every feature first; the families compete at the scheme's best penalty.
            first = self.families[0]
            tried = self._try(first, sorted(self.penalties, reverse=True), rows, y, people, x_val_all, val_dst, task)
            penalty = max(tried, key=lambda c: c[0])[1]["penalty"]
            for family in self.families[1:]:
                tried += self._try(family, [penalty], rows, y, people, x_val_all, val_dst, task)
            for mrr, candidate, fitted in tried:
                candidate["examples"] = scheme
                self.candidates.append(candidate)
                if best is None or mrr > best[0] + (self.margin if self._later(candidate, best[1]) else 0.0):
                    best = (mrr, candidate, fitted)
            bar.update(1)
        assert best is not None
        self.val_mrr, self.chosen = best[0], best[1]
        columns, self.weights, self.bias = best[2]
        self._keep_columns(columns)
        self.scaler = scaler.subset(columns)
        bar.set_postfix_str("scores of every pair")
        self.scores_ = self._all_scores(full, task)
        bar.update(1)
        bar.close()

    def _try(self, family: str, penalties: list[float], x: np.ndarray, y: np.ndarray, people: np.ndarray,
             x_val: np.ndarray | None, val_dst: np.ndarray, task: LinkTask) -> list[tuple[float, dict, tuple]]:
        """Fit one feature family at each penalty (each warm-starting the next); validation MRR of each."""
        columns = ~people if family == "without people" else np.ones_like(people)
        if not columns.any():
            return []
        x = x if columns.all() else _columns(x, columns)
        x_val = None if x_val is None else _columns(x_val, columns)
        out, fitted = [], None
        for penalty in penalties:
            fitted = fit_logistic_regression(x, y, penalty, init=fitted)
            mrr = 0.0
            if x_val is not None:
                scores = (x_val @ fitted[0] + fitted[1]).reshape(len(val_dst), task.num_src)
                mrr = evaluate_scores(scores, val_dst, task, "val").mrr
            out.append((mrr, {"family": family, "penalty": penalty, "val_mrr": round(mrr, 4)},
                        (columns, *fitted)))
        return out

    def _later(self, candidate: dict, incumbent: dict) -> bool:
        """Whether ``candidate`` is a less preferred choice than ``incumbent`` (it must win by the margin)."""
        rank = (self.examples.index(candidate["examples"]), self.families.index(candidate["family"]))
        return rank > (self.examples.index(incumbent["examples"]), self.families.index(incumbent["family"]))

    def _examples(self, task: LinkTask, rng: np.random.Generator):
        """Training pairs (indications first), labels, cross-fitting folds and the rows of each scheme."""
        positives = task.train_pairs
        sampled = np.stack([rng.integers(0, task.num_src, self.negatives_per_positive * len(positives)),
                            rng.integers(0, task.num_dst, self.negatives_per_positive * len(positives))], 1)
        diseases = np.unique(positives[:, 1]) if "every drug" in self.examples else np.empty(0, dtype=np.int64)
        every = np.stack([np.tile(np.arange(task.num_src), len(diseases)), np.repeat(diseases, task.num_src)], 1)
        known = positives[:, 0].astype(np.int64) * task.num_dst + positives[:, 1]
        sampled = sampled[~np.isin(sampled[:, 0] * task.num_dst + sampled[:, 1], known)]
        every = every[~np.isin(every[:, 0] * task.num_dst + every[:, 1], known)]
        pairs = np.concatenate([positives, sampled, every]).astype(np.int64)
        labels = np.concatenate([np.ones(len(positives)), np.zeros(len(sampled) + len(every))])
        fold = np.concatenate([rng.permutation(len(positives)) % self.folds,
                               rng.integers(0, self.folds, len(sampled) + len(every))])
        n_pos, n_sampled = len(positives), len(sampled)
        rows_of = {"sampled": slice(0, n_pos + n_sampled),
                   "every drug": slice(0, len(pairs))}  # random pairs plus every drug x training disease
        return pairs, labels, fold, rows_of

    def _people_columns(self) -> np.ndarray:
        """Which features walk through doctors or patients (paths, and degrees of people relations)."""
        def touches(edges) -> bool:
            return any(e.src in PEOPLE or e.dst in PEOPLE for e in edges)
        return np.array([touches(p) for p in self.paths]
                        + [touches([e]) for e in self.src_degree_edges + self.dst_degree_edges], dtype=bool)

    def _keep_columns(self, keep: np.ndarray) -> None:
        n_p, n_s = len(self.paths), len(self.src_degree_edges)
        self.paths = [p for p, k in zip(self.paths, keep[:n_p]) if k]
        self.src_degree_edges = [e for e, k in zip(self.src_degree_edges, keep[n_p:n_p + n_s]) if k]
        self.dst_degree_edges = [e for e, k in zip(self.dst_degree_edges, keep[n_p + n_s:]) if k]

    def _without(self, base: dict[MetaEdge, sp.csr_matrix], target: MetaEdge, pairs: np.ndarray,
                 task: LinkTask) -> dict[MetaEdge, sp.csr_matrix]:
        removed = sp.csr_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])),
                                shape=(task.num_src, task.num_dst))
        forward = base[target] - base[target].multiply(removed)
        forward.eliminate_zeros()
        return {**base, target: sp.csr_matrix(forward), target.reverse(): sp.csr_matrix(forward.T)}

    def _uses_target(self, path: Metapath) -> bool:
        return any(e.base == self.relation for e in path)

    def _raw_features(self, full: DWPCGraphs, folds: list[DWPCGraphs], pairs: np.ndarray,
                      fold: np.ndarray) -> np.ndarray:
        """Untransformed features of ``pairs`` (column-major); target-relation features from each
        pair's fold graph."""
        dst_cols = np.unique(pairs[:, 1])
        col_of = np.searchsorted(dst_cols, pairs[:, 1])
        out = np.empty((self._n_features, len(pairs)), dtype=np.float64).T  # each feature written contiguously
        fixed = [p for p in self.paths if not self._uses_target(p)]
        varying = [p for p in self.paths if self._uses_target(p)]
        column = {p: j for j, p in enumerate(self.paths)}
        flat = pairs[:, 0] * len(dst_cols) + col_of  # positions in a C-ordered (drugs x dst_cols) block
        def write(_: int, path: Metapath, dense: np.ndarray) -> None:  # one column per path
            out[:, column[path]] = np.ascontiguousarray(dense).reshape(-1).take(flat)

        full.for_each(fixed, dst_cols, write)
        for k, graphs in enumerate(folds):
            mine = np.flatnonzero(fold == k)

            def write_fold(_: int, path: Metapath, dense: np.ndarray, mine: np.ndarray = mine) -> None:
                out[mine, column[path]] = np.ascontiguousarray(dense).reshape(-1).take(flat[mine])

            graphs.for_each(varying, dst_cols, write_fold)
        n_p, n_s = len(self.paths), len(self.src_degree_edges)
        for j, e in enumerate(self.src_degree_edges):
            out[:, n_p + j] = self._fold_degree(full, folds, e, pairs[:, 0], fold)
        for j, e in enumerate(self.dst_degree_edges):
            out[:, n_p + n_s + j] = self._fold_degree(full, folds, e, pairs[:, 1], fold)
        return out

    def _fold_degree(self, full: DWPCGraphs, folds: list[DWPCGraphs], e: MetaEdge, nodes: np.ndarray,
                     fold: np.ndarray) -> np.ndarray:
        if e.base != self.relation:
            return full.degrees[e][nodes]
        values = np.zeros(len(nodes))
        for k, graphs in enumerate(folds):
            values[fold == k] = graphs.degrees[e][nodes[fold == k]]
        return values

    def _dense_features(self, graphs: DWPCGraphs, dst_cols: np.ndarray) -> np.ndarray:
        """Raw features of every drug x ``dst_cols`` pair, rows ordered disease-major (column-major)."""
        n_src = self.task.num_src  # type: ignore[union-attr]
        rows_src = np.tile(np.arange(n_src), len(dst_cols))
        rows_dst = np.repeat(dst_cols, n_src)
        out = np.empty((self._n_features, n_src * len(dst_cols)), dtype=np.float64).T
        column = {p: j for j, p in enumerate(self.paths)}

        def write(_: int, path: Metapath, dense: np.ndarray) -> None:
            out[:, column[path]] = dense.T.reshape(-1)

        graphs.for_each(self.paths, dst_cols, write)
        n_p, n_s = len(self.paths), len(self.src_degree_edges)
        for j, e in enumerate(self.src_degree_edges):
            out[:, n_p + j] = graphs.degrees[e][rows_src]
        for j, e in enumerate(self.dst_degree_edges):
            out[:, n_p + n_s + j] = graphs.degrees[e][rows_dst]
        return out

    @property
    def _n_features(self) -> int:
        return len(self.paths) + len(self.src_degree_edges) + len(self.dst_degree_edges)

    def _linear_part(self, graphs: DWPCGraphs, task: LinkTask, columns: np.ndarray | None = None) -> np.ndarray:
        """(num_dst, num_src) sum of weight x feature over ``columns`` (all by default), no bias.

        Accumulated one feature at a time over all diseases: no (pairs x features) matrix is built.
        """
        wanted = np.ones(self._n_features, dtype=bool) if columns is None else columns
        every = np.arange(task.num_dst)
        column = {p: j for j, p in enumerate(self.paths)}
        chosen = [p for p, w in zip(self.paths, wanted) if w]
        parts = np.zeros((WORKERS, task.num_src, task.num_dst), dtype=np.float64)  # one sum per thread

        def add(worker: int, path: Metapath, dense: np.ndarray) -> None:
            parts[worker] += self.weights[column[path]] * self.scaler.column(dense, column[path])

        graphs.for_each(chosen, every, add)
        out = parts.sum(axis=0)
        n_p, n_s = len(self.paths), len(self.src_degree_edges)
        for i, e in enumerate(self.src_degree_edges):
            if wanted[n_p + i]:
                out += self.weights[n_p + i] * self.scaler.column(graphs.degrees[e][:, None], n_p + i)
        for i, e in enumerate(self.dst_degree_edges):
            j = n_p + n_s + i
            if wanted[j]:
                out += self.weights[j] * self.scaler.column(graphs.degrees[e][None, :], j)
        return out.T

    def _all_scores(self, graphs: DWPCGraphs, task: LinkTask) -> np.ndarray:
        # Summed in the two parts scores_without uses, so its views add up exactly like this.
        target_columns = self._target_columns()
        self._fixed_part = self._linear_part(graphs, task, ~target_columns)
        return (self._fixed_part + self._linear_part(graphs, task, target_columns) + self.bias).astype(np.float32)

    def _target_columns(self) -> np.ndarray:
        """Which features depend on the target relation's edges (its paths and degrees)."""
        return np.array([self._uses_target(p) for p in self.paths]
                        + [e.base == self.relation for e in self.src_degree_edges + self.dst_degree_edges],
                        dtype=bool)

    # --------------------------------------------------------------- scoring
    def score_matrix(self, dst_index: np.ndarray) -> np.ndarray:
        self._fitted()
        return self.scores_[np.asarray(dst_index, dtype=np.int64)]

    def scores_without(self, pairs: np.ndarray) -> np.ndarray:
        """(num_dst, num_src) scores on the training graph without the indications ``pairs``.

        The fitted weights are kept; only the features change. A model stacked on this
        one (the GNN with a metapath prior) trains on held-out views like these, so a
        pair it learns from never feeds its own features, as at test time.
        """
        self._fitted()
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        target_columns = self._target_columns()
        # Most features (270 of 354 paths on the shipped graph) never walk the target
        # relation: their part of the score is the same on every view, computed once.
        assert self._fixed_part is not None  # the part of every view that never walks the target (_all_scores)
        graphs = DWPCGraphs.of(self._without(self._base, self._target, pairs, self.task), self.damping)
        varying = self._linear_part(graphs, self.task, target_columns)
        return (self._fixed_part + varying + self.bias).astype(np.float32)

    def feature_names(self) -> list[str]:
        names = [" > ".join(e.abbreviation for e in p) for p in self.paths]
        names += [f"degree {e.abbreviation}" for e in self.src_degree_edges]
        names += [f"degree {e.abbreviation}" for e in self.dst_degree_edges]
        return names

    def top_features(self, n: int = 10) -> Iterator[tuple[str, float]]:
        order = np.argsort(-np.abs(self.weights))[:n]
        names = self.feature_names()
        return ((names[i], float(self.weights[i])) for i in order)


def _columns(x: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The ``keep`` columns of a column-major matrix, still column-major (no row-major copy)."""
    return x.T[keep].T


def _compact_columns(x: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The ``keep`` columns of a column-major ``x``, moved to its front: no second 400 MB block."""
    by_column = x.T
    for new, old in enumerate(np.flatnonzero(keep)):
        if new != old:
            by_column[new] = by_column[old]
    return by_column[:int(keep.sum())].T
