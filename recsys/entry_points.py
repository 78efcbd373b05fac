"""The Recommender's entry points beyond ranking known entities.

New patients and doctors (ranked through the graph and CF fold-in without retraining),
similar drugs, doctor profiles and explanations with CF evidence. A mixin of
:class:`recsys.api.Recommender`, kept apart so each module stays one concern.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from kg.errors import KGError
from recsys.cf.base import CFRecommender, check_k, top_k
from recsys.safety import PatientContext

if TYPE_CHECKING:
    from recsys.api import Recommendations

__all__ = ["EntryPoints"]


class EntryPoints:
    """Methods of :class:`~recsys.api.Recommender` that build on its components."""

    def recommend_for_new_patient(self, conditions: Sequence[str] = (), current_drugs: Sequence[str] = (),
                                  allergies: Sequence[str] = (), k: int = 10,
                                  safety: bool = True) -> "Recommendations":
        """Top-``k`` for a patient not in the graph: through their diseases (graph) and their
        drugs (CF fold-in). ``allergies`` are drug ids or ATC classes (``atc:J01C``).

        Each recommendation is explained from the condition that supports it most (or the
        current drug, when no condition does).
        """
        check_k(k)
        rows = self._ids_of(conditions, "disease", "condition")
        self._ids_of(current_drugs, "drug", "current drug")
        self._ids_of([a for a in allergies if not a.startswith("atc:")], "drug", "allergy")
        if not rows and not current_drugs:
            raise KGError("a new patient needs at least one condition or one current drug")
        n = len(self.drug_ids)
        graph = self._disease_z[rows].max(axis=0)[None, :] if rows else np.full((1, n), np.nan)
        cf = np.full((1, n), np.nan)
        if self.patient_cf is not None and current_drugs:
            known = [d for d in current_drugs if self.patient_cf.train.has_item(d)]
            if known:
                cf = self._onto_drugs(self.patient_cf, self.patient_cf.score_new([known]))
        parts = {"graph": graph, "cf": cf, "popularity": np.log1p(self._patient_share)[None, :]}
        context = PatientContext(frozenset(current_drugs), frozenset(allergies)) if safety else None
        best_condition = (lambda drug: max(conditions, key=lambda c: self._disease_z[
            self._disease_index.get_loc(c), self._drug_index.get_loc(drug)])) if rows else \
            (lambda drug: current_drugs[0])
        return self._rank_parts("patient", parts, best_condition, k, skip=set(current_drugs),
                                context=context, who="the new patient")

    def recommend_for_new_doctor(self, prescriptions: Mapping[str, float], specialty: str | None = None,
                                 k: int = 10) -> "Recommendations":
        """Top-``k`` for a prescriber not in the graph, from their claim counts per drug (CF fold-in)
        and their specialty (within-specialty popularity). Each recommendation is explained from
        the prescribed drug most like it."""
        check_k(k)
        self._ids_of(list(prescriptions), "drug", "prescribed drug")
        if not prescriptions:
            raise KGError("a new doctor needs at least one prescribed drug")
        n = len(self.drug_ids)
        parts = {"graph": np.full((1, n), np.nan), "cf": np.full((1, n), np.nan),
                 "popularity": np.full((1, n), np.nan)}
        history = {d: float(c) for d, c in prescriptions.items()}
        if self.doctor_cf is not None:
            known = {d: c for d, c in history.items() if self.doctor_cf.train.has_item(d)}
            if known:
                parts["cf"] = self._onto_drugs(self.doctor_cf, self.doctor_cf.score_new([known]))
        if self.doctor_popularity is not None:
            parts["popularity"] = self._onto_drugs(self.doctor_popularity, self.doctor_popularity.score_new(
                [{}], attributes=[{"specialty": specialty}]))
        prescribed = list(history)
        return self._rank_parts("doctor", parts, lambda drug: self._closest_drug(drug, prescribed), k,
                                skip=set(prescribed), who="the new doctor")

    def recommend_many(self, entity_ids: Sequence[str], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Batch form: top-``k`` drug ids and blended scores (arrays of shape (n, k)) for many
        entities of one type. Known indications are kept for diseases; doctors' prescribed
        drugs are left out; patients get the safety filter (a list shorter than ``k`` is padded
        with ``None`` ids and ``-inf`` scores, never with an unsafe drug)."""
        check_k(k)
        scores = self.scores(entity_ids)
        kind = self._kind(entity_ids[0]) if len(entity_ids) else "disease"
        if kind == "doctor" and self.doctor_cf is not None:
            # Every known doctor's prescribed drugs at once, straight from the CSR rows.
            train = self.doctor_cf.train
            known = np.array([self._knows(self.doctor_cf, e) for e in entity_ids], dtype=bool)
            seen = train.matrix[train.user_index([e for e, ok in zip(entity_ids, known) if ok])]
            to_drug = self._drug_index.get_indexer(train.item_ids)
            rows = np.flatnonzero(known)[np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr))]
            columns = to_drug[seen.indices]
            scores[rows[columns >= 0], columns[columns >= 0]] = -np.inf
        elif kind == "patient":
            for row, entity in enumerate(entity_ids):
                context = self.safety.context(self.graph, entity)
                scores[row, self.safety.unsafe_mask(list(self.drug_ids), context)] = -np.inf
        best, values = top_k(scores, k)
        ids = self.drug_ids[best].astype(object)
        ids[np.isneginf(values)] = None
        return ids, values

    def similar_drugs(self, drug_id: str, k: int = 10, by: str = "graph") -> list[tuple[str, str, float]]:
        """Drugs most like ``drug_id``: ``by="graph"`` compares what the disease scorer predicts
        they treat (cosine over all diseases); ``by="prescribing"`` compares who prescribes them
        (doctor CF item factors). Returns ``(drug id, name, cosine)``."""
        check_k(k)
        self._ids_of([drug_id], "drug", "drug")
        if by == "graph":
            column = self._drug_index.get_loc(drug_id)
            vectors = self._disease_z.T
            norms = np.linalg.norm(vectors, axis=1)
            sims = vectors @ vectors[column] / (np.maximum(norms, 1e-12) * max(norms[column], 1e-12))
            sims[column] = -np.inf
            order = np.argsort(-sims, kind="stable")[:k]
            ids, values = self.drug_ids[order], sims[order]
        elif by == "prescribing":
            if self.doctor_cf is None or not self.doctor_cf.train.has_item(drug_id):
                raise KGError(f"{drug_id!r} is not in the prescribing data")
            found, values = self.doctor_cf.similar_items([drug_id], k=k)
            ids, values = found[0], values[0]
        else:
            raise KGError(f"similar_drugs by {by!r}: choose 'graph' or 'prescribing'")
        return [(str(d), self.names.get(d) or str(d), float(v)) for d, v in zip(ids, values)]

    def profile_doctor(self, doctor_id: str, peers: int = 5):
        """The prescriber's therapeutic areas, differences from their specialty, and peers."""
        from recsys.atc import drug_atc_codes
        from recsys.cf.profile import profile_doctor

        self._check(doctor_id, "doctor", 1)
        if not self._knows(self.doctor_cf, doctor_id):
            raise KGError(f"{doctor_id!r} has no prescriptions in the model")
        return profile_doctor(doctor_id, self.doctor_cf.train, drug_atc_codes(self.graph),
                              model=self.doctor_cf, drug_names=self.names, peers=peers)

    def explain(self, entity_id: str, drug_id: str, k: int = 3) -> dict[str, object]:
        """Why ``drug_id`` for ``entity_id``: graph paths, CF evidence, component scores, one sentence."""
        kind = self._kind(entity_id)
        self._ids_of([drug_id], "drug", "drug")
        paths = self.explanation_paths(entity_id, drug_id, k=k)
        evidence = self.cf_evidence(entity_id, drug_id)
        _, standardised, _ = self._blend(kind, [entity_id])
        column = self._drug_index.get_loc(drug_id)
        text = self.explanation_text(entity_id, drug_id, paths)
        if evidence.get("sentence"):
            text += " " + evidence["sentence"]
        return {"drug_id": drug_id, "name": self.names.get(drug_id) or drug_id,
                "components": {n: None if np.isnan(z[0, column]) else float(z[0, column])
                               for n, z in standardised.items()},
                "paths": [p.as_dict() for p in paths], "cf_evidence": evidence, "text": text}

    def cf_evidence(self, entity_id: str, drug_id: str, peers: int = 20) -> dict[str, object]:
        """How many of the entity's nearest CF peers use the drug, and which of its own drugs are
        most like it (doctors and patients known to CF; empty otherwise). Peers are counted,
        never named, so patient ids stay inside."""
        kind = self._types.get(entity_id)
        model = {"doctor": self.doctor_cf, "patient": self.patient_cf}.get(kind)
        if (not self._knows(model, entity_id) or not model.train.has_item(drug_id)
                or model.train.shape[0] < 2):
            return {}
        neighbours, _ = model.similar_users([entity_id], k=min(peers, model.train.shape[0] - 1))
        column = model.train.item_index([drug_id])[0]
        rows = model.train.user_index(list(neighbours[0]))
        users = int((model.train.matrix[rows][:, column] > 0).sum())
        own = list(model.train.items_of(entity_id))
        alike = [self.names.get(d) or d for d in self._closest_drugs(model, drug_id, own, 2)]
        role = "prescribers" if kind == "doctor" else "patients"
        sentence = (f"{users} of the {len(rows)} most similar {role} use it"
                    + (f"; among their own drugs it is most like {', '.join(alike)}." if alike else "."))
        return {"similar_users": len(rows), "similar_users_using_it": users, "most_like_own_drugs": alike,
                "sentence": sentence}

    def _closest_drug(self, drug_id: str, candidates: Sequence[str]) -> str:
        model = self.doctor_cf
        if model is not None:
            best = self._closest_drugs(model, drug_id, candidates, 1)
            if best:
                return best[0]
        return candidates[0]

    @staticmethod
    def _closest_drugs(model: CFRecommender, drug_id: str, candidates: Sequence[str], k: int) -> list[str]:
        pool = [c for c in candidates if model.train.has_item(c) and c != drug_id]
        if not model.train.has_item(drug_id) or not pool:
            return []
        sims = model._item_similarities(model.train.item_index([drug_id]))[0]
        positions = model.train.item_index(pool)
        return [pool[i] for i in np.argsort(-sims[positions], kind="stable")[:k]]

    def _onto_drugs(self, model: CFRecommender, scores: np.ndarray) -> np.ndarray:
        block = np.full((scores.shape[0], len(self.drug_ids)), np.nan)
        columns = self._drug_index.get_indexer(model.train.item_ids)
        inside = columns >= 0
        block[:, columns[inside]] = scores[:, inside]
        return block

    def _ids_of(self, ids: Sequence[str], node_type: str, role: str) -> list[int]:
        """Positions of disease ids (or a check of drug ids), with a clear error for bad ones."""
        bad = [i for i in ids if self._types.get(i) != node_type]
        if bad:
            raise KGError(f"{len(bad)} {role} id(s) are not {node_type}s of the graph: {bad[:5]}")
        if node_type == "disease":
            return [int(self._disease_index.get_loc(i)) for i in ids]
        return []
