"""Distributed plumbing for training under ``torchrun``: which rank this is, and gradient averaging."""

from __future__ import annotations

import torch
import torch.distributed as dist

__all__ = ["rank_and_world", "all_reduce_gradients"]


def rank_and_world() -> tuple[int, int]:
    """``(rank, world size)`` of an initialised process group, ``(0, 1)`` in one process."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def all_reduce_gradients(module: torch.nn.Module, world: int) -> None:
    """Average gradients over ranks in one collective; a parameter no rank used keeps no
    gradient (so Adam leaves it alone, as in one process), one some rank used gets the mean."""
    params = [p for p in module.parameters() if p.requires_grad]
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])
    used = torch.tensor([float(p.grad is not None) for p in params])
    dist.all_reduce(flat)
    dist.all_reduce(used)
    flat /= world
    offset = 0
    for p, anyone in zip(params, used):
        n = p.numel()
        p.grad = flat[offset:offset + n].view_as(p).clone() if anyone > 0 else None
        offset += n
