"""Link prediction on a target relation of the graph (disease -> drug ``treats`` today).

Holds the leakage-safe splits (``split``) and the task they define (``task``), one scorer
contract (``scorer``), the degree prior (``priors``), the Rephetio-style metapath model
(``metapath``), shallow KGE (``kge``), the heterogeneous GNN (``gnn/``), the GNN stacked on
the metapath score (``stacking``), filtered rank-based evaluation (``evaluate``) and model
bundles (``bundle``). May import :mod:`kg`, :mod:`recsys.metrics` and :mod:`recsys.blend`;
never :mod:`recsys.cf` or :mod:`recsys.recommender`. Import from the modules (or lazily from
:mod:`recsys`): this package imports nothing eagerly, so metrics users never load torch.
"""

__all__: list[str] = []
