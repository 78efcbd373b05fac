"""The metapath model's candidates: training examples x feature families x L2 penalties.

Three ways to turn them into one model (``how``):

- ``"average"`` (what ``rxkg train`` deploys for diseases): every candidate is fitted on
  every row of its scheme and the model is their mean, which is again one logistic model
  on the same features (the mean of the weights), so each score still decomposes into
  named metapaths. Nothing is chosen, so nothing rides on a handful of held-out pairs; on
  five seeds of every disease split it ranked better than choosing on validation
  (docs/evaluation.md).
- ``"folds"``: each candidate is judged on its cross-validated MRR over the training
  folds (:class:`~recsys.link.crossval.FoldRanking`), the better mean winning and a tie
  going to the preferred candidate; only the winner is then fitted on every row.
- ``"validation"`` (the default; ``rxkg train``'s model for the patients' graph component):
  judged on validation MRR, a less preferred candidate having to win by a margin.

When choosing, candidates are tried in the model's order of preference: within a scheme
the penalties on every feature first (each fit warm-starting the next), then the other
feature families at that scheme's best penalty. Averaging fits every family at every
penalty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from recsys.link.crossval import FoldRanking
from recsys.logistic import StandardisedSparse, fit_logistic_regression, select

__all__ = ["CandidateSearch"]


@dataclass
class CandidateSearch:
    """One search; ``validation_mrr(weights, biases)`` scores fits on the validation pairs: ``weights``
    (every feature x fits, 0 where a fit leaves a feature out) and ``biases`` give one MRR per fit.

    ``people`` marks the features that walk through doctors or patients (the "without
    people" family drops them). ``ranking`` is needed only with ``how="folds"``.
    """

    examples: tuple[str, ...]
    families: tuple[str, ...]
    penalties: tuple[float, ...]
    margin: float
    people: np.ndarray
    ranking: FoldRanking | None
    validation_mrr: Callable[[np.ndarray, np.ndarray], np.ndarray]
    how: str = "validation"
    #: Averaging: the candidate (``examples``, ``family``, ``penalty``) to keep beside the mean in
    #: :attr:`preferred`; None: the one the validation rule would choose.
    prefer: dict | None = None
    #: Every candidate tried, with its score (``folds_mrr`` or ``val_mrr``).
    candidates: list[dict] = field(default_factory=list)
    #: Averaging: one candidate's fit kept beside the mean, ``(candidate, weights over every
    #: feature, bias)`` (:attr:`prefer`, or the validation rule's choice among the averaged fits).
    preferred: tuple[dict, np.ndarray, float] | None = None

    def run(self, x: np.ndarray | StandardisedSparse, labels: np.ndarray, rows_of: dict[str, slice],
            step: Callable[[str], None] = lambda _: None) -> tuple[dict, tuple[np.ndarray, np.ndarray, float]]:
        """The chosen candidate (with its ``val_mrr``) and its fit: ``(columns, weights, bias)``.

        Averaged, the "candidate" describes the mean: every scheme, family and penalty.
        """
        if self.how == "average":
            return self._average(x, labels, rows_of, step)
        best: dict | None = None
        for scheme in self.examples:
            step(f"{scheme} examples")
            rows = rows_of[scheme]
            tried = self._try(scheme, self.families[0], sorted(self.penalties, reverse=True), x, labels, rows)
            penalty = max(tried, key=_score)["penalty"]
            for family in self.families[1:]:
                tried += self._try(scheme, family, [penalty], x, labels, rows)
            for candidate in tried:
                self.candidates.append({k: v for k, v in candidate.items() if k != "fitted"})
                if self._replaces(candidate, best):
                    best = candidate
        assert best is not None, "the search had no candidate"
        fitted = best.pop("fitted", None)
        if fitted is None:  # judged on the folds: fitted now, on every row of its scheme
            columns, rows = self._columns(best["family"]), rows_of[best["examples"]]
            fitted = (columns, *fit_logistic_regression(select(x, rows, columns), labels[rows], best["penalty"]))
            best["val_mrr"] = self._validation_mrrs([fitted])[0]
        return best, fitted

    def _average(self, x: np.ndarray | StandardisedSparse, labels: np.ndarray, rows_of: dict[str, slice],
                 step: Callable[[str], None]) -> tuple[dict, tuple[np.ndarray, np.ndarray, float]]:
        fits: list[tuple[np.ndarray, np.ndarray, float]] = []
        wide: list[np.ndarray] = []  # each fit's weights over every feature
        for scheme in self.examples:
            step(f"{scheme} examples")
            first: dict[float, tuple[np.ndarray, float]] = {}  # the first family's fit at each penalty
            for family in self.families:
                for candidate in self._try(scheme, family, sorted(self.penalties, reverse=True), x, labels,
                                           rows_of[scheme], start=first or None):
                    fitted = candidate.pop("fitted")
                    wide.append(_widened(fitted, len(self.people)))
                    first.setdefault(candidate["penalty"], (wide[-1], fitted[2]))
                    fits.append(fitted)
                    self.candidates.append(candidate)
        assert fits, "the search had no candidate"
        # Summed in fitting order, then divided: the same arithmetic on every run and machine.
        weights = sum(wide, np.zeros(len(self.people))) / len(fits)
        bias = sum(b for _, _, b in fits) / len(fits)
        columns = np.logical_or.reduce([c for c, _, _ in fits])
        # Every fit's validation MRR, and the mean's, from one pass over the validation features.
        mrrs = self._validation_mrrs(fits + [(columns, weights[columns], bias)])
        for candidate, mrr in zip(self.candidates, mrrs):
            candidate["val_mrr"] = mrr
        kept = self._preferred_index()
        self.preferred = (dict(self.candidates[kept]), wide[kept], fits[kept][2])
        averaged = {"examples": "+".join(self.examples), "family": "+".join(self.families),
                    "penalty": "+".join(f"{p:g}" for p in sorted(self.penalties, reverse=True)),
                    "candidates": len(fits), "val_mrr": mrrs[-1]}
        return averaged, (columns, weights[columns], bias)

    def _preferred_index(self) -> int:
        """Which averaged fit :attr:`preferred` keeps: the one :attr:`prefer` names, else the one
        :meth:`run` would choose on validation from the same scores. Averaging fits the first family
        at every penalty in the order that rule tries them, so the fits it compares are its own."""
        if self.prefer is not None:
            wanted = tuple(self.prefer[k] for k in ("examples", "family", "penalty"))
            found = [i for i, c in enumerate(self.candidates)
                     if (c["examples"], c["family"], c["penalty"]) == wanted]
            if not found:
                raise ValueError(f"no averaged candidate is {self.prefer}")
            return found[0]
        best: int | None = None
        for scheme in self.examples:
            mine = [i for i, c in enumerate(self.candidates) if c["examples"] == scheme]
            first = [i for i in mine if self.candidates[i]["family"] == self.families[0]]
            if not first:
                continue
            penalty = self.candidates[max(first, key=lambda i: _score(self.candidates[i]))]["penalty"]
            tried = first + [i for family in self.families[1:] for i in mine
                             if self.candidates[i]["family"] == family and self.candidates[i]["penalty"] == penalty]
            for i in tried:
                if self._replaces(self.candidates[i], None if best is None else self.candidates[best]):
                    best = i
        assert best is not None, "the search had no candidate"
        return best

    def _replaces(self, candidate: dict, incumbent: dict | None) -> bool:
        """Whether the choosing rule keeps ``candidate`` over ``incumbent`` (None: nothing kept yet)."""
        return incumbent is None or _score(candidate) > _score(incumbent) + self._margin(candidate, incumbent)

    def _validation_mrrs(self, fits: list[tuple[np.ndarray, np.ndarray, float]]) -> list[float]:
        weights = np.stack([_widened(f, len(self.people)) for f in fits], axis=1)
        mrrs = self.validation_mrr(weights, np.array([b for _, _, b in fits]))
        return [round(float(m), 4) for m in mrrs]

    def _columns(self, family: str) -> np.ndarray:
        return ~self.people if family == "without people" else np.ones_like(self.people)

    def _try(self, scheme: str, family: str, penalties: list[float], x: np.ndarray | StandardisedSparse,
             labels: np.ndarray, rows: slice, start: dict[float, tuple[np.ndarray, float]] | None = None) -> list[dict]:
        """``family`` at each penalty, scored. Each fit warm-starts from ``start``'s fit at its penalty
        (weights over every feature: another family's), else from the previous penalty's."""
        columns = self._columns(family)
        if not columns.any():
            return []
        if self.how == "folds":
            assert self.ranking is not None, "judging on the folds needs their ranking"
            scores = self.ranking.scores(np.arange(len(labels))[rows], columns, penalties)
            return [{"examples": scheme, "family": family, "penalty": p, "folds_mrr": round(s["mrr"], 4),
                     "folds_auroc": round(s["auroc"], 4)} for p, s in zip(penalties, scores)]
        x_rows, y = select(x, rows, columns), labels[rows]
        out, fitted = [], None
        for penalty in penalties:
            if start is not None and penalty in start:
                fitted = (start[penalty][0][columns], start[penalty][1])
            fitted = fit_logistic_regression(x_rows, y, penalty, init=fitted)
            out.append({"examples": scheme, "family": family, "penalty": penalty, "fitted": (columns, *fitted)})
        if self.how != "average":  # averaging scores every fit at once, after the last
            for candidate, mrr in zip(out, self._validation_mrrs([c["fitted"] for c in out])):
                candidate["val_mrr"] = mrr
        return out

    def _margin(self, candidate: dict, incumbent: dict) -> float:
        """What ``candidate`` must gain over ``incumbent``: validation's margin if it is less preferred."""
        if "folds_mrr" in candidate:
            return 0.0
        rank = (self.examples.index(candidate["examples"]), self.families.index(candidate["family"]))
        later = rank > (self.examples.index(incumbent["examples"]), self.families.index(incumbent["family"]))
        return self.margin if later else 0.0


def _score(candidate: dict) -> float:
    return float(candidate["folds_mrr"] if "folds_mrr" in candidate else candidate["val_mrr"])


def _widened(fitted: tuple[np.ndarray, np.ndarray, float], width: int) -> np.ndarray:
    """A fit's weights over every feature: 0 for those its family leaves out."""
    columns, weights, _ = fitted
    out = np.zeros(width)
    out[columns] = weights
    return out

