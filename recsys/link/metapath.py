"""Metapath model in the style of Rephetio (Himmelstein et al., eLife 2017).

Features of a (drug, disease) pair are degree-weighted path counts (DWPC,
:mod:`recsys.link.dwpc`) along every metapath from drug to disease of length 1 to 3,
including those that walk back through a shared node ("binds a gene bound by a known
treatment"), plus the degrees of both ends per relation. They are fed to an
L2-regularised logistic regression. It is the strongest known model on Hetionet, fits in
seconds, and every score decomposes into named metapath contributions, which is why the
hybrid uses it as an explainable component.

The settings are candidates (:mod:`recsys.link.search`): the training examples (random
drug x disease pairs, or those plus every drug x every training disease, as Rephetio
does), the feature family (with or without metapaths through doctors and patients) and
the L2 penalty. By default one candidate is chosen on validation MRR. ``combine="average"``,
the mean of every candidate's fit (one logistic model again), ranks diseases' drugs better on
five seeds of every split and is what ``rxkg train`` deploys for diseases; the patients' graph
component keeps a validation-chosen one (docs/evaluation.md). ``combine="folds"`` chooses on
the training folds' cross-validated MRR.

The logistic scores are then joined, per disease, by a two-step kernel ridge's
(:mod:`recsys.link.kernel`: drugs like a disease's known drugs, diseases like the known
ones), at the weight (0 included) whose cross-fitted MRR over the training indications is
best, each fold scored by a logistic model refitted without it. It is what reaches a
disease with no known indication through diseases alike in many genes at once: on five
seeds of split Z it raised test MRR from 0.201 to 0.248 (docs/evaluation.md).

With ``combine="average"`` the model also keeps the candidate the validation rule would choose
among its fits (or the one ``prefer`` names), as a model of its own (:attr:`MetapathModel.preferred`):
the patients' graph component reads that one, at no second fit.

The module is over 400 lines because the features, their cross-fitting, the search and the
scores all read one fitted state (the metapath list, the degree relations, the scaler) that a
split would have to pass around.

Features are robust to outliers (:mod:`recsys.link.scaling`): capped at the largest value
any training indication shows, one pair far beyond every known indication cannot
dominate a ranking.

Two departures from Rephetio, both stated:

- counts are over *walks*, not paths without repeated nodes (see :mod:`recsys.link.dwpc`);
- a pair's own edge must not feed its features. Training features are therefore
  *cross-fitted*: training indications are split into folds and a pair of fold k is
  described by the graph without fold k's indications, exactly as a held-out pair is
  described by the graph without the held-out ones. The folds group the indications by
  pair, or (``fold_by="disease"``, or ``"auto"``: as the validation pairs are held out,
  :func:`~recsys.link.crossval.fold_grouping`) by whole disease, as a zero-shot task needs.
"""

from __future__ import annotations

import copy
from typing import Iterator

import numpy as np
import scipy.sparse as sp

from recsys.link.adjacency import MetaEdge, relation_matrices
from recsys.link.crossval import FOLD_GROUPINGS, FoldRanking, assign_folds, fold_grouping
from recsys.link.dwpc import WORKERS, DWPCGraphs, Metapath, enumerate_metapaths
from recsys.link.evaluate import evaluate_scores
from recsys.link.kernel import FeatureKernels, TwoStepRidge, fold_mrrs, fuse_kernel
from recsys.link.scaling import FeatureScaler, compact_columns
from recsys.link.scorer import LinkScorer
from recsys.link.search import CandidateSearch
from recsys.link.task import LinkTask
from recsys.logistic import fit_logistic_regression, select

__all__ = ["MetapathModel", "enumerate_metapaths", "Metapath", "PEOPLE", "EXAMPLES"]

#: Node types whose metapaths form the "people" family (prescribing and patient records).
PEOPLE = frozenset({"doctor", "patient"})
#: Training example schemes, in order of preference.
EXAMPLES = ("sampled", "every drug")
FAMILIES = ("with people", "without people")
#: How candidates become one model: the best on validation (deployed), their average, or the best on the folds.
COMBINE = ("validation", "average", "folds")
#: Weights of the two-step kernel ridge scores added to the logistic scores, chosen on the folds (0: none).
KERNEL_WEIGHTS = (0.0, 0.125, 0.25, 0.5, 1.0)
#: L2 penalty of the logistic model refitted without each fold to choose that weight (the middle of
#: the default penalties; one fit a fold, warm-started from the model's weights).
FOLD_PENALTY = 1e-2


class MetapathModel(LinkScorer):
    """DWPC features + degrees -> logistic regression, chosen among (or averaged over) examples, families, penalties.

    Parameters
    ----------
    max_length
        Longest metapath (Rephetio: 3 at most for speed, 4 in the paper's full model).
    damping
        DWPC damping exponent ``w`` (Rephetio: 0.4).
    folds
        Cross-fitting folds for the features of training pairs (and, with ``combine="folds"``,
        the cross-validation that chooses the settings).
    fold_by
        How the folds group the training indications: by ``"pair"``, by ``"disease"`` (a
        fold holds every indication of its diseases, as a zero-shot split holds out
        diseases), or ``"auto"``: like the validation pairs (:func:`~recsys.link.crossval.fold_grouping`).
    combine
        ``"validation"`` (the default: the best on validation MRR, with ``margin``),
        ``"average"`` (the mean of every candidate's fit) or ``"folds"`` (the candidate with
        the best cross-validated MRR); see :mod:`recsys.link.search`.
    negatives_per_positive
        Random drug x disease pairs per training indication (the "sampled" examples).
    penalties
        L2 penalties tried.
    examples, families
        Candidates tried, in order of preference (see the module doc): subsets of
        :data:`EXAMPLES` and :data:`FAMILIES`.
    margin
        Validation MRR a less preferred candidate must gain to be chosen (``combine="validation"``;
        on the folds the better mean wins, a tie going to the preferred candidate).
    cap_quantile
        Features are capped at the largest value a training indication shows, or at this
        quantile of their non-zero training values when no indication has any (``None``:
        no cap; see :mod:`recsys.link.scaling`).
    reversals
        Allow metapaths that walk a relation straight back through a shared node.
    kernel_weights
        Weights tried for the two-step kernel ridge scores (:mod:`recsys.link.kernel`: drugs like
        a disease's known drugs, diseases like the known ones), added per disease in units of the
        logistic scores' spread; the one with the best cross-fitted MRR over the training
        indications is kept (``(0.0,)``: logistic scores alone).
    """

    name = "metapath (DWPC)"

    def __init__(self, max_length: int = 3, damping: float = 0.4, folds: int = 5, fold_by: str = "pair",
                 combine: str = "validation", negatives_per_positive: int = 50,
                 penalties: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1), seed: int = 0,
                 examples: tuple[str, ...] = EXAMPLES, families: tuple[str, ...] = FAMILIES,
                 margin: float = 0.01, cap_quantile: float | None = 0.999, reversals: bool = True,
                 prefer: dict | None = None, kernel_weights: tuple[float, ...] = KERNEL_WEIGHTS,
                 progress: bool = False) -> None:
        super().__init__()
        self.progress = progress  # a bar over the fit's steps (features, each example scheme, scores)
        for value, allowed, what in ((examples, EXAMPLES, "examples"), (families, FAMILIES, "families")):
            if not value or any(v not in allowed for v in value):
                raise ValueError(f"{what} must be a non-empty subset of {allowed}, got {value}")
        if fold_by not in FOLD_GROUPINGS or combine not in COMBINE:
            raise ValueError(f"fold_by must be one of {FOLD_GROUPINGS} and combine one of {COMBINE}, "
                             f"got {fold_by!r} and {combine!r}")
        self.fold_by = fold_by
        self.combine = combine
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
        self.prefer = prefer
        if not kernel_weights or any(not 0.0 <= w < np.inf for w in kernel_weights):
            raise ValueError(f"kernel_weights must be non-negative finite numbers, got {kernel_weights}")
        self.kernel_weights = tuple(sorted(set(float(w) for w in kernel_weights)))
        #: The kernel ridge scores' weight kept (0: none) and the ridge they come from.
        self.kernel_weight = 0.0
        self._ridge: TwoStepRidge | None = None
        #: Averaged: the preferred candidate's fit as a model of its own (see the module doc); else None.
        self.preferred: MetapathModel | None = None
        #: Every candidate's score (``val_mrr`` or ``folds_mrr``) and what the model is (``examples``,
        #: ``family``, ``penalty``, its ``val_mrr``; averaged: every one joined by "+", and ``candidates``).
        self.candidates: list[dict[str, object]] = []
        self.chosen: dict[str, object] = {}

    def chosen_settings(self) -> dict[str, object]:
        """Constructor arguments that refit this model's choices without searching (deployment).

        An averaged model refits the same candidates and averages them again.
        """
        fixed = {"max_length": self.max_length, "damping": self.damping, "folds": self.folds,
                 "fold_by": self.folded_by, "negatives_per_positive": self.negatives_per_positive, "seed": self.seed,
                 "cap_quantile": self.cap_quantile, "reversals": self.reversals,
                 "kernel_weights": (self.kernel_weight,)}
        if self.combine == "average":
            prefer = None if self.preferred is None else {k: self.preferred.chosen[k]
                                                          for k in ("examples", "family", "penalty")}
            return {**fixed, "penalties": self.penalties, "examples": self.examples, "families": self.families,
                    "combine": "average", "prefer": prefer}
        return {**fixed, "penalties": (self.chosen["penalty"],), "examples": (self.chosen["examples"],),
                "families": (self.chosen["family"],)}

    # --------------------------------------------------------------- fitting
    def _fit(self, task: LinkTask) -> None:
        rel = task.relation
        rng = np.random.default_rng(self.seed)
        self.folded_by = fold_grouping(task, self.fold_by)
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
        full = self._graphs = DWPCGraphs.of(base, self.damping)
        positives = task.train_pairs
        fold_graphs = [full.replacing(self._without(positives[fold[:len(positives)] == k], task), self.damping)
                       for k in range(self.folds)]
        raw_train = self._raw_features(full, fold_graphs, pairs, fold)
        # Constant features (metapaths no training pair has) carry nothing: drop them.
        varies = raw_train.max(axis=0) > raw_train.min(axis=0)
        self._keep_columns(varies)
        raw_train = compact_columns(raw_train, varies)
        bar.update(1)
        bar.set_postfix_str("scaling")

        # Scaled once on every example row; each candidate is a slice of rows and columns. Nine in
        # ten counts are zero: kept sparse, a fit reads a third of what a dense float32 block holds.
        is_path = np.arange(self._n_features) < len(self.paths)
        scaler, x_all = FeatureScaler.fit_transform(raw_train, is_path, len(task.train_pairs), self.cap_quantile,
                                                    overwrite=True, sparse=True)
        del raw_train
        val_dst = np.unique(task.val_pairs[:, 1])
        x_val_all = scaler.transform(self._dense_features(full, val_dst)) if len(val_dst) else None
        ranking = (FoldRanking.of(x_all, labels, pairs, fold, np.arange(rows_of["sampled"].stop, len(pairs)),
                                  self.folds) if self._ranks_folds() else None)
        bar.update(1)

        def validation_mrr(weights: np.ndarray, biases: np.ndarray) -> np.ndarray:
            if x_val_all is None:
                return np.zeros(len(biases))
            scores = x_val_all @ weights + biases  # (pairs, fits): one pass over the features
            return np.array([evaluate_scores(column.reshape(len(val_dst), task.num_src), val_dst, task, "val").mrr
                             for column in scores.T])

        def step(what: str) -> None:
            if what != f"{self.examples[0]} examples":
                bar.update(1)
            bar.set_postfix_str(what)

        search = CandidateSearch(self.examples, self.families, tuple(self.penalties), self.margin,
                                 self._people_columns(), ranking, validation_mrr,
                                 how=self.combine if self._several() else "validation", prefer=self.prefer)
        self.chosen, (columns, self.weights, self.bias) = search.run(x_all, labels, rows_of, step)
        self.candidates = search.candidates
        self.val_mrr = float(self.chosen["val_mrr"])
        fold_fits = self._out_of_fold_fits(x_all, labels, fold, columns) if len(self.kernel_weights) > 1 else None
        bar.update(1)
        self._keep_columns(columns)
        self.scaler = scaler.subset(columns)
        bar.set_postfix_str("scores of every pair")
        self.kernel_weight = 0.0
        self.scores_ = self._all_scores(full, task)
        if self.kernel_weights != (0.0,):
            self._add_kernel(task, fold_graphs, fold[:len(positives)], val_dst, fold_fits)
        if search.preferred is not None:
            self.preferred = self._alongside(*search.preferred, columns)
        bar.update(1)
        bar.close()

    def _alongside(self, candidate: dict, weights: np.ndarray, bias: float, columns: np.ndarray) -> "MetapathModel":
        """A copy of this fitted model that scores with one candidate's fit (``weights`` over every
        feature, 0 where its family leaves one out; ``columns``: the features this model kept). Its
        scores of every pair are computed when first read (:meth:`_scores`): a patient's graph
        component reads them, a ranking of diseases' drugs never does (a second of every fit)."""
        model = copy.copy(self)
        model.weights, model.bias, model.chosen, model.combine = weights[columns], bias, candidate, "validation"
        model.val_mrr, model.preferred, model.prefer = float(candidate["val_mrr"]), None, None
        model.kernel_weight = 0.0  # the patients' graph component reads the logistic scores alone
        model.scores_, model._fixed_part = None, None  # on the same graphs and task as this model
        return model

    def _examples(self, task: LinkTask, rng: np.random.Generator):
        """Training pairs (indications first), labels, cross-fitting folds and the rows of each scheme."""
        positives = task.train_pairs
        sampled = np.stack([rng.integers(0, task.num_src, self.negatives_per_positive * len(positives)),
                            rng.integers(0, task.num_dst, self.negatives_per_positive * len(positives))], 1)
        # Every drug x every training disease: a scheme of examples, and what the folds rank.
        wanted = "every drug" in self.examples or self._ranks_folds()
        diseases = np.unique(positives[:, 1]) if wanted else np.empty(0, dtype=np.int64)
        every = np.stack([np.tile(np.arange(task.num_src), len(diseases)), np.repeat(diseases, task.num_src)], 1)
        known = positives[:, 0].astype(np.int64) * task.num_dst + positives[:, 1]
        sampled = sampled[~np.isin(sampled[:, 0] * task.num_dst + sampled[:, 1], known)]
        every = every[~np.isin(every[:, 0] * task.num_dst + every[:, 1], known)]
        pairs = np.concatenate([positives, sampled, every]).astype(np.int64)
        labels = np.concatenate([np.ones(len(positives)), np.zeros(len(sampled) + len(every))])
        fold = assign_folds(pairs, len(positives), self.folds, self.folded_by, rng)
        n_pos, n_sampled = len(positives), len(sampled)
        rows_of = {"sampled": slice(0, n_pos + n_sampled),
                   "every drug": slice(0, len(pairs))}  # random pairs plus every drug x training disease
        return pairs, labels, fold, rows_of

    def _several(self) -> bool:
        return len(self.examples) * len(self.penalties) * len(self.families) > 1

    def _ranks_folds(self) -> bool:
        """Whether candidates are judged on the folds (there are several, and ``combine="folds"``)."""
        return self._several() and self.combine == "folds"

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

    def _without(self, pairs: np.ndarray, task: LinkTask) -> dict[MetaEdge, sp.csr_matrix]:
        """The target relation's matrices (both directions) without ``pairs``."""
        base, target = self._base, self._target
        removed = sp.csr_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])),
                                shape=(task.num_src, task.num_dst))
        forward = base[target] - base[target].multiply(removed)
        forward.eliminate_zeros()
        return {target: sp.csr_matrix(forward), target.reverse(): sp.csr_matrix(forward.T)}

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

    def _linear_part(self, graphs: DWPCGraphs, task: LinkTask, columns: np.ndarray | None = None,
                     dst: np.ndarray | None = None, weights: np.ndarray | None = None,
                     repeat: np.ndarray | None = None) -> np.ndarray:
        """(len(dst), num_src) sum of weight x feature over ``columns`` (all by default), no bias,
        for the diseases ``dst`` (all by default), with the model's weights or ``weights`` (a fold's
        refit). With ``repeat`` (positions in ``dst``), one row per position instead, ``weights``
        then holding a column per position: several folds' diseases at once, each walked once.

        Accumulated one feature at a time over all diseases: no (pairs x features) matrix is built.
        """
        wanted = np.ones(self._n_features, dtype=bool) if columns is None else columns
        every = np.arange(task.num_dst) if dst is None else np.asarray(dst, dtype=np.int64)
        weights = self.weights if weights is None else weights
        column = {p: j for j, p in enumerate(self.paths)}
        chosen = [p for p, w in zip(self.paths, wanted) if w]
        width = len(every) if repeat is None else len(repeat)
        parts = np.zeros((WORKERS, task.num_src, width), dtype=np.float64)  # one sum per thread

        def feature(j: int, raw: np.ndarray) -> np.ndarray:  # weight x feature j, one column per output row
            if repeat is None:
                return self.scaler.column(raw, j, weights[j])
            return self.scaler.column(raw, j)[:, repeat] * weights[j]

        def add(worker: int, path: Metapath, dense: np.ndarray) -> None:
            parts[worker] += feature(column[path], dense)

        graphs.for_each(chosen, every, add)
        out = parts.sum(axis=0)
        n_p, n_s = len(self.paths), len(self.src_degree_edges)
        for i, e in enumerate(self.src_degree_edges):
            if wanted[n_p + i]:
                out += weights[n_p + i] * self.scaler.column(graphs.degrees[e][:, None], n_p + i)
        for i, e in enumerate(self.dst_degree_edges):
            j = n_p + n_s + i
            if wanted[j]:
                out += feature(j, graphs.degrees[e][None, every])
        return out.T

    def _all_scores(self, graphs: DWPCGraphs, task: LinkTask) -> np.ndarray:
        # Summed in the two parts scores_without uses, so its views add up exactly like this.
        target_columns = self._target_columns()
        self._fixed_part = self._linear_part(graphs, task, ~target_columns)
        self._linear = self._fixed_part + self._linear_part(graphs, task, target_columns) + self.bias
        return self._with_kernel(self._linear, task.train_pairs, np.arange(task.num_dst)).astype(np.float32)

    def _with_kernel(self, linear: np.ndarray, positives: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """``linear`` (len(dst), num_src) plus the kernel ridge scores given ``positives``, at the kept weight."""
        if self.kernel_weight == 0.0 or self._ridge is None:
            return linear
        return fuse_kernel(linear, self._ridge.scores(positives, dst), self.kernel_weight)

    def _out_of_fold_fits(self, x_all, labels: np.ndarray, fold: np.ndarray,
                          columns: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """The logistic model refitted without each fold's examples (every scheme's rows, the kept
        features, :data:`FOLD_PENALTY`): what scores a fold's indications as if never seen. The
        model's own weights have seen them, which on five seeds of each split put its cross-fitted
        MRR 0.02-0.04 above these fits' and chose too small a kernel weight (docs/evaluation.md)."""
        out = []
        for k in range(self.folds):
            rows = np.flatnonzero(fold != k)
            out.append(fit_logistic_regression(select(x_all, rows, columns), labels[rows], FOLD_PENALTY,
                                               init=(self.weights, self.bias)))
        return out

    def _add_kernel(self, task: LinkTask, fold_graphs: list[DWPCGraphs], positive_fold: np.ndarray,
                    val_dst: np.ndarray, fold_fits: list[tuple[np.ndarray, float]] | None) -> None:
        """Fit the kernel ridge and keep its weight: the one given, or (``fold_fits``) the one whose
        scores rank each fold's indications best among every drug. A fold's diseases are scored by
        the logistic model fitted without the fold, on the graph without its indications, plus the
        ridge fitted without them; the other indications are filtered. Macro MRR over (fold, disease)."""
        self._ridge = TwoStepRidge(FeatureKernels.of(task.train_graph, task.id_maps, task.relation.src,
                                                     task.relation.dst))
        positives = task.train_pairs
        self.kernel_weight = self.kernel_weights[0]
        if fold_fits is not None:
            mrr: dict[float, list[float]] = {w: [] for w in self.kernel_weights}
            helds = [positives[positive_fold == k] for k in range(len(fold_graphs))]
            dsts = [np.unique(held[:, 1]) for held in helds]
            fixed = self._fold_fixed_parts(task, dsts, [w for w, _ in fold_fits])
            target = self._target_columns()
            for k, (graphs, held, dst) in enumerate(zip(fold_graphs, helds, dsts)):
                if not len(held):
                    continue
                linear = fixed[k] + self._linear_part(graphs, task, target, dst, weights=fold_fits[k][0])
                ridge = self._ridge.scores(positives[positive_fold != k], dst)
                for weight in self.kernel_weights:
                    mrr[weight] += fold_mrrs(fuse_kernel(linear + fold_fits[k][1], ridge, weight), dst, held,
                                              positives)
            means = {w: float(np.mean(v)) if v else 0.0 for w, v in mrr.items()}
            self.kernel_weight = max(self.kernel_weights, key=lambda w: (means[w], -w))  # a tie keeps the smaller
            self.chosen["kernel_folds_mrr"] = {f"{w:g}": round(m, 4) for w, m in means.items()}
        self.chosen["kernel_weight"] = self.kernel_weight
        if self.kernel_weight > 0.0:  # the logistic part as _all_scores just summed it
            self.scores_ = self._with_kernel(self._linear, positives, np.arange(task.num_dst)).astype(np.float32)
            if len(val_dst):
                self.chosen["val_mrr_without_kernel"] = self.chosen["val_mrr"]
                self.val_mrr = evaluate_scores(self.scores_[val_dst], val_dst, task, "val").mrr
                self.chosen["val_mrr"] = round(self.val_mrr, 4)

    def _fold_fixed_parts(self, task: LinkTask, dsts: list[np.ndarray], weights: list[np.ndarray]) -> list[np.ndarray]:
        """Each fold's sum over the features that never walk the target relation, for its diseases
        (``dsts[k]``) with its refit's weights. These features are the same on a fold's graph as on
        the whole training graph, so one walk serves every fold: each disease is walked once, however
        many folds hold it, and its column is weighted by each fold's refit."""
        every, repeat = np.unique(np.concatenate(dsts), return_inverse=True)
        per_column = np.concatenate([np.repeat(w[:, None], len(d), axis=1) for w, d in zip(weights, dsts)], axis=1)
        fixed = self._linear_part(self._graphs, task, ~self._target_columns(), every, per_column, repeat)
        return np.split(fixed, np.cumsum([len(d) for d in dsts])[:-1])

    def _target_columns(self) -> np.ndarray:
        """Which features depend on the target relation's edges (its paths and degrees)."""
        return np.array([self._uses_target(p) for p in self.paths]
                        + [e.base == self.relation for e in self.src_degree_edges + self.dst_degree_edges],
                        dtype=bool)

    # --------------------------------------------------------------- scoring
    def score_matrix(self, dst_index: np.ndarray) -> np.ndarray:
        self._fitted()
        return self._scores()[np.asarray(dst_index, dtype=np.int64)]

    def logistic_scores(self, dst_index: np.ndarray) -> np.ndarray:
        """The logistic part of :meth:`score_matrix` alone, without the kernel ridge (ablations)."""
        self._scores()
        return self._linear[np.asarray(dst_index, dtype=np.int64)]

    def _scores(self) -> np.ndarray:
        """Every pair's scores (diseases x drugs); a kept candidate's are computed on first read."""
        if self.scores_ is None:
            self.scores_ = self._all_scores(self._graphs, self.task)
        return self.scores_

    def scores_without(self, pairs: np.ndarray) -> np.ndarray:
        """(num_dst, num_src) scores on the training graph without the indications ``pairs``.

        The fitted weights are kept; only the features change. A model stacked on this
        one (the GNN with a metapath prior) trains on held-out views like these, so a
        pair it learns from never feeds its own features, as at test time.
        """
        self._fitted()
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        self._scores()  # sets the part of every view that never walks the target
        target_columns = self._target_columns()
        # Most features (270 of 354 paths on the shipped graph) never walk the target
        # relation: their part of the score is the same on every view, computed once.
        assert self._fixed_part is not None
        graphs = self._graphs.replacing(self._without(pairs, self.task), self.damping)
        varying = self._linear_part(graphs, self.task, target_columns)
        known = self.task.train_pairs
        num_dst = self.task.num_dst
        kept = known[~np.isin(known[:, 0] * num_dst + known[:, 1], pairs[:, 0] * num_dst + pairs[:, 1])]
        linear = self._fixed_part + varying + self.bias
        return self._with_kernel(linear, kept, np.arange(self.task.num_dst)).astype(np.float32)

    def feature_names(self) -> list[str]:
        names = [" > ".join(e.abbreviation for e in p) for p in self.paths]
        names += [f"degree {e.abbreviation}" for e in self.src_degree_edges]
        names += [f"degree {e.abbreviation}" for e in self.dst_degree_edges]
        return names

    def top_features(self, n: int = 10) -> Iterator[tuple[str, float]]:
        order = np.argsort(-np.abs(self.weights))[:n]
        names = self.feature_names()
        return ((names[i], float(self.weights[i])) for i in order)
