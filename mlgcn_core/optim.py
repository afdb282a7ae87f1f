"""Optimization recipes, entries of :data:`~mlgcn_core.config.OPTIMIZERS`: the official code's
SGD with a step schedule and linear warm-up (ML-GCN, its baseline, CSRA), and AdamW with a
one-cycle schedule (Query2Label's and ML-Decoder's official recipes); two parameter groups; gradient
clipping; the gradient floor on the logits."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .config import OPTIMIZERS


@dataclass(frozen=True)
class Recipe:
    """An optimizer entry's builder: the optimizer over the parameter groups, and the lr factor at
    a global step ``t`` of ``total`` (its schedule; ``epoch``, ``steps_per_epoch`` for epoch-based ones)."""

    optimizer: Callable[[list[dict], object], torch.optim.Optimizer]
    factor: Callable[[object, int, int, int, int], float]


def _step_schedule(cfg, epoch: int, step: int, steps_per_epoch: int, total: int) -> float:
    """A linear warm-up over the first ``warmup_epochs`` (per step), then × lr_gamma at each epoch in
    ``lr_steps`` (1-based): the official ML-GCN schedule."""
    decay = cfg.lr_gamma ** sum(epoch + 1 > s for s in cfg.lr_steps)
    if cfg.warmup_epochs and epoch < cfg.warmup_epochs:
        done = epoch * steps_per_epoch + step + 1
        return decay * done / (cfg.warmup_epochs * steps_per_epoch)
    return decay


ONE_CYCLE = {"pct_start": 0.2, "div_factor": 25.0, "final_div_factor": 1e4}  # the official scripts' OneCycleLR


def one_cycle_factor(t: int, total: int, pct_start: float = 0.2, div_factor: float = 25.0,
                     final_div_factor: float = 1e4) -> float:
    """``torch.optim.lr_scheduler.OneCycleLR``'s lr at step ``t`` of ``total`` (cosine annealing, two
    phases) over its peak: from 1 / div_factor up to 1 over the first ``pct_start`` of the steps, then
    down to 1 / (div_factor · final_div_factor) at the last step."""
    start, low = 1.0 / div_factor, 1.0 / (div_factor * final_div_factor)
    peak_at = float(pct_start * total) - 1
    if t <= peak_at:
        a, b, pct = start, 1.0, t / peak_at if peak_at > 0 else 1.0
    else:
        a, b, pct = 1.0, low, (t - peak_at) / (total - 1 - peak_at) if total - 1 > peak_at else 1.0
    return b + (a - b) / 2.0 * (math.cos(math.pi * min(pct, 1.0)) + 1)


def _one_cycle(cfg, epoch: int, step: int, steps_per_epoch: int, total: int) -> float:
    return one_cycle_factor(epoch * steps_per_epoch + step, total, **ONE_CYCLE)


OPTIMIZERS.implement("sgd")(Recipe(
    # fused: one pass over each parameter per step (the GCN's hidden × D weight dominates a head step)
    lambda groups, cfg: torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                                        fused=True),
    _step_schedule))
OPTIMIZERS.implement("adamw")(Recipe(
    lambda groups, cfg: torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay),
    _one_cycle))


def make_optimizer(model, cfg) -> torch.optim.Optimizer:
    """``cfg.optimizer``'s optimizer with two parameter groups: head at lr, backbone at lr·lrp
    (official recipe); a frozen backbone part (the top in front of a map head in features mode) is
    left out."""
    groups = [{"params": [p for p in model.head.parameters() if p.requires_grad], "lr": cfg.lr}]
    trained = [p for p in model.backbone.parameters() if p.requires_grad] if model.backbone is not None else []
    if trained:
        groups.append({"params": trained, "lr": cfg.lr * cfg.lrp})
    return OPTIMIZERS[cfg.optimizer].build.optimizer(groups, cfg)


class _FloorGradient(torch.autograd.Function):
    """Identity forward; backward sets gradient entries with ``|g| < floor`` to 0."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, floor: float) -> torch.Tensor:
        ctx.floor = floor
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        return g.masked_fill(g.abs() < ctx.floor, 0.0), None


def floor_gradient(logits: torch.Tensor, floor: float) -> torch.Tensor:
    """``logits`` unchanged; in the backward pass, gradient entries smaller than ``floor`` in
    magnitude become 0 before they reach the head. A saturated sigmoid (a logit of −100 has
    σ ≈ 4e-44) gives the loss subnormal gradients; every matrix product they enter then runs on
    the CPU's slow subnormal path (a COCO-shaped GCN head's training epochs several times
    slower: ``benchmarks/grad_floor.py``). With a floor of 1e-30 nothing that counts is lost (float32's
    24-bit mantissa drops a 1e-30 term from any sum holding a term above 1e-22), but the last bits
    of the steps it touches change — and at a high lr, where training is chaotic, a run then drifts
    from its floor-0 twin as a run of another seed would: the floor is in the run key. Unlike the
    CPU's flush-to-zero mode it is the same on every thread and machine.
    ``floor`` 0: the gradient as it is."""
    if floor <= 0 or not logits.requires_grad:
        return logits
    return _FloorGradient.apply(logits, float(floor))  # (N, C)


def lr_factor(cfg, epoch: int, step: int, steps_per_epoch: int) -> float:
    """Multiplier of the base lr at (0-based) ``epoch`` and ``step``: ``cfg.optimizer``'s schedule
    (SGD: warm-up, then the step decay; AdamW: one cycle over all ``epochs`` × ``steps_per_epoch``)."""
    return OPTIMIZERS[cfg.optimizer].build.factor(cfg, epoch, step, steps_per_epoch, cfg.epochs * steps_per_epoch)


def clip_gradients(parameters, max_norm: float) -> torch.Tensor:
    """``nn.utils.clip_grad_norm_`` (the official recipe's ``clip_grad_norm(max_norm=10)``), bit for
    bit; on the CPU the gradients are left untouched when the clip coefficient clamps to 1
    (multiplying by 1.0 changes no bit), which saves one pass over the GCN's 1024 × D weight per
    step (``benchmarks/head_step.py``). On CUDA it is the library call (no host sync per step)."""
    params = [p for p in parameters if p.grad is not None]
    grads = [p.grad for p in params]
    if not grads or grads[0].device.type != "cpu":
        return nn.utils.clip_grad_norm_(params, max_norm, foreach=True)
    total = nn.utils.get_total_norm(grads, foreach=True)
    if float(max_norm / (total + 1e-6)) < 1.0:  # the library's clip coefficient, before its clamp
        nn.utils.clip_grads_with_norm_(params, max_norm, total, foreach=True)
    return total
