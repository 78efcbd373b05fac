"""A new patient known from one condition and no drug is recommended what treats it (shipped data)."""

from __future__ import annotations

import numpy as np
import pytest

from kg.atc import drug_atc_codes
from kg.schema import EdgeType
from recsys.recommender.api import Recommender
from recsys.recommender.patient_side import CONDITIONS_ONLY, CONDITIONS_ONLY_WEIGHTS

ASTHMA, CROHNS, HYPERTENSION, RHEUMATOID_ARTHRITIS, MULTIPLE_SCLEROSIS = (
    "disease:DOID:2841", "disease:DOID:8778", "disease:DOID:10763", "disease:DOID:7148", "disease:DOID:2377")
ALZHEIMERS = "disease:DOID:10652"  # four known indications: the rest of its top 10 is the model's guess
TREATS = EdgeType("drug", "treats", "disease")


@pytest.fixture(scope="module")
def recommender(shipped_graph) -> Recommender:
    from recsys.link.metapath import MetapathModel
    from recsys.link.task import LinkTask

    task = LinkTask.for_deployment(shipped_graph)
    model = MetapathModel(penalties=(1e-3,), examples=("every drug",), families=("with people",)).fit(task)
    scores = model.score_matrix(np.arange(len(task.id_maps["disease"])))
    # The patient_new weights of a full run: popularity and diagnosis outweigh the graph for new drugs.
    return Recommender(shipped_graph, {"metapath": scores}, task.id_maps["disease"], task.id_maps["drug"],
                       weights={"patient_new": {"graph": 0.07, "popularity": 0.18, "diagnosis": 0.14},
                                CONDITIONS_ONLY: CONDITIONS_ONLY_WEIGHTS})


@pytest.mark.parametrize("condition", [ASTHMA, CROHNS, HYPERTENSION, RHEUMATOID_ARTHRITIS, MULTIPLE_SCLEROSIS,
                                       ALZHEIMERS])
def test_a_conditions_only_patient_gets_treatments_of_the_condition(shipped_graph, recommender, condition):
    treats = shipped_graph.edges[TREATS]
    known = set(treats.loc[treats["dst"] == condition, "src"].astype(str))
    assert len(known) >= 3
    atc = drug_atc_codes(shipped_graph)
    classes = {c[:5] for drug in known for c in atc.get(drug, ())}
    out = recommender.recommend_for_new_patient(conditions=[condition], k=10, safety=False)
    plausible = [r.drug_id in known or bool({c[:5] for c in atc.get(r.drug_id, ())} & classes) for r in out]
    if condition == ALZHEIMERS:  # every known indication first
        assert all(plausible[:len(known)]), [r.name for r in out]
    else:  # an indication of the condition or in an ATC level-4 class with one
        assert np.mean(plausible) >= 0.7, [r.name for r in out]
    assert {r.kind for r in out} == {CONDITIONS_ONLY}
    # With a drug to read the new-drugs weights rank instead, and popularity comes through.
    with_drug = recommender.recommend_for_new_patient(conditions=[condition], current_drugs=["drug:DB00316"], k=10,
                                                      safety=False)
    assert {r.kind for r in with_drug} == {"patient_new"}
