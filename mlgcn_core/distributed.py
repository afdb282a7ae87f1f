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


def check_device(device: str) -> str:
    """``device`` if torch understands it ("cpu", "cuda", "cuda:1", "mps", …), else a one-line
    ValueError naming the accepted forms (``--device gpu`` is not one)."""
    try:
        torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device {device!r} is not a torch device (use cpu, cuda or cuda:N; "
                         f"{str(exc).splitlines()[0]})") from None
    return device


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


MAX_AUTO_WORKERS = 8  # "auto" DataLoader workers per process: at most this many


def loader_workers(workers: int | str, ctx: Context | None = None) -> int:
    """DataLoader worker processes for the config value ``workers``: a number as given, or
    ``"auto"``: this process's share of the machine's cores (the CPUs it may run on, divided among
    the ``LOCAL_WORLD_SIZE`` processes torchrun starts on this node), one core left for the main
    process, capped at :data:`MAX_AUTO_WORKERS` (the official demos use 4)."""
    if workers != "auto":
        return int(workers)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    local = int(os.environ.get("LOCAL_WORLD_SIZE", ctx.world if ctx is not None else 1)) or 1
    return max(0, min(MAX_AUTO_WORKERS, cores // local - 1))


def use_sync_bn(cfg, ctx: Context, device: str) -> bool:
    """Whether the backbone's BatchNorm layers become :class:`torch.nn.SyncBatchNorm`: only when
    ``cfg.sync_bn`` and several DDP processes train the backbone end to end on CUDA. Each process
    sees ``batch_size / world`` images (``paper_coco`` under 8 GPUs: 2), too few for BatchNorm's
    batch statistics; synchronized BatchNorm computes them over the global batch, as the official
    code's DataParallel did. Never in features mode (no backbone is trained) nor on the CPU (the
    gloo backend has no SyncBatchNorm kernels)."""
    return bool(cfg.sync_bn and ctx.active and cfg.mode == "end2end" and device.startswith("cuda"))
