"""Heterogeneous GNN link prediction: message graph, encoders, model, training, sampling."""

from recsys.link.gnn.train import GNNConfig, GNNScorer

__all__ = ["GNNConfig", "GNNScorer"]
