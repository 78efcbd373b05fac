"""What users call: the :class:`Recommender` and everything it returns.

Holds ranking and blending of components (``ranking``), the entry points for new
patients and doctors, batches, similar drugs and explanations (``entities``), the safety
filter (``safety``), graph-path explanations (``explain``), results (``results``) and the
bundle on disk (``bundle``). May import :mod:`kg`, :mod:`recsys.metrics`,
:mod:`recsys.blend`, :mod:`recsys.link` and :mod:`recsys.cf`; nothing below imports it.
"""

from recsys.recommender.api import Recommendation, Recommendations, Recommender
from recsys.recommender.explain import ExplanationPath, PathExplainer
from recsys.recommender.safety import Exclusion, PatientContext, SafetyFilter

__all__ = ["Recommendation", "Recommendations", "Recommender", "ExplanationPath", "PathExplainer",
           "Exclusion", "PatientContext", "SafetyFilter"]
