"""Deterministic kernels for a training run, without torch's debugging fill of new memory."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch

__all__ = ["deterministic_kernels"]


@contextmanager
def deterministic_kernels() -> Iterator[None]:
    """Deterministic kernels inside the block (gradient scatters run on several threads; these
    make the same seed give the same model on every run), the caller's settings restored after.

    Torch's deterministic mode also fills every new tensor with NaN
    (``torch.utils.deterministic.fill_uninitialized_memory``), a debugging aid that makes a
    read of unwritten memory visible. Every sparse product allocates its output that way: a
    people GNN epoch on all shipped claims takes 1.47-1.50 s without the fill, 1.70 s with it
    (2 cores). It is off here: no kernel rxkg runs reads memory it did not write, and the models
    are bit for bit the same without it (``tests/test_people_gnn.py``).
    """
    previous = torch.are_deterministic_algorithms_enabled()
    previous_fill = torch.utils.deterministic.fill_uninitialized_memory
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)
        torch.utils.deterministic.fill_uninitialized_memory = previous_fill
