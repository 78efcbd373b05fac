"""The collaborative-filtering contract: fit, recommend, fold in, update, save and load.

Implicit-style, like the link scorers: ``fit`` returns the model;
``recommend(user_ids, k, exclude_seen=True)`` returns ``(item_ids, scores)`` arrays of
shape (n, k); ``recommend_new`` does the same for users the model has never seen, from
the items they are known to use (fold-in, no retraining); ``update`` takes new
interactions of known or new users and items without a full refit. Models persist to
one ``.npz`` file of plain arrays, read back with ``allow_pickle=False``.

Subclasses implement ``_fit``, ``_known_scores``, ``_new_scores``, ``_update`` and
their ``_state`` / ``_restore``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kg.errors import KGError
from kg.io import atomic_file
from recsys.cf.interactions import Interactions
from recsys.metrics import top_columns

__all__ = ["CFRecommender", "top_k", "check_k", "cosine_rows", "cf_library_versions", "CF_FORMAT"]

CF_FORMAT = "rxkg-cf-model/1"
History = Mapping[str, float] | Iterable[str]


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column positions and values of each row's ``k`` best scores, best first.

    Ties break towards the lower column, so rankings are reproducible
    (:func:`recsys.metrics.top_columns`, the order the evaluation scores).
    """
    best = top_columns(scores, k)
    return best, np.take_along_axis(scores, best, axis=1)


class CFRecommender:
    """Base of ALS, BPR and the popularity baselines."""

    name: str = "cf"

    def __init__(self) -> None:
        self.train: Interactions | None = None
        self.fit_seconds: float = float("nan")

    # --------------------------------------------------------------- contract
    def fit(self, interactions: Interactions) -> "CFRecommender":
        """Learn from ``interactions`` (raw strengths; the model applies its own transform)."""
        if interactions.nnz == 0:
            raise KGError(f"{self.name}: no interactions to fit")
        start = time.perf_counter()
        self.train = interactions
        self._fit(interactions)
        self.fit_seconds = time.perf_counter() - start
        return self

    def score_users(self, user_ids: Sequence[str]) -> np.ndarray:
        """Scores of every item (columns, in ``item_ids`` order) for known users."""
        train = self._fitted()
        return self._known_scores(train.user_index(user_ids))

    def score_new(self, histories: Sequence[History], attributes: Sequence[Mapping] | None = None,
                  ignore_unknown: bool = False) -> np.ndarray:
        """Scores of every item for users the model never saw, from their histories."""
        rows, _ = self._fitted().rows_for(histories, ignore_unknown=ignore_unknown)
        return self._new_scores(rows, _attribute_frame(attributes, rows.shape[0]))

    def score_rows(self, rows: sp.csr_matrix, attributes: pd.DataFrame | None = None) -> np.ndarray:
        """Scores for new users given as raw interaction rows over this model's ``item_ids``."""
        train = self._fitted()
        if rows.shape[1] != train.shape[1]:
            raise KGError(f"rows have {rows.shape[1]} item columns, the model {train.shape[1]}")
        if attributes is None:
            attributes = pd.DataFrame(index=pd.RangeIndex(rows.shape[0]))
        return self._new_scores(sp.csr_matrix(rows), attributes.reset_index(drop=True))

    def recommend(self, user_ids: Sequence[str], k: int = 10,
                  exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` item ids and scores for each known user (their own items left out).

        A user with fewer than ``k`` items left to recommend gets ``None`` ids (score
        ``-inf``) in the remaining places.
        """
        train = self._fitted()
        check_k(k)
        rows = train.user_index(user_ids)
        scores = self._known_scores(rows)
        seen = train.matrix[rows] if exclude_seen else None
        return self._ranked(scores, seen, k)

    def recommend_new(self, histories: Sequence[History], k: int = 10, exclude_seen: bool = True,
                      attributes: Sequence[Mapping] | None = None,
                      ignore_unknown: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` for users the model never saw (fold-in from their histories, no retraining).

        ``attributes`` gives each new user's metadata (e.g. ``{"specialty": ...}``) for
        models that use it.
        """
        check_k(k)
        rows, _ = self._fitted().rows_for(histories, ignore_unknown=ignore_unknown)
        scores = self._new_scores(rows, _attribute_frame(attributes, rows.shape[0]))
        return self._ranked(scores, rows if exclude_seen else None, k)

    def score(self, user_ids: Sequence[str], item_ids: Sequence[str]) -> np.ndarray:
        """Scores of ``(user_ids[i], item_ids[i])`` pairs."""
        train = self._fitted()
        if len(user_ids) != len(item_ids):
            raise KGError(f"{len(user_ids)} user ids but {len(item_ids)} item ids")
        users, rows = np.unique(train.user_index(user_ids), return_inverse=True)
        return self._known_scores(users)[rows, train.item_index(item_ids)]

    def similar_items(self, item_ids: Sequence[str], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items most similar to each of ``item_ids`` (itself left out), with cosines."""
        train = self._fitted()
        return _nearest(train.item_ids, train.item_index(item_ids), self._item_similarities, k)

    def similar_users(self, user_ids: Sequence[str], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` training users most similar to each of ``user_ids`` (itself left out)."""
        train = self._fitted()
        return _nearest(train.user_ids, train.user_index(user_ids), self._user_similarities, k)

    def update(self, new: Interactions) -> "CFRecommender":
        """Add ``new`` interactions (strengths add up) without a full refit.

        Users and items the model has not seen are appended; factors of touched users and
        items are re-solved against the others, which stay fixed.
        """
        train = self._fitted()
        merged, new_users, new_items, touched_users, touched_items = _merge(train, new)
        self.train = merged
        self._update(merged, new_users, new_items, touched_users, touched_items)
        return self

    # ------------------------------------------------------------ similarity
    def _item_similarities(self, queries: np.ndarray) -> np.ndarray:
        """Cosine of item columns of the binary training matrix (co-use); factor models override."""
        binary = (self.train.matrix > 0).astype(np.float64).T.tocsr()
        return cosine_rows(binary, queries)

    def _user_similarities(self, queries: np.ndarray) -> np.ndarray:
        binary = (self.train.matrix > 0).astype(np.float64).tocsr()
        return cosine_rows(binary, queries)

    # ---------------------------------------------------------- persistence
    def save(self, path: str | Path) -> Path:
        """Write the model to one ``.npz`` file atomically."""
        train = self._fitted()
        path = Path(path)
        arrays = {f"model.{key}": value for key, value in self._state().items()}
        arrays.update(_interactions_state(train))
        arrays["format"] = np.array(CF_FORMAT)
        arrays["model_class"] = np.array(self.name)
        arrays["config"] = np.array(json.dumps(self.config()))
        arrays["versions"] = np.array(json.dumps(cf_library_versions()))

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as handle:  # a handle, so numpy does not append ".npz"
                np.savez(handle, **arrays)

        atomic_file(path, write)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "CFRecommender":
        """Read a model saved by :meth:`save` (plain arrays only; nothing is unpickled).

        The saved model's ``name`` is looked up among the subclasses of ``cls`` (every model
        of :mod:`recsys.cf` is defined once the package is imported), so a model can only be
        read back as itself or as one of its base classes.
        """
        path = Path(path)
        if not path.is_file():
            raise KGError(f"{path}: no CF model there")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except Exception as exc:  # truncated, foreign or pickled content
            raise KGError(f"{path}: not a readable rxkg CF model ({exc})") from exc
        if str(arrays.get("format", "")) != CF_FORMAT:
            raise KGError(f"{path}: not an rxkg CF model (format {arrays.get('format')!r})")
        kind = str(arrays["model_class"])
        model_class = _model_classes(CFRecommender).get(kind)
        if model_class is None:
            raise KGError(f"{path}: unknown CF model class {kind!r}")
        if not issubclass(model_class, cls):
            raise KGError(f"{path}: holds a {kind} model, not {cls.name}")
        model = model_class(**json.loads(str(arrays["config"])))
        model.train = _interactions_from_state(arrays)
        model._restore({key[len("model."):]: value for key, value in arrays.items()
                        if key.startswith("model.")})
        return model

    # ---------------------------------------------------------------- hooks
    def config(self) -> dict[str, object]:
        """Constructor arguments (JSON-able) that rebuild this model."""
        raise NotImplementedError

    def _fit(self, interactions: Interactions) -> None:
        raise NotImplementedError

    def _known_scores(self, rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _new_scores(self, rows: sp.csr_matrix, attributes: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def _update(self, merged: Interactions, new_users: int, new_items: int,
                touched_users: np.ndarray, touched_items: np.ndarray) -> None:
        raise NotImplementedError

    def _state(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    # --------------------------------------------------------------- helpers
    def _fitted(self) -> Interactions:
        if self.train is None:
            raise KGError(f"{self.name} is not fitted: call fit(interactions) or load a model first")
        return self.train

    def _ranked(self, scores: np.ndarray, seen: sp.csr_matrix | None,
                k: int) -> tuple[np.ndarray, np.ndarray]:
        scores = np.asarray(scores, dtype=np.float64)
        if seen is not None:
            scores = scores.copy()
            rows = np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr))
            scores[rows, seen.indices] = -np.inf
        best, values = top_k(scores, k)
        ids = self.train.item_ids[best]
        ids[np.isneginf(values)] = None  # fewer than k unseen items: never pad with seen ones
        return ids, values

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


def _nearest(ids: np.ndarray, queries: np.ndarray, similarities, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Ids and similarities of each query's ``k`` nearest neighbours, the query itself left out."""
    check_k(k)
    sims = similarities(queries)
    sims[np.arange(len(queries)), queries] = -np.inf
    best, values = top_k(sims, k)
    return ids[best], values


def _model_classes(base: type[CFRecommender]) -> dict[str, type[CFRecommender]]:
    """Every subclass of ``base`` that names itself, by that ``name`` (what a saved model records)."""
    found: dict[str, type[CFRecommender]] = {}
    for sub in base.__subclasses__():
        if "name" in vars(sub):  # an abstract middle class inherits its parent's name
            found.setdefault(sub.name, sub)
        for name, deeper in _model_classes(sub).items():
            found.setdefault(name, deeper)
    return found


def check_k(k: int) -> None:
    """Every ``k`` of the recommenders: a positive integer, or a clear error."""
    if not isinstance(k, (int, np.integer)) or k <= 0:
        raise KGError(f"k must be a positive integer, got {k!r}")


def _attribute_frame(attributes: Sequence[Mapping] | None, n: int) -> pd.DataFrame:
    if attributes is None:
        return pd.DataFrame(index=pd.RangeIndex(n))
    if len(attributes) != n:
        raise KGError(f"{len(attributes)} attribute records for {n} histories")
    return pd.DataFrame.from_records(list(attributes), index=pd.RangeIndex(n))


def cosine_rows(matrix: sp.csr_matrix, queries: np.ndarray) -> np.ndarray:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    sims = (matrix[queries] @ matrix.T).toarray()
    return sims / norms[queries][:, None] / norms[None, :]


def _merge(train: Interactions, new: Interactions):
    """Union of the item and user spaces, strengths of ``new`` added to ``train``'s."""
    known_items = set(train.item_ids)
    extra_items = [i for i in new.item_ids if i not in known_items]
    item_ids = np.concatenate([train.item_ids, np.asarray(extra_items, dtype=object)])
    known_users = set(train.user_ids)
    extra_users = [u for u in new.user_ids if u not in known_users]
    user_ids = np.concatenate([train.user_ids, np.asarray(extra_users, dtype=object)])
    rows = pd.Index(user_ids).get_indexer(new.user_ids)
    cols = pd.Index(item_ids).get_indexer(new.item_ids)
    coo = new.matrix.tocoo()
    added = sp.csr_matrix((coo.data, (rows[coo.row], cols[coo.col])), shape=(len(user_ids), len(item_ids)))
    base = sp.csr_matrix(train.matrix, shape=train.matrix.shape)
    base.resize((len(user_ids), len(item_ids)))
    attributes = train.user_attributes
    if len(extra_users):
        new_attr = new.user_attributes.set_index(pd.Index(new.user_ids)).reindex(extra_users)
        attributes = pd.concat([attributes, new_attr.reset_index(drop=True)], ignore_index=True)
        attributes = attributes.reindex(columns=train.user_attributes.columns)
    merged = Interactions(base + added, user_ids, item_ids, attributes)
    touched_users = np.unique(rows[coo.row])
    touched_items = np.unique(cols[coo.col])
    return merged, len(extra_users), len(extra_items), touched_users, touched_items


def _interactions_state(inter: Interactions) -> dict[str, np.ndarray]:
    m = inter.matrix
    state = {"train.indptr": m.indptr, "train.indices": m.indices, "train.data": m.data,
             "train.user_ids": np.asarray(inter.user_ids, dtype=str),
             "train.item_ids": np.asarray(inter.item_ids, dtype=str)}
    for column in inter.user_attributes.columns:
        values = inter.user_attributes[column]
        state[f"attr.{column}"] = np.asarray(values.where(values.notna(), "").astype(str), dtype=str)
    return state


def _interactions_from_state(arrays: dict[str, np.ndarray]) -> Interactions:
    users = arrays["train.user_ids"].astype(object)
    items = arrays["train.item_ids"].astype(object)
    matrix = sp.csr_matrix((arrays["train.data"], arrays["train.indices"], arrays["train.indptr"]),
                           shape=(len(users), len(items)))
    attributes = pd.DataFrame({key[len("attr."):]: pd.Series(value.astype(object)).replace("", None)
                               for key, value in arrays.items() if key.startswith("attr.")},
                              index=pd.RangeIndex(len(users)))
    return Interactions(matrix, users, items, attributes)


def cf_library_versions() -> dict[str, str]:
    import implicit
    import scipy

    import kg

    return {"rxkg": kg.__version__, "implicit": implicit.__version__,
            "numpy": np.__version__, "scipy": scipy.__version__}
