"""Collaborative-filtering evidence for an explanation: similar users who use the drug, and
which of the entity's own drugs it is most like (counts only: no patient is ever named).

For an item-item model (EASE, RP3beta) the score is a sum over the entity's own drugs, plus
what its attributes add (EASE with side information): the sentence then names the largest
terms of that sum, so it can never contradict the score it explains. For a factor model
(ALS, BPR) it names the own drugs most similar to the recommended one.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from recsys.cf.base import CFRecommender

__all__ = ["cf_evidence", "closest_drugs"]


def cf_evidence(model: CFRecommender, entity_id: str, drug_id: str, role: str, names: Mapping[str, str],
                peers: int = 20) -> dict[str, object]:
    """How many of ``entity_id``'s ``peers`` nearest users in ``model`` use ``drug_id`` and its
    two own drugs most like it; empty when the model cannot tell (unknown user or drug)."""
    train = model.train
    if train is None or not train.has_user(entity_id) or not train.has_item(drug_id) or train.shape[0] < 2:
        return {}
    neighbours, _ = model.similar_users([entity_id], k=min(peers, train.shape[0] - 1))
    column = train.item_index([drug_id])[0]
    rows = train.user_index(list(neighbours[0]))
    users = int((train.matrix[rows][:, column] > 0).sum())
    evidence = {"similar_users": len(rows), "similar_users_using_it": users}
    if hasattr(model, "score_terms"):  # an item-item model: its score is a sum, name its largest terms
        split = model.score_terms(entity_id, drug_id)
        terms = {"score": split["score"], "own_drugs": split["own_items"], "attributes": split["attributes"],
                 "attribute_names": split["attribute_names"], "own_pairs": split.get("pairs", []),
                 "attribute_pairs": split.get("attribute_pairs", [])}
        named = [(names.get(d) or d, v) for d, v in terms["own_drugs"] if v > 0][:2]
        sentence = f"Its collaborative-filtering score ({terms['score']:+.2f}) adds up over their own drugs"
        sentence += (": the largest terms are " + ", ".join(f"{name} {value:+.2f}" for name, value in named)
                     if named else ", none of which raises it")
        if terms["own_pairs"]:
            pairs = sum(v for _, v in terms["own_pairs"])
            sentence += f"; {len(terms['own_pairs'])} pairs of their drugs taken together add {pairs:+.2f}"
        if terms["attributes"]:
            sentence += f"; their {' and '.join(terms['attribute_names'])} add {terms['attributes']:+.2f}"
        if terms["attribute_pairs"]:
            combos = sum(v for _, v in terms["attribute_pairs"])
            sentence += f"; their {' and '.join(terms['attribute_names'])} with their drugs add {combos:+.2f}"
        sentence += "."
        return {**evidence, "most_like_own_drugs": [name for name, _ in named], "score_terms": terms,
                "sentence": sentence}
    alike = [names.get(d) or d for d in closest_drugs(model, drug_id, list(train.items_of(entity_id)), 2)]
    sentence = (f"{users} of the {len(rows)} most similar {role} use it"
                + (f"; among their own drugs it is most like {', '.join(alike)}." if alike else "."))
    return {**evidence, "most_like_own_drugs": alike, "sentence": sentence}


def closest_drugs(model: CFRecommender, drug_id: str, candidates: Sequence[str], k: int) -> list[str]:
    """The ``k`` of ``candidates`` most like ``drug_id`` by ``model``'s item similarity."""
    pool = [c for c in candidates if model.train.has_item(c) and c != drug_id]
    if not model.train.has_item(drug_id) or not pool:
        return []
    sims = model._item_similarities(model.train.item_index([drug_id]))[0]
    positions = model.train.item_index(pool)
    return [pool[i] for i in np.argsort(-sims[positions], kind="stable")[:k]]
