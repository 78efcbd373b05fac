"""Two-step kernel ridge regression: drugs like a disease's known drugs, diseases like known ones.

Pairwise (dyadic) prediction in the two-step form of Pahikkala et al. (Briefings in
Bioinformatics 2015, "Toward more realistic drug-target interaction predictions"): with a
drug kernel ``K_d`` (num_drugs x num_drugs), a disease kernel ``K_s`` over the training
diseases and the known indications ``Y`` (drugs x training diseases),

    scores(:, s) = K_d (K_d + l_d I)^-1  Y  (K_s + l_s I)^-1  k_s(s)

where ``k_s(s)`` is disease ``s``'s kernel row against the training diseases. The first
factor smooths a disease's known drugs over drugs with the same ATC subgroups,
pharmacologic classes, targets and side effects; the last transfers what the training
diseases are treated by to a disease with the same anatomy, genes, expression changes,
resemblances and pathophysiology. A disease with no known indication is scored from the
diseases like it, which is what a metapath of length 3 cannot reach: two diseases alike in
their genes and anatomy whose similarity is spread over hundreds of genes.

Each kernel is a sum of one linear kernel per feature block, the block's rows IDF-weighted and
scaled to unit length (a drug with 400 side effects counts as much as one with 40). Nothing
here reads the target relation (``treats``) except ``Y``: the features are the same in every
fold, and only the indications change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kg.atc import drug_atc_codes
from kg.graph import KnowledgeGraph
from recsys.metrics import filtered_reciprocal_ranks

__all__ = ["FeatureBlock", "FeatureKernels", "TwoStepRidge", "feature_blocks", "fuse_kernel", "fold_mrrs",
           "describe_kernel", "DRUG_RELATIONS", "DISEASE_RELATIONS"]

#: Drug feature blocks from relations (relation, the drug's end): what a drug is, never what it treats.
DRUG_RELATIONS: tuple[tuple[str, str, str], ...] = (
    ("pharmacologic_class", "includes", "drug"),
    ("drug", "binds", "target"),
    ("drug", "causes", "side_effect"),
)
#: ATC code prefixes a drug is described by (levels 2, 3 and 4: therapeutic to chemical subgroup).
ATC_WIDTHS = (3, 4, 5)
#: Disease feature blocks from relations; up- and down-regulated genes are one block (signed names).
DISEASE_RELATIONS: tuple[tuple[str, str, str], ...] = (
    ("disease", "localizes", "anatomy"),
    ("disease", "associates", "target"),
    ("disease", "resembles", "disease"),
)
EXPRESSION = (("disease", "upregulates", "target"), ("disease", "downregulates", "target"))


@dataclass(frozen=True)
class FeatureBlock:
    """One feature block: a row per node (IDF-weighted, unit length), a column per ``labels`` entry
    (a node id, an ATC code, ``up:``/``do:`` and a gene id, a pathophysiology)."""

    matrix: sp.csr_matrix
    labels: np.ndarray


def feature_blocks(graph: KnowledgeGraph, id_maps: dict[str, list[str]], src: str = "drug", dst: str = "disease"
                   ) -> tuple[dict[str, FeatureBlock], dict[str, FeatureBlock]]:
    """The feature blocks of ``graph``'s ``src`` and ``dst`` nodes, indexed as ``id_maps``, by block
    name (``ATC``, ``includes``, ``binds``, ...); blocks the graph lacks are left out."""
    drugs, diseases = pd.Index(id_maps[src]), pd.Index(id_maps[dst])
    drug_blocks = _relation_blocks(graph, [r for r in DRUG_RELATIONS if src in (r[0], r[2])], src, drugs)
    atc = _atc_block(graph, drugs)
    if atc is not None:
        drug_blocks = {"ATC": atc, **drug_blocks}
    disease_blocks = _relation_blocks(graph, [r for r in DISEASE_RELATIONS if dst in (r[0], r[2])], dst, diseases)
    expression = _signed_block(graph, dst, diseases)
    if expression is not None:
        disease_blocks["expression"] = expression
    pathophysiology = _attribute_block(graph, dst, diseases, "pathophysiology")
    if pathophysiology is not None:
        disease_blocks["pathophysiology"] = pathophysiology
    return drug_blocks, disease_blocks


@dataclass(frozen=True)
class FeatureKernels:
    """The drug kernel (num_src x num_src) and the disease kernel (num_dst x num_dst) of a graph,
    and the names of the feature blocks each was built from."""

    drugs: np.ndarray
    diseases: np.ndarray
    drug_blocks: tuple[str, ...]
    disease_blocks: tuple[str, ...]

    @classmethod
    def of(cls, graph: KnowledgeGraph, id_maps: dict[str, list[str]], src: str = "drug",
           dst: str = "disease") -> "FeatureKernels":
        """Kernels of ``graph``'s ``src`` and ``dst`` nodes, indexed as ``id_maps``; blocks the graph
        lacks are left out (a graph with none on one side gives a zero kernel there)."""
        return cls.from_blocks(*feature_blocks(graph, id_maps, src, dst), len(id_maps[src]), len(id_maps[dst]))

    @classmethod
    def from_blocks(cls, drug_blocks: dict[str, FeatureBlock], disease_blocks: dict[str, FeatureBlock],
                    num_src: int, num_dst: int) -> "FeatureKernels":
        """Kernels summed from :func:`feature_blocks`' blocks."""
        return cls(_kernel([b.matrix for b in drug_blocks.values()], num_src),
                   _kernel([b.matrix for b in disease_blocks.values()], num_dst), tuple(drug_blocks),
                   tuple(disease_blocks))


class TwoStepRidge:
    """Scores of every drug for chosen diseases from a set of known indications (see the module doc)."""

    def __init__(self, kernels: FeatureKernels, drug_penalty: float = 1.0, disease_penalty: float = 1.0) -> None:
        self.kernels = kernels
        self.disease_penalty = disease_penalty
        k = kernels.drugs
        # K (K + l I)^-1, symmetric: the same for every set of indications, so solved once.
        self._smoothing = np.linalg.solve(k + drug_penalty * np.eye(len(k)), k).T

    def scores(self, positives: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """(len(dst), num_src) scores given the known ``positives`` (drug, disease) index pairs."""
        dst = np.asarray(dst, dtype=np.int64)
        if not len(positives):
            return np.zeros((len(dst), len(self._smoothing)))
        trained, smoothed = self.smoothed(positives)
        return (smoothed @ self.transfer(trained, dst)).T

    def smoothed(self, positives: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The first step, the same for every disease scored: the diseases with a known drug in
        ``positives`` and (num_src, those diseases) ``K_d (K_d + l_d I)^-1 Y``."""
        trained, column = np.unique(positives[:, 1], return_inverse=True)
        y = np.zeros((len(self._smoothing), len(trained)))
        y[positives[:, 0], column] = 1.0
        return trained, self._smoothing @ y

    def pair_terms(self, positives: np.ndarray, dst: int, src: int) -> tuple[np.ndarray, np.ndarray]:
        """The known pairs (``positives`` without repeats) and each one's part of the score of
        (``src``, ``dst``): drug ``src``'s likeness to the pair's drug times what the pair's
        disease passes on to ``dst``. The parts add up to :meth:`scores`' entry."""
        pairs = np.unique(np.asarray(positives, dtype=np.int64).reshape(-1, 2), axis=0)
        if not len(pairs):
            return pairs, np.zeros(0)
        trained, column = np.unique(pairs[:, 1], return_inverse=True)
        transfer = self.transfer(trained, np.array([dst]))[:, 0]
        return pairs, self._smoothing[src, pairs[:, 0]] * transfer[column]

    def transfer(self, trained: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """The last step: ``(K_s + l_s I)^-1 k_s`` over the ``trained`` diseases, a column for each of ``dst``."""
        k = self.kernels.diseases
        return np.linalg.solve(k[np.ix_(trained, trained)] + self.disease_penalty * np.eye(len(trained)),
                               k[np.ix_(trained, dst)])


def _unit_rows(rows: np.ndarray, names: np.ndarray, n: int) -> FeatureBlock | None:
    """Binary (n x names) block from (row, name) pairs, IDF-weighted, each row scaled to length 1."""
    if not len(rows):
        return None
    labels, columns = np.unique(names.astype(str), return_inverse=True)
    block = sp.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=(n, len(labels)))
    block.data[:] = 1.0  # a name listed twice for one node is one feature
    idf = np.log(n / np.maximum(np.asarray((block > 0).sum(axis=0)).ravel(), 1))
    block = sp.csr_matrix(block @ sp.diags(idf))
    norms = np.sqrt(np.asarray(block.multiply(block).sum(axis=1)).ravel())
    return FeatureBlock(sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-12)) @ block), labels)


def _relation_blocks(graph: KnowledgeGraph, relations, node_type: str, index: pd.Index) -> dict[str, FeatureBlock]:
    out = {}
    for relation in relations:
        frame = next((f for et, f in graph.edges.items() if tuple(et) == relation), None)
        if frame is None or frame.empty:
            continue
        src, dst = frame["src"].astype(str).to_numpy(), frame["dst"].astype(str).to_numpy()
        if relation[0] == relation[2]:  # a symmetric relation: each end describes the other
            src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
        own, other = (src, dst) if relation[0] == node_type else (dst, src)
        rows = index.get_indexer(own)
        block = _unit_rows(rows[rows >= 0], other[rows >= 0], len(index))
        if block is not None:
            out[relation[1] if relation[0] == node_type else f"{relation[0]} {relation[1]}"] = block
    return out


def _signed_block(graph: KnowledgeGraph, node_type: str, index: pd.Index) -> FeatureBlock | None:
    rows, names = [], []
    for relation in EXPRESSION:
        frame = next((f for et, f in graph.edges.items() if tuple(et) == (node_type, *relation[1:])), None)
        if frame is not None and not frame.empty:
            found = index.get_indexer(frame["src"].astype(str))
            rows.append(found[found >= 0])
            names.append(relation[1][:2] + ":" + frame["dst"].astype(str).to_numpy()[found >= 0])
    return _unit_rows(np.concatenate(rows), np.concatenate(names), len(index)) if rows else None


def _attribute_block(graph: KnowledgeGraph, node_type: str, index: pd.Index, column: str) -> FeatureBlock | None:
    nodes = graph.nodes_of_type(node_type)
    if column not in nodes.columns:
        return None
    values = nodes[column]
    known = values.map(lambda v: isinstance(v, str) and bool(v)).to_numpy(dtype=bool)
    rows = index.get_indexer(nodes["id"].astype(str).to_numpy()[known])
    return _unit_rows(rows[rows >= 0], values.to_numpy()[known][rows >= 0].astype(str), len(index))


def _atc_block(graph: KnowledgeGraph, index: pd.Index) -> FeatureBlock | None:
    """One block of every ATC prefix of :data:`ATC_WIDTHS` a drug's codes have."""
    rows, names = [], []
    position = {drug: i for i, drug in enumerate(index)}  # a pandas lookup per drug took 0.28 s of 0.47
    for drug, codes in drug_atc_codes(graph).items():
        row = position.get(drug, -1)
        if row >= 0:
            for code in sorted({c[:width] for c in codes for width in ATC_WIDTHS}):
                rows.append(row)
                names.append(code)
    return _unit_rows(np.array(rows, dtype=np.int64), np.array(names, dtype=str), len(index))


def _kernel(blocks, n: int) -> np.ndarray:
    """The sum of the blocks' linear kernels (n x n, dense)."""
    out = np.zeros((n, n))
    for block in blocks:
        out += (block @ block.T).toarray()
    return out


def fuse_kernel(linear: np.ndarray, ridge: np.ndarray, weight: float) -> np.ndarray:
    """Per disease (row): ``linear`` plus ``weight`` x its spread x the standardised ``ridge`` scores,
    so the weight means the same on diseases whose logistic scores spread more or less (a ridge
    row without spread, a disease like no known one, adds nothing)."""
    if weight == 0.0:
        return linear
    spread = ridge.std(axis=1, keepdims=True)
    standard = np.divide(ridge - ridge.mean(axis=1, keepdims=True), spread, out=np.zeros_like(ridge),
                         where=spread > 0)
    return linear + weight * linear.std(axis=1, keepdims=True) * standard


def fold_mrrs(scores: np.ndarray, dst: np.ndarray, held: np.ndarray, positives: np.ndarray) -> list[float]:
    """Per disease of ``dst`` (the rows of ``scores``): the mean reciprocal rank of its ``held`` drugs
    among the drugs not known to treat it (:func:`recsys.metrics.filtered_reciprocal_ranks`)."""
    row_of = {int(d): i for i, d in enumerate(dst)}
    mine, known = np.zeros(scores.shape, dtype=bool), np.zeros(scores.shape, dtype=bool)
    mine[[row_of[int(d)] for d in held[:, 1]], held[:, 0]] = True
    theirs = positives[np.isin(positives[:, 1], dst)]
    known[[row_of[int(d)] for d in theirs[:, 1]], theirs[:, 0]] = True
    rows, reciprocal = filtered_reciprocal_ranks(scores, mine, usable=~(known & ~mine))
    return [float(np.mean(reciprocal[rows == i])) for i in range(len(dst))]


def describe_kernel(chosen: dict) -> str:
    """How the kernel ridge joins a metapath model's scores, from its ``chosen`` record (empty for a
    model fitted without it): ", kernel ridge at weight 0.5 chosen on the training folds"."""
    if "kernel_weight" not in chosen:
        return ""
    weight = chosen["kernel_weight"]
    folds = chosen.get("kernel_folds_mrr") or {}
    how = " chosen on the training folds" if len(folds) > 1 else ""
    return f", kernel ridge at weight {weight:g}{how}" if weight else f", no kernel ridge (weight 0{how})"
