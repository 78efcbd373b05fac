"""The people GNN: prescribers and patients embedded from the drugs they use, drugs from the graph.

The collaborative knowledge graph of KGAT (Wang et al. 2019), made inductive on both sides:

- a **drug** has no embedding of its own. Its representation is what an R-GCN (or
  HeteroConv-SAGE) encoder computes from its neighbourhood in the knowledge graph: the
  diseases it treats, its classes and ATC codes, its targets and their pathways, its
  look-alikes, two hops deep. A drug nobody prescribes is embedded like any other;
- a **prescriber or patient** has no embedding either: they are the log-claim-weighted mean of
  their drugs' representations (one LightGCN-style propagation step from drugs to people), plus
  their specialty's vector. A new prescriber needs no retraining. (Patients' ``takes`` and
  conditions are not used yet: 270 shipped patients, and the doctors' questions come first.)

Score of a person for a drug: the dot product of the two, plus a bias read from the drug's
representation (the popularity the graph predicts for it).

Shapes:
    - ``drug_vectors(adjacency, features)``: (num_drugs, dim) and (num_drugs,) biases (the
      sampled subgraph's drugs with ``node_ids``)
    - ``people_vectors(drugs, uses, specialty)``: (n, dim); ``people_bias(activity)``: (n,)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from recsys.link.adjacency import MetaEdge
from recsys.link.gnn.model import LinkGNN

__all__ = ["PeopleGNN", "PERSON_NORM"]

#: Starting length of a person's vector when people are normalised (then learned).
PERSON_NORM = 4.0


class PeopleGNN(nn.Module):
    """A knowledge-graph encoder for drugs and a propagation step from drugs to people."""

    def __init__(self, num_nodes: dict[str, int], metaedges: list[MetaEdge], atc_dim: int,
                 num_specialties: int, dim: int = 64, encoder: str = "rgcn", num_layers: int = 2,
                 dropout: float = 0.2, normalise_people: bool = False) -> None:
        super().__init__()
        # The link predictor's encoder with drugs inductive (one shared input vector plus ATC
        # features): only its ``encode`` and its bias head are used here.
        self.graph = LinkGNN(num_nodes, metaedges, [], {"drug": atc_dim}, dim=dim, encoder=encoder,
                             num_layers=num_layers, dropout=dropout, inductive_types=("drug",))
        self.from_drugs = nn.Linear(dim, dim, bias=False)
        # Row 0 stands for "no specialty" (patients, prescribers without one).
        self.specialty = nn.Embedding(num_specialties + 1, dim)
        nn.init.zeros_(self.specialty.weight)
        # How much someone prescribes (log drugs, log claims): it does not change a person's own
        # ranking, but it decides who is likelier to take up a drug at all.
        self.activity = nn.Linear(2, 1)
        # With ``normalise_people`` every person's vector has the same length (a learned one):
        # how sure a score is then comes from the drugs, not from how few drugs a person has (the
        # mean of one drug's vector is longer than the mean of twenty, which put prescribers of a
        # single drug at the top of every drug's list of prescribers).
        self.log_person_norm = nn.Parameter(torch.tensor(math.log(PERSON_NORM))) if normalise_people else None

    def drug_vectors(self, adjacency: dict[MetaEdge, Tensor], features: dict[str, Tensor],
                     last: dict[MetaEdge, Tensor] | None = None,
                     node_ids: dict[str, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """Every drug's representation and bias, from the knowledge graph alone; ``last``: the
        last layer's adjacency (the relations into drugs suffice); ``node_ids``: the global ids of
        a sampled subgraph's nodes (``adjacency`` then in its local indices), whose drugs are returned."""
        z = self.graph.encode(adjacency, features, node_ids=node_ids, last=last)
        return z["drug"], self.graph.bias(z["drug"]).squeeze(-1)

    def people_vectors(self, drugs: Tensor, uses: Tensor, specialty: Tensor) -> Tensor:
        """(n, dim) people from ``uses`` (n, num_drugs; weights, each row summing to 1 or 0) over
        ``drugs`` (num_drugs, dim) and ``specialty`` (n,; 0 for none)."""
        people = self.from_drugs(uses @ drugs) + self.specialty(specialty)
        if self.log_person_norm is None:
            return people
        return nn.functional.normalize(people, dim=-1) * self.log_person_norm.exp()

    def people_bias(self, activity: Tensor) -> Tensor:
        """(n,) offsets from ``activity`` (n, 2): log(1 + drugs) and log(1 + claims) of each person."""
        return self.activity(activity).squeeze(-1)
