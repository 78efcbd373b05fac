"""Distributed plumbing for training under ``torchrun``: joining and leaving the process group,
which rank this is, and gradient averaging."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

__all__ = ["rank_and_world", "all_reduce_gradients", "join_process_group", "leave_process_group"]


def join_process_group() -> tuple[int, int]:
    """Under ``torchrun`` (``WORLD_SIZE`` set): join the process group (NCCL with one GPU per
    process by ``LOCAL_RANK`` when CUDA is there, gloo otherwise); ``(rank, world size)``, and
    ``(0, 1)`` when run as one plain process."""
    if "WORLD_SIZE" not in os.environ:
        return 0, 1
    use_cuda = torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group("nccl" if use_cuda else "gloo")
    return dist.get_rank(), dist.get_world_size()


def leave_process_group() -> None:
    """Wait for every rank, then leave: rank 0 saves and evaluates while the others are done, and
    tearing down gloo while a peer is still connected aborts the process ("terminate called
    without an active exception")."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


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
