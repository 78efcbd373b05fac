"""One entity's ranked list: its blended scores in order, the safety filter applied drug by drug,
and each kept drug as a :class:`~recsys.recommender.results.Recommendation` carrying its
standardised components, its calibrated probability and the weight set that scored it (which
its explanation reads)."""

from __future__ import annotations

from typing import Callable

import numpy as np

from kg.errors import KGError
from recsys.recommender.continuation import NEW_DRUG, scored_by
from recsys.recommender.doctor_side import NO_DOCTORS, has_doctors
from recsys.recommender.fitting import calibrated
from recsys.recommender.results import Recommendation, Recommendations
from recsys.recommender.safety import Exclusion, PatientContext

__all__ = ["ranked_list"]


def ranked_list(ranker, kind: str, parts: dict[str, np.ndarray], explain_from: Callable[[str], str], k: int,
                skip: set[str] = frozenset(), context: PatientContext | None = None,
                who: str = "the entity") -> Recommendations:
    """The top ``k`` of one entity's ``parts`` blended under ``kind``'s weights by ``ranker`` (a
    :class:`~recsys.recommender.ranking.Ranker`), leaving out ``skip`` and, with a ``context``, what
    the safety filter removes (reported with the list); ``explain_from(drug)`` names the node a
    drug's graph paths start at."""
    blended, standardised, dropped, _ = ranker.blend_parts(kind, parts)
    added = standardised.pop(NEW_DRUG, None)  # which drugs the ADDED weights scored
    if len(dropped) == len(standardised):
        why = {"doctor": "no claims in the CF data and no specialty" if has_doctors(ranker) else
               f"the model has no doctor components: {NO_DOCTORS}",
               "patient": "not in the CF data, no mapped conditions"}.get(kind.split("_")[0], "no scores")
        raise KGError(f"no component can score {who!r} ({why}): nothing to rank it by")
    order = np.argsort(-blended[0], kind="stable")
    items: list[Recommendation] = []
    removed: list[Exclusion] = []
    notes = ([f"checked against {len(context.current_drugs)} current drug(s), {len(context.allergies)} "
              f"allerg(ies) and {len(context.conditions)} condition(s)"] if context is not None else [])
    calibration = ranker.calibration(kind)
    for column in order:
        drug = str(ranker.drug_ids[column])
        if drug in skip:
            continue
        warnings: list[str] = []
        if context is not None:
            reasons, warnings = ranker.safety.assess(drug, context)
            if reasons:
                removed.extend(reasons)
                continue
        components = {name: (None if np.isnan(z[0, column]) else float(z[0, column]))
                      for name, z in standardised.items()}
        ranked_by = scored_by(kind, components, added, column)  # ADDED: new to the patient
        product = ranker.combinations.product_name(drug, ranker.names)  # never given alone
        items.append(Recommendation(explain_from(drug), drug, product or ranker.names.get(drug) or drug,
                                    float(blended[0, column]), components, notes + warnings, ranker,
                                    list(ranker.combinations.ingredients(drug)),
                                    float(calibrated(calibration, blended[0, column])), ranked_by))
        if len(items) == k:
            break
    return Recommendations(items, removed, dropped, ranker.safety.review(context) if context is not None else [])
