"""torch.distributed glue: ``torchrun --nproc_per_node=N -m mlgcn_core train …`` runs DDP
(NCCL on GPUs, gloo on CPU); a plain ``python`` run is the world of one process."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Context:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def setup(device: str) -> Context:
    """Initialize the process group when launched by torchrun (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Context()
    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") and torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    return Context(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def device_for(ctx: Context, device: str) -> str:
    """One GPU per process under DDP (cuda:LOCAL_RANK); CPU stays CPU."""
    if device.startswith("cuda") and ctx.active:
        return f"cuda:{ctx.local_rank}"
    return device


def barrier(ctx: Context) -> None:
    if ctx.active:
        dist.barrier()


def gather_object(ctx: Context, obj):
    """Every rank's ``obj``, in rank order (a list of one outside DDP)."""
    if not ctx.active:
        return [obj]
    out = [None] * ctx.world
    dist.all_gather_object(out, obj)
    return out


def any_flag(ctx: Context, flag: bool) -> bool:
    """True on every rank when any rank's flag is True (stops all ranks on a bad loss)."""
    if not ctx.active:
        return flag
    t = torch.tensor([int(flag)])
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def cleanup(ctx: Context) -> None:
    if ctx.active and dist.is_initialized():
        dist.destroy_process_group()
